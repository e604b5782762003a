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
//! With batch or layer normalisation, Φ reads u = BN(h') or LN(h') instead of h'
//! ([`crate::batch_norm`], [`crate::layer_norm`]), and the backward pass turns ∂E/∂u into
//! δ = ∂E/∂h' first ([`Dense::normalise_backward`]).
//!
//! `W[i][j]` is the weight from input i to output j, as the seed's W_ij. The layer owns no memory:
//! its parameters live in the network's one flat buffer at the offsets it records, and every output
//! is written into a buffer the caller planned (see [`Workspace`](crate::Workspace)).

use crate::activation::Activation;
use crate::batch_norm::{BatchNorm, NormSpace, Stats};
use crate::layer_norm::LayerNorm;
use crate::optim::sgd;
use crate::tensor::{descend, matmul, Accum, Float, Par, View, PARALLEL_MIN_MACS};

/// How a hidden layer's h' is normalised before its activation, u = γ·ĥ + β.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Normalization {
    /// Each column over the batch; running statistics for inference ([`crate::batch_norm`]).
    Batch(BatchNorm),
    /// Each row over its units; the same in training and inference ([`crate::layer_norm`]).
    Layer(LayerNorm),
}

impl Normalization {
    /// The buffers of one layer of `n` units for batches of up to `capacity` rows.
    pub fn space<T: Float>(&self, capacity: usize, n: usize) -> NormSpace<T> {
        match self {
            Normalization::Batch(_) => BatchNorm::space(capacity, n),
            Normalization::Layer(_) => LayerNorm::space(capacity, n),
        }
    }

    /// Running statistics a layer of `n` units keeps: mean and variance with batch
    /// normalisation, none with layer normalisation.
    pub fn running_len(&self, n: usize) -> usize {
        match self {
            Normalization::Batch(_) => 2 * n,
            Normalization::Layer(_) => 0,
        }
    }
}

/// The normalisation of a layer's h' before its activation: its kind and where γ, β (in the
/// parameter buffer, β right after γ) and, for batch normalisation, the running mean and variance
/// (in the network's buffers, the variance right after the mean) sit.
#[derive(Clone, Debug, PartialEq)]
pub struct Norm {
    pub kind: Normalization,
    pub gamma_offset: usize,
    pub running_offset: usize,
}

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
    /// Batch normalisation between h' and Φ, when the layer has it.
    pub norm: Option<Norm>,
}

impl Dense {
    /// Number of weights, `inputs · outputs`.
    pub fn weight_len(&self) -> usize {
        self.inputs * self.outputs
    }

    /// Where W lies in the parameter buffer (and its gradient in the gradients').
    pub fn weight_range(&self) -> std::ops::Range<usize> {
        self.weight_offset..self.weight_offset + self.weight_len()
    }

    /// Number of parameters: weights, biases, and γ and β of a normalisation.
    pub fn param_len(&self) -> usize {
        self.weight_len()
            + self.bias_offset.map_or(0, |_| self.outputs)
            + self.norm.as_ref().map_or(0, |_| 2 * self.outputs)
    }

    /// γ and β of the layer's normalisation, when it has one.
    pub fn gamma_beta<'a, T: Float>(&self, params: &'a [T]) -> Option<(&'a [T], &'a [T])> {
        self.norm.as_ref().map(|nm| {
            params[nm.gamma_offset..nm.gamma_offset + 2 * self.outputs].split_at(self.outputs)
        })
    }

    /// W as an `inputs × outputs` view into `params`.
    pub fn weight<'a, T: Float>(&self, params: &'a [T]) -> View<'a, T> {
        View::new(&params[self.weight_range()], self.inputs, self.outputs)
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

    /// For a normalised layer: h' = x·W + b, u = BN(h') (with the batch's statistics or the
    /// running ones in `running`, see [`crate::batch_norm`]) or LN(h') ([`crate::layer_norm`]),
    /// and h = Φ(u), u into `z`: what the activation's backward pass reads.
    // Out of line: the plain layers' loops stay as lean as they were (seed-online's batch-1
    // steps count every instruction; inlined, this cost them 3 %, callgrind).
    #[inline(never)]
    pub fn forward_normalised<T: Float>(
        &self,
        (params, running): (&[T], &[T]),
        x: View<'_, T>,
        (z, a): (&mut [T], &mut [T]),
        (space, stats): (&mut Option<NormSpace<T>>, Stats),
        par: Par,
    ) {
        let space = space.as_mut().expect("a workspace planned for the layer");
        let n = x.rows * self.outputs;
        matmul(
            &mut space.xhat[..n],
            Accum::Replace,
            x,
            self.weight(params),
            par,
        );
        self.normalise((params, running), (space, stats), &mut z[..n]);
        self.activation
            .forward(&mut z[..n], None, &mut a[..n], self.outputs);
    }

    /// For a normalised layer, from x·W in `space.xhat` (`[rows × outputs]`): adds b, and writes
    /// u = BN(h') or LN(h') into `u` (`[rows × outputs]`), ĥ into `space.xhat`. Layer
    /// normalisation reads neither `running` nor `stats`: its rows are their own statistics.
    pub fn normalise<T: Float>(
        &self,
        (params, running): (&[T], &[T]),
        (space, stats): (&mut NormSpace<T>, Stats),
        u: &mut [T],
    ) {
        let nm = self.norm.as_ref().expect("a normalised layer");
        if let Some(b) = self.bias(params) {
            for r in space.xhat[..u.len()].chunks_exact_mut(self.outputs) {
                r.iter_mut().zip(b).for_each(|(h, &b)| *h += b);
            }
        }
        let gamma_beta = self.gamma_beta(params).expect("a normalised layer");
        match nm.kind {
            Normalization::Batch(bn) => {
                let running = &running[nm.running_offset..nm.running_offset + 2 * self.outputs];
                bn.forward(gamma_beta, running, stats, space, u);
            }
            Normalization::Layer(ln) => ln.forward(gamma_beta, space, u),
        }
    }

    /// The backward pass of [`Dense::normalise`]: `delta` holds ∂E/∂u (`[rows × outputs]`) and
    /// becomes ∂E/∂h'; ∂E/∂γ and ∂E/∂β go into this layer's slots of `grads`. `stats` and `space`
    /// are the forward pass's.
    // Out of line: the plain layers' loops stay as lean as they were (seed-online's batch-1
    // steps count every instruction; inlined, this cost them 3 %, callgrind).
    #[inline(never)]
    pub fn normalise_backward<T: Float>(
        &self,
        params: &[T],
        (space, stats): (&Option<NormSpace<T>>, Stats),
        delta: &mut [T],
        grads: &mut [T],
    ) {
        let nm = self.norm.as_ref().expect("a normalised layer");
        let space = space.as_ref().expect("a workspace planned for the layer");
        let n = self.outputs;
        let (gamma, _) = self.gamma_beta(params).expect("a normalised layer");
        let (dgamma, dbeta) = grads[nm.gamma_offset..nm.gamma_offset + 2 * n].split_at_mut(n);
        match nm.kind {
            Normalization::Batch(_) => {
                BatchNorm::backward(gamma, stats, space, delta, (dgamma, dbeta))
            }
            Normalization::Layer(_) => LayerNorm::backward(gamma, space, delta, (dgamma, dbeta)),
        }
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
        let gw = &mut grads[self.weight_range()];
        let dx = dx.map(|dx| &mut dx[..rows * self.inputs]);
        if let Some(dx) = dx {
            let wt = self.weight(params).t();
            if matches!(par, Par::Threads(t) if t > 1)
                && rows * self.inputs * self.outputs >= PARALLEL_MIN_MACS
            {
                side_by_side(gw, dx, (x, delta, wt), par);
            } else {
                matmul(gw, Accum::Replace, x.t(), delta, par);
                matmul(dx, Accum::Replace, delta, wt, par);
            }
        } else {
            matmul(gw, Accum::Replace, x.t(), delta, par);
        }
        self.bias_gradient(delta, grads);
    }

    /// ∂E/∂b = Σ_batch δ into this layer's slot of `grads`, when it has a bias; the slot.
    fn bias_gradient<'g, T: Float>(&self, delta: View<'_, T>, grads: &'g mut [T]) -> &'g [T] {
        let Some(o) = self.bias_offset else {
            return &[];
        };
        // Summed row after row, so the order (and every bit) is the same on any thread count.
        let gb = &mut grads[o..o + self.outputs];
        gb.fill(T::ZERO);
        for r in delta.data.chunks_exact(self.outputs) {
            for (g, &d) in gb.iter_mut().zip(r) {
                *g += d;
            }
        }
        gb
    }

    /// [`Dense::backward`] and the seed's update in one: ∂E/∂x = δ·Wᵀ into `dx` with W as it
    /// was, then W ← W − α·xᵀ·δ and b ← b − α·Σδ in `params`. The weight gradient is folded into
    /// its product ([`descend`]) rather than written to `grads` and read back by the optimizer:
    /// plain SGD's step over the largest buffer was a tenth of mnist-mlp-small's epoch. A small
    /// outer product (one row: the seed's online rule) steps each weight by α·(xᵢ·δⱼ), the same
    /// bits as before; any other plain-loop product goes through `grads` as before.
    pub fn backward_descend<T: Float>(
        &self,
        (params, lr): (&mut [T], T),
        x: View<'_, T>,
        delta: &[T],
        grads: &mut [T],
        dx: Option<&mut [T]>,
        par: Par,
    ) {
        let rows = x.rows;
        let delta = View::new(&delta[..rows * self.outputs], rows, self.outputs);
        if let Some(dx) = dx {
            let wt = self.weight(params).t();
            matmul(
                &mut dx[..rows * self.inputs],
                Accum::Replace,
                delta,
                wt,
                par,
            );
        }
        let range = self.weight_range();
        if !descend(&mut params[range.clone()], lr, x.t(), delta, par) {
            matmul(&mut grads[range.clone()], Accum::Replace, x.t(), delta, par);
            sgd(&mut params[range.clone()], &grads[range], lr);
        }
        if let Some(o) = self.bias_offset {
            let gb = self.bias_gradient(delta, grads);
            sgd(&mut params[o..o + self.outputs], gb, lr);
        }
    }
}

/// ∂E/∂W = xᵀ·δ and ∂E/∂x = δ·Wᵀ read the same δ and write apart: each on its half of the
/// threads, side by side. Two one-thread products keep both cores busy where two two-thread
/// products one after the other wait on each other (mnist-mlp-wide's epoch 3–8 % faster,
/// BENCHMARKS.md); gemm sums in the same order on any thread count, so the bits are the same.
// Out of line: the one-row steps of seed-online never come here and count every instruction.
#[inline(never)]
fn side_by_side<T: Float>(
    gw: &mut [T],
    dx: &mut [T],
    (x, delta, wt): (View<'_, T>, View<'_, T>, View<'_, T>),
    par: Par,
) {
    let (first, second) = par.halves();
    rayon::join(
        || matmul(gw, Accum::Replace, x.t(), delta, first),
        || matmul(dx, Accum::Replace, delta, wt, second),
    );
}
