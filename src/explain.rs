//! One training step, traced in the seed's notation.
//!
//! Every number comes from the engine's own forward and backward pass (the [`Workspace`] buffers
//! and gradients), not from a second implementation: per layer the input x, h' = x·W (+ b),
//! h = Φ(h'), Φ'(h'), δ = ∂E/∂h', ∂E/∂W, ΔW = −α·∂E/∂W and the updated W.
//! `weight[i][j]` is the weight from neuron i of the layer's input to neuron j of its output, the
//! seed's W_ij. A batch-normalised layer adds u = γ·(h' − μ)/√(σ² + ε) + β between h' and Φ, with
//! the running μ and σ² (a row alone has no batch: the step traced is inference's gradient, where
//! training normalises with each batch's own statistics); a layer-normalised one the same formula
//! with the row's own μ and σ² over the layer's units, as in training.

use serde::Serialize;

use crate::activation::Activation;
use crate::dense::Normalization;
use crate::init::Bias;
use crate::loss::{Loss, TargetsRef};
use crate::network::{Network, NetworkSpec, Workspace};
use crate::tensor::{Matrix, Par};

/// One layer of the trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerTrace {
    /// Φ's name.
    pub phi: String,
    /// x, this layer's input.
    pub input: Vec<f64>,
    /// h' = x·W (+ b).
    pub pre_activation: Vec<f64>,
    /// h = Φ(h').
    pub activation: Vec<f64>,
    /// Φ'(h') (for softmax, the diagonal of its Jacobian, pⱼ(1 − pⱼ)).
    pub derivative: Vec<f64>,
    /// δ = ∂E/∂h'.
    pub delta: Vec<f64>,
    /// `W[i][j]`: from neuron i of the input to neuron j of the output.
    pub weight: Vec<Vec<f64>>,
    /// `∂E/∂W[i][j]` = xᵢ·δⱼ.
    pub grad_weight: Vec<Vec<f64>>,
    /// ΔW = −α·∂E/∂W.
    pub delta_weight: Vec<Vec<f64>>,
    /// W + ΔW.
    pub updated_weight: Vec<Vec<f64>>,
    pub bias: Option<Vec<f64>>,
    /// ∂E/∂b = δ.
    pub grad_bias: Option<Vec<f64>>,
    pub updated_bias: Option<Vec<f64>>,
    /// The layer's batch or layer normalisation, when it has one; then Φ reads u, not h'.
    pub norm: Option<NormTrace>,
}

/// u = γ·(h' − μ)/√(σ² + ε) + β: batch normalisation with the running μ and σ² of each unit, or
/// layer normalisation with the row's μ and σ² over the layer's units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NormTrace {
    /// Batch or layer normalisation (`"batch"`, `"layer"` in JSON).
    pub kind: NormKind,
    /// μ: the running mean of each unit (batch), or the one mean of the row's h' (layer).
    pub mean: Vec<f64>,
    /// √(σ² + ε): from the running variance of each unit (batch), or the one variance of the
    /// row's h' (layer).
    pub std: Vec<f64>,
    pub gamma: Vec<f64>,
    pub beta: Vec<f64>,
    /// u, what Φ reads.
    pub normalised: Vec<f64>,
    /// ∂E/∂u = (δ_next·W_nextᵀ) ⊙ Φ'(u); δ = ∂E/∂h' = ∂E/∂u ⊙ γ/√(σ² + ε) (batch), or, with
    /// d = γ ⊙ ∂E/∂u, (d − mean(d) − ĥ·mean(d ⊙ ĥ))/√(σ² + ε) (layer).
    pub delta_normalised: Vec<f64>,
    /// ∂E/∂γ = ∂E/∂u ⊙ (h' − μ)/√(σ² + ε), ∂E/∂β = ∂E/∂u.
    pub grad_gamma: Vec<f64>,
    pub grad_beta: Vec<f64>,
    pub updated_gamma: Vec<f64>,
    pub updated_beta: Vec<f64>,
}

/// Which normalisation a [`NormTrace`] traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    Batch,
    Layer,
}

/// One SGD step on one row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    pub loss_name: String,
    /// E before the step.
    pub loss: f64,
    /// E after the step (a second forward pass with the updated weights).
    pub loss_after: f64,
    pub learning_rate: f64,
    /// y, the network's output.
    pub output: Vec<f64>,
    /// d, the label (one-hot for a class).
    pub target: Vec<f64>,
    pub layers: Vec<LayerTrace>,
}

/// Traces one step of W ← W − α·∂E/∂W on the row `x` with target `target`.
pub fn trace(
    net: &Network<f64>,
    x: &[f64],
    target: TargetsRef<'_, f64>,
    loss: &Loss,
    alpha: f64,
) -> Trace {
    let xm = Matrix::from_vec(1, x.len(), x.to_vec());
    let mut ws = Workspace::new(net, 1);
    let e = net.loss_and_gradient(&xm, target, loss, &mut ws, Par::Seq);
    let m = net.outputs();
    let d: Vec<f64> = match target {
        TargetsRef::Values(v) => v[..m].to_vec(),
        classes => {
            let c = classes.classes().expect("class targets")[0];
            match m {
                1 => vec![c as f64],
                _ => (0..m).map(|j| f64::from(u8::from(c == j))).collect(),
            }
        }
    };
    let mut updated = net.clone();
    for (w, g) in updated.params.iter_mut().zip(&ws.grads) {
        *w -= alpha * g;
    }
    let mut ws2 = Workspace::new(net, 1);
    updated.forward(xm.view(), &mut ws2, Par::Seq);
    let loss_after = ws2.evaluate_loss(&updated, loss, target, false);

    let grid = |flat: &[f64], rows: usize, cols: usize| -> Vec<Vec<f64>> {
        (0..rows)
            .map(|i| flat[i * cols..(i + 1) * cols].to_vec())
            .collect()
    };
    let layers = net
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let input = if k == 0 {
                x.to_vec()
            } else {
                ws.a[k - 1].clone()
            };
            let (z, a) = (&ws.z[k], &ws.a[k]);
            let derivative: Vec<f64> = match &l.activation {
                Activation::Softmax => a.iter().map(|p| p * (1.0 - p)).collect(),
                act => z.iter().map(|&z| act.derivative(z)).collect(),
            };
            let norm = l.norm.as_ref().zip(ws.norm[k].as_ref()).map(|(nm, space)| {
                let (n, g) = (l.outputs, nm.gamma_offset);
                let (kind, mean, std) = match nm.kind {
                    Normalization::Batch(_) => (
                        NormKind::Batch,
                        net.buffers[nm.running_offset..nm.running_offset + n].to_vec(),
                        space.inv_std.iter().map(|s| 1.0 / s).collect(),
                    ),
                    Normalization::Layer(_) => (
                        NormKind::Layer,
                        vec![space.mean[0]],
                        vec![1.0 / space.inv_std[0]],
                    ),
                };
                NormTrace {
                    kind,
                    mean,
                    std,
                    gamma: net.params[g..g + n].to_vec(),
                    beta: net.params[g + n..g + 2 * n].to_vec(),
                    normalised: z.clone(),
                    // One row: ∂E/∂β, the sum of ∂E/∂u over the rows, is ∂E/∂u.
                    delta_normalised: ws.grads[g + n..g + 2 * n].to_vec(),
                    grad_gamma: ws.grads[g..g + n].to_vec(),
                    grad_beta: ws.grads[g + n..g + 2 * n].to_vec(),
                    updated_gamma: updated.params[g..g + n].to_vec(),
                    updated_beta: updated.params[g + n..g + 2 * n].to_vec(),
                }
            });
            // h' itself: the normalisation's input, ĥ·√(σ² + ε) + μ (one μ and σ² for the
            // row with layer normalisation).
            let pre_activation = match (&norm, ws.norm[k].as_ref()) {
                (Some(nt), Some(space)) => (0..l.outputs)
                    .map(|j| {
                        let at = if nt.kind == NormKind::Layer { 0 } else { j };
                        space.xhat[j] * nt.std[at] + nt.mean[at]
                    })
                    .collect(),
                _ => z.clone(),
            };
            let (w, gw) = (&net.params[l.weight_range()], &ws.grads[l.weight_range()]);
            let dw: Vec<f64> = gw.iter().map(|g| -alpha * g).collect();
            let nw: Vec<f64> = w.iter().zip(&dw).map(|(w, d)| w + d).collect();
            let bias = l.bias_offset.map(|o| net.params[o..o + l.outputs].to_vec());
            let grad_bias = l.bias_offset.map(|o| ws.grads[o..o + l.outputs].to_vec());
            let updated_bias = l
                .bias_offset
                .map(|o| updated.params[o..o + l.outputs].to_vec());
            LayerTrace {
                phi: l.activation.to_string(),
                input,
                pre_activation,
                activation: a.clone(),
                derivative,
                delta: ws.delta[k].clone(),
                weight: grid(w, l.inputs, l.outputs),
                grad_weight: grid(gw, l.inputs, l.outputs),
                delta_weight: grid(&dw, l.inputs, l.outputs),
                updated_weight: grid(&nw, l.inputs, l.outputs),
                bias,
                grad_bias,
                updated_bias,
                norm,
            }
        })
        .collect();
    Trace {
        loss_name: loss.to_string(),
        loss: e,
        loss_after,
        learning_rate: alpha,
        output: ws.output().to_vec(),
        target: d,
        layers,
    }
}

/// The seed's own example: 2 inputs, 3 sigmoid hidden neurons, 1 linear output, no bias,
/// E = (d − y)²/2. Returns the network, x, d and α.
pub fn seed_example() -> (Network<f64>, Vec<f64>, f64, f64) {
    let mut net = NetworkSpec::new(2)
        .dense(3, Activation::Sigmoid)
        .dense(1, Activation::Identity)
        .bias(Bias::None)
        .build::<f64>(0);
    net.params = vec![0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, -0.8, 0.9];
    (net, vec![0.6, -0.4], 0.25, 0.5)
}

fn vector(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
    format!("[{}]", items.join(", "))
}

impl Trace {
    /// Plain text, one block per layer.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let n = self.layers.len();
        s.push_str(&format!(
            "One step of W_new = W + ΔW, ΔW = −α·∂E/∂W, with α = {} and E = {}\n\n",
            self.learning_rate, self.loss_name
        ));
        for (k, l) in self.layers.iter().enumerate() {
            let sup = k + 1;
            s.push_str(&format!(
                "Layer {sup} ({} → {}, Φ = {})\n",
                l.input.len(),
                l.activation.len(),
                l.phi
            ));
            let b = if l.bias.is_some() {
                format!(" + b{sup}")
            } else {
                String::new()
            };
            s.push_str(&format!("  x          = {}\n", vector(&l.input)));
            s.push_str(&format!(
                "  h' = x·W{sup}{b} = {}\n",
                vector(&l.pre_activation)
            ));
            let how = if k + 1 == n {
                "from the loss"
            } else {
                "(δ_next·W_nextᵀ) ⊙ Φ'(h')"
            };
            match &l.norm {
                None => {
                    s.push_str(&format!("  h = Φ(h')  = {}\n", vector(&l.activation)));
                    s.push_str(&format!("  Φ'(h')     = {}\n", vector(&l.derivative)));
                    s.push_str(&format!("  δ = ∂E/∂h' = {}   {how}\n", vector(&l.delta)));
                }
                Some(nt) => {
                    let (mean, var, what, chain) = if nt.kind == NormKind::Layer {
                        (
                            "the mean of h' over the layer's units",
                            "σ²: the variance of h' over the layer's units",
                            "layer normalisation",
                            format!("(d − mean(d) − ĥ·mean(d⊙ĥ))/√(σ² + ε), d = γ{sup}⊙∂E/∂u, ĥ = (h' − μ)/√(σ² + ε)"),
                        )
                    } else {
                        (
                            "running mean",
                            "σ²: the running variance",
                            "batch normalisation",
                            format!("∂E/∂u ⊙ γ{sup}/√(σ² + ε)"),
                        )
                    };
                    s.push_str(&format!("  μ          = {}   {mean}\n", vector(&nt.mean)));
                    s.push_str(&format!("  √(σ² + ε)  = {}   {var}\n", vector(&nt.std)));
                    s.push_str(&format!(
                        "  u = γ{sup}⊙(h' − μ)/√(σ² + ε) + β{sup} = {}   {what}\n",
                        vector(&nt.normalised)
                    ));
                    s.push_str(&format!("  h = Φ(u)   = {}\n", vector(&l.activation)));
                    s.push_str(&format!("  Φ'(u)      = {}\n", vector(&l.derivative)));
                    s.push_str(&format!(
                        "  ∂E/∂u      = {}   (δ_next·W_nextᵀ) ⊙ Φ'(u)\n",
                        vector(&nt.delta_normalised)
                    ));
                    s.push_str(&format!("  δ = ∂E/∂h' = {}   {chain}\n", vector(&l.delta)));
                }
            }
            s.push_str(&format!(
                "  {:<10} {:>12} {:>14} {:>14} {:>12}\n",
                "weight", "W", "∂E/∂W = xᵢδⱼ", "ΔW = −α∂E/∂W", "W_new"
            ));
            for (i, row) in l.weight.iter().enumerate() {
                for (j, w) in row.iter().enumerate() {
                    s.push_str(&format!(
                        "  {:<10} {:>12.6} {:>14.6} {:>14.6} {:>12.6}\n",
                        format!("W{sup}[{}][{}]", i + 1, j + 1),
                        w,
                        l.grad_weight[i][j],
                        l.delta_weight[i][j],
                        l.updated_weight[i][j]
                    ));
                }
            }
            if let (Some(b), Some(gb), Some(nb)) = (&l.bias, &l.grad_bias, &l.updated_bias) {
                for j in 0..b.len() {
                    s.push_str(&format!(
                        "  {:<10} {:>12.6} {:>14.6} {:>14.6} {:>12.6}\n",
                        format!("b{sup}[{}]", j + 1),
                        b[j],
                        gb[j],
                        nb[j] - b[j],
                        nb[j]
                    ));
                }
            }
            if let Some(nt) = &l.norm {
                let rows = [
                    ("γ", &nt.gamma, &nt.grad_gamma, &nt.updated_gamma),
                    ("β", &nt.beta, &nt.grad_beta, &nt.updated_beta),
                ];
                for (name, v, g, u) in rows {
                    for j in 0..v.len() {
                        s.push_str(&format!(
                            "  {:<10} {:>12.6} {:>14.6} {:>14.6} {:>12.6}\n",
                            format!("{name}{sup}[{}]", j + 1),
                            v[j],
                            g[j],
                            u[j] - v[j],
                            u[j]
                        ));
                    }
                }
            }
            s.push('\n');
        }
        s.push_str(&format!(
            "y = {}   d = {}\n",
            vector(&self.output),
            vector(&self.target)
        ));
        s.push_str(&format!(
            "E = {:.6} before the step, {:.6} after\n",
            self.loss, self.loss_after
        ));
        s
    }

    /// Markdown with LaTeX formulas, for a notebook or a course.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let lx = |v: &[f64]| {
            let items: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
            format!("\\begin{{bmatrix}} {} \\end{{bmatrix}}", items.join(" & "))
        };
        s.push_str(&format!(
            "# One step of backpropagation\n\n$W_{{new}} = W + \\Delta W$, $\\Delta W = -\\alpha \\frac{{\\partial E}}{{\\partial W}}$, $\\alpha = {}$, $E$ = `{}`.\n\n",
            self.learning_rate, self.loss_name
        ));
        for (k, l) in self.layers.iter().enumerate() {
            let sup = k + 1;
            s.push_str(&format!(
                "## Layer {sup}: {} → {}, $\\Phi$ = `{}`\n\n",
                l.input.len(),
                l.activation.len(),
                l.phi
            ));
            let b = if l.bias.is_some() {
                format!(" + b^{{{sup}}}")
            } else {
                String::new()
            };
            s.push_str(&format!("$$x = {}$$\n\n", lx(&l.input)));
            s.push_str(&format!(
                "$$h' = x W^{{{sup}}}{b} = {}$$\n\n",
                lx(&l.pre_activation)
            ));
            match &l.norm {
                None => {
                    s.push_str(&format!("$$h = \\Phi(h') = {}$$\n\n", lx(&l.activation)));
                    s.push_str(&format!("$$\\Phi'(h') = {}$$\n\n", lx(&l.derivative)));
                }
                Some(nt) => {
                    s.push_str(&format!(
                        "$$u = \\gamma \\odot \\frac{{h' - \\mu}}{{\\sqrt{{\\sigma^2 + \\epsilon}}}} + \\beta = {}, \\quad \\mu = {}, \\quad \\sqrt{{\\sigma^2 + \\epsilon}} = {}$$\n\n",
                        lx(&nt.normalised),
                        lx(&nt.mean),
                        lx(&nt.std)
                    ));
                    s.push_str(&format!("$$h = \\Phi(u) = {}$$\n\n", lx(&l.activation)));
                    s.push_str(&format!("$$\\Phi'(u) = {}$$\n\n", lx(&l.derivative)));
                }
            }
            s.push_str(&format!(
                "$$\\delta = \\frac{{\\partial E}}{{\\partial h'}} = {}$$\n\n",
                lx(&l.delta)
            ));
            s.push_str("| weight | $W$ | $\\partial E/\\partial W = x_i \\delta_j$ | $\\Delta W$ | $W_{new}$ |\n|---|---:|---:|---:|---:|\n");
            for (i, row) in l.weight.iter().enumerate() {
                for (j, w) in row.iter().enumerate() {
                    s.push_str(&format!(
                        "| $W^{{{sup}}}_{{{}{}}}$ | {:.6} | {:.6} | {:.6} | {:.6} |\n",
                        i + 1,
                        j + 1,
                        w,
                        l.grad_weight[i][j],
                        l.delta_weight[i][j],
                        l.updated_weight[i][j]
                    ));
                }
            }
            s.push('\n');
        }
        s.push_str(&format!(
            "$$y = {}, \\quad d = {}, \\quad E = {:.6} \\rightarrow {:.6}$$\n",
            lx(&self.output),
            lx(&self.target),
            self.loss,
            self.loss_after
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_example_traces_the_seeds_closed_forms() {
        let (net, x, d, alpha) = seed_example();
        let t = trace(
            &net,
            &x,
            TargetsRef::Values(&[d]),
            &Loss::HalfSquaredError,
            alpha,
        );
        let h = &t.layers[0].activation;
        let y = t.output[0];
        for (i, hi) in h.iter().enumerate() {
            // ΔW²ᵢ = α(d − y)hᵢ
            assert!((t.layers[1].delta_weight[i][0] - alpha * (d - y) * hi).abs() < 1e-12);
        }
        // ΔW¹ᵢⱼ = α(d − y)W²ⱼΦ'ⱼxᵢ
        let dw = alpha * (d - y) * t.layers[1].weight[2][0] * t.layers[0].derivative[2] * x[1];
        assert!((t.layers[0].delta_weight[1][2] - dw).abs() < 1e-12);
        assert!(t.loss_after < t.loss);
        assert!(t.to_text().contains("W2[3][1]"));
        assert!(t.to_markdown().contains("$$h = \\Phi(h')"));
    }

    /// A batch-normalised layer's trace, against the formulas it prints: u from h', μ, σ², γ, β;
    /// h = Φ(u); δ = ∂E/∂u·γ/√(σ² + ε); ∂E/∂γ = ∂E/∂u·(h' − μ)/√(σ² + ε); ∂E/∂W = xᵢδⱼ.
    #[test]
    fn a_batch_normalised_layer_traces_its_formulas() {
        let mut net = NetworkSpec::new(2)
            .batch_norm(crate::BatchNorm::default())
            .dense(3, Activation::Tanh)
            .dense(1, Activation::Identity)
            .build::<f64>(4);
        net.buffers = vec![0.2, -0.1, 0.3, 1.5, 0.5, 2.0];
        let g = net.layers[0].norm.as_ref().unwrap().gamma_offset;
        net.params[g..g + 6].copy_from_slice(&[1.2, -0.8, 0.5, 0.1, 0.2, -0.3]);
        let x = [0.7, -1.3];
        let t = trace(
            &net,
            &x,
            TargetsRef::Values(&[0.4]),
            &Loss::HalfSquaredError,
            0.1,
        );
        let l = &t.layers[0];
        let nt = l.norm.as_ref().expect("normalised");
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        for j in 0..3 {
            let h = x[0] * l.weight[0][j] + x[1] * l.weight[1][j] + l.bias.as_ref().unwrap()[j];
            close(l.pre_activation[j], h);
            close(nt.std[j], (net.buffers[3 + j] + 1e-5f64).sqrt());
            let xhat = (h - nt.mean[j]) / nt.std[j];
            close(nt.normalised[j], nt.gamma[j] * xhat + nt.beta[j]);
            close(l.activation[j], nt.normalised[j].tanh());
            let du = (t.output[0] - 0.4) * t.layers[1].weight[j][0] * l.derivative[j];
            close(nt.delta_normalised[j], du);
            close(l.delta[j], du * nt.gamma[j] / nt.std[j]);
            close(nt.grad_gamma[j], du * xhat);
            for (i, xi) in x.iter().enumerate() {
                close(l.grad_weight[i][j], xi * l.delta[j]);
            }
        }
        assert!(t.to_text().contains("u = γ1⊙(h' − μ)/√(σ² + ε) + β1"));
        assert!(t.to_text().contains("β1[3]"));
    }

    /// A layer-normalised layer's trace, against the formulas it prints: μ and σ² of the row's
    /// h' over the layer's units, u from them, and δ = (d − mean(d) − ĥ·mean(d⊙ĥ))/√(σ² + ε).
    #[test]
    fn a_layer_normalised_layer_traces_its_formulas() {
        let mut net = NetworkSpec::new(2)
            .layer_norm(crate::LayerNorm::default())
            .dense(3, Activation::Tanh)
            .dense(1, Activation::Identity)
            .build::<f64>(4);
        assert!(net.buffers.is_empty(), "no running statistics");
        let g = net.layers[0].norm.as_ref().unwrap().gamma_offset;
        net.params[g..g + 6].copy_from_slice(&[1.2, -0.8, 0.5, 0.1, 0.2, -0.3]);
        let x = [0.7, -1.3];
        let t = trace(
            &net,
            &x,
            TargetsRef::Values(&[0.4]),
            &Loss::HalfSquaredError,
            0.1,
        );
        let l = &t.layers[0];
        let nt = l.norm.as_ref().expect("normalised");
        assert_eq!(nt.kind, NormKind::Layer);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        let h: Vec<f64> = (0..3)
            .map(|j| x[0] * l.weight[0][j] + x[1] * l.weight[1][j] + l.bias.as_ref().unwrap()[j])
            .collect();
        let mu = h.iter().sum::<f64>() / 3.0;
        let var = h.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / 3.0;
        close(nt.mean[0], mu);
        close(nt.std[0], (var + 1e-5).sqrt());
        let xhat: Vec<f64> = h.iter().map(|v| (v - mu) / nt.std[0]).collect();
        let du: Vec<f64> = (0..3)
            .map(|j| (t.output[0] - 0.4) * t.layers[1].weight[j][0] * l.derivative[j])
            .collect();
        let d: Vec<f64> = (0..3).map(|j| nt.gamma[j] * du[j]).collect();
        let mean_d = d.iter().sum::<f64>() / 3.0;
        let mean_dx = (0..3).map(|j| d[j] * xhat[j]).sum::<f64>() / 3.0;
        for j in 0..3 {
            close(l.pre_activation[j], h[j]);
            close(nt.normalised[j], nt.gamma[j] * xhat[j] + nt.beta[j]);
            close(l.activation[j], nt.normalised[j].tanh());
            close(nt.delta_normalised[j], du[j]);
            close(l.delta[j], (d[j] - mean_d - xhat[j] * mean_dx) / nt.std[0]);
            close(nt.grad_gamma[j], du[j] * xhat[j]);
            for (i, xi) in x.iter().enumerate() {
                close(l.grad_weight[i][j], xi * l.delta[j]);
            }
        }
        let text = t.to_text();
        assert!(text.contains("u = γ1⊙(h' − μ)/√(σ² + ε) + β1"), "{text}");
        assert!(text.contains("layer normalisation"), "{text}");
        assert!(
            text.contains("the mean of h' over the layer's units"),
            "{text}"
        );
    }
}
