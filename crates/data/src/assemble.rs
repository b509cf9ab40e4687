//! Montage assembly (METHOD §3): draw 2 S, 1 T and 1 W samples, put the smaller S in R1,
//! the W in R2, the T in R3 and the larger S in R4, and fit each into its region.
//!
//! Fitting modes (the paper's ablation):
//! - **Pad&Crop** (default): never warps. Rescale keeping the aspect ratio by a random factor
//!   in [0.8, 1.5] of the scale at which the sample just fits inside the region, flip with
//!   p = 0.5, randomly crop where it is larger than the region and pad with black (at a random
//!   offset) where it is smaller.
//! - **Warp**: stretch the sample to the region.
//! - **Resize**: rescale keeping the aspect ratio so that it just fits, pad the rest.

use fast_image_resize as fr;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::geometry::{BBox, Rect};
use crate::group::Group;
use crate::rng::{Purpose, stream};
use crate::samples_file::SampleSet;
use crate::source::{PixelSource, SampleView};
use crate::template::{Layout, Template, regions};

/// How a sample is fitted into its region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FitMode {
    #[default]
    PadCrop,
    Warp,
    Resize,
}

impl std::str::FromStr for FitMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "padcrop" | "pad&crop" | "pad-crop" => Ok(FitMode::PadCrop),
            "warp" => Ok(FitMode::Warp),
            "resize" => Ok(FitMode::Resize),
            _ => Err(format!("unknown mode '{s}' (expected padcrop, warp or resize)")),
        }
    }
}

/// Random augmentation ranges for fitting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitParams {
    /// Scale jitter relative to the just-fitting scale (Pad&Crop only).
    pub scale_min: f64,
    pub scale_max: f64,
    /// Probability of a horizontal flip.
    pub flip_p: f64,
}

impl Default for FitParams {
    fn default() -> Self {
        FitParams { scale_min: 0.8, scale_max: 1.5, flip_p: 0.5 }
    }
}

/// Where one sample's pixels land: the part of the sample that is visible (as fractions of
/// its box, before flipping), the canvas rectangle it fills, and whether it is mirrored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// `[x, y, w, h]` of the visible part of the sample, as fractions of its box.
    pub crop: [f64; 4],
    /// Canvas rectangle the visible part is resized into.
    pub dst: Rect,
    pub flip: bool,
    /// Size of the whole sample after rescaling (before cropping).
    pub scaled: (u32, u32),
}

/// Plans how a `w x h` sample is fitted into `region`.
pub fn plan(mode: FitMode, w: f64, h: f64, region: Rect, p: &FitParams, rng: &mut impl Rng) -> Placement {
    let (rw, rh) = (region.w, region.h);
    let fit = (rw as f64 / w).min(rh as f64 / h);
    let jitter = if p.scale_max > p.scale_min { rng.random_range(p.scale_min..=p.scale_max) } else { p.scale_min };
    let flip = rng.random_bool(p.flip_p.clamp(0.0, 1.0));
    let (nw, nh) = match mode {
        FitMode::Warp => (rw, rh),
        FitMode::PadCrop => (((w * fit * jitter).round() as u32).max(1), ((h * fit * jitter).round() as u32).max(1)),
        FitMode::Resize => (((w * fit).round() as u32).clamp(1, rw), ((h * fit).round() as u32).clamp(1, rh)),
    };
    // Per axis: crop offset into the scaled sample, visible length, pad offset into the region.
    let mut axis = |n: u32, r: u32| -> (u32, u32, u32) {
        if n > r { (rng.random_range(0..=n - r), r, 0) } else { (0, n, rng.random_range(0..=r - n)) }
    };
    let (cx, vw, dx) = axis(nw, rw);
    let (cy, vh, dy) = axis(nh, rh);
    // The visible window [cx, cx + vw) is in flipped coordinates; find it in the original.
    let ux = if flip { nw - cx - vw } else { cx };
    Placement {
        crop: [ux as f64 / nw as f64, cy as f64 / nh as f64, vw as f64 / nw as f64, vh as f64 / nh as f64],
        dst: Rect::new(region.x + dx, region.y + dy, vw, vh),
        flip,
        scaled: (nw, nh),
    }
}

/// The four candidate pools (S, T, W) after the empty-group policy: an empty T or W group
/// borrows from S; an empty S group borrows from T and W together.
#[derive(Clone, Debug)]
pub struct Pools {
    pub by_group: [Vec<usize>; 3],
    /// What was borrowed, for the run to say.
    pub notes: Vec<String>,
}

impl Pools {
    pub fn new(set: &SampleSet) -> std::result::Result<Pools, String> {
        let mut g = set.by_group.clone();
        let mut notes = Vec::new();
        if g.iter().all(Vec::is_empty) {
            return Err("the sample set is empty".into());
        }
        if g[0].is_empty() {
            g[0] = g[1].iter().chain(&g[2]).copied().collect();
            notes.push("group S is empty: square regions borrow samples from T and W".to_string());
        }
        for grp in [Group::T, Group::W] {
            if g[grp.index()].is_empty() {
                g[grp.index()] = g[0].clone();
                notes.push(format!("group {grp} is empty: its region borrows samples from S"));
            }
        }
        Ok(Pools { by_group: g, notes })
    }
}

/// Builds montages; montage `i` depends only on `(seed, i)`.
#[derive(Clone, Debug)]
pub struct Assembler {
    pub template: Template,
    pub mode: FitMode,
    pub params: FitParams,
    pub seed: u64,
}

/// A montage as 8-bit RGB (row-major `canvas x canvas x 3`) with its layout.
#[derive(Clone, Debug)]
pub struct Montage {
    pub rgb: Vec<u8>,
    pub layout: Layout,
    pub placements: [Placement; 4],
}

impl Assembler {
    /// Chooses the samples and placements of montage `index`.
    pub fn choose(&self, set: &SampleSet, pools: &Pools, index: u64) -> (Layout, [Placement; 4]) {
        let mut rng = stream(self.seed, Purpose::Montage, index);
        let (sx, sy) = self.template.draw(&mut rng);
        let s = &pools.by_group[Group::S.index()];
        let a = s[rng.random_range(0..s.len())];
        let b = if s.len() > 1 {
            let k = rng.random_range(0..s.len() - 1);
            // Skip `a`'s position so that the two S samples differ.
            let pa = s.iter().position(|&v| v == a).unwrap();
            s[if k >= pa { k + 1 } else { k }]
        } else {
            a
        };
        let area = |i: usize| set.samples[i].bbox.area();
        let (small, large) = if area(b) < area(a) { (b, a) } else { (a, b) };
        let pick = |g: Group, rng: &mut ChaCha8Rng| {
            let p = &pools.by_group[g.index()];
            p[rng.random_range(0..p.len())]
        };
        let w = pick(Group::W, &mut rng);
        let t = pick(Group::T, &mut rng);
        let chosen = [small, w, t, large];
        let regs = regions(self.template.canvas, sx, sy);
        let placements: [Placement; 4] = std::array::from_fn(|r| {
            let bb = set.samples[chosen[r]].bbox;
            plan(self.mode, bb.w, bb.h, regs[r], &self.params, &mut rng)
        });
        let layout = Layout {
            canvas: self.template.canvas,
            split_x: sx,
            split_y: sy,
            labels: chosen.map(|i| set.samples[i].label),
            samples: chosen,
            content: placements.map(|p| p.dst),
        };
        (layout, placements)
    }

    /// Builds montage `index`: chooses, fetches pixels and renders.
    pub fn assemble(
        &self,
        set: &SampleSet,
        pools: &Pools,
        source: &dyn PixelSource,
        index: u64,
        resizer: &mut fr::Resizer,
    ) -> Result<Montage> {
        let (layout, placements) = self.choose(set, pools, index);
        let c = self.template.canvas as usize;
        let mut rgb = vec![0u8; c * c * 3];
        for (&sample, placement) in layout.samples.iter().zip(&placements) {
            let view = source.view(set, sample)?;
            render(&view, placement, &mut rgb, self.template.canvas, resizer)?;
        }
        Ok(Montage { rgb, layout, placements })
    }
}

/// Resizes the visible part of a sample into its canvas rectangle (mirrored if asked).
pub fn render(
    view: &SampleView,
    p: &Placement,
    canvas: &mut [u8],
    canvas_side: u32,
    resizer: &mut fr::Resizer,
) -> Result<()> {
    let b: BBox = view.bbox;
    let left = (b.x + p.crop[0] * b.w).clamp(0.0, view.width as f64);
    let top = (b.y + p.crop[1] * b.h).clamp(0.0, view.height as f64);
    let width = (p.crop[2] * b.w).min(view.width as f64 - left);
    let height = (p.crop[3] * b.h).min(view.height as f64 - top);
    let fail = |e: String| DataError::new(&view.origin, format!("cannot resize sample: {e}"));
    let src = fr::images::ImageRef::new(view.width, view.height, &view.pixels, fr::PixelType::U8x3)
        .map_err(|e| fail(e.to_string()))?;
    let mut dst_img = fr::images::Image::from_slice_u8(canvas_side, canvas_side, canvas, fr::PixelType::U8x3)
        .map_err(|e| fail(e.to_string()))?;
    let mut dst = fr::images::CroppedImageMut::new(&mut dst_img, p.dst.x, p.dst.y, p.dst.w, p.dst.h)
        .map_err(|e| fail(e.to_string()))?;
    let opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear)).crop(
        left,
        top,
        width.max(1e-3),
        height.max(1e-3),
    );
    resizer.resize(&src, &mut dst, &opts).map_err(|e| fail(e.to_string()))?;
    if p.flip {
        let stride = canvas_side as usize * 3;
        for y in p.dst.y..p.dst.y + p.dst.h {
            let start = y as usize * stride + p.dst.x as usize * 3;
            let row = &mut canvas[start..start + p.dst.w as usize * 3];
            mirror_rgb_row(row);
        }
    }
    Ok(())
}

/// Reverses the order of the RGB pixels of a row in place.
fn mirror_rgb_row(row: &mut [u8]) {
    let (pixels, _) = row.as_chunks_mut::<3>();
    pixels.reverse();
}

/// ImageNet normalisation constants (RGB).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Per channel, the normalised value of each 8-bit level.
fn normalisation_table() -> &'static [[f32; 256]; 3] {
    static TABLE: std::sync::OnceLock<[[f32; 256]; 3]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]))
    })
}

/// Writes an RGB8 HWC image as normalised f32 CHW: `(v / 255 - mean) / std`.
pub fn normalize_into(rgb: &[u8], out: &mut [f32]) {
    assert_eq!(out.len(), rgb.len(), "output must hold 3 x H x W values");
    let n = rgb.len() / 3;
    let [lr, lg, lb] = normalisation_table();
    let (r, rest) = out.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    let (pixels, _) = rgb.as_chunks::<3>();
    for (((px, r), g), b) in pixels.iter().zip(r).zip(g).zip(b) {
        *r = lr[px[0] as usize];
        *g = lg[px[1] as usize];
        *b = lb[px[2] as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_row() {
        let mut r = vec![1, 2, 3, 4, 5, 6, 7, 8, 9];
        mirror_rgb_row(&mut r);
        assert_eq!(r, vec![7, 8, 9, 4, 5, 6, 1, 2, 3]);
    }

    #[test]
    fn normalisation_matches_formula() {
        let rgb = [0u8, 128, 255, 10, 20, 30];
        let mut out = [0f32; 6];
        normalize_into(&rgb, &mut out);
        assert!((out[0] - (0.0 - 0.485) / 0.229).abs() < 1e-6);
        assert!((out[1] - (10.0 / 255.0 - 0.485) / 0.229).abs() < 1e-6);
        assert!((out[2] - (128.0 / 255.0 - 0.456) / 0.224).abs() < 1e-6);
        assert!((out[5] - (30.0 / 255.0 - 0.406) / 0.225).abs() < 1e-6);
    }
}
