pub mod bench;
pub mod cache;
pub mod check;
pub mod preview;
pub mod sample;
