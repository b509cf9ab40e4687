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
