//! Lesson 9 — why this prediction: the chain rule pointed at the inputs.
//!
//! Training runs the seed's chain rule from the error E back to the weights: ∂E/∂W. Nothing stops
//! it one layer further, at the inputs, or from starting at the output F itself instead of at E:
//! ∂F/∂x says how the prediction would move if one feature moved a little. That is a local
//! answer, though. A feature far from its usual value may matter a lot while the prediction is
//! already saturated around it (a softmax at 0.99 hardly moves), so its gradient there is ~0.
//!
//! Integrated gradients ask instead how F changed on the whole way from a baseline x′ (here every
//! feature at its training mean) to the row x: IGᵢ = (xᵢ − x′ᵢ)·∫₀¹ ∂F/∂xᵢ(x′ + α(x − x′)) dα. By the
//! fundamental theorem of calculus along the path, the attributions add up to F(x) − F(x′) — the
//! whole change is shared out, nothing lost or made up. The integral is a sum over steps; the
//! "gap" is what the sum misses, and it shrinks as the steps grow. `mlp explain --attributions`
//! prints the same for a model file.
//!
//! Run: `cargo run --release --example 09_why`

use mlp::attribution::{input_gradient, integrated_gradients};
use mlp::data::{builtin, Standardizer};
use mlp::{fit, Activation, Matrix, NetworkSpec, TrainConfig};

fn main() -> mlp::Result<()> {
    let mut iris = builtin::load::<f64>("iris")?;
    Standardizer::fit(&iris.x).apply(&mut iris.x);
    let mut net = NetworkSpec::new(4)
        .dense(16, Activation::Tanh)
        .dense(3, Activation::Softmax)
        .build::<f64>(1);
    let config = TrainConfig {
        epochs: 60,
        learning_rate: 0.01,
        ..Default::default()
    };
    fit(&mut net, &iris, &config)?;

    // One flower, standardised: its distance from the mean in standard deviations.
    let row = 120;
    let x = iris.x.row(row).to_vec();
    let p = net.predict(&Matrix::from_vec(1, 4, x.clone()));
    let c = (0..3).fold(0, |b, j| if p[(0, j)] > p[(0, b)] { j } else { b });
    println!(
        "flower {row}: p = {:.4} for class {} ({})",
        p[(0, c)],
        c,
        iris.class_names[c]
    );

    // ∂p/∂x by the chain rule, and the first input's by a finite difference to check it.
    let g = input_gradient(&net, &Matrix::from_vec(1, 4, x.clone()), c);
    let h = 1e-6;
    let nudged = |d: f64| {
        let mut v = x.clone();
        v[0] += d;
        net.predict(&Matrix::from_vec(1, 4, v))[(0, c)]
    };
    println!(
        "∂p/∂x = {:?}\n  (x₀ by finite difference: {:.6}, by the chain rule: {:.6})",
        g.row(0)
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>(),
        (nudged(h) - nudged(-h)) / (2.0 * h),
        g[(0, 0)]
    );

    // Gradient × input, the local guess, does not add up to the change; integrated gradients do.
    let baseline = [0.0; 4];
    let local: f64 = (0..4).map(|i| g[(0, i)] * x[i]).sum();
    let coarse = integrated_gradients(&net, &x, &baseline, c, 4);
    println!(
        "\np(x) − p(mean) = {:.4}; Σ gradient × input = {local:.4}",
        coarse.value - coarse.baseline_value
    );
    for steps in [4, 16, 64, 256] {
        let a = integrated_gradients(&net, &x, &baseline, c, steps);
        println!(
            "integrated gradients, {steps:>3} steps: Σ IG = {:.6}, gap {:+.1e}",
            a.inputs.iter().sum::<f64>(),
            a.gap()
        );
    }
    let a = integrated_gradients(&net, &x, &baseline, c, 256);
    println!("\nwhich measurements the prediction owes to:");
    for (name, (xi, ig)) in iris.feature_names.iter().zip(x.iter().zip(&a.inputs)) {
        println!("  {name:<18} {xi:+.2} std from the mean   {ig:+.4}");
    }
    Ok(())
}
