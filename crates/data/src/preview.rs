//! Pictures of montages: the plain montage and an annotated copy (twice the size) with the
//! region borders, the rectangle each sample covers, and each region's label.

use std::path::Path;

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

use crate::error::{DataError, Result};
use crate::geometry::Rect;
use crate::io::write_atomic;
use crate::template::Layout;

/// Region colours R1..R4 (green, red, yellow, blue as in the paper's figure).
pub const REGION_COLORS: [[u8; 3]; 4] = [[46, 204, 64], [255, 65, 54], [255, 220, 0], [0, 116, 217]];

/// Writes an RGB8 image as PNG, atomically.
pub fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    write_atomic(path, |w| {
        let mut buf = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut buf), image::ImageFormat::Png).map_err(std::io::Error::other)?;
        std::io::Write::write_all(w, &buf)
    })
    .map_err(|e| DataError::new(path, format!("cannot write PNG: {}", e.message)))
}

/// The montage as an image.
pub fn montage_image(rgb: &[u8], canvas: u32) -> RgbImage {
    RgbImage::from_raw(canvas, canvas, rgb.to_vec()).expect("rgb holds canvas x canvas pixels")
}

/// An annotated copy, `scale` times larger: region borders, sample rectangles and labels.
pub fn annotate(rgb: &[u8], layout: &Layout, names: &[&str; 4], scale: u32) -> RgbImage {
    let base = montage_image(rgb, layout.canvas);
    let s = scale.max(1);
    let mut img =
        image::imageops::resize(&base, layout.canvas * s, layout.canvas * s, image::imageops::FilterType::Nearest);
    let scaled = |r: Rect| Rect::new(r.x * s, r.y * s, r.w * s, r.h * s);
    for (i, r) in layout.regions().iter().enumerate() {
        let c = Rgb(REGION_COLORS[i]);
        dashed_rect(&mut img, scaled(layout.content[i]), c);
        let reg = scaled(*r);
        outline(&mut img, reg, c, 2);
        let text = format!("R{} {}", i + 1, names[i]);
        label(&mut img, &text, reg, c);
    }
    img
}

fn put(img: &mut RgbImage, x: u32, y: u32, c: Rgb<u8>) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, c);
    }
}

fn outline(img: &mut RgbImage, r: Rect, c: Rgb<u8>, width: u32) {
    for t in 0..width {
        for x in r.x..r.x + r.w {
            put(img, x, r.y + t, c);
            put(img, x, (r.y + r.h).saturating_sub(1 + t), c);
        }
        for y in r.y..r.y + r.h {
            put(img, r.x + t, y, c);
            put(img, (r.x + r.w).saturating_sub(1 + t), y, c);
        }
    }
}

fn dashed_rect(img: &mut RgbImage, r: Rect, c: Rgb<u8>) {
    if r.w == 0 || r.h == 0 {
        return;
    }
    for x in (r.x..r.x + r.w).filter(|x| (x / 4) % 2 == 0) {
        put(img, x, r.y, c);
        put(img, x, r.y + r.h - 1, c);
    }
    for y in (r.y..r.y + r.h).filter(|y| (y / 4) % 2 == 0) {
        put(img, r.x, y, c);
        put(img, r.x + r.w - 1, y, c);
    }
}

/// Draws `text` (8x8 bitmap font) on a dark band at the top-left of `region`, clipped to it.
fn label(img: &mut RgbImage, text: &str, region: Rect, c: Rgb<u8>) {
    let (x0, y0) = (region.x + 3, region.y + 3);
    let max_chars = (region.w.saturating_sub(6) / 8) as usize;
    let text: String = text.chars().take(max_chars).collect();
    let band_w = 8 * text.chars().count() as u32 + 2;
    for y in y0.saturating_sub(1)..y0 + 9 {
        for x in x0.saturating_sub(1)..x0 - 1 + band_w {
            if region.contains_point(x, y) {
                put(img, x, y, Rgb([0, 0, 0]));
            }
        }
    }
    for (k, ch) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS.get(ch).or_else(|| font8x8::BASIC_FONTS.get('?')).unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    put(img, x0 + 8 * k as u32 + col, y0 + row as u32, c);
                }
            }
        }
    }
}

/// A colour for `t` in [0, 1] (dark blue -> red -> yellow -> white, like "inferno").
pub fn heat_color(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] =
        [[0.0, 0.0, 4.0], [87.0, 16.0, 110.0], [188.0, 55.0, 84.0], [249.0, 142.0, 9.0], [252.0, 255.0, 164.0]];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f32;
    std::array::from_fn(|c| (STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f).round() as u8)
}

/// A `w x h` heat map of `values` (row-major), scaled so that the 99.5th percentile is
/// white (a few extreme pixels would otherwise leave the rest black).
pub fn heatmap(values: &[f32], w: u32, h: u32) -> RgbImage {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let top = sorted
        .get(((sorted.len() as f64 * 0.995) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    let scale = if top > 0.0 { 1.0 / top } else { 0.0 };
    RgbImage::from_fn(w, h, |x, y| Rgb(heat_color(values[(y * w + x) as usize] * scale)))
}

/// `top` over `base` with opacity `alpha`.
pub fn blend(base: &RgbImage, top: &RgbImage, alpha: f32) -> RgbImage {
    RgbImage::from_fn(base.width(), base.height(), |x, y| {
        let (b, t) = (base.get_pixel(x, y).0, top.get_pixel(x, y).0);
        Rgb(std::array::from_fn(|c| (b[c] as f32 * (1.0 - alpha) + t[c] as f32 * alpha).round() as u8))
    })
}

/// Draws the four region borders of `layout` (1 pixel, region colours) on `img` in place.
pub fn draw_regions(img: &mut RgbImage, layout: &Layout) {
    for (i, r) in layout.regions().iter().enumerate() {
        outline(img, *r, Rgb(REGION_COLORS[i]), 1);
    }
}

/// Draws a one-line label at the top-left of `img`.
pub fn caption(img: &mut RgbImage, text: &str) {
    let (w, h) = (img.width(), img.height());
    label(img, text, Rect::new(0, 0, w, h), Rgb([255, 255, 255]));
}
