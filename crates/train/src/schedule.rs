//! The pre-training learning rate (METHOD §7): linear warm-up from `start` to `peak`, then
//! cosine to 0. The paper uses 0.2 -> 0.8 over 1250 of 64k iterations at batch 512; montage
//! scales both rates linearly with the batch size and the warm-up with the run length.
//!
//! A pure function of the iteration, so a resumed run needs no scheduler state.

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    pub start: f64,
    pub peak: f64,
    pub warmup: u64,
    pub total: u64,
}

impl Schedule {
    /// The paper's schedule for `batch` montages and `total` iterations.
    pub fn paper(batch: usize, total: u64) -> Schedule {
        let scale = batch as f64 / 512.0;
        Schedule {
            start: 0.2 * scale,
            peak: 0.8 * scale,
            warmup: ((total as f64) * 1250.0 / 64000.0).round() as u64,
            total,
        }
    }

    /// Learning rate of iteration `it` (0-based).
    pub fn lr(&self, it: u64) -> f64 {
        if it < self.warmup {
            return self.start + (self.peak - self.start) * it as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let t = ((it - self.warmup) as f64 / span).min(1.0);
        self.peak * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_numbers() {
        let s = Schedule::paper(512, 64000);
        assert_eq!(s.warmup, 1250);
        assert!((s.lr(0) - 0.2).abs() < 1e-12);
        assert!((s.lr(625) - 0.5).abs() < 1e-12);
        assert!((s.lr(1250) - 0.8).abs() < 1e-12);
        assert!((s.lr(1250 + (64000 - 1250) / 2) - 0.4).abs() < 1e-9);
        assert!(s.lr(64000).abs() < 1e-12);
        let small = Schedule::paper(16, 100);
        assert!((small.peak - 0.025).abs() < 1e-12 && small.warmup == 2);
    }
}
