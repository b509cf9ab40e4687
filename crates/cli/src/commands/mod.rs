pub mod bench;
pub mod cache;
pub mod check;
pub mod pretrain;
pub mod preview;
pub mod sample;
