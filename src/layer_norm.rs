//! Layer normalisation (Ba, Kiros and Hinton, 2016) between a dense layer's product and its
//! activation, as `torch.nn.LayerNorm(n)` in `Linear → LayerNorm → activation`; forward and
//! backward side by side.
//!
//! Where batch normalisation ([`crate::batch_norm`]) normalises each column over the batch, layer
//! normalisation normalises each row over its n columns. For a batch of B rows of h' = x·W + b
//! (`[B×n]`), row i by row i:
//!
//! ```text
//! forward    μᵢ = (1/n)·Σⱼ h'ᵢⱼ        σ²ᵢ = (1/n)·Σⱼ (h'ᵢⱼ − μᵢ)²        (the row's own statistics)
//!            ĥᵢⱼ = (h'ᵢⱼ − μᵢ)·sᵢ,   sᵢ = 1/√(σ²ᵢ + ε)
//!            uᵢⱼ = γⱼ·ĥᵢⱼ + βⱼ          → Φ(u) is the layer's output h
//!
//! backward   given gᵢⱼ = ∂E/∂uᵢⱼ:   ∂E/∂γⱼ = Σᵢ gᵢⱼ·ĥᵢⱼ      ∂E/∂βⱼ = Σᵢ gᵢⱼ
//!            with dᵢⱼ = γⱼ·gᵢⱼ:     ∂E/∂h'ᵢⱼ = sᵢ/n · (n·dᵢⱼ − Σₖ dᵢₖ − ĥᵢⱼ·Σₖ dᵢₖ·ĥᵢₖ)
//! ```
//!
//! Every h'ᵢₖ of a row moves μᵢ and σ²ᵢ, so the chain rule sums over those paths too (the seed's
//! Equation A): that is where the two sums over k come from. Rows do not meet, so the layer is the
//! same in training and at inference, keeps no running statistics, and works on batches of one row
//! (the seed's online rule) and with full-batch L-BFGS, where batch normalisation cannot.
//!
//! Sums run along the row in one thread, so the bits are the same on any number of threads.

use serde::{Deserialize, Serialize};

use crate::batch_norm::NormSpace;
use crate::tensor::Float;

/// The settings of a layer-normalised layer: PyTorch's `eps`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerNorm {
    /// ε, added to the variance before the square root (PyTorch's default 1e-5).
    pub eps: f64,
}

impl Default for LayerNorm {
    fn default() -> Self {
        LayerNorm { eps: 1e-5 }
    }
}

impl LayerNorm {
    /// The buffers of one layer of `n` units for batches of up to `capacity` rows: ĥ, and μᵢ and
    /// sᵢ for every row (no per-column statistics).
    pub fn space<T: Float>(capacity: usize, n: usize) -> NormSpace<T> {
        NormSpace {
            xhat: vec![T::ZERO; capacity * n],
            inv_std: vec![T::ZERO; capacity],
            mean: vec![T::ZERO; capacity],
            var: Vec::new(),
        }
    }

    /// Forward: reads h' from `ws.xhat` (`[rows × n]`, overwritten by ĥ) and writes u = γ·ĥ + β
    /// into `u`; μᵢ and sᵢ of every row into `ws.mean` and `ws.inv_std`.
    pub fn forward<T: Float>(
        &self,
        (gamma, beta): (&[T], &[T]),
        ws: &mut NormSpace<T>,
        u: &mut [T],
    ) {
        let n = gamma.len();
        let rows = u.len() / n;
        let eps = T::of(self.eps);
        let inv_n = T::of(1.0 / n as f64);
        let h = ws.xhat[..rows * n].chunks_exact_mut(n);
        let stats = ws.mean.iter_mut().zip(&mut ws.inv_std);
        for ((hr, ur), (mean, s)) in h.zip(u.chunks_exact_mut(n)).zip(stats) {
            *mean = hr.iter().fold(T::ZERO, |acc, &v| acc + v) * inv_n;
            let m = *mean;
            let var = hr.iter().fold(T::ZERO, |acc, &v| acc + (v - m) * (v - m)) * inv_n;
            *s = T::ONE / (var + eps).sqrt();
            for j in 0..n {
                let xhat = (hr[j] - m) * *s;
                hr[j] = xhat;
                ur[j] = gamma[j] * xhat + beta[j];
            }
        }
    }

    /// Backward: `g` holds ∂E/∂u (`[rows × n]`) and becomes ∂E/∂h'; ∂E/∂γ and ∂E/∂β are written
    /// into `dgamma` and `dbeta`. `ws` is the forward pass's.
    pub fn backward<T: Float>(
        gamma: &[T],
        ws: &NormSpace<T>,
        g: &mut [T],
        (dgamma, dbeta): (&mut [T], &mut [T]),
    ) {
        let n = gamma.len();
        let rows = g.len() / n;
        let xhat = &ws.xhat[..rows * n];
        dgamma.fill(T::ZERO);
        dbeta.fill(T::ZERO);
        let (b, inv_n) = (T::of(n as f64), T::of(1.0 / n as f64));
        for ((gr, xr), &s) in g
            .chunks_exact_mut(n)
            .zip(xhat.chunks_exact(n))
            .zip(&ws.inv_std)
        {
            let (mut sum_d, mut sum_dx) = (T::ZERO, T::ZERO);
            for j in 0..n {
                dgamma[j] += gr[j] * xr[j];
                dbeta[j] += gr[j];
                let d = gamma[j] * gr[j];
                sum_d += d;
                sum_dx += d * xr[j];
            }
            for j in 0..n {
                gr[j] = s * inv_n * (b * gamma[j] * gr[j] - sum_d - xr[j] * sum_dx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rows whose statistics are easy by hand: row 0 is 1, 2, 3, 6 (μ = 3,
    /// σ² = (4 + 1 + 0 + 9)/4 = 3.5), row 1 is constant 5 (σ² = 0: ĥ = 0, u = β).
    #[test]
    fn row_statistics_by_hand() {
        let ln = LayerNorm { eps: 0.5 };
        let mut ws = LayerNorm::space::<f64>(2, 4);
        ws.xhat
            .copy_from_slice(&[1.0, 2.0, 3.0, 6.0, 5.0, 5.0, 5.0, 5.0]);
        let (gamma, beta) = ([2.0, 3.0, -1.0, 0.5], [0.5, -1.0, 0.0, 2.0]);
        let mut u = vec![0.0; 8];
        ln.forward((&gamma, &beta), &mut ws, &mut u);
        // s = 1/√(3.5 + 0.5) = 1/2 for row 0; 1/√0.5 for row 1.
        assert_eq!(ws.mean, [3.0, 5.0]);
        assert_eq!(ws.inv_std[0], 0.5);
        assert_eq!(ws.inv_std[1], 1.0 / 0.5f64.sqrt());
        let want_xhat = [-1.0, -0.5, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(ws.xhat, want_xhat);
        for (i, &x) in want_xhat.iter().enumerate() {
            let j = i % 4;
            assert_eq!(u[i], gamma[j] * x + beta[j]);
        }
    }

    /// E = Σ cᵢⱼ·uᵢⱼ + ½Σ uᵢⱼ², a loss with a non-trivial gradient g = c + u: the backward pass
    /// against central differences of E through the forward pass, for h', γ and β.
    #[test]
    fn backward_matches_central_differences() {
        let ln = LayerNorm::default();
        let (rows, n) = (3, 5);
        let h: Vec<f64> = (0..rows * n)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let c: Vec<f64> = (0..rows * n).map(|i| ((i * 7 % 5) as f64) / 4.0).collect();
        let gamma = [1.5, -0.7, 0.3, 1.0, 2.0];
        let beta = [0.2, 0.0, -1.1, 0.4, -0.3];
        let energy = |h: &[f64], gamma: &[f64], beta: &[f64]| {
            let mut ws = LayerNorm::space(rows, n);
            ws.xhat.copy_from_slice(h);
            let mut u = vec![0.0; rows * n];
            ln.forward((gamma, beta), &mut ws, &mut u);
            u.iter()
                .zip(&c)
                .map(|(u, c)| c * u + 0.5 * u * u)
                .sum::<f64>()
        };
        let mut ws = LayerNorm::space(rows, n);
        ws.xhat.copy_from_slice(&h);
        let mut u = vec![0.0; rows * n];
        ln.forward((&gamma, &beta), &mut ws, &mut u);
        let mut g: Vec<f64> = u.iter().zip(&c).map(|(u, c)| c + u).collect();
        let (mut dgamma, mut dbeta) = (vec![0.0; n], vec![0.0; n]);
        LayerNorm::backward(&gamma, &ws, &mut g, (&mut dgamma, &mut dbeta));
        let step = 1e-5;
        let diff = |e: &dyn Fn(f64) -> f64| (e(step) - e(-step)) / (2.0 * step);
        let close = |a: f64, n: f64, what: &str| {
            assert!(
                (a - n).abs() <= 1e-7 * (1.0 + n.abs()),
                "{what}: backprop {a}, central difference {n}"
            )
        };
        for i in 0..rows * n {
            let num = diff(&|d| {
                let mut p = h.clone();
                p[i] += d;
                energy(&p, &gamma, &beta)
            });
            close(g[i], num, &format!("∂E/∂h'[{i}]"));
        }
        for j in 0..n {
            let num = diff(&|d| {
                let mut p = gamma;
                p[j] += d;
                energy(&h, &p, &beta)
            });
            close(dgamma[j], num, &format!("∂E/∂γ[{j}]"));
            let num = diff(&|d| {
                let mut p = beta;
                p[j] += d;
                energy(&h, &gamma, &p)
            });
            close(dbeta[j], num, &format!("∂E/∂β[{j}]"));
        }
    }
}
