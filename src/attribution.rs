//! Why a prediction: integrated gradients (Sundararajan, Taly and Yan, 2017), the backward pass
//! turned towards the inputs.
//!
//! For an output F of the network (a class's probability, a value), input i's attribution is
//!
//!   IGᵢ(x) = (xᵢ − x′ᵢ) · ∫₀¹ ∂F/∂xᵢ(x′ + α(x − x′)) dα,
//!
//! from a baseline x′ (here the all-zero input: with standardised features, every feature at its
//! training mean). The attributions add up to the whole change, Σᵢ IGᵢ = F(x) − F(x′)
//! ("completeness"); the integral is a midpoint sum over `steps` points of the straight path, so
//! the sum is off by the quadrature's error, which [`Attribution::gap`] reports.
//!
//! ∂F/∂x is the seed's chain rule once more, run from F instead of from E: δ at the output is
//! Φ'(h')·e_c (e_c: 1 at the output explained), then δ_{k−1} = (δ_k·W_kᵀ) ⊙ Φ'(h'_{k−1}) through
//! every layer, and ∂F/∂x = δ₁·W₁ᵀ — the layers' own backward passes, with ∂E/∂x kept at the first.

use serde::Serialize;

use crate::network::{Network, Workspace};
use crate::tensor::{Matrix, Par, View};

/// ∂F/∂x for every row of `x`: F the network's output number `output` (after the output
/// activation: a probability for softmax or sigmoid). `[x.rows × inputs]`.
///
/// # Panics
/// If `x` does not have the network's inputs or `output` is not one of its outputs.
pub fn input_gradient(net: &Network<f64>, x: &Matrix<f64>, output: usize) -> Matrix<f64> {
    let m = net.outputs();
    assert!(output < m, "input_gradient: output {output} of {m}");
    let rows = x.rows;
    let mut ws = Workspace::new(net, rows.max(1));
    net.forward(x.view(), &mut ws, Par::Seq);
    let last = net.layers.len() - 1;
    // ∂F/∂h of the output layer is e_c; its activation's backward pass makes it ∂F/∂h'
    // (softmax's Jacobian included).
    let mut delta = vec![0.0; rows * m];
    for r in 0..rows {
        delta[r * m + output] = 1.0;
    }
    net.layers[last].activation.backward(
        &ws.z[last][..rows * m],
        &ws.a[last][..rows * m],
        &mut delta,
        m,
    );
    // The layers' backward passes also write ∂F/∂W, unused here.
    let mut unused = vec![0.0; net.params.len()];
    for k in (0..=last).rev() {
        let layer = &net.layers[k];
        let input = match k {
            0 => x.view(),
            _ => View::new(&ws.a[k - 1][..rows * layer.inputs], rows, layer.inputs),
        };
        let mut dx = vec![0.0; rows * layer.inputs];
        if layer.norm.is_some() {
            layer.normalise_backward(
                &net.params,
                (&ws.norm[k], ws.stats),
                &mut delta,
                &mut unused,
            );
        }
        layer.backward(
            &net.params,
            input,
            &delta,
            &mut unused,
            Some(&mut dx),
            Par::Seq,
        );
        if k > 0 {
            let prev = &net.layers[k - 1];
            let n = rows * prev.outputs;
            prev.activation
                .backward(&ws.z[k - 1][..n], &ws.a[k - 1][..n], &mut dx, prev.outputs);
        }
        delta = dx;
    }
    Matrix::from_vec(rows, net.inputs, delta)
}

/// The integrated gradients of one output at one input.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attribution {
    /// Which output is explained.
    pub output: usize,
    /// F(x).
    pub value: f64,
    /// F(x′).
    pub baseline_value: f64,
    /// IGᵢ, one per input.
    pub inputs: Vec<f64>,
    /// Points of the path summed.
    pub steps: usize,
}

impl Attribution {
    /// Σᵢ IGᵢ − (F(x) − F(x′)): what the quadrature missed (0 for a linear network).
    pub fn gap(&self) -> f64 {
        self.inputs.iter().sum::<f64>() - (self.value - self.baseline_value)
    }
}

/// Integrated gradients of output `output` at `x` from `baseline`, over `steps` midpoints
/// α = (k − ½)/steps of the path (at least 1).
///
/// ```
/// use mlp::{attribution::integrated_gradients, Activation, NetworkSpec};
/// // A linear network: F(x) = x·w, so IGᵢ = xᵢ·wᵢ exactly and nothing is missed.
/// let mut net = NetworkSpec::new(2).dense(1, Activation::Identity).build::<f64>(0);
/// net.params = vec![2.0, -3.0, 0.5]; // w and the bias
/// let a = integrated_gradients(&net, &[1.0, 1.0], &[0.0, 0.0], 0, 8);
/// assert_eq!(a.inputs, [2.0, -3.0]);
/// assert_eq!((a.value, a.baseline_value, a.gap()), (-0.5, 0.5, 0.0));
/// ```
pub fn integrated_gradients(
    net: &Network<f64>,
    x: &[f64],
    baseline: &[f64],
    output: usize,
    steps: usize,
) -> Attribution {
    let (n, steps) = (net.inputs, steps.max(1));
    assert!(
        x.len() == n && baseline.len() == n,
        "integrated_gradients: x and the baseline must have the network's {n} inputs"
    );
    // The path's points, one row each, then both ends.
    let mut path = Vec::with_capacity((steps + 2) * n);
    for k in 0..steps {
        let alpha = (k as f64 + 0.5) / steps as f64;
        path.extend(x.iter().zip(baseline).map(|(&x, &b)| b + alpha * (x - b)));
    }
    path.extend_from_slice(x);
    path.extend_from_slice(baseline);
    let points = Matrix::from_vec(steps + 2, n, path);
    let grads = input_gradient(net, &points, output);
    let ends = net.predict(&Matrix::from_vec(2, n, [x, baseline].concat()));
    let inputs = (0..n)
        .map(|i| {
            let mean = (0..steps).map(|k| grads[(k, i)]).sum::<f64>() / steps as f64;
            (x[i] - baseline[i]) * mean
        })
        .collect();
    Attribution {
        output,
        value: ends[(0, output)],
        baseline_value: ends[(1, output)],
        inputs,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, NetworkSpec, Rng};

    /// ∂F/∂x against central differences of F itself, for a softmax classifier and a sigmoid
    /// output, through two hidden layers.
    #[test]
    fn input_gradient_matches_central_differences() {
        let mut rng = Rng::new(3);
        for (out, m) in [(Activation::Softmax, 3), (Activation::Sigmoid, 1)] {
            let net = NetworkSpec::new(4)
                .dense(5, Activation::Tanh)
                .dense(3, Activation::Silu)
                .dense(m, out.clone())
                .build::<f64>(9);
            let x = Matrix::from_vec(2, 4, (0..8).map(|_| rng.normal()).collect());
            for c in 0..m {
                let g = input_gradient(&net, &x, c);
                for r in 0..2 {
                    for i in 0..4 {
                        let h = 1e-6;
                        let at = |d: f64| {
                            let mut p = x.row(r).to_vec();
                            p[i] += d;
                            net.predict(&Matrix::from_vec(1, 4, p))[(0, c)]
                        };
                        let fd = (at(h) - at(-h)) / (2.0 * h);
                        assert!(
                            (g[(r, i)] - fd).abs() < 1e-8,
                            "{out} output {c}, row {r}, input {i}: {} against {fd}",
                            g[(r, i)]
                        );
                    }
                }
            }
        }
    }

    /// Completeness: the attributions add up to F(x) − F(x′), up to the midpoint rule's error,
    /// which falls as 1/steps² for a smooth network.
    #[test]
    fn attributions_add_up_to_the_change_in_the_output() {
        let net = NetworkSpec::new(3)
            .dense(8, Activation::Tanh)
            .dense(4, Activation::Softmax)
            .build::<f64>(4);
        let (x, base) = ([1.5, -0.7, 2.0], [0.0; 3]);
        let coarse = integrated_gradients(&net, &x, &base, 2, 16);
        let fine = integrated_gradients(&net, &x, &base, 2, 256);
        assert!((coarse.value - coarse.baseline_value).abs() > 0.05);
        assert!(fine.gap().abs() < 1e-5, "gap {}", fine.gap());
        assert!(fine.gap().abs() < coarse.gap().abs() / 50.0);
        // At the baseline itself there is nothing to attribute.
        let none = integrated_gradients(&net, &base, &base, 2, 16);
        assert_eq!(none.inputs, [0.0; 3]);
    }
}
