//! Lesson 1 — the seed's network, one step, by hand and by the engine.
//!
//! 2 inputs, 3 sigmoid hidden neurons, 1 linear output, no bias, E = (d − y)²/2. We do one forward
//! pass, print every quantity in the seed's notation, take one SGD step, and compare the engine's
//! update with the seed's closed forms ΔW²ᵢ = α(d − y)hᵢ and ΔW¹ᵢⱼ = α(d − y)W²ⱼΦ'ⱼxᵢ.
//!
//! Run: `cargo run --example 01_seed_by_hand`

// The loops index by i and j because those are the seed's subscripts.
#![allow(clippy::needless_range_loop)]

use mlp::{Activation, Bias, Loss, Matrix, NetworkSpec, Optimizer, Par, TargetsRef, Workspace};

fn main() {
    let x = [0.6, -0.4];
    let d = 0.25;
    let alpha = 0.5;
    let mut net = NetworkSpec::new(2)
        .dense(3, Activation::Sigmoid)
        .dense(1, Activation::Identity)
        .bias(Bias::None)
        .build::<f64>(0);
    // W¹ (2×3, W¹[i][j] from input i to hidden j), then W² (3×1).
    net.params = vec![0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, -0.8, 0.9];

    // Forward and backward, by the engine.
    let xm = Matrix::from_rows(&[&x]);
    let mut ws = Workspace::new(&net, 1);
    let e = net.loss_and_gradient(
        &xm,
        TargetsRef::Values(&[d]),
        &Loss::HalfSquaredError,
        &mut ws,
        Par::Seq,
    );
    let (hp, h) = (&ws.z[0], &ws.a[0]);
    let y = ws.output()[0];
    println!("x   = {x:?}");
    println!("h'  = x·W¹   = {hp:.6?}");
    println!("h   = Φ(h')  = {h:.6?}");
    println!("y   = h·W²   = {y:.6}");
    println!("E   = (d − y)²/2 = ({d} − {y:.6})²/2 = {e:.6}");

    // The seed's closed forms.
    let w2 = &net.params[6..9];
    for i in 0..3 {
        let seed = alpha * (d - y) * h[i];
        let engine = -alpha * ws.grads[6 + i];
        println!("ΔW²[{i}]    = α(d − y)h_{i}          = {seed:+.9}   engine {engine:+.9}");
    }
    for i in 0..2 {
        for j in 0..3 {
            let seed = alpha * (d - y) * w2[j] * h[j] * (1.0 - h[j]) * x[i];
            let engine = -alpha * ws.grads[i * 3 + j];
            println!(
                "ΔW¹[{i}][{j}] = α(d − y)W²_{j}Φ'_{j}x_{i} = {seed:+.9}   engine {engine:+.9}"
            );
        }
    }

    // The update W_new = W_prev + α·(−∂E/∂W), and the error after it.
    let mut state = Optimizer::Sgd.state::<f64>(net.param_count());
    let mut grads = ws.grads.clone();
    Optimizer::Sgd.step(&mut net.params, &mut grads, &mut state, alpha, 0.0, &[]);
    let y_after = net.predict(&xm)[(0, 0)];
    println!(
        "after one step: y = {y_after:.6}, E = {:.6} (was {e:.6})",
        (d - y_after).powi(2) / 2.0
    );
}
