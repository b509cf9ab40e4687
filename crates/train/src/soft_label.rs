//! ERF-adaptive soft labels (METHOD §5, Eq. 1 and 2).
//!
//! For a position (j, k) of the feature map lying in region R_r, with G its ERF on the
//! canvas and M^i the mask of region R_i:
//!
//! ```text
//! w_r = max(tau, sum(G M^r) / sum(G))
//! w_i = (1 - w_r) sum(G M^i) / sum(G (1 - M^r))     for i != r
//! ```
//!
//! and its soft label is `sum_i w_i y_i`. Region sums are O(1) with a summed-area table of
//! each ERF map. Since the weights depend only on the template's cut and the ERFs, they are
//! computed once per cut and ERF refresh and shared by every montage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use montage_data::geometry::Rect;
use montage_data::template::regions;

/// ERF maps of every position of a `side x side` feature map over a `canvas x canvas` input.
#[derive(Clone, Debug, PartialEq)]
pub struct ErfMaps {
    pub side: usize,
    pub canvas: usize,
    /// `side * side` maps of `canvas * canvas` values, position-major (row j, column k).
    pub maps: Vec<f32>,
}

impl ErfMaps {
    pub fn positions(&self) -> usize {
        self.side * self.side
    }

    pub fn map(&self, p: usize) -> &[f32] {
        let n = self.canvas * self.canvas;
        &self.maps[p * n..(p + 1) * n]
    }
}

/// A summed-area table: `sum(rect)` in O(1).
#[derive(Clone, Debug)]
pub struct SummedArea {
    w: usize,
    table: Vec<f64>,
}

impl SummedArea {
    pub fn new(map: &[f32], h: usize, w: usize) -> SummedArea {
        assert_eq!(map.len(), h * w);
        let mut table = vec![0f64; (h + 1) * (w + 1)];
        for y in 0..h {
            let mut row = 0f64;
            for x in 0..w {
                row += map[y * w + x] as f64;
                table[(y + 1) * (w + 1) + x + 1] = table[y * (w + 1) + x + 1] + row;
            }
        }
        SummedArea { w, table }
    }

    pub fn sum(&self, r: Rect) -> f64 {
        let (x0, y0, x1, y1) = (r.x as usize, r.y as usize, (r.x + r.w) as usize, (r.y + r.h) as usize);
        let at = |x: usize, y: usize| self.table[y * (self.w + 1) + x];
        at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0)
    }
}

/// Eq. 2 for one position: `sums[i]` = sum of its ERF over region i, `r` its own region.
pub fn eq2_weights(sums: [f64; 4], r: usize, tau: f64) -> [f32; 4] {
    let total: f64 = sums.iter().sum();
    let mut w = [0f32; 4];
    if total <= 0.0 || !total.is_finite() {
        w[r] = 1.0;
        return w;
    }
    let wr = tau.max(sums[r] / total).min(1.0);
    let rest = total - sums[r];
    for i in 0..4 {
        w[i] = if i == r {
            wr as f32
        } else if rest > 0.0 {
            ((1.0 - wr) * sums[i] / rest) as f32
        } else {
            0.0
        };
    }
    w
}

/// The region (0..4) holding the centre of cell `p` of a `side x side` map over the canvas.
pub fn cell_region(p: usize, side: usize, canvas: u32, split_x: u32, split_y: u32) -> usize {
    let (j, k) = (p / side, p % side);
    let cx = (k as f64 + 0.5) * canvas as f64 / side as f64;
    let cy = (j as f64 + 0.5) * canvas as f64 / side as f64;
    (cx >= split_x as f64) as usize + 2 * (cy >= split_y as f64) as usize
}

/// Per-position label weights for one cut of the canvas.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub side: usize,
    /// The region of each position.
    pub region: Vec<usize>,
    /// `w_i` of each position, i = R1..R4; each sums to 1.
    pub w: Vec<[f32; 4]>,
}

/// Soft-label weights from the current ERFs, cached per cut of the canvas.
pub struct SoftLabeler {
    pub tau: f64,
    pub side: usize,
    pub canvas: u32,
    tables: Vec<SummedArea>,
    cache: Mutex<HashMap<(u32, u32), Arc<Weights>>>,
}

impl SoftLabeler {
    pub fn new(erf: &ErfMaps, tau: f64) -> SoftLabeler {
        let c = erf.canvas;
        let tables = (0..erf.positions()).map(|p| SummedArea::new(erf.map(p), c, c)).collect();
        SoftLabeler { tau, side: erf.side, canvas: c as u32, tables, cache: Mutex::new(HashMap::new()) }
    }

    /// With no ERF yet: every position takes its own region's label (tau = 1, block-wise).
    pub fn hard(side: usize, canvas: u32) -> SoftLabeler {
        SoftLabeler { tau: 1.0, side, canvas, tables: Vec::new(), cache: Mutex::new(HashMap::new()) }
    }

    pub fn weights(&self, split_x: u32, split_y: u32) -> Arc<Weights> {
        let mut cache = self.cache.lock().unwrap();
        cache
            .entry((split_x, split_y))
            .or_insert_with(|| {
                let regs = regions(self.canvas, split_x, split_y);
                let n = self.side * self.side;
                let region: Vec<usize> =
                    (0..n).map(|p| cell_region(p, self.side, self.canvas, split_x, split_y)).collect();
                let w = (0..n)
                    .map(|p| match self.tables.get(p) {
                        Some(t) if self.tau < 1.0 => eq2_weights(regs.map(|r| t.sum(r)), region[p], self.tau),
                        _ => {
                            let mut w = [0f32; 4];
                            w[region[p]] = 1.0;
                            w
                        }
                    })
                    .collect();
                Arc::new(Weights { side: self.side, region, w })
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq2_by_hand() {
        // ERF mass 60 % in the own region (R4), 10/20/10 elsewhere, tau 0.7: w_r = 0.7 and
        // the remaining 0.3 is shared 1:2:1.
        let w = eq2_weights([10.0, 20.0, 10.0, 60.0], 3, 0.7);
        let want = [0.075, 0.15, 0.075, 0.7];
        for i in 0..4 {
            assert!((w[i] - want[i]).abs() < 1e-6, "{w:?}");
        }
        // Mass 90 % in the own region: above tau, the ERF share is kept.
        let w = eq2_weights([5.0, 0.0, 5.0, 90.0], 3, 0.7);
        assert!((w[3] - 0.9).abs() < 1e-6 && (w[0] - 0.05).abs() < 1e-6 && w[1] == 0.0);
        // Everything in the own region, or no ERF at all: one-hot.
        assert_eq!(eq2_weights([0.0, 7.0, 0.0, 0.0], 1, 0.7), [0.0, 1.0, 0.0, 0.0]);
        assert_eq!(eq2_weights([0.0; 4], 2, 0.7), [0.0, 0.0, 1.0, 0.0]);
        // tau = 1: block-wise classification.
        assert_eq!(eq2_weights([1.0, 2.0, 3.0, 4.0], 0, 1.0), [1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn summed_area_matches_direct_sums() {
        let (h, w) = (7, 9);
        let map: Vec<f32> = (0..h * w).map(|i| ((i * 37) % 11) as f32).collect();
        let t = SummedArea::new(&map, h, w);
        for r in [Rect::new(0, 0, 9, 7), Rect::new(2, 1, 3, 4), Rect::new(8, 6, 1, 1), Rect::new(0, 3, 9, 0)] {
            let direct: f64 = (r.y..r.y + r.h)
                .flat_map(|y| (r.x..r.x + r.w).map(move |x| (x, y)))
                .map(|(x, y)| map[y as usize * w + x as usize] as f64)
                .sum();
            assert_eq!(t.sum(r), direct, "{r:?}");
        }
    }

    #[test]
    fn weights_sum_to_one_and_follow_the_template() {
        // A uniform ERF over the whole canvas: w_r = max(0.7, area share) everywhere.
        let (side, canvas) = (7usize, 224usize);
        let erf = ErfMaps { side, canvas, maps: vec![1.0; side * side * canvas * canvas] };
        let l = SoftLabeler::new(&erf, 0.7);
        let w = l.weights(64, 64);
        let count = |i| w.region.iter().filter(|&&r| r == i).count();
        assert_eq!((count(0), count(1), count(2), count(3)), (4, 10, 10, 25));
        let areas = [64.0 * 64.0, 64.0 * 160.0, 160.0 * 64.0, 160.0 * 160.0];
        for (p, wp) in w.w.iter().enumerate() {
            assert!((wp.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            let r = w.region[p];
            assert!((wp[r] as f64 - 0.7f64.max(areas[r] / (224.0 * 224.0))).abs() < 1e-6);
        }
        assert!(Arc::ptr_eq(&w, &l.weights(64, 64)), "cached per cut");
    }
}
