pub mod bench;
pub mod cache;
pub mod check;
pub mod erf;
pub mod export;
pub mod pretrain;
pub mod preview;
pub mod sample;
