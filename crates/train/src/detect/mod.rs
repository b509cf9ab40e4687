//! The detector used to measure a backbone: FCOS (Tian et al. 2019) on an FPN, as in
//! torchvision's `fcos.py`, one idea a file: [`points`] (where the detector looks),
//! [`box_coder`] (boxes as distances to the four sides), [`assign`] (which ground truth each
//! point learns), [`fcos`] (FPN and heads), [`loss`] (focal, GIoU, centre-ness) and
//! [`postprocess`] (scores, decoding, NMS).

pub mod assign;
pub mod box_coder;
pub mod fcos;
pub mod loss;
pub mod points;
pub mod postprocess;
