//! Seeded random streams. Every random choice in montage comes from a stream named by
//! (seed, purpose, index), so a result depends only on those and never on thread count
//! or on the order work is done in.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a stream is used for; keeps streams of different purposes apart under one seed.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Purpose {
    Positives = 1,
    Negatives = 2,
    Montage = 3,
    Preview = 4,
    /// Weight initialisation of the networks.
    Init = 5,
    /// Image order and flips of detection fine-tuning.
    Detection = 6,
}

/// The stream for `(seed, purpose, index)`.
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// `n` draws from N(0, std^2) (Box-Muller), reproducible for a given stream.
pub fn normal(rng: &mut impl rand::Rng, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2: f64 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// `n` draws from U(-bound, bound).
pub fn uniform(rng: &mut impl rand::Rng, n: usize, bound: f64) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound) as f32).collect()
}
