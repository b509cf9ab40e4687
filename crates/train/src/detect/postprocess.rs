//! From head outputs to detections (torchvision's FCOS `postprocess_detections`): score =
//! sqrt(sigmoid(cls) x sigmoid(centre-ness)), candidates above a threshold (at most `topk` per
//! level), boxes decoded and clipped, class-wise NMS (burn-vision), the best `max_dets` kept.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::vision::{Nms, NmsOptions};

use super::box_coder::decode;
use super::fcos::HeadOutput;
use super::points::Points;

#[derive(Clone, Copy, Debug)]
pub struct PostConfig {
    pub score_thresh: f32,
    pub nms_thresh: f32,
    pub topk: usize,
    pub max_dets: usize,
}

impl Default for PostConfig {
    fn default() -> Self {
        PostConfig { score_thresh: 0.2, nms_thresh: 0.6, topk: 1000, max_dets: 100 }
    }
}

/// One detection: box `[x1, y1, x2, y2]` in input pixels, class index, score.
#[derive(Clone, Debug, PartialEq)]
pub struct Det {
    pub bbox: [f32; 4],
    pub class: usize,
    pub score: f32,
}

fn sig(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Detections of each image; `sizes[b]` = (height, width) of image b's valid area for clipping.
pub fn postprocess(out: &HeadOutput, points: &Points, sizes: &[(usize, usize)], cfg: &PostConfig) -> Vec<Vec<Det>> {
    let [n, p, c] = out.cls.dims();
    let cls: Vec<f32> = out.cls.clone().into_data().try_to_vec().expect("f32");
    let reg: Vec<f32> = out.reg.clone().into_data().try_to_vec().expect("f32");
    let ctr: Vec<f32> = out.ctr.clone().into_data().try_to_vec().expect("f32");
    let device = Device::flex();
    (0..n)
        .map(|b| {
            let (h, w) = sizes[b];
            let mut cands: Vec<Det> = Vec::new();
            for level in 0..points.shapes.len() {
                let mut lvl: Vec<Det> = Vec::new();
                for i in (0..p).filter(|&i| points.level[i] == level) {
                    let cs = sig(ctr[b * p + i]);
                    for k in 0..c {
                        let s = (sig(cls[(b * p + i) * c + k]) * cs).sqrt();
                        if s > cfg.score_thresh {
                            let d: [f32; 4] = reg[(b * p + i) * 4..(b * p + i) * 4 + 4].try_into().unwrap();
                            let mut bx = decode(points.xy[i], points.size[i], d);
                            bx[0] = bx[0].clamp(0.0, w as f32);
                            bx[2] = bx[2].clamp(0.0, w as f32);
                            bx[1] = bx[1].clamp(0.0, h as f32);
                            bx[3] = bx[3].clamp(0.0, h as f32);
                            lvl.push(Det { bbox: bx, class: k, score: s });
                        }
                    }
                }
                lvl.sort_by(|a, b| b.score.total_cmp(&a.score));
                lvl.truncate(cfg.topk);
                cands.extend(lvl);
            }
            // Class-wise NMS in one call: shift each class's boxes apart.
            if cands.is_empty() {
                return cands;
            }
            let offset = (h.max(w) + 1) as f32;
            let boxes: Vec<f32> = cands.iter().flat_map(|d| d.bbox.map(|v| v + d.class as f32 * offset)).collect();
            let scores: Vec<f32> = cands.iter().map(|d| d.score).collect();
            let bt = Tensor::<2>::from_data(TensorData::new(boxes, [cands.len(), 4]), &device);
            let st = Tensor::<1>::from_data(TensorData::new(scores, [cands.len()]), &device);
            let opts =
                NmsOptions { iou_threshold: cfg.nms_thresh, score_threshold: 0.0, max_output_boxes: cfg.max_dets };
            let keep: Vec<i64> = bt.nms(st, opts).into_data().convert::<i64>().try_to_vec().expect("indices");
            let mut kept: Vec<Det> = keep.iter().map(|&i| cands[i as usize].clone()).collect();
            kept.sort_by(|a, b| b.score.total_cmp(&a.score));
            kept.truncate(cfg.max_dets);
            kept
        })
        .collect()
}
