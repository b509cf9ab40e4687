//! Boxes in pixels, COCO convention: top-left corner, width, height.

use serde::{Deserialize, Serialize};

/// An axis-aligned box `[x, y, w, h]` in pixels (serialised as that array).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 4]", into = "[f64; 4]")]
pub struct BBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl From<[f64; 4]> for BBox {
    fn from(a: [f64; 4]) -> Self {
        BBox { x: a[0], y: a[1], w: a[2], h: a[3] }
    }
}

impl From<BBox> for [f64; 4] {
    fn from(b: BBox) -> Self {
        [b.x, b.y, b.w, b.h]
    }
}

impl BBox {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        BBox { x, y, w, h }
    }

    /// From corners `(x1, y1, x2, y2)`.
    pub fn from_corners(x1: f64, y1: f64, x2: f64, y2: f64) -> Self {
        BBox { x: x1, y: y1, w: x2 - x1, h: y2 - y1 }
    }

    pub fn x2(&self) -> f64 {
        self.x + self.w
    }

    pub fn y2(&self) -> f64 {
        self.y + self.h
    }

    pub fn area(&self) -> f64 {
        self.w * self.h
    }

    /// Aspect ratio `w / h`.
    pub fn aspect(&self) -> f64 {
        self.w / self.h
    }

    /// Finite coordinates and a strictly positive width and height.
    pub fn is_proper(&self) -> bool {
        [self.x, self.y, self.w, self.h].iter().all(|v| v.is_finite()) && self.w > 0.0 && self.h > 0.0
    }

    /// Area of the overlap with `o` (0 when they only share an edge).
    pub fn intersection(&self, o: &BBox) -> f64 {
        let w = self.x2().min(o.x2()) - self.x.max(o.x);
        let h = self.y2().min(o.y2()) - self.y.max(o.y);
        if w > 0.0 && h > 0.0 { w * h } else { 0.0 }
    }

    pub fn iou(&self, o: &BBox) -> f64 {
        let i = self.intersection(o);
        if i == 0.0 { 0.0 } else { i / (self.area() + o.area() - i) }
    }

    /// The part of the box inside `[0, width] x [0, height]`, if it has any area.
    pub fn clip(&self, width: f64, height: f64) -> Option<BBox> {
        let x1 = self.x.clamp(0.0, width);
        let y1 = self.y.clamp(0.0, height);
        let x2 = self.x2().clamp(0.0, width);
        let y2 = self.y2().clamp(0.0, height);
        let b = BBox::from_corners(x1, y1, x2, y2);
        b.is_proper().then_some(b)
    }

    /// True when `o` lies inside this box (up to `eps` pixels).
    pub fn contains(&self, o: &BBox, eps: f64) -> bool {
        o.x >= self.x - eps && o.y >= self.y - eps && o.x2() <= self.x2() + eps && o.y2() <= self.y2() + eps
    }

    /// Every coordinate rounded to `1 / 10^decimals` of a pixel.
    pub fn rounded(&self, decimals: i32) -> BBox {
        let f = 10f64.powi(decimals);
        let r = |v: f64| (v * f).round() / f;
        BBox { x: r(self.x), y: r(self.y), w: r(self.w), h: r(self.h) }
    }
}

/// An integer rectangle on a canvas: `x, y, w, h` in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub const fn new(x: u32, y: u32, w: u32, h: u32) -> Self {
        Rect { x, y, w, h }
    }

    pub fn contains_point(&self, px: u32, py: u32) -> bool {
        px >= self.x && px < self.x + self.w && py >= self.y && py < self.y + self.h
    }

    pub fn contains_rect(&self, o: &Rect) -> bool {
        o.x >= self.x && o.y >= self.y && o.x + o.w <= self.x + self.w && o.y + o.h <= self.y + self.h
    }

    pub fn area(&self) -> u64 {
        self.w as u64 * self.h as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&BBox::new(10.0, 0.0, 5.0, 5.0)), 0.0, "sharing an edge is no overlap");
        assert!((a.iou(&BBox::new(5.0, 0.0, 10.0, 10.0)) - 50.0 / 150.0).abs() < 1e-12);
    }

    #[test]
    fn clip_keeps_inside_part_and_drops_outside_boxes() {
        let b = BBox::new(-5.0, 90.0, 20.0, 20.0).clip(100.0, 100.0).unwrap();
        assert_eq!(b, BBox::new(0.0, 90.0, 15.0, 10.0));
        assert!(BBox::new(120.0, 0.0, 5.0, 5.0).clip(100.0, 100.0).is_none());
    }

    #[test]
    fn improper_boxes_are_detected() {
        assert!(!BBox::new(0.0, 0.0, 0.0, 3.0).is_proper());
        assert!(!BBox::new(0.0, 0.0, -1.0, 3.0).is_proper());
        assert!(!BBox::new(f64::NAN, 0.0, 1.0, 3.0).is_proper());
        assert!(BBox::new(0.0, 0.0, 1.0, 3.0).is_proper());
    }
}
