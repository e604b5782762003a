//! Seeded randomness and weight initialisers.
//!
//! The generator is SplitMix64, written here rather than taken from `rand`: its whole state is one
//! `u64`, so a checkpoint stores it exactly and `--resume` continues the same stream, and it is the
//! generator `PROTOCOL.md` uses for the synthetic data. Every random choice in the crate
//! (initialisation, shuffling, splits) draws from an [`Rng`] made from an explicit seed.

use serde::{Deserialize, Serialize};

/// SplitMix64: a fast 64-bit generator with one word of state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    pub state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal, by Box–Muller (cosine branch).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `0..n` (Lemire's multiply-shift; the bias is below 2⁻³² for any `n` we use).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// How the weights of each layer are drawn (`fan_in`, `fan_out`: the layer's inputs and outputs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum Init {
    /// Glorot/Xavier uniform: U(−√(6/(fan_in+fan_out)), +√(6/(fan_in+fan_out))).
    GlorotUniform,
    /// Glorot/Xavier normal: N(0, 2/(fan_in+fan_out)).
    GlorotNormal,
    /// He/Kaiming uniform: U(−√(6/fan_in), +√(6/fan_in)). The default, as in `PROTOCOL.md`.
    #[default]
    HeUniform,
    /// He/Kaiming normal: N(0, 2/fan_in).
    HeNormal,
    /// LeCun normal: N(0, 1/fan_in), for SELU's self-normalising networks (PyTorch's
    /// `kaiming_normal_(nonlinearity="linear")`).
    LecunNormal,
    /// LeCun uniform: U(−√(3/fan_in), +√(3/fan_in)).
    LecunUniform,
    /// PyTorch's `nn.Linear` default for weights: U(−1/√fan_in, +1/√fan_in); with [`Bias::Uniform`]
    /// the biases match PyTorch too.
    Torch,
}

impl Init {
    /// One weight.
    pub fn weight(self, rng: &mut Rng, fan_in: usize, fan_out: usize) -> f64 {
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        match self {
            Init::GlorotUniform => {
                let b = (6.0 / (fi + fo)).sqrt();
                rng.uniform_in(-b, b)
            }
            Init::GlorotNormal => rng.normal() * (2.0 / (fi + fo)).sqrt(),
            Init::HeUniform => {
                let b = (6.0 / fi).sqrt();
                rng.uniform_in(-b, b)
            }
            Init::HeNormal => rng.normal() * (2.0 / fi).sqrt(),
            Init::LecunNormal => rng.normal() * (1.0 / fi).sqrt(),
            Init::LecunUniform => {
                let b = (3.0 / fi).sqrt();
                rng.uniform_in(-b, b)
            }
            Init::Torch => {
                let b = 1.0 / fi.sqrt();
                rng.uniform_in(-b, b)
            }
        }
    }
}

/// Whether the layers have a bias, and how it starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum Bias {
    /// No bias terms at all: y = Φ(x·W), exactly the seed's network.
    None,
    /// Biases start at zero (the default).
    #[default]
    Zero,
    /// Biases start at this constant (a small positive value keeps ReLUs alive).
    Constant(f64),
    /// Biases start U(−1/√fan_in, +1/√fan_in), as PyTorch's `nn.Linear`.
    Uniform,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_protocol_generator() {
        // First outputs of SplitMix64 from seed 0, as published with the algorithm (Vigna).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn initialisers_have_the_documented_spread() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        for (init, want_var) in [
            (Init::GlorotUniform, 2.0 / (100.0 + 50.0)),
            (Init::GlorotNormal, 2.0 / (100.0 + 50.0)),
            (Init::HeUniform, 2.0 / 100.0),
            (Init::HeNormal, 2.0 / 100.0),
            (Init::LecunNormal, 1.0 / 100.0),
            (Init::LecunUniform, 1.0 / 100.0),
            (Init::Torch, 1.0 / 300.0),
        ] {
            let xs: Vec<f64> = (0..n).map(|_| init.weight(&mut rng, 100, 50)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(mean.abs() < 0.003, "{init:?} mean {mean}");
            assert!(
                (var / want_var - 1.0).abs() < 0.02,
                "{init:?} var {var} want {want_var}"
            );
        }
    }

    #[test]
    fn shuffle_is_a_permutation_and_seeded() {
        let mut a: Vec<usize> = (0..100).collect();
        let mut b = a.clone();
        Rng::new(3).shuffle(&mut a);
        Rng::new(3).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        a.sort();
        assert_eq!(a, (0..100).collect::<Vec<_>>());
    }
}
