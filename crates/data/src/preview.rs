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
pub const REGION_COLORS: [[u8; 3]; 4] =
    [[46, 204, 64], [255, 65, 54], [255, 220, 0], [0, 116, 217]];

/// Writes an RGB8 image as PNG, atomically.
pub fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    write_atomic(path, |w| {
        let mut buf = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut buf), image::ImageFormat::Png)
            .map_err(std::io::Error::other)?;
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
    let mut img = image::imageops::resize(
        &base,
        layout.canvas * s,
        layout.canvas * s,
        image::imageops::FilterType::Nearest,
    );
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
        let glyph = font8x8::BASIC_FONTS
            .get(ch)
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    put(img, x0 + 8 * k as u32 + col, y0 + row as u32, c);
                }
            }
        }
    }
}
