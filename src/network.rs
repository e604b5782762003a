//! The stack of dense layers: parameters in one flat buffer, in a fixed order with stable names.
//!
//! ```text
//! params = [ W¹ (in×h₁) | b¹ | W² (h₁×h₂) | b² | … ]        grads: the same layout
//! names  =   0.weight     0.bias   2.weight   2.bias   …      (PyTorch's nn.Sequential indices)
//! ```
//!
//! With batch or layer normalisation ([`crate::batch_norm`], [`crate::layer_norm`]) a hidden
//! layer's γ and β follow its bias, named as the `nn.BatchNorm1d` or `nn.LayerNorm` after its
//! `nn.Linear` (`1.weight`, `1.bias`, then `3.weight` for the next Linear). Batch normalisation's
//! running mean and variance live apart, in [`Network::buffers`]: they are learnt from the
//! batches, not by the gradient.
//!
//! The backward pass is the seed's chain rule, layer by layer: δ at the output comes from the loss,
//! and for a hidden layer δ = (δ_next·W_nextᵀ) ⊙ Φ'(h'). The product δ_next·W_nextᵀ sums, for each
//! hidden neuron, over every neuron it feeds — the seed's Equation A, "sum over every path".

use crate::activation::Activation;
use crate::batch_norm::{BatchNorm, NormSpace, Stats};
use crate::dense::{Dense, Norm, Normalization};
use crate::dropout::{self, Draw, Dropout};
use crate::init::{Bias, Init, Rng};
use crate::layer_norm::LayerNorm;
use crate::loss::{Loss, TargetsRef};
use crate::tensor::{Float, Matrix, Par, View};

/// One layer of a [`NetworkSpec`]: its width and activation.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub units: usize,
    pub activation: Activation,
}

/// What a network looks like, before it has weights.
///
/// ```
/// use mlp::{Activation, NetworkSpec, Bias};
/// let net = NetworkSpec::new(2)
///     .dense(3, Activation::Sigmoid)
///     .dense(1, Activation::Identity)
///     .bias(Bias::None)          // the seed's network: y = Φ(x·W¹)·W²
///     .build::<f64>(42);
/// assert_eq!(net.param_count(), 2 * 3 + 3 * 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    pub inputs: usize,
    pub layers: Vec<Layer>,
    pub bias: Bias,
    pub init: Init,
    /// Batch or layer normalisation after every hidden layer's product, before its activation.
    pub norm: Option<Normalization>,
}

impl NetworkSpec {
    /// A network taking `inputs` features, with no layers yet, zero biases and He-uniform weights.
    pub fn new(inputs: usize) -> Self {
        NetworkSpec {
            inputs,
            layers: Vec::new(),
            bias: Bias::default(),
            init: Init::default(),
            norm: None,
        }
    }

    /// Adds a dense layer of `units` neurons with activation Φ.
    pub fn dense(mut self, units: usize, activation: Activation) -> Self {
        self.layers.push(Layer { units, activation });
        self
    }

    /// Sets the bias of every layer.
    pub fn bias(mut self, bias: Bias) -> Self {
        self.bias = bias;
        self
    }

    /// Sets the weight initialiser.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Normalises every hidden layer's h' over the batch before its activation
    /// (`Linear → BatchNorm1d → activation`, see [`crate::batch_norm`]); γ starts at 1, β at 0.
    pub fn batch_norm(mut self, batch_norm: BatchNorm) -> Self {
        self.norm = Some(Normalization::Batch(batch_norm));
        self
    }

    /// Normalises every hidden layer's h' over its units, row by row, before its activation
    /// (`Linear → LayerNorm → activation`, see [`crate::layer_norm`]); γ starts at 1, β at 0.
    pub fn layer_norm(mut self, layer_norm: LayerNorm) -> Self {
        self.norm = Some(Normalization::Layer(layer_norm));
        self
    }

    /// How many parameters [`NetworkSpec::build`] lays out: per layer the weights W (inputs ×
    /// units), the bias b (units) and, on a normalised hidden layer, γ and β (units each).
    /// `None` when the count overflows `usize`: a request no machine could hold.
    pub fn param_count(&self) -> Option<usize> {
        let hidden = self.layers.len().saturating_sub(1);
        let mut inputs = self.inputs;
        let mut count = 0usize;
        for (k, l) in self.layers.iter().enumerate() {
            let per_unit = inputs
                .checked_add(usize::from(self.bias != Bias::None))?
                .checked_add(if self.norm.is_some() && k < hidden {
                    2
                } else {
                    0
                })?;
            count = count.checked_add(per_unit.checked_mul(l.units)?)?;
            inputs = l.units;
        }
        Some(count)
    }

    /// Draws the initial parameters with a seeded generator.
    ///
    /// # Panics
    /// If the spec has no layer or a layer of zero units, or softmax is used on a hidden layer.
    #[track_caller]
    pub fn build<T: Float>(&self, seed: u64) -> Network<T> {
        assert!(!self.layers.is_empty(), "NetworkSpec::build: no layers");
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut offset = 0;
        let mut running = 0;
        let mut inputs = self.inputs;
        for (k, l) in self.layers.iter().enumerate() {
            assert!(
                l.units > 0 && inputs > 0,
                "NetworkSpec::build: a layer of zero width"
            );
            assert!(
                l.activation != Activation::Softmax || k + 1 == self.layers.len(),
                "NetworkSpec::build: softmax is for the output layer only"
            );
            let weight_offset = offset;
            offset += inputs * l.units;
            let bias_offset = (self.bias != Bias::None).then(|| {
                offset += l.units;
                offset - l.units
            });
            let hidden = k + 1 < self.layers.len();
            let norm = self.norm.filter(|_| hidden).map(|kind| {
                offset += 2 * l.units;
                let running_offset = running;
                running += kind.running_len(l.units);
                Norm {
                    kind,
                    gamma_offset: offset - 2 * l.units,
                    running_offset,
                }
            });
            layers.push(Dense {
                inputs,
                outputs: l.units,
                activation: l.activation.clone(),
                weight_offset,
                bias_offset,
                norm,
            });
            inputs = l.units;
        }
        let mut params = vec![T::ZERO; offset];
        let mut buffers = vec![T::ZERO; running];
        let mut rng = Rng::new(seed);
        for d in &layers {
            if let Some(nm) = &d.norm {
                // γ = 1, β = 0; running mean 0, running variance 1 (PyTorch's start).
                params[nm.gamma_offset..nm.gamma_offset + d.outputs].fill(T::ONE);
                if let Normalization::Batch(_) = nm.kind {
                    let var = nm.running_offset + d.outputs;
                    buffers[var..var + d.outputs].fill(T::ONE);
                }
            }
            for w in &mut params[d.weight_range()] {
                *w = T::of(self.init.weight(&mut rng, d.inputs, d.outputs));
            }
            if let Some(o) = d.bias_offset {
                for b in &mut params[o..o + d.outputs] {
                    *b = T::of(match self.bias {
                        Bias::Constant(c) => c,
                        Bias::Uniform => {
                            let bound = 1.0 / (d.inputs as f64).sqrt();
                            rng.uniform_in(-bound, bound)
                        }
                        Bias::None | Bias::Zero => 0.0,
                    });
                }
            }
        }
        Network {
            inputs: self.inputs,
            layers,
            params,
            buffers,
            batches_tracked: 0,
        }
    }
}

/// A feedforward network: dense layers and their parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Network<T> {
    pub inputs: usize,
    pub layers: Vec<Dense>,
    /// Every weight and bias, in the order of [`Network::parameters`].
    pub params: Vec<T>,
    /// The running mean and variance of each batch-normalised layer (learnt, not trained: PyTorch's
    /// buffers), in layer order; empty without batch normalisation.
    pub buffers: Vec<T>,
    /// Training batches that moved the running statistics (PyTorch's `num_batches_tracked`).
    pub batches_tracked: u64,
}

/// Name, offset and shape of one parameter tensor in the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// `"{i}.weight"` / `"{i}.bias"` for layer k's `nn.Linear`, and γ, β as `"{i+1}.weight"` /
    /// `"{i+1}.bias"` of its `nn.BatchNorm1d` or `nn.LayerNorm`: the names `torch.nn.Sequential`
    /// gives a stack of modules, each layer a Linear, a BatchNorm1d or LayerNorm where it has one,
    /// and its activation (i = 2k without normalisation).
    pub name: String,
    pub layer: usize,
    pub offset: usize,
    /// Shape as stored here: `[inputs, outputs]` for a weight (PyTorch stores its transpose), `[outputs]` for a bias.
    pub shape: Vec<usize>,
}

/// Rows per forward (and backward) pass when a whole data set goes through in chunks: enough for
/// the products to run at GEMM speed, few enough that the workspace stays small.
pub const CHUNK_ROWS: usize = 1024;

impl<T: Float> Network<T> {
    /// Number of outputs of the last layer.
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Number of weights and biases.
    pub fn param_count(&self) -> usize {
        self.params.len()
    }

    /// Whether the layers have biases.
    pub fn has_bias(&self) -> bool {
        self.layers.iter().any(|l| l.bias_offset.is_some())
    }

    /// The activation of the output layer.
    pub fn output_activation(&self) -> &Activation {
        &self.layers.last().expect("a network has layers").activation
    }

    /// The spec this network was built from (initialiser and bias start are not recorded: `HeUniform`, `Zero`).
    pub fn spec(&self) -> NetworkSpec {
        NetworkSpec {
            inputs: self.inputs,
            layers: self
                .layers
                .iter()
                .map(|l| Layer {
                    units: l.outputs,
                    activation: l.activation.clone(),
                })
                .collect(),
            bias: if self.has_bias() {
                Bias::Zero
            } else {
                Bias::None
            },
            init: Init::default(),
            norm: self.normalization(),
        }
    }

    /// Every parameter tensor, in buffer order, with its stable name.
    pub fn parameters(&self) -> Vec<ParamInfo> {
        let mut out = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            let i = self.module_index(k);
            out.push(ParamInfo {
                name: format!("{i}.weight"),
                layer: k,
                offset: l.weight_offset,
                shape: vec![l.inputs, l.outputs],
            });
            if let Some(o) = l.bias_offset {
                out.push(ParamInfo {
                    name: format!("{i}.bias"),
                    layer: k,
                    offset: o,
                    shape: vec![l.outputs],
                });
            }
            if let Some(nm) = &l.norm {
                for (name, o) in [("weight", 0), ("bias", l.outputs)] {
                    out.push(ParamInfo {
                        name: format!("{}.{name}", i + 1),
                        layer: k,
                        offset: nm.gamma_offset + o,
                        shape: vec![l.outputs],
                    });
                }
            }
        }
        out
    }

    /// The running statistics, as [`Network::parameters`] names them but in [`Network::buffers`]:
    /// `"{i+1}.running_mean"` and `"{i+1}.running_var"` of layer k's `nn.BatchNorm1d`.
    pub fn running_stats(&self) -> Vec<ParamInfo> {
        let mut out = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            let batch_norm = |nm: &&Norm| matches!(nm.kind, Normalization::Batch(_));
            if let Some(nm) = l.norm.as_ref().filter(batch_norm) {
                let i = self.module_index(k) + 1;
                for (name, o) in [("running_mean", 0), ("running_var", l.outputs)] {
                    out.push(ParamInfo {
                        name: format!("{i}.{name}"),
                        layer: k,
                        offset: nm.running_offset + o,
                        shape: vec![l.outputs],
                    });
                }
            }
        }
        out
    }

    /// Layer k's `nn.Linear` index in the `torch.nn.Sequential` of the network: Linear,
    /// BatchNorm1d or LayerNorm where there is one, and the activation, for every layer before it.
    pub fn module_index(&self, k: usize) -> usize {
        self.layers[..k]
            .iter()
            .map(|l| 2 + usize::from(l.norm.is_some()))
            .sum()
    }

    /// What training changes: the parameters, then the running statistics.
    pub fn state(&self) -> Vec<T> {
        [&self.params[..], &self.buffers[..]].concat()
    }

    /// Sets the parameters and running statistics from a [`Network::state`].
    ///
    /// # Panics
    /// If `state` is not as long as the network's.
    pub fn set_state(&mut self, state: &[T]) {
        let (params, buffers) = state.split_at(self.params.len());
        self.params.copy_from_slice(params);
        self.buffers.copy_from_slice(buffers);
    }

    /// How the hidden layers are normalised, when they are.
    pub fn normalization(&self) -> Option<Normalization> {
        self.layers
            .iter()
            .find_map(|l| l.norm.as_ref().map(|nm| nm.kind))
    }

    /// The settings of the hidden layers' batch normalisation, when they have one.
    pub fn batch_norm(&self) -> Option<BatchNorm> {
        match self.normalization() {
            Some(Normalization::Batch(bn)) => Some(bn),
            _ => None,
        }
    }

    /// The settings of the hidden layers' layer normalisation, when they have one.
    pub fn layer_norm(&self) -> Option<LayerNorm> {
        match self.normalization() {
            Some(Normalization::Layer(ln)) => Some(ln),
            _ => None,
        }
    }

    /// Whether some layer is batch-normalised.
    pub fn has_batch_norm(&self) -> bool {
        // Every batch-normalised layer keeps 2·units > 0 running statistics, and only they do.
        !self.buffers.is_empty()
    }

    /// Moves the running statistics of every batch-normalised layer towards the statistics of
    /// the last training pass in `ws` ([`BatchNorm::update_running`]).
    #[inline(never)]
    pub fn update_running_stats(&mut self, ws: &Workspace<T>) {
        // A batch of one row has no variance to learn from: nothing moves, nothing is counted.
        if !self.has_batch_norm() || ws.stats != Stats::Batch || ws.rows < 2 {
            return;
        }
        for (l, space) in self.layers.iter().zip(&ws.norm) {
            if let (Some(nm), Some(space)) = (&l.norm, space) {
                let Normalization::Batch(bn) = nm.kind else {
                    continue;
                };
                let o = nm.running_offset;
                bn.update_running(&mut self.buffers[o..o + 2 * l.outputs], space, ws.rows);
            }
        }
        self.batches_tracked += 1;
    }

    /// The same network in another float type.
    pub fn cast<U: Float>(&self) -> Network<U> {
        Network {
            inputs: self.inputs,
            layers: self.layers.clone(),
            params: self.params.iter().map(|v| U::of(v.f64())).collect(),
            buffers: self.buffers.iter().map(|v| U::of(v.f64())).collect(),
            batches_tracked: self.batches_tracked,
        }
    }

    /// Forward pass of `x` (`rows ≤ ws.capacity`) into the workspace, for inference: no dropout,
    /// and batch normalisation with the running statistics.
    ///
    /// # Panics
    /// If `x` has the wrong number of columns or more rows than the workspace plans for.
    #[track_caller]
    pub fn forward(&self, x: View<'_, T>, ws: &mut Workspace<T>, par: Par) {
        self.check_batch(x, ws);
        self.forward_layers(x, ws, par, Stats::Running);
    }

    /// The layers one after the other, no dropout.
    fn forward_layers(&self, x: View<'_, T>, ws: &mut Workspace<T>, par: Par, stats: Stats) {
        ws.dropping = false;
        ws.stats = stats;
        for (k, layer) in self.layers.iter().enumerate() {
            let (done, rest) = ws.a.split_at_mut(k);
            let input = if k == 0 {
                x
            } else {
                View::new(&done[k - 1], x.rows, layer.inputs)
            };
            // The layer's workspace is looked up only where it has one: looked up for every layer,
            // seed-online's batch-1 steps took 24 instructions more (callgrind).
            if layer.norm.is_none() {
                layer.forward(&self.params, input, &mut ws.z[k], &mut rest[0], par);
            } else {
                layer.forward_normalised(
                    (&self.params, &self.buffers),
                    input,
                    (&mut ws.z[k], &mut rest[0]),
                    (&mut ws.norm[k], stats),
                    par,
                );
            }
        }
    }

    /// Forward pass for a training step: as [`Network::forward`], but batch-normalised layers use
    /// the batch's own statistics (see [`Network::update_running_stats`]), and where the
    /// workspace was planned [`with_dropout`](Workspace::with_dropout), each hidden layer's output
    /// h is dropped to h̃ = h ⊙ m with the masks of `draw`, and the next layer reads h̃ (see
    /// [`crate::dropout`]). A loop of its own, so that the plain one stays as lean as it was (the
    /// batch-1 steps of the seed's online rule count every instruction).
    #[track_caller]
    pub fn forward_train(&self, x: View<'_, T>, ws: &mut Workspace<T>, par: Par, draw: Draw) {
        self.check_batch(x, ws);
        if ws.rates.is_empty() {
            return self.forward_layers(x, ws, par, Stats::Batch);
        }
        ws.dropping = true;
        ws.stats = Stats::Batch;
        for (k, layer) in self.layers.iter().enumerate() {
            let (done, rest) = ws.a.split_at_mut(k);
            let input = match k {
                0 => x,
                _ if ws.rates[k - 1] > 0.0 => View::new(&ws.dropped[k - 1], x.rows, layer.inputs),
                _ => View::new(&done[k - 1], x.rows, layer.inputs),
            };
            if layer.norm.is_none() {
                layer.forward(&self.params, input, &mut ws.z[k], &mut rest[0], par);
            } else {
                layer.forward_normalised(
                    (&self.params, &self.buffers),
                    input,
                    (&mut ws.z[k], &mut rest[0]),
                    (&mut ws.norm[k], Stats::Batch),
                    par,
                );
            }
            if ws.rates[k] > 0.0 {
                let n = x.rows * layer.outputs;
                dropout::forward(
                    ws.rates[k],
                    draw,
                    k,
                    &ws.a[k][..n],
                    &mut ws.mask[k][..n],
                    &mut ws.dropped[k][..n],
                );
            }
        }
    }

    /// The shapes a forward pass needs; sets the workspace's row count.
    #[track_caller]
    fn check_batch(&self, x: View<'_, T>, ws: &mut Workspace<T>) {
        assert_eq!(
            x.cols, self.inputs,
            "Network::forward: {} features, the network takes {}",
            x.cols, self.inputs
        );
        assert!(
            x.rows <= ws.capacity,
            "Network::forward: batch larger than the workspace"
        );
        ws.rows = x.rows;
    }

    /// Backward pass: expects ∂E/∂h' of the output layer in `ws.delta[last]` (from [`Loss::evaluate`])
    /// and the forward pass of the same `x` in `ws`; writes ∂E/∂(every parameter) into `ws.grads`.
    /// After a [`forward_train`](Network::forward_train) that dropped, ∂E/∂h̃ goes through the masks.
    pub fn backward(&self, x: View<'_, T>, ws: &mut Workspace<T>, par: Par) {
        backward_layers(&self.layers, Keep(&self.params), x, ws, par);
    }

    /// The backward pass and plain SGD's step in one (the seed's rule, W ← W − α·∂E/∂W, for every
    /// parameter): each layer's ∂E/∂x is taken with its weights as they were, then its weights
    /// descend with the update folded into the product that gives their gradient
    /// ([`Dense::backward_descend`]); biases, γ and β step as [`crate::Optimizer::Sgd`] steps
    /// them. `ws.grads` is left holding only what was not folded.
    pub fn backward_descend(&mut self, x: View<'_, T>, ws: &mut Workspace<T>, par: Par, lr: f64) {
        backward_layers(
            &self.layers,
            Descend(&mut self.params, T::of(lr)),
            x,
            ws,
            par,
        );
    }
}

/// What a backward pass does with each layer's gradients: keeps them ([`Network::backward`]), or
/// descends along them at once ([`Network::backward_descend`]). A trait rather than an enum so
/// that each pass is compiled on its own: matched per layer, the plain pass of the seed's network
/// ran 23 instructions longer a step (callgrind).
trait Gradients<T> {
    /// The parameters as they are now.
    fn params(&self) -> &[T];
    /// The layer's backward pass: ∂E/∂x into `dx`, and its weights' and biases' gradients.
    fn layer(
        &mut self,
        layer: &Dense,
        x: View<'_, T>,
        delta: &[T],
        grads: &mut [T],
        dx: Option<&mut [T]>,
        par: Par,
    );
    /// After ∂E/∂γ and ∂E/∂β of a normalisation (`range` of `grads`) are written.
    fn normalised(&mut self, range: std::ops::Range<usize>, grads: &[T]);
}

/// Keeps every gradient in the workspace.
struct Keep<'a, T>(&'a [T]);

impl<T: Float> Gradients<T> for Keep<'_, T> {
    fn params(&self) -> &[T] {
        self.0
    }
    fn layer(
        &mut self,
        layer: &Dense,
        x: View<'_, T>,
        delta: &[T],
        grads: &mut [T],
        dx: Option<&mut [T]>,
        par: Par,
    ) {
        layer.backward(self.0, x, delta, grads, dx, par);
    }
    fn normalised(&mut self, _: std::ops::Range<usize>, _: &[T]) {}
}

/// Plain SGD at this learning rate, each layer's step taken as its gradients appear.
struct Descend<'a, T>(&'a mut [T], T);

impl<T: Float> Gradients<T> for Descend<'_, T> {
    fn params(&self) -> &[T] {
        self.0
    }
    fn layer(
        &mut self,
        layer: &Dense,
        x: View<'_, T>,
        delta: &[T],
        grads: &mut [T],
        dx: Option<&mut [T]>,
        par: Par,
    ) {
        layer.backward_descend((self.0, self.1), x, delta, grads, dx, par);
    }
    fn normalised(&mut self, range: std::ops::Range<usize>, grads: &[T]) {
        crate::optim::sgd(&mut self.0[range.clone()], &grads[range], self.1);
    }
}

/// The layers' backward passes, from the output down (see [`Network::backward`]).
fn backward_layers<T: Float>(
    layers: &[Dense],
    mut gradients: impl Gradients<T>,
    x: View<'_, T>,
    ws: &mut Workspace<T>,
    par: Par,
) {
    let (rows, dropping) = (ws.rows, ws.dropping);
    for k in (0..layers.len()).rev() {
        let layer = &layers[k];
        // Whether the layer below was dropped: this layer read h̃, and δ goes through its mask.
        let below_dropped = k > 0 && dropping && ws.rates[k - 1] > 0.0;
        let (below, here) = ws.delta.split_at_mut(k);
        let input = if k == 0 {
            x
        } else {
            let read = if below_dropped { &ws.dropped } else { &ws.a };
            View::new(&read[k - 1], rows, layer.inputs)
        };
        let dx = if k == 0 {
            None
        } else {
            Some(&mut below[k - 1][..])
        };
        gradients.layer(layer, input, &here[0], &mut ws.grads, dx, par);
        if k > 0 {
            // δ_{k-1} = (δ_k·W_kᵀ) [⊙ m_{k-1}] ⊙ Φ'(h'_{k-1})
            let prev = &layers[k - 1];
            let n = rows * prev.outputs;
            if below_dropped {
                dropout::backward(&ws.mask[k - 1][..n], &mut below[k - 1][..n]);
            }
            prev.activation.backward(
                &ws.z[k - 1][..n],
                &ws.a[k - 1][..n],
                &mut below[k - 1][..n],
                prev.outputs,
            );
            if let Some(nm) = &prev.norm {
                // Through a normalisation, ∂E/∂u becomes δ = ∂E/∂h'; ∂E/∂γ, ∂E/∂β
                // beside. (The output layer has none: every normalised layer is a k − 1.)
                prev.normalise_backward(
                    gradients.params(),
                    (&ws.norm[k - 1], ws.stats),
                    &mut below[k - 1][..n],
                    &mut ws.grads,
                );
                let range = nm.gamma_offset..nm.gamma_offset + 2 * prev.outputs;
                gradients.normalised(range, &ws.grads);
            }
        }
    }
}

impl<T: Float> Network<T> {
    /// One forward and backward pass: the mean loss over the rows of `x` and ∂E/∂params.
    pub fn loss_and_gradient(
        &self,
        x: &Matrix<T>,
        targets: TargetsRef<'_, T>,
        loss: &Loss,
        ws: &mut Workspace<T>,
        par: Par,
    ) -> f64 {
        self.forward(x.view(), ws, par);
        let value = ws.evaluate_loss(self, loss, targets, true);
        self.backward(x.view(), ws, par);
        value
    }

    /// The mean loss over all rows of `x` (forward passes only, in chunks); with `weights`, one
    /// per row, the weighted mean Σ w·Eᵣ / Σ w (scikit-learn's `sample_weight`).
    pub fn mean_loss(
        &self,
        x: &Matrix<T>,
        targets: TargetsRef<'_, T>,
        loss: &Loss,
        weights: Option<&[T]>,
    ) -> f64 {
        let chunk = x.rows.clamp(1, CHUNK_ROWS);
        let mut ws = Workspace::new(self, chunk);
        let m = self.outputs();
        let mut sum = 0.0;
        for start in (0..x.rows).step_by(chunk) {
            let end = (start + chunk).min(x.rows);
            let xs = x.view_rows(start, end);
            let t = targets.rows(start, end, m);
            self.forward(xs, &mut ws, Par::Seq);
            // Each chunk's loss is a mean over its rows (weighted: (1/B)·Σ w·Eᵣ); back to a sum.
            sum += (end - start) as f64
                * match weights {
                    None => ws.evaluate_loss(self, loss, t, false),
                    Some(w) => ws.evaluate_loss_with_rows(self, loss, t, &w[start..end], false),
                };
        }
        match weights {
            None => sum / x.rows.max(1) as f64,
            // Rows that all weigh 0: no figure (0/0, NaN), as the metrics say.
            Some(w) => sum / w.iter().map(|w| w.f64()).sum::<f64>(),
        }
    }

    /// The network's outputs Φ(h') of the last layer for every row of `x`.
    pub fn predict(&self, x: &Matrix<T>) -> Matrix<T> {
        let chunk = x.rows.clamp(1, CHUNK_ROWS);
        let mut ws = Workspace::new(self, chunk);
        let mut out = Matrix::zeros(x.rows, self.outputs());
        for start in (0..x.rows).step_by(chunk) {
            let end = (start + chunk).min(x.rows);
            let xs = x.view_rows(start, end);
            self.forward(xs, &mut ws, Par::Seq);
            out.data[start * self.outputs()..end * self.outputs()].copy_from_slice(ws.output());
        }
        out
    }

    /// The most likely class of each row (the argmax of the outputs; a single sigmoid output: > 0.5).
    pub fn predict_classes(&self, x: &Matrix<T>) -> Vec<usize> {
        classes(&self.predict(x))
    }
}

/// The class of each row of a network's outputs: the argmax; a single sigmoid output: > 0.5.
pub fn classes<T: Float>(outputs: &Matrix<T>) -> Vec<usize> {
    if outputs.cols == 1 {
        outputs
            .data
            .iter()
            .map(|&v| usize::from(v.f64() > 0.5))
            .collect()
    } else {
        outputs.argmax_rows()
    }
}

/// Every buffer a forward and backward pass needs, planned once for a batch size.
///
/// Training allocates nothing after the workspace is built: each batch writes into these buffers,
/// a smaller last batch into their first rows.
#[derive(Clone, Debug)]
pub struct Workspace<T> {
    /// The largest batch planned for.
    pub capacity: usize,
    /// Rows of the last forward pass.
    pub rows: usize,
    /// Per layer, h' (pre-activations), `[capacity × outputs]`.
    pub z: Vec<Vec<T>>,
    /// Per layer, h = Φ(h').
    pub a: Vec<Vec<T>>,
    /// Per layer, δ = ∂E/∂h'.
    pub delta: Vec<Vec<T>>,
    /// ∂E/∂params, same layout as [`Network::params`].
    pub grads: Vec<T>,
    /// Per layer, the dropout rate planned for (0 for the output layer); empty without dropout.
    pub rates: Vec<f64>,
    /// Per layer with dropout, the mask m of the last training pass (0 or 1/(1 − p)); else empty.
    pub mask: Vec<Vec<T>>,
    /// Per layer with dropout, h̃ = h ⊙ m, what the next layer read; else empty.
    pub dropped: Vec<Vec<T>>,
    /// Whether the last forward pass dropped (a training pass with a rate above 0).
    pub dropping: bool,
    /// Per normalised layer, its buffers; else `None`.
    pub norm: Vec<Option<NormSpace<T>>>,
    /// The statistics the last forward pass normalised with.
    pub stats: Stats,
}

impl<T: Float> Workspace<T> {
    /// Buffers for batches of up to `capacity` rows.
    pub fn new(net: &Network<T>, capacity: usize) -> Self {
        let per_layer = || {
            net.layers
                .iter()
                .map(|l| vec![T::ZERO; capacity * l.outputs])
                .collect::<Vec<_>>()
        };
        Workspace {
            capacity,
            rows: 0,
            z: per_layer(),
            a: per_layer(),
            delta: per_layer(),
            grads: vec![T::ZERO; net.params.len()],
            rates: Vec::new(),
            mask: vec![Vec::new(); net.layers.len()],
            dropped: vec![Vec::new(); net.layers.len()],
            dropping: false,
            norm: net
                .layers
                .iter()
                .map(|l| l.norm.as_ref().map(|nm| nm.kind.space(capacity, l.outputs)))
                .collect(),
            stats: Stats::Running,
        }
    }

    /// Plans the buffers of `dropout` after the hidden layers of `net` (checked with
    /// [`Dropout::check`] first).
    pub fn with_dropout(mut self, net: &Network<T>, dropout: &Dropout) -> Self {
        if dropout.is_none() {
            return self;
        }
        let hidden = net.layers.len() - 1;
        self.rates = (0..net.layers.len())
            .map(|k| dropout.rate(k, hidden))
            .collect();
        for (k, l) in net.layers.iter().enumerate() {
            let len = if self.rates[k] > 0.0 {
                self.capacity * l.outputs
            } else {
                0
            };
            self.mask[k] = vec![T::ZERO; len];
            self.dropped[k] = vec![T::ZERO; len];
        }
        self
    }

    /// The outputs of the last forward pass, `[rows × outputs]`.
    pub fn output(&self) -> &[T] {
        let a = self.a.last().expect("a network has layers");
        &a[..self.rows * (a.len() / self.capacity.max(1))]
    }

    /// The loss of the last forward pass; with `with_delta`, also ∂E/∂h' of the output layer.
    pub fn evaluate_loss(
        &mut self,
        net: &Network<T>,
        loss: &Loss,
        targets: TargetsRef<'_, T>,
        with_delta: bool,
    ) -> f64 {
        let cols = net.outputs();
        let n = self.rows * cols;
        let last = net.layers.len() - 1;
        let delta = with_delta.then(|| &mut self.delta[last][..n]);
        loss.evaluate(
            net.output_activation(),
            &self.z[last][..n],
            &self.a[last][..n],
            targets,
            cols,
            delta,
        )
    }

    /// [`Workspace::evaluate_loss`] with each row's loss weighted by `rows` (sample weights, scaled
    /// to average 1 over the batch: see [`Loss::evaluate_with_rows`]).
    pub fn evaluate_loss_with_rows(
        &mut self,
        net: &Network<T>,
        loss: &Loss,
        targets: TargetsRef<'_, T>,
        rows: &[T],
        with_delta: bool,
    ) -> f64 {
        let cols = net.outputs();
        let n = self.rows * cols;
        let last = net.layers.len() - 1;
        let delta = with_delta.then(|| &mut self.delta[last][..n]);
        loss.evaluate_with_rows(
            net.output_activation(),
            &self.z[last][..n],
            &self.a[last][..n],
            targets,
            cols,
            delta,
            &rows[..self.rows],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchNorm, LayerNorm};

    /// The count without building is the built network's, with and without biases and
    /// normalisation; a count past `usize` is `None`.
    #[test]
    fn param_count_is_the_built_networks() {
        let spec = NetworkSpec::new(7)
            .dense(5, Activation::Relu)
            .dense(4, Activation::Tanh)
            .dense(3, Activation::Softmax);
        for s in [
            spec.clone(),
            spec.clone().bias(Bias::None),
            spec.clone().batch_norm(BatchNorm::default()),
            spec.clone().layer_norm(LayerNorm::default()),
        ] {
            assert_eq!(s.param_count(), Some(s.build::<f32>(0).param_count()));
        }
        // 7·5 + 5 + 5·4 + 4 + 4·3 + 3, by hand.
        assert_eq!(spec.param_count(), Some(79));
        let huge = NetworkSpec::new(1 << 40)
            .dense(1 << 40, Activation::Relu)
            .dense(1, Activation::Identity);
        assert_eq!(huge.param_count(), None);
    }
}
