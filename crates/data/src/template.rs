//! The montage template (METHOD §3): a square canvas cut at `split` into four regions.
//!
//! ```text
//!        split      canvas - split
//!      +-------+----------------------+
//!      |  R1   |          R2          |  split
//!      | S sm. |          W           |
//!      +-------+----------------------+
//!      |  R3   |          R4          |
//!      |  T    |        S large       |  canvas - split
//!      +-------+----------------------+
//! ```
//! The paper's template is 224 with a split at 64 (64:160): at stride 32 the cut falls on
//! cell borders of the 7x7 feature map. A random-split template draws the split of each
//! montage (per axis) from `min..=max` in steps of `step`.

use rand::Rng;

use crate::geometry::Rect;
use crate::group::Group;

/// Where the canvas is cut.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Split {
    Fixed(u32),
    /// A split per axis drawn uniformly from `min, min + step, ..., <= max`.
    Random {
        min: u32,
        max: u32,
        step: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Template {
    pub canvas: u32,
    pub split: Split,
}

impl Default for Template {
    fn default() -> Self {
        Template { canvas: 224, split: Split::Fixed(64) }
    }
}

/// Which group fills each region, in region order R1..R4.
pub const REGION_GROUPS: [Group; 4] = [Group::S, Group::W, Group::T, Group::S];

impl Template {
    /// The paper's template scaled to `canvas` (split = canvas * 64 / 224, rounded).
    pub fn scaled(canvas: u32) -> Template {
        Template { canvas, split: Split::Fixed(((canvas as f64) * 64.0 / 224.0).round() as u32) }
    }

    /// Checks that every region is at least one pixel on each side.
    pub fn validate(&self) -> Result<(), String> {
        let (lo, hi) = self.split_bounds();
        if self.canvas < 2 {
            return Err(format!("canvas {} is too small", self.canvas));
        }
        if let Split::Random { min, max, step } = self.split
            && (step == 0 || min > max)
        {
            return Err(format!("random split {min}..={max} step {step} is empty"));
        }
        if lo == 0 || hi >= self.canvas {
            return Err(format!("split must lie strictly inside the canvas (1..{}), got {lo}..={hi}", self.canvas));
        }
        Ok(())
    }

    /// Smallest and largest split this template can produce.
    pub fn split_bounds(&self) -> (u32, u32) {
        match self.split {
            Split::Fixed(s) => (s, s),
            Split::Random { min, max, step } => (min, min + (max.saturating_sub(min) / step.max(1)) * step.max(1)),
        }
    }

    /// The longest side any region can have.
    pub fn max_region_side(&self) -> u32 {
        let (lo, hi) = self.split_bounds();
        (self.canvas - lo).max(hi)
    }

    /// Draws `(split_x, split_y)` for one montage (no draw for a fixed split).
    pub fn draw(&self, rng: &mut impl Rng) -> (u32, u32) {
        match self.split {
            Split::Fixed(s) => (s, s),
            Split::Random { min, max, step } => {
                let n = (max - min) / step + 1;
                (min + rng.random_range(0..n) * step, min + rng.random_range(0..n) * step)
            }
        }
    }
}

/// The four regions R1 (top-left), R2 (top-right), R3 (bottom-left), R4 (bottom-right).
pub fn regions(canvas: u32, split_x: u32, split_y: u32) -> [Rect; 4] {
    let (rx, ry) = (canvas - split_x, canvas - split_y);
    [
        Rect::new(0, 0, split_x, split_y),
        Rect::new(split_x, 0, rx, split_y),
        Rect::new(0, split_y, split_x, ry),
        Rect::new(split_x, split_y, rx, ry),
    ]
}

/// Where everything of one montage went: its cut, each region's label and sample, and the
/// canvas rectangle each sample's pixels cover (the rest of a region is black padding).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub canvas: u32,
    pub split_x: u32,
    pub split_y: u32,
    /// Class index of each region R1..R4.
    pub labels: [usize; 4],
    /// Sample index (into the sample set) of each region.
    pub samples: [usize; 4],
    /// Canvas rectangle covered by each region's sample.
    pub content: [Rect; 4],
}

impl Layout {
    pub fn regions(&self) -> [Rect; 4] {
        regions(self.canvas, self.split_x, self.split_y)
    }

    /// The region (0..4) that canvas pixel `(x, y)` lies in.
    pub fn region_at(&self, x: u32, y: u32) -> usize {
        (x >= self.split_x) as usize + 2 * (y >= self.split_y) as usize
    }

    /// Binary mask M^i of region `i`, row-major `canvas x canvas`.
    pub fn mask(&self, i: usize) -> Vec<bool> {
        let c = self.canvas;
        (0..c * c).map(|p| self.region_at(p % c, p / c) == i).collect()
    }

    /// Region masks at a feature-map resolution: cell `(j, k)` of a `side x side` map belongs
    /// to the region holding the cell's centre on the canvas.
    pub fn cell_regions(&self, side: u32) -> Vec<usize> {
        let c = self.canvas as f64;
        (0..side * side)
            .map(|p| {
                let (k, j) = (p % side, p / side);
                let x = ((k as f64 + 0.5) * c / side as f64) as u32;
                let y = ((j as f64 + 0.5) * c / side as f64) as u32;
                self.region_at(x, y)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_template_regions() {
        let r = regions(224, 64, 64);
        assert_eq!(r[0], Rect::new(0, 0, 64, 64));
        assert_eq!(r[1], Rect::new(64, 0, 160, 64));
        assert_eq!(r[2], Rect::new(0, 64, 64, 160));
        assert_eq!(r[3], Rect::new(64, 64, 160, 160));
        assert_eq!(r.iter().map(|r| r.area()).sum::<u64>(), 224 * 224);
    }

    #[test]
    fn split_falls_on_stride_32_cells() {
        let l = Layout {
            canvas: 224,
            split_x: 64,
            split_y: 64,
            labels: [0; 4],
            samples: [0; 4],
            content: regions(224, 64, 64),
        };
        let cells = l.cell_regions(7);
        let count = |i| cells.iter().filter(|&&c| c == i).count();
        assert_eq!((count(0), count(1), count(2), count(3)), (4, 10, 10, 25));
    }

    #[test]
    fn scaled_template_and_validation() {
        assert_eq!(Template::scaled(448).split, Split::Fixed(128));
        assert!(Template { canvas: 224, split: Split::Fixed(0) }.validate().is_err());
        assert!(Template { canvas: 224, split: Split::Fixed(224) }.validate().is_err());
        let t = Template { canvas: 224, split: Split::Random { min: 32, max: 96, step: 32 } };
        assert!(t.validate().is_ok());
        assert_eq!(t.max_region_side(), 192);
    }
}
