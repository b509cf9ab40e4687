//! FCOS losses (torchvision): sigmoid focal loss (alpha 0.25, gamma 2) on classification,
//! GIoU loss on decoded boxes and BCE on centre-ness at foreground points, each summed and
//! divided by the number of foreground points.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{log_sigmoid, sigmoid};

use super::assign::assign;
use super::box_coder::{centerness, encode};
use super::fcos::HeadOutput;
use super::points::Points;

/// Ground truth of one image: boxes `[x1, y1, x2, y2]` in input pixels and class indices.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    pub boxes: Vec<[f32; 4]>,
    pub classes: Vec<usize>,
}

pub struct DetLoss {
    pub total: Tensor<1>,
    pub cls: f32,
    pub reg: f32,
    pub ctr: f32,
    pub foreground: usize,
}

pub fn fcos_loss(out: &HeadOutput, points: &Points, targets: &[Targets]) -> DetLoss {
    let device = out.cls.device();
    let [n, p, c] = out.cls.dims();
    assert_eq!(p, points.xy.len(), "points and head outputs disagree");
    let mut onehot = vec![0f32; n * p * c];
    let mut fg = vec![0f32; n * p];
    let mut reg_t = vec![0f32; n * p * 4];
    let mut ctr_t = vec![0f32; n * p];
    for (b, t) in targets.iter().enumerate() {
        let m = assign(points, &t.boxes, 1.5);
        for (i, g) in m.iter().enumerate() {
            if let Some(g) = *g {
                onehot[(b * p + i) * c + t.classes[g]] = 1.0;
                fg[b * p + i] = 1.0;
                let d = encode(points.xy[i], points.size[i], t.boxes[g]);
                reg_t[(b * p + i) * 4..(b * p + i) * 4 + 4].copy_from_slice(&d);
                ctr_t[b * p + i] = centerness(d);
            } else {
                // A harmless unit box for background points (masked out below).
                reg_t[(b * p + i) * 4..(b * p + i) * 4 + 4].copy_from_slice(&[0.5; 4]);
            }
        }
    }
    let num_fg = fg.iter().sum::<f32>();
    let norm = num_fg.max(1.0);
    let t = Tensor::<3>::from_data(TensorData::new(onehot, [n, p, c]), &device);
    let fg_t = Tensor::<2>::from_data(TensorData::new(fg, [n, p]), &device);

    // Focal loss.
    let x = out.cls.clone();
    let prob = sigmoid(x.clone());
    let ce = (t.clone() * log_sigmoid(x.clone()) + (t.clone().neg() + 1.0) * log_sigmoid(x.neg())).neg();
    let p_t = prob.clone() * t.clone() + (prob.neg() + 1.0) * (t.clone().neg() + 1.0);
    let alpha_t = t.clone() * 0.25 + (t.neg() + 1.0) * 0.75;
    let cls = (alpha_t * (p_t.neg() + 1.0).powf_scalar(2.0) * ce).sum() / norm;

    // GIoU on boxes in units of the point size (the same for target and prediction).
    let rt = Tensor::<3>::from_data(TensorData::new(reg_t, [n, p, 4]), &device);
    let giou = giou_ltrb(out.reg.clone(), rt);
    let reg = ((giou.neg() + 1.0) * fg_t.clone()).sum() / norm;

    // Centre-ness BCE at foreground points.
    let ct = Tensor::<2>::from_data(TensorData::new(ctr_t, [n, p]), &device);
    let z = out.ctr.clone();
    let bce = (ct.clone() * log_sigmoid(z.clone()) + (ct.neg() + 1.0) * log_sigmoid(z.neg())).neg();
    let ctr = (bce * fg_t).sum() / norm;

    let scalar = |x: &Tensor<1>| x.clone().into_data().try_to_vec::<f32>().map(|v| v[0]).unwrap_or(f32::NAN);
    let (cv, rv, tv) = (scalar(&cls), scalar(&reg), scalar(&ctr));
    DetLoss { total: cls + reg + ctr, cls: cv, reg: rv, ctr: tv, foreground: num_fg as usize }
}

/// GIoU of boxes given as (l, t, r, b) distances from the same point: `N x P x 4` -> `N x P`.
fn giou_ltrb(pred: Tensor<3>, target: Tensor<3>) -> Tensor<2> {
    let [n, p, _] = pred.dims();
    let part = |x: &Tensor<3>, i: usize| x.clone().slice([0..n, 0..p, i..i + 1]).reshape([n, p]);
    let (pl, pt, pr, pb) = (part(&pred, 0), part(&pred, 1), part(&pred, 2), part(&pred, 3));
    let (tl, tt, tr, tb) = (part(&target, 0), part(&target, 1), part(&target, 2), part(&target, 3));
    let area_p = (pl.clone() + pr.clone()) * (pt.clone() + pb.clone());
    let area_t = (tl.clone() + tr.clone()) * (tt.clone() + tb.clone());
    let iw = pl.clone().min_pair(tl.clone()) + pr.clone().min_pair(tr.clone());
    let ih = pt.clone().min_pair(tt.clone()) + pb.clone().min_pair(tb.clone());
    let inter = iw.clamp_min(0.0) * ih.clamp_min(0.0);
    let union = area_p + area_t - inter.clone() + 1e-7;
    let ew = pl.max_pair(tl) + pr.max_pair(tr);
    let eh = pt.max_pair(tt) + pb.max_pair(tb);
    let enclose = ew * eh + 1e-7;
    let iou = inter / union.clone();
    iou - (enclose.clone() - union) / enclose
}
