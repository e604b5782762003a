//! Batch normalisation (Ioffe and Szegedy, 2015) between a dense layer's product and its
//! activation, as `torch.nn.BatchNorm1d` in `Linear → BatchNorm1d → activation`; forward and
//! backward side by side.
//!
//! For a batch of B rows of h' = x·W + b (`[B×n]`), column j by column j:
//!
//! ```text
//! training   μⱼ = (1/B)·Σᵢ h'ᵢⱼ        σ²ⱼ = (1/B)·Σᵢ (h'ᵢⱼ − μⱼ)²        (the batch's statistics)
//!            ĥᵢⱼ = (h'ᵢⱼ − μⱼ)·sⱼ,   sⱼ = 1/√(σ²ⱼ + ε)
//!            uᵢⱼ = γⱼ·ĥᵢⱼ + βⱼ          → Φ(u) is the layer's output h
//!            running mean ← (1 − m)·running mean + m·μ
//!            running var  ← (1 − m)·running var  + m·σ²·B/(B − 1)      (PyTorch's update)
//! inference  ĥᵢⱼ = (h'ᵢⱼ − running meanⱼ)·sⱼ,   sⱼ = 1/√(running varⱼ + ε)
//!
//! backward   given gᵢⱼ = ∂E/∂uᵢⱼ:   ∂E/∂γⱼ = Σᵢ gᵢⱼ·ĥᵢⱼ      ∂E/∂βⱼ = Σᵢ gᵢⱼ
//!   training   ∂E/∂h'ᵢⱼ = γⱼ·sⱼ/B · (B·gᵢⱼ − Σₖ gₖⱼ − ĥᵢⱼ·Σₖ gₖⱼ·ĥₖⱼ)
//!   inference  ∂E/∂h'ᵢⱼ = γⱼ·sⱼ·gᵢⱼ
//! ```
//!
//! In training every row's h' moves μ and σ², so the chain rule sums over those paths too (the
//! seed's Equation A): that is where the two sums in ∂E/∂h' come from. At inference the statistics
//! are constants and the layer is an affine map per column.
//!
//! Sums run row after row in one thread, so the bits are the same on any number of threads.

use serde::{Deserialize, Serialize};

use crate::tensor::Float;

/// The settings of a batch-normalised layer: PyTorch's `momentum` and `eps`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    /// m: how far each training batch moves the running statistics (PyTorch's default 0.1).
    pub momentum: f64,
    /// ε, added to the variance before the square root (PyTorch's default 1e-5).
    pub eps: f64,
}

impl Default for BatchNorm {
    fn default() -> Self {
        BatchNorm {
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

/// Which statistics normalise a forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stats {
    /// The batch's own mean and variance (training).
    Batch,
    /// The running mean and variance kept during training (inference, as PyTorch's `eval()`).
    Running,
}

/// The buffers one normalised layer needs in a forward and backward pass, batch or layer
/// normalisation ([`BatchNorm::space`], [`LayerNorm::space`](crate::LayerNorm::space)).
#[derive(Clone, Debug, PartialEq)]
pub struct NormSpace<T> {
    /// ĥ, `[capacity × n]`.
    pub xhat: Vec<T>,
    /// s = 1/√(σ² + ε) of the last pass: `[n]`, one a column (batch normalisation), or
    /// `[capacity]`, one a row (layer normalisation).
    pub inv_std: Vec<T>,
    /// μ of the last pass: `[n]`, the batch's (batch normalisation), or `[capacity]`, each row's
    /// (layer normalisation).
    pub mean: Vec<T>,
    /// The last training batch's σ² (biased), `[n]` (batch normalisation only).
    pub var: Vec<T>,
}

impl BatchNorm {
    /// The buffers of one layer of `n` units for batches of up to `capacity` rows.
    pub fn space<T: Float>(capacity: usize, n: usize) -> NormSpace<T> {
        NormSpace {
            xhat: vec![T::ZERO; capacity * n],
            inv_std: vec![T::ZERO; n],
            mean: vec![T::ZERO; n],
            var: vec![T::ZERO; n],
        }
    }

    /// Forward: reads h' from `ws.xhat` (`[rows × n]`, overwritten by ĥ) and writes u = γ·ĥ + β
    /// into `u`. `running` holds the running mean then the running variance (`[2n]`).
    pub fn forward<T: Float>(
        &self,
        (gamma, beta): (&[T], &[T]),
        running: &[T],
        stats: Stats,
        ws: &mut NormSpace<T>,
        u: &mut [T],
    ) {
        let n = gamma.len();
        let rows = u.len() / n;
        let h = &mut ws.xhat[..rows * n];
        let eps = T::of(self.eps);
        match stats {
            Stats::Batch => {
                let (mean, var) = (&mut ws.mean, &mut ws.var);
                mean.fill(T::ZERO);
                for r in h.chunks_exact(n) {
                    for (m, &v) in mean.iter_mut().zip(r) {
                        *m += v;
                    }
                }
                let inv_rows = T::of(1.0 / rows as f64);
                mean.iter_mut().for_each(|m| *m *= inv_rows);
                var.fill(T::ZERO);
                for r in h.chunks_exact(n) {
                    for ((s, &v), &m) in var.iter_mut().zip(r).zip(mean.iter()) {
                        *s += (v - m) * (v - m);
                    }
                }
                var.iter_mut().for_each(|s| *s *= inv_rows);
                for (s, &v) in ws.inv_std.iter_mut().zip(var.iter()) {
                    *s = T::ONE / (v + eps).sqrt();
                }
            }
            Stats::Running => {
                ws.mean.copy_from_slice(&running[..n]);
                for (s, &v) in ws.inv_std.iter_mut().zip(&running[n..2 * n]) {
                    *s = T::ONE / (v + eps).sqrt();
                }
            }
        }
        for (hr, ur) in h.chunks_exact_mut(n).zip(u.chunks_exact_mut(n)) {
            for j in 0..n {
                let xhat = (hr[j] - ws.mean[j]) * ws.inv_std[j];
                hr[j] = xhat;
                ur[j] = gamma[j] * xhat + beta[j];
            }
        }
    }

    /// Moves the running statistics (`[2n]`: mean, then variance) towards the last training
    /// batch's, of `rows` rows. A batch of one row has no variance to learn from and leaves them.
    pub fn update_running<T: Float>(&self, running: &mut [T], ws: &NormSpace<T>, rows: usize) {
        if rows < 2 {
            return;
        }
        let n = ws.mean.len();
        let (m, keep) = (T::of(self.momentum), T::of(1.0 - self.momentum));
        let bessel = T::of(rows as f64 / (rows - 1) as f64);
        let (mean, var) = running.split_at_mut(n);
        for (r, &b) in mean.iter_mut().zip(&ws.mean) {
            *r = keep * *r + m * b;
        }
        for (r, &b) in var.iter_mut().zip(&ws.var) {
            *r = keep * *r + m * b * bessel;
        }
    }

    /// Backward: `g` holds ∂E/∂u (`[rows × n]`) and becomes ∂E/∂h'; ∂E/∂γ and ∂E/∂β are written
    /// into `dgamma` and `dbeta`. `stats` must be the forward pass's.
    pub fn backward<T: Float>(
        gamma: &[T],
        stats: Stats,
        ws: &NormSpace<T>,
        g: &mut [T],
        (dgamma, dbeta): (&mut [T], &mut [T]),
    ) {
        let n = gamma.len();
        let rows = g.len() / n;
        let xhat = &ws.xhat[..rows * n];
        dgamma.fill(T::ZERO);
        dbeta.fill(T::ZERO);
        for (gr, xr) in g.chunks_exact(n).zip(xhat.chunks_exact(n)) {
            for j in 0..n {
                dgamma[j] += gr[j] * xr[j];
                dbeta[j] += gr[j];
            }
        }
        match stats {
            Stats::Batch => {
                let b = T::of(rows as f64);
                let inv_rows = T::of(1.0 / rows as f64);
                for (gr, xr) in g.chunks_exact_mut(n).zip(xhat.chunks_exact(n)) {
                    for j in 0..n {
                        gr[j] = gamma[j]
                            * ws.inv_std[j]
                            * inv_rows
                            * (b * gr[j] - dbeta[j] - xr[j] * dgamma[j]);
                    }
                }
            }
            Stats::Running => {
                for gr in g.chunks_exact_mut(n) {
                    for j in 0..n {
                        gr[j] *= gamma[j] * ws.inv_std[j];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4×2 batch whose statistics are easy by hand: column 0 is 1, 2, 3, 6 (μ = 3,
    /// σ² = (4 + 1 + 0 + 9)/4 = 3.5), column 1 is constant 5 (σ² = 0: ĥ = 0, u = β).
    #[test]
    fn training_statistics_by_hand() {
        let bn = BatchNorm {
            momentum: 0.1,
            eps: 0.5,
        };
        let mut ws = BatchNorm::space::<f64>(4, 2);
        ws.xhat
            .copy_from_slice(&[1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 6.0, 5.0]);
        let mut u = vec![0.0; 8];
        let (gamma, beta) = ([2.0, 3.0], [0.5, -1.0]);
        bn.forward((&gamma, &beta), &[0.0; 4], Stats::Batch, &mut ws, &mut u);
        assert_eq!(ws.mean, [3.0, 5.0]);
        assert_eq!(ws.var, [3.5, 0.0]);
        // s = 1/√(3.5 + 0.5) = 1/2; ĥ = (h' − 3)/2.
        assert_eq!(ws.inv_std[0], 0.5);
        let want_xhat = [-1.0, 0.0, -0.5, 0.0, 0.0, 0.0, 1.5, 0.0];
        assert_eq!(ws.xhat, want_xhat);
        for (i, &x) in want_xhat.iter().enumerate() {
            let j = i % 2;
            assert_eq!(u[i], gamma[j] * x + beta[j]);
        }
        // Running statistics from 0, 1: mean 0.1·μ; variance 0.9 + 0.1·σ²·4/3.
        let mut running = [0.0, 0.0, 1.0, 1.0];
        bn.update_running(&mut running, &ws, 4);
        let want = [0.3, 0.5, 0.9 + 0.1 * 3.5 * 4.0 / 3.0, 0.9];
        for (r, w) in running.iter().zip(want) {
            assert!((r - w).abs() < 1e-15, "{running:?}");
        }
        // One row: nothing learnt.
        let before = running;
        bn.update_running(&mut running, &ws, 1);
        assert_eq!(running, before);
    }

    /// E = Σ cᵢⱼ·uᵢⱼ + ½Σ uᵢⱼ², a loss with a non-trivial gradient g = c + u: the backward pass
    /// against central differences of E through the forward pass, for h', γ and β, in both modes.
    #[test]
    fn backward_matches_central_differences() {
        let bn = BatchNorm::default();
        let (rows, n) = (5, 3);
        let h: Vec<f64> = (0..rows * n)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let c: Vec<f64> = (0..rows * n).map(|i| ((i * 7 % 5) as f64) / 4.0).collect();
        let gamma = [1.5, -0.7, 0.3];
        let beta = [0.2, 0.0, -1.1];
        let running = [0.1, -0.2, 0.3, 0.5, 2.0, 0.9];
        for stats in [Stats::Batch, Stats::Running] {
            let energy = |h: &[f64], gamma: &[f64], beta: &[f64]| {
                let mut ws = BatchNorm::space(rows, n);
                ws.xhat.copy_from_slice(h);
                let mut u = vec![0.0; rows * n];
                bn.forward((gamma, beta), &running, stats, &mut ws, &mut u);
                u.iter()
                    .zip(&c)
                    .map(|(u, c)| c * u + 0.5 * u * u)
                    .sum::<f64>()
            };
            let mut ws = BatchNorm::space(rows, n);
            ws.xhat.copy_from_slice(&h);
            let mut u = vec![0.0; rows * n];
            bn.forward((&gamma, &beta), &running, stats, &mut ws, &mut u);
            let mut g: Vec<f64> = u.iter().zip(&c).map(|(u, c)| c + u).collect();
            let (mut dgamma, mut dbeta) = (vec![0.0; n], vec![0.0; n]);
            BatchNorm::backward(&gamma, stats, &ws, &mut g, (&mut dgamma, &mut dbeta));
            let step = 1e-5;
            let diff = |e: &dyn Fn(f64) -> f64| (e(step) - e(-step)) / (2.0 * step);
            let close = |a: f64, n: f64, what: &str| {
                assert!(
                    (a - n).abs() <= 1e-7 * (1.0 + n.abs()),
                    "{stats:?} {what}: backprop {a}, central difference {n}"
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
}
