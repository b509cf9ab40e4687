//! FCOS target assignment (torchvision's `FCOS.compute_loss` matching): a point learns a
//! ground-truth box when it lies inside the box, within `radius x stride` of the box centre
//! (centre sampling), and the box's largest side distance from the point falls in the
//! point's level range [4 x size, 8 x size] (open below for P3 and above for P7). Of several
//! such boxes, the smallest in area wins.

use super::points::Points;

/// For each point, the index of the ground-truth box it learns (`None` = background).
/// Boxes are `[x1, y1, x2, y2]`; crowd boxes should not be passed.
pub fn assign(points: &Points, boxes: &[[f32; 4]], radius: f32) -> Vec<Option<usize>> {
    let last = points.shapes.len() - 1;
    points
        .xy
        .iter()
        .enumerate()
        .map(|(i, &(px, py))| {
            let size = points.size[i];
            let level = points.level[i];
            let lower = if level == 0 { 0.0 } else { 4.0 * size };
            let upper = if level == last { f32::INFINITY } else { 8.0 * size };
            let mut best: Option<(f32, usize)> = None;
            for (g, b) in boxes.iter().enumerate() {
                let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
                let near_centre = (px - cx).abs().max((py - cy).abs()) < radius * size;
                let (l, t, r, bo) = (px - b[0], py - b[1], b[2] - px, b[3] - py);
                let inside = l.min(t).min(r).min(bo) > 0.0;
                let reach = l.max(t).max(r).max(bo);
                if near_centre && inside && reach > lower && reach < upper {
                    let area = (b[2] - b[0]) * (b[3] - b[1]);
                    if best.is_none_or(|(a, _)| area < a) {
                        best = Some((area, g));
                    }
                }
            }
            best.map(|(_, g)| g)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::points::points;
    use super::*;

    #[test]
    fn centre_sampling_level_ranges_and_smallest_area() {
        let p = points(256, 256);
        // A 40 px box (reach <= 20 from inside points: level P3, range [0, 64]).
        let small = [100.0, 100.0, 140.0, 140.0];
        // A 200 px box around it (reach 100: level P4 [64, 128]).
        let big = [20.0, 20.0, 220.0, 220.0];
        let a = assign(&p, &[big, small], 1.5);
        let matched: Vec<(usize, usize)> = a.iter().enumerate().filter_map(|(i, m)| m.map(|g| (i, g))).collect();
        assert!(!matched.is_empty());
        for &(i, g) in &matched {
            let (x, y) = p.xy[i];
            let lvl = p.level[i];
            if g == 1 {
                assert_eq!(lvl, 0, "the small box is learned on P3");
                assert!((x - 120.0).abs() < 12.0 && (y - 120.0).abs() < 12.0, "within 1.5 strides of its centre");
            } else {
                let size = p.size[i];
                assert!(lvl >= 1, "the big box is too large for P3");
                assert!((x - 120.0).abs() < 1.5 * size && (y - 120.0).abs() < 1.5 * size);
                let reach = (x - 20.0).max(y - 20.0).max(220.0 - x).max(220.0 - y);
                assert!(reach > 4.0 * size && reach < 8.0 * size, "reach {reach} outside level {lvl}'s range");
            }
        }
        assert!(matched.iter().any(|&(_, g)| g == 0) && matched.iter().any(|&(_, g)| g == 1));
        // Where both qualify, the smaller wins: P3 points near the centre never take the big box.
        assert!(matched.iter().filter(|&&(i, _)| p.level[i] == 0).all(|&(_, g)| g == 1));
        // Nothing outside any box.
        let none = assign(&p, &[], 1.5);
        assert!(none.iter().all(Option::is_none));
    }
}
