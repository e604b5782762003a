//! Dropout: while training, each hidden neuron's output is kept with probability 1 − p and scaled
//! by 1/(1 − p), or set to 0; at inference it is the identity, so a trained model predicts with
//! every neuron. This is "inverted" dropout, as `torch.nn.Dropout(p)` placed after each hidden
//! activation, and Keras' `Dropout`.
//!
//! ```text
//! forward    h̃ = h ⊙ m,       m_ij = 1/(1 − p) with probability 1 − p, else 0     [B×out]
//! backward   ∂E/∂h = ∂E/∂h̃ ⊙ m                                                   [B×out]
//! ```
//!
//! The next layer reads h̃ (its x), so its ∂E/∂W = h̃ᵀ·δ; the chain rule then passes ∂E/∂h through
//! Φ'(h') as without dropout. A dropped neuron takes part in no path of the seed's Equation A for
//! that batch: its weights out get no gradient from it, and nothing flows back through it.
//!
//! The mask is a function of (seed, epoch, batch, layer) only: the element i of a batch's mask for
//! a layer comes from the i-th number of a SplitMix64 stream keyed by those four, so a resumed run
//! draws the same masks as an uninterrupted one, and any number of threads the same bits.

use crate::error::{Error, Result};
use crate::init::Rng;
use crate::tensor::Float;

/// Dropout after the hidden layers: none, one rate p for every hidden layer, or one per hidden layer.
///
/// ```
/// use mlp::Dropout;
/// let d = Dropout::per_layer(vec![0.5, 0.2]);
/// assert_eq!(d.rate(1, 2), 0.2);
/// assert_eq!(Dropout::every(0.3).rate(1, 2), 0.3);
/// assert_eq!(Dropout::none().rate(0, 2), 0.0);
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Dropout {
    /// Empty: none; one rate: every hidden layer; else one per hidden layer.
    pub rates: Vec<f64>,
}

impl Dropout {
    /// No dropout.
    pub fn none() -> Self {
        Dropout { rates: Vec::new() }
    }

    /// The rate `p` after every hidden layer.
    pub fn every(p: f64) -> Self {
        Dropout { rates: vec![p] }
    }

    /// One rate per hidden layer, in order (0: none after that layer).
    pub fn per_layer(rates: Vec<f64>) -> Self {
        Dropout { rates }
    }

    /// Whether no layer drops anything.
    pub fn is_none(&self) -> bool {
        self.rates.iter().all(|&p| p == 0.0)
    }

    /// The rate after layer `layer` of a network with `hidden` hidden layers (the output layer, and
    /// any layer past them, has none).
    pub fn rate(&self, layer: usize, hidden: usize) -> f64 {
        match self.rates.len() {
            _ if layer >= hidden => 0.0,
            0 => 0.0,
            1 => self.rates[0],
            _ => self.rates.get(layer).copied().unwrap_or(0.0),
        }
    }

    /// Each rate in [0, 1).
    pub fn check_rates(&self) -> Result<()> {
        match self.rates.iter().find(|p| !(0.0..1.0).contains(*p)) {
            Some(p) => Err(Error::config(format!(
                "dropout rate must be in [0, 1), not {p}"
            ))),
            None => Ok(()),
        }
    }

    /// Checks the rates, and their number against a network with `hidden` hidden layers.
    pub fn check(&self, hidden: usize) -> Result<()> {
        self.check_rates()?;
        if self.rates.len() > 1 && self.rates.len() != hidden {
            return Err(Error::config(format!(
                "dropout gives {} rates for {hidden} hidden layer{}; give one, or one per layer",
                self.rates.len(),
                if hidden == 1 { "" } else { "s" }
            )));
        }
        if hidden == 0 && !self.is_none() {
            return Err(Error::config(
                "dropout applies to hidden layers, and this network has none",
            ));
        }
        Ok(())
    }

    /// Short form for messages and model files: `0.5`, `0.5,0.2`, or `none`.
    pub fn describe(&self) -> String {
        if self.is_none() {
            return "none".into();
        }
        let rates: Vec<String> = self.rates.iter().map(|p| p.to_string()).collect();
        rates.join(",")
    }
}

/// Which masks a training step draws: the run's seed, and the batch's place in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draw {
    pub seed: u64,
    /// 1-based, as the trainer counts epochs.
    pub epoch: usize,
    /// 0-based within the epoch.
    pub batch: usize,
}

impl Draw {
    /// The key of layer `layer`'s stream: the four numbers mixed one after the other.
    pub fn key(self, layer: usize) -> u64 {
        Draw::layer_key(Draw::epoch_key(self.seed, self.epoch), self.batch, layer)
    }

    /// The part of the key an epoch fixes: the seed and the epoch mixed. (The GPU is given this
    /// once per epoch, and mixes in the batch and the layer itself: `dropout_key` in kernels.cu.)
    pub fn epoch_key(seed: u64, epoch: usize) -> u64 {
        // A constant apart from the shuffle's stream, which starts from the bare seed.
        let k = seed ^ 0x000D_8090_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Rng::new(k ^ epoch as u64).next_u64()
    }

    /// The key of layer `layer`'s stream in batch `batch`, from the epoch's key.
    pub fn layer_key(epoch_key: u64, batch: usize, layer: usize) -> u64 {
        let k = Rng::new(epoch_key ^ batch as u64).next_u64();
        Rng::new(k ^ layer as u64).next_u64()
    }
}

/// The mask's test in integers, as the GPU makes it: element i is dropped when the top 53 bits n of
/// its number in the stream are below this. The CPU draws u = n·2⁻⁵³ and drops when u < p; since
/// p·2⁵³ is exact in f64, u < p ⟺ n < p·2⁵³ ⟺ n < ⌈p·2⁵³⌉, the same bits either way.
pub fn threshold(p: f64) -> u64 {
    (p * (1u64 << 53) as f64).ceil() as u64
}

/// Draws layer `layer`'s mask for `draw` into `mask` (0 or 1/(1 − p), in f64 rounded once to T)
/// and writes h̃ = h ⊙ m into `dropped`. Forward. (Not inlined: a step without dropout stays as
/// small as it was, which the batch-1 steps of the seed's online rule notice.)
#[inline(never)]
pub fn forward<T: Float>(
    p: f64,
    draw: Draw,
    layer: usize,
    a: &[T],
    mask: &mut [T],
    dropped: &mut [T],
) {
    let keep = T::of(1.0 / (1.0 - p));
    let mut rng = Rng::new(draw.key(layer));
    for ((m, d), &h) in mask.iter_mut().zip(dropped.iter_mut()).zip(a) {
        *m = if rng.uniform() < p { T::ZERO } else { keep };
        *d = h * *m;
    }
}

/// ∂E/∂h = ∂E/∂h̃ ⊙ m, in place. Backward.
#[inline(never)]
pub fn backward<T: Float>(mask: &[T], grad: &mut [T]) {
    for (g, &m) in grad.iter_mut().zip(mask) {
        *g *= m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key and the first draws of one stream, pinned: the GPU's kernels compute them too
    /// (scripts/cuda-emulate/check_layers.cpp checks the same numbers), so a change on either side
    /// that would make the devices drop different neurons fails here or there. The numbers come from
    /// this reference, written separately in Python:
    ///
    /// ```text
    /// M, G = (1 << 64) - 1, 0x9E3779B97F4A7C15
    /// def mix(s):
    ///     z = (s + G) & M
    ///     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    ///     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    ///     return z ^ (z >> 31)
    /// k = 7 ^ ((0x000D8090 * G) & M)
    /// for part in (2, 3, 1): k = mix(k ^ part)        # epoch, batch, layer
    /// s = k; ns = []
    /// for i in range(8): ns.append(mix(s) >> 11); s = (s + G) & M
    /// ```
    #[test]
    fn the_stream_is_pinned() {
        let draw = Draw {
            seed: 7,
            epoch: 2,
            batch: 3,
        };
        assert_eq!(draw.key(1), 0x32c1_02be_f101_18bf);
        let mut rng = Rng::new(draw.key(1));
        let tops: Vec<u64> = (0..8).map(|_| rng.next_u64() >> 11).collect();
        assert_eq!(
            tops,
            [
                0x6b62e74f5cb63,
                0x5be284bef12f0,
                0x6078f11701bb2,
                0x1f8cd241b6d794,
                0x679508b305e10,
                0x1a2bf6e27cc847,
                0x18b308e89e3c71,
                0x441b7856fd6d
            ]
        );
        let (mut mask, mut dropped) = (vec![0.0f32; 8], vec![0.0f32; 8]);
        forward(0.5, draw, 1, &[1.0f32; 8], &mut mask, &mut dropped);
        assert_eq!(mask, [0.0, 0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 0.0]);
    }

    /// The integer test drops exactly what `uniform() < p` drops, at the edges of every rate tried.
    #[test]
    fn the_integer_test_is_the_float_test() {
        let u = |n: u64| n as f64 * (1.0 / (1u64 << 53) as f64);
        for p in [
            0.0,
            1e-17,
            0.1,
            0.2,
            0.3,
            0.5,
            1.0 / 3.0,
            0.7,
            0.9,
            0.999_999_9,
        ] {
            let t = threshold(p);
            for n in [t.saturating_sub(2), t.saturating_sub(1), t, t + 1] {
                if n < 1 << 53 {
                    assert_eq!(n < t, u(n) < p, "p {p}, n {n}");
                }
            }
        }
    }
}
