//! Aspect-ratio groups (METHOD §2): a = w/h of the expanded sample.
//! S (square-ish): 0.5 <= a <= 1.5; T (tall): a < 0.5; W (wide): a > 1.5.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Group {
    S,
    T,
    W,
}

impl Group {
    pub const ALL: [Group; 3] = [Group::S, Group::T, Group::W];

    /// The group of a box with aspect ratio `w / h`, with the paper's thresholds.
    pub fn of_aspect(aspect: f64) -> Group {
        Thresholds::default().group(aspect)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Group::S => "S",
            Group::T => "T",
            Group::W => "W",
        }
    }
}

impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Group boundaries: T below `tall`, W above `wide`, S in between (both inclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub tall: f64,
    pub wide: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { tall: 0.5, wide: 1.5 }
    }
}

impl Thresholds {
    pub fn group(&self, aspect: f64) -> Group {
        if aspect < self.tall {
            Group::T
        } else if aspect > self.wide {
            Group::W
        } else {
            Group::S
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_inclusive_for_s() {
        assert_eq!(Group::of_aspect(0.5), Group::S);
        assert_eq!(Group::of_aspect(1.5), Group::S);
        assert_eq!(Group::of_aspect(0.4999), Group::T);
        assert_eq!(Group::of_aspect(1.5001), Group::W);
        assert_eq!(Group::of_aspect(1.0), Group::S);
    }
}
