//! Small line plots as PNG (loss and accuracy curves), drawn with an 8x8 bitmap font so that
//! no system font is needed.

use std::path::Path;

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

use crate::error::Result;
use crate::preview::save_png;

/// Colours of successive series.
pub const SERIES_COLORS: [[u8; 3]; 6] =
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75]];

/// One named series of (x, y) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

fn text(img: &mut RgbImage, s: &str, x: i64, y: i64, c: Rgb<u8>) {
    for (k, ch) in s.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS.get(ch).unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                let (px, py) = (x + 8 * k as i64 + col, y + row as i64);
                if bits >> col & 1 == 1 && px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height()
                {
                    img.put_pixel(px as u32, py as u32, c);
                }
            }
        }
    }
}

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb<u8>) {
    let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        for (dx, dy) in [(0, 0), (0, 1), (1, 0)] {
            let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, c);
            }
        }
    }
}

fn label(v: f64) -> String {
    if v.abs() >= 1000.0 || (v != 0.0 && v.abs() < 0.01) { format!("{v:.2e}") } else { format!("{v:.3}") }
}

/// Draws `series` into a `width x height` PNG at `path`, with a title, axes, the range of
/// each axis and a legend.
pub fn line_plot(path: &Path, title: &str, x_label: &str, series: &[Series], width: u32, height: u32) -> Result<()> {
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let (l, r, t, b) = (80f64, 20f64, 40f64, 40f64);
    let pts = series.iter().flat_map(|s| s.points.iter()).filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 == y0 {
        y1 = y0 + 1.0;
    }
    let (pw, ph) = (width as f64 - l - r, height as f64 - t - b);
    let map = |x: f64, y: f64| (l + (x - x0) / (x1 - x0) * pw, t + (1.0 - (y - y0) / (y1 - y0)) * ph);
    let black = Rgb([0, 0, 0]);
    let grey = Rgb([220, 220, 220]);
    for i in 0..=4 {
        let y = t + ph * i as f64 / 4.0;
        line(&mut img, (l, y), (l + pw, y), grey);
        text(&mut img, &label(y1 - (y1 - y0) * i as f64 / 4.0), 4, y as i64 - 4, black);
    }
    line(&mut img, (l, t), (l, t + ph), black);
    line(&mut img, (l, t + ph), (l + pw, t + ph), black);
    text(&mut img, title, l as i64, 12, black);
    text(&mut img, &label(x0), l as i64, (t + ph + 8.0) as i64, black);
    let xr = label(x1);
    text(&mut img, &xr, (l + pw) as i64 - 8 * xr.len() as i64, (t + ph + 8.0) as i64, black);
    text(&mut img, x_label, (l + pw / 2.0) as i64 - 4 * x_label.len() as i64, (t + ph + 22.0) as i64, black);
    for (i, s) in series.iter().enumerate() {
        let c = Rgb(SERIES_COLORS[i % SERIES_COLORS.len()]);
        let p: Vec<(f64, f64)> =
            s.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).map(|&(x, y)| map(x, y)).collect();
        for w in p.windows(2) {
            line(&mut img, w[0], w[1], c);
        }
        if p.len() == 1 {
            line(&mut img, p[0], p[0], c);
        }
        let ly = t as i64 + 6 + 12 * i as i64;
        let lx = (l + pw) as i64 - 8 * s.name.len() as i64 - 30;
        line(&mut img, (lx as f64, ly as f64 + 4.0), (lx as f64 + 20.0, ly as f64 + 4.0), c);
        text(&mut img, s.name, lx + 24, ly, c);
    }
    save_png(path, &img)
}
