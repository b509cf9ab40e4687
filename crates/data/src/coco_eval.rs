//! COCO bbox evaluation, the pycocotools `COCOeval` protocol in Rust: IoU thresholds
//! 0.50:0.05:0.95, 101-point interpolated precision, area ranges all/small/medium/large
//! (32^2 and 96^2), maxDets 1/10/100, crowd ground truth matched by intersection over the
//! detection's area and ignored. Equal to pycocotools' 12 statistics (fixtures in the tests).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::io::read_json;

/// Ground truth as COCO instances json (only what evaluation needs).
#[derive(Clone, Debug, Deserialize)]
pub struct GroundTruth {
    pub images: Vec<GtImage>,
    #[serde(default)]
    pub annotations: Vec<GtAnnotation>,
    pub categories: Vec<GtCategory>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GtImage {
    pub id: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GtCategory {
    pub id: u64,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GtAnnotation {
    pub image_id: u64,
    pub category_id: u64,
    pub bbox: [f64; 4],
    /// COCO's `area` (the mask area), used for the area ranges; `w * h` when absent.
    pub area: Option<f64>,
    #[serde(default)]
    pub iscrowd: u8,
}

/// One detection (COCO results format).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Detection {
    pub image_id: u64,
    pub category_id: u64,
    pub bbox: [f64; 4],
    pub score: f64,
}

/// The 12 statistics, named and ordered as pycocotools prints them (-1 where undefined).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[allow(non_snake_case)]
pub struct Stats {
    pub AP: f64,
    pub AP50: f64,
    pub AP75: f64,
    pub APs: f64,
    pub APm: f64,
    pub APl: f64,
    pub AR1: f64,
    pub AR10: f64,
    pub AR100: f64,
    pub ARs: f64,
    pub ARm: f64,
    pub ARl: f64,
}

impl Stats {
    pub fn as_array(&self) -> [f64; 12] {
        [
            self.AP, self.AP50, self.AP75, self.APs, self.APm, self.APl, self.AR1, self.AR10, self.AR100, self.ARs,
            self.ARm, self.ARl,
        ]
    }
}

/// The full result: statistics and per-category AP (IoU 0.50:0.95, all areas, 100 dets).
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub stats: Stats,
    /// (category id, name, AP or -1).
    pub per_category: Vec<(u64, String, f64)>,
}

pub fn read_ground_truth(path: &Path) -> Result<GroundTruth> {
    read_json(path)
}

pub fn read_detections(path: &Path) -> Result<Vec<Detection>> {
    read_json(path)
}

/// numpy's `linspace(start, stop, n)`, bit for bit: `i * step + start`, the last value
/// `stop` (thresholds such as 0.07 differ in the last bit from `7 / 100`, and recall values
/// land exactly on them).
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

const AREAS: [(f64, f64); 4] = [(0.0, 1e10), (0.0, 1024.0), (1024.0, 9216.0), (9216.0, 1e10)];
const MAX_DETS: [usize; 3] = [1, 10, 100];

fn iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[0] + d[2]).min(g[0] + g[2]) - d[0].max(g[0]);
    let h = (d[1] + d[3]).min(g[1] + g[3]) - d[1].max(g[1]);
    if w <= 0.0 || h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let union = if crowd { d[2] * d[3] } else { d[2] * d[3] + g[2] * g[3] - inter };
    if union <= 0.0 { 0.0 } else { inter / union }
}

struct Gt {
    bbox: [f64; 4],
    area: f64,
    crowd: bool,
    ignore: bool,
}

struct Dt {
    bbox: [f64; 4],
    area: f64,
    score: f64,
}

/// Per (image, category, area range): scores, matches and ignore flags (pycocotools'
/// `evaluateImg` with maxDet = 100).
struct ImgEval {
    scores: Vec<f64>,
    /// [threshold][detection]: matched?
    matched: Vec<Vec<bool>>,
    /// [threshold][detection]: ignored?
    ignored: Vec<Vec<bool>>,
    gt_ignore: Vec<bool>,
}

fn evaluate_img(gts: &[&Gt], dts: &[&Dt], area: (f64, f64), thrs: &[f64]) -> Option<ImgEval> {
    if gts.is_empty() && dts.is_empty() {
        return None;
    }
    let ig: Vec<bool> = gts.iter().map(|g| g.ignore || g.area < area.0 || g.area > area.1).collect();
    // Non-ignored ground truth first (stable).
    let mut gorder: Vec<usize> = (0..gts.len()).collect();
    gorder.sort_by_key(|&i| ig[i]);
    let g: Vec<&Gt> = gorder.iter().map(|&i| gts[i]).collect();
    let gig: Vec<bool> = gorder.iter().map(|&i| ig[i]).collect();
    // Detections by score (stable), at most 100.
    let mut dorder: Vec<usize> = (0..dts.len()).collect();
    dorder.sort_by(|&a, &b| dts[b].score.partial_cmp(&dts[a].score).unwrap_or(std::cmp::Ordering::Equal));
    dorder.truncate(MAX_DETS[2]);
    let d: Vec<&Dt> = dorder.iter().map(|&i| dts[i]).collect();
    let ious: Vec<Vec<f64>> =
        d.iter().map(|dd| g.iter().map(|gg| iou(&dd.bbox, &gg.bbox, gg.crowd)).collect()).collect();
    let t = thrs.len();
    let mut gtm = vec![vec![false; g.len()]; t];
    let mut dtm = vec![vec![false; d.len()]; t];
    let mut dtig = vec![vec![false; d.len()]; t];
    for (ti, &thr) in thrs.iter().enumerate() {
        for di in 0..d.len() {
            let mut best = thr.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for gi in 0..g.len() {
                if gtm[ti][gi] && !g[gi].crowd {
                    continue;
                }
                if let Some(mm) = m
                    && !gig[mm]
                    && gig[gi]
                {
                    break;
                }
                if ious[di][gi] < best {
                    continue;
                }
                best = ious[di][gi];
                m = Some(gi);
            }
            if let Some(mm) = m {
                dtig[ti][di] = gig[mm];
                dtm[ti][di] = true;
                gtm[ti][mm] = true;
            }
        }
    }
    for ti in 0..t {
        for di in 0..d.len() {
            let out = d[di].area < area.0 || d[di].area > area.1;
            if !dtm[ti][di] && out {
                dtig[ti][di] = true;
            }
        }
    }
    Some(ImgEval { scores: d.iter().map(|x| x.score).collect(), matched: dtm, ignored: dtig, gt_ignore: gig })
}

/// Evaluates `dets` against `gt`. Detections on images the ground truth does not have are
/// an error, as in pycocotools.
pub fn evaluate(gt: &GroundTruth, dets: &[Detection]) -> std::result::Result<Evaluation, String> {
    let img_ids: BTreeSet<u64> = gt.images.iter().map(|i| i.id).collect();
    let cat_ids: BTreeSet<u64> = gt.categories.iter().map(|c| c.id).collect();
    for (i, d) in dets.iter().enumerate() {
        if !img_ids.contains(&d.image_id) {
            return Err(format!("detection [{i}]: image id {} is not in the ground truth", d.image_id));
        }
        if !d.bbox.iter().chain([&d.score]).all(|v| v.is_finite()) {
            return Err(format!("detection [{i}]: non-finite bbox or score"));
        }
    }
    let mut gts: HashMap<(u64, u64), Vec<Gt>> = HashMap::new();
    for a in &gt.annotations {
        let crowd = a.iscrowd != 0;
        gts.entry((a.image_id, a.category_id)).or_default().push(Gt {
            bbox: a.bbox,
            area: a.area.unwrap_or(a.bbox[2] * a.bbox[3]),
            crowd,
            // pycocotools overwrites any `ignore` field with `iscrowd`.
            ignore: crowd,
        });
    }
    let mut dts: HashMap<(u64, u64), Vec<Dt>> = HashMap::new();
    for d in dets {
        dts.entry((d.image_id, d.category_id)).or_default().push(Dt {
            bbox: d.bbox,
            area: d.bbox[2] * d.bbox[3],
            score: d.score,
        });
    }
    let thrs = linspace(0.5, 0.95, 10);
    let rec_thrs = linspace(0.0, 1.0, 101);
    let (t, r, k, a, m) = (thrs.len(), rec_thrs.len(), cat_ids.len(), AREAS.len(), MAX_DETS.len());
    // precision[t][r][k][a][m], recall[t][k][a][m]; -1 = undefined.
    let mut precision = vec![-1f64; t * r * k * a * m];
    let mut recall = vec![-1f64; t * k * a * m];
    let pidx = |ti: usize, ri: usize, ki: usize, ai: usize, mi: usize| (((ti * r + ri) * k + ki) * a + ai) * m + mi;
    let ridx = |ti: usize, ki: usize, ai: usize, mi: usize| ((ti * k + ki) * a + ai) * m + mi;
    let empty_g: Vec<Gt> = Vec::new();
    let empty_d: Vec<Dt> = Vec::new();
    for (ki, &cat) in cat_ids.iter().enumerate() {
        for (ai, &area) in AREAS.iter().enumerate() {
            let evals: Vec<ImgEval> = img_ids
                .iter()
                .filter_map(|&img| {
                    let g: Vec<&Gt> = gts.get(&(img, cat)).unwrap_or(&empty_g).iter().collect();
                    let d: Vec<&Dt> = dts.get(&(img, cat)).unwrap_or(&empty_d).iter().collect();
                    evaluate_img(&g, &d, area, &thrs)
                })
                .collect();
            if evals.is_empty() {
                continue;
            }
            let npig = evals.iter().flat_map(|e| &e.gt_ignore).filter(|&&i| !i).count();
            if npig == 0 {
                continue;
            }
            for (mi, &max_det) in MAX_DETS.iter().enumerate() {
                // (score, image index, position) of every kept detection, stable by score.
                let mut all: Vec<(f64, usize, usize)> = Vec::new();
                for (ei, e) in evals.iter().enumerate() {
                    for (p, &s) in e.scores.iter().take(max_det).enumerate() {
                        all.push((s, ei, p));
                    }
                }
                all.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap_or(std::cmp::Ordering::Equal));
                for ti in 0..t {
                    let (mut tp, mut fp) = (0f64, 0f64);
                    let mut rc = Vec::with_capacity(all.len());
                    let mut pr = Vec::with_capacity(all.len());
                    for &(_, ei, p) in &all {
                        let (mt, ig) = (evals[ei].matched[ti][p], evals[ei].ignored[ti][p]);
                        if ig {
                            // Neither a true nor a false positive, but still a row of the curve.
                        } else if mt {
                            tp += 1.0;
                        } else {
                            fp += 1.0;
                        }
                        rc.push(tp / npig as f64);
                        pr.push(tp / (fp + tp + f64::EPSILON));
                    }
                    recall[ridx(ti, ki, ai, mi)] = rc.last().copied().unwrap_or(0.0);
                    for i in (1..pr.len()).rev() {
                        if pr[i] > pr[i - 1] {
                            pr[i - 1] = pr[i];
                        }
                    }
                    for (ri, &thr) in rec_thrs.iter().enumerate() {
                        let pos = rc.partition_point(|&v| v < thr);
                        precision[pidx(ti, ri, ki, ai, mi)] = pr.get(pos).copied().unwrap_or(0.0);
                    }
                }
            }
        }
    }
    let mean = |v: Vec<f64>| {
        let kept: Vec<f64> = v.into_iter().filter(|&x| x > -1.0).collect();
        if kept.is_empty() { -1.0 } else { kept.iter().sum::<f64>() / kept.len() as f64 }
    };
    let ap = |thr: Option<usize>, ai: usize, mi: usize| {
        let mut v = Vec::new();
        for ti in 0..t {
            if thr.is_some_and(|x| x != ti) {
                continue;
            }
            for ri in 0..r {
                for ki in 0..k {
                    v.push(precision[pidx(ti, ri, ki, ai, mi)]);
                }
            }
        }
        mean(v)
    };
    let ar = |ai: usize, mi: usize| {
        mean(
            (0..t).flat_map(|ti| (0..k).map(move |ki| (ti, ki))).map(|(ti, ki)| recall[ridx(ti, ki, ai, mi)]).collect(),
        )
    };
    let stats = Stats {
        AP: ap(None, 0, 2),
        AP50: ap(Some(0), 0, 2),
        AP75: ap(Some(5), 0, 2),
        APs: ap(None, 1, 2),
        APm: ap(None, 2, 2),
        APl: ap(None, 3, 2),
        AR1: ar(0, 0),
        AR10: ar(0, 1),
        AR100: ar(0, 2),
        ARs: ar(1, 2),
        ARm: ar(2, 2),
        ARl: ar(3, 2),
    };
    let names: BTreeMap<u64, String> = gt.categories.iter().map(|c| (c.id, c.name.clone())).collect();
    let per_category = cat_ids
        .iter()
        .enumerate()
        .map(|(ki, &c)| {
            let v: Vec<f64> = (0..t)
                .flat_map(|ti| (0..r).map(move |ri| (ti, ri)))
                .map(|(ti, ri)| precision[pidx(ti, ri, ki, 0, 2)])
                .collect();
            (c, names[&c].clone(), mean(v))
        })
        .collect();
    Ok(Evaluation { stats, per_category })
}
