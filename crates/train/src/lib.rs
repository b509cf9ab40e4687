//! montage-train: the engine side of Montage pre-training, on burn.
//!
//! [`resnet`] is the backbone; [`erf`] estimates effective receptive fields (METHOD §4);
//! [`soft_label`] turns them into ERF-adaptive soft labels (§5); [`loss`] is the dense loss
//! and its two baselines (§6); [`schedule`] and [`pretrain`] the recipe (§7); [`export`]
//! writes torchvision-named weights.

pub use burn;

pub mod backend;
pub mod checkpoint;
pub mod detect;
pub mod erf;
pub mod export;
pub mod finetune;
pub mod loss;
pub mod norm;
pub mod pretrain;
pub mod resnet;
pub mod schedule;
pub mod soft_label;
