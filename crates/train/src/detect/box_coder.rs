//! FCOS box coding (torchvision's `BoxLinearCoder(normalize_by_size=True)`): a box seen from a
//! point is its distances to the four sides, (l, t, r, b), divided by the point's size.

/// Boxes are `[x1, y1, x2, y2]` here.
pub fn encode(point: (f32, f32), size: f32, b: [f32; 4]) -> [f32; 4] {
    [(point.0 - b[0]) / size, (point.1 - b[1]) / size, (b[2] - point.0) / size, (b[3] - point.1) / size]
}

pub fn decode(point: (f32, f32), size: f32, d: [f32; 4]) -> [f32; 4] {
    [point.0 - d[0] * size, point.1 - d[1] * size, point.0 + d[2] * size, point.1 + d[3] * size]
}

/// Centre-ness of a point inside a box: sqrt(min(l, r) / max(l, r) x min(t, b) / max(t, b)).
pub fn centerness(ltrb: [f32; 4]) -> f32 {
    let [l, t, r, b] = ltrb;
    if l <= 0.0 || t <= 0.0 || r <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    ((l.min(r) / l.max(r)) * (t.min(b) / t.max(b))).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_centerness() {
        let b = [10.0, 20.0, 50.0, 40.0];
        let d = encode((30.0, 30.0), 8.0, b);
        assert_eq!(d, [2.5, 1.25, 2.5, 1.25]);
        assert_eq!(decode((30.0, 30.0), 8.0, d), b);
        assert_eq!(centerness(d), 1.0);
        let off = encode((20.0, 30.0), 8.0, b);
        assert!((centerness(off) - (10.0f32 / 30.0).sqrt()).abs() < 1e-6);
        assert_eq!(centerness(encode((5.0, 30.0), 8.0, b)), 0.0, "outside the box");
    }
}
