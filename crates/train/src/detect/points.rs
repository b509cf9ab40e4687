//! Locations of the FCOS heads: one point per feature-map cell, at the cell's centre, for
//! the pyramid levels P3..P7 (strides 8..128). Each point has a size (its level's stride,
//! torchvision's anchor size) that normalises the regression targets.

/// FPN strides of P3..P7.
pub const STRIDES: [u32; 5] = [8, 16, 32, 64, 128];

/// All points of an `h x w` input, level by level, row-major within a level.
#[derive(Clone, Debug, PartialEq)]
pub struct Points {
    /// (x, y) centres in input pixels.
    pub xy: Vec<(f32, f32)>,
    /// Normalising size of each point (its level's stride).
    pub size: Vec<f32>,
    /// Level index of each point.
    pub level: Vec<usize>,
    /// (height, width) of each level's map.
    pub shapes: Vec<(usize, usize)>,
}

/// Side of a level's map for an input side (each stride-2 step rounds up, as ResNet does).
pub fn level_side(input: usize, stride: u32) -> usize {
    let mut s = input;
    let mut k = 1;
    while k < stride {
        s = s.div_ceil(2);
        k *= 2;
    }
    s
}

pub fn points(height: usize, width: usize) -> Points {
    let mut p = Points { xy: Vec::new(), size: Vec::new(), level: Vec::new(), shapes: Vec::new() };
    for (l, &s) in STRIDES.iter().enumerate() {
        let (h, w) = (level_side(height, s), level_side(width, s));
        p.shapes.push((h, w));
        for y in 0..h {
            for x in 0..w {
                p.xy.push(((x as f32 + 0.5) * s as f32, (y as f32 + 0.5) * s as f32));
                p.size.push(s as f32);
                p.level.push(l);
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_centres() {
        let p = points(100, 64);
        assert_eq!(p.shapes, vec![(13, 8), (7, 4), (4, 2), (2, 1), (1, 1)]);
        assert_eq!(p.xy.len(), 13 * 8 + 7 * 4 + 4 * 2 + 2 + 1);
        assert_eq!(p.xy[0], (4.0, 4.0));
        assert_eq!(p.xy[1], (12.0, 4.0));
        assert_eq!(p.xy[13 * 8], (8.0, 8.0));
        assert_eq!(*p.size.last().unwrap(), 128.0);
    }
}
