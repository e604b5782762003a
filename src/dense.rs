//! A dense layer, forward and backward side by side.
//!
//! In the seed's notation, with x the layer's input (one sample per row):
//!
//! ```text
//! forward    h' = x·W + b            [B×in]·[in×out] + [out]  → [B×out]
//!            h  = Φ(h')                                        → [B×out]
//! backward   δ  = ∂E/∂h'  (given: from the loss, or from the layer above)  [B×out]
//!            ∂E/∂W = xᵀ·δ            [in×B]·[B×out]            → [in×out]
//!            ∂E/∂b = Σ_batch δ                                 → [out]
//!            ∂E/∂x = δ·Wᵀ            [B×out]·[out×in]          → [B×in]
//! ```
//!
//! `W[i][j]` is the weight from input i to output j, as the seed's W_ij. The layer owns no memory:
//! its parameters live in the network's one flat buffer at the offsets it records, and every output
//! is written into a buffer the caller planned (see [`Workspace`](crate::Workspace)).

use crate::activation::Activation;
use crate::tensor::{matmul, Accum, Float, Par, View};

/// One layer: shapes, activation, and where its parameters sit in the flat buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub activation: Activation,
    /// Start of W (`inputs × outputs`, row-major) in the parameter buffer.
    pub weight_offset: usize,
    /// Start of b (`outputs`), when the layer has a bias.
    pub bias_offset: Option<usize>,
}

impl Dense {
    /// Number of weights, `inputs · outputs`.
    pub fn weight_len(&self) -> usize {
        self.inputs * self.outputs
    }

    /// Number of parameters, weights and biases.
    pub fn param_len(&self) -> usize {
        self.weight_len() + self.bias_offset.map_or(0, |_| self.outputs)
    }

    /// W as an `inputs × outputs` view into `params`.
    pub fn weight<'a, T: Float>(&self, params: &'a [T]) -> View<'a, T> {
        View::new(
            &params[self.weight_offset..self.weight_offset + self.weight_len()],
            self.inputs,
            self.outputs,
        )
    }

    /// b, when the layer has one.
    pub fn bias<'a, T: Float>(&self, params: &'a [T]) -> Option<&'a [T]> {
        self.bias_offset.map(|o| &params[o..o + self.outputs])
    }

    /// h' = x·W + b and h = Φ(h'), into `z` and `a` (`[x.rows × outputs]` each).
    // Inlined into each caller (the plain and the dropout forward passes): left to itself LLVM
    // calls it out of line once it has two callers, +5 % instructions on seed-online's batch-1
    // steps (callgrind).
    #[inline(always)]
    pub fn forward<T: Float>(
        &self,
        params: &[T],
        x: View<'_, T>,
        z: &mut [T],
        a: &mut [T],
        par: Par,
    ) {
        debug_assert_eq!(x.cols, self.inputs);
        let n = x.rows * self.outputs;
        let (z, a) = (&mut z[..n], &mut a[..n]);
        matmul(z, Accum::Replace, x, self.weight(params), par);
        self.activation
            .forward(z, self.bias(params), a, self.outputs);
    }

    /// From δ = ∂E/∂h' (`[x.rows × outputs]`): writes ∂E/∂W and ∂E/∂b into this layer's slots of
    /// `grads` (same layout as the parameters) and, when `dx` is given, ∂E/∂x = δ·Wᵀ into it.
    pub fn backward<T: Float>(
        &self,
        params: &[T],
        x: View<'_, T>,
        delta: &[T],
        grads: &mut [T],
        dx: Option<&mut [T]>,
        par: Par,
    ) {
        let rows = x.rows;
        let delta = View::new(&delta[..rows * self.outputs], rows, self.outputs);
        let gw = &mut grads[self.weight_offset..self.weight_offset + self.weight_len()];
        matmul(gw, Accum::Replace, x.t(), delta, par);
        if let Some(o) = self.bias_offset {
            // Summed row after row, so the order (and every bit) is the same on any thread count.
            let gb = &mut grads[o..o + self.outputs];
            gb.fill(T::ZERO);
            for r in delta.data.chunks_exact(self.outputs) {
                for (g, &d) in gb.iter_mut().zip(r) {
                    *g += d;
                }
            }
        }
        if let Some(dx) = dx {
            matmul(
                &mut dx[..rows * self.inputs],
                Accum::Replace,
                delta,
                self.weight(params).t(),
                par,
            );
        }
    }
}
