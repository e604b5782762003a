//! The seed's Equation A: with more than one path from a weight to the output, the derivative is
//! the sum over every path. For a network with two hidden layers, the test enumerates every path
//! from one first-layer weight W¹ᵢⱼ through each second-layer neuron k to each output m,
//!
//!   ∂E/∂W¹ᵢⱼ = Σₘ Σₖ (∂E/∂yₘ)·(∂yₘ/∂h²ₖ)·(∂h²ₖ/∂h¹ⱼ)·(∂h¹ⱼ/∂W¹ᵢⱼ)
//!            = Σₘ Σₖ (yₘ − dₘ)·W³ₖₘ·Φ₂'(h²'ₖ)·W²ⱼₖ·Φ₁'(h¹'ⱼ)·xᵢ
//!
//! with scalar loops over a forward pass computed here by hand, and checks the sum equals the
//! engine's gradient (which forms it as δ·Wᵀ products).

// The loops index by i, j, k, m because those are the seed's subscripts.
#![allow(clippy::needless_range_loop)]

use mlp::{Activation, Bias, Loss, Matrix, NetworkSpec, Par, TargetsRef, Workspace};

#[test]
fn the_gradient_is_the_sum_over_every_path() {
    let (n_in, n1, n2, n_out) = (3, 4, 3, 2);
    let net = NetworkSpec::new(n_in)
        .dense(n1, Activation::Tanh)
        .dense(n2, Activation::Sigmoid)
        .dense(n_out, Activation::Identity)
        .bias(Bias::Constant(0.1))
        .build::<f64>(11);
    let x = [0.3, -1.2, 0.8];
    let d = [0.5, -0.25];
    let p = &net.params;
    let l = &net.layers;
    let w = |k: usize, i: usize, j: usize| p[l[k].weight_offset + i * l[k].outputs + j];
    let b = |k: usize, j: usize| p[l[k].bias_offset.unwrap() + j];

    // Forward pass by hand.
    let z1: Vec<f64> = (0..n1)
        .map(|j| (0..n_in).map(|i| x[i] * w(0, i, j)).sum::<f64>() + b(0, j))
        .collect();
    let h1: Vec<f64> = z1.iter().map(|z| z.tanh()).collect();
    let z2: Vec<f64> = (0..n2)
        .map(|k| (0..n1).map(|j| h1[j] * w(1, j, k)).sum::<f64>() + b(1, k))
        .collect();
    let h2: Vec<f64> = z2.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect();
    let y: Vec<f64> = (0..n_out)
        .map(|m| (0..n2).map(|k| h2[k] * w(2, k, m)).sum::<f64>() + b(2, m))
        .collect();

    // The engine's gradient of E = Σₘ (dₘ − yₘ)²/2 for this one row.
    let xm = Matrix::from_rows(&[&x]);
    let mut ws = Workspace::new(&net, 1);
    net.loss_and_gradient(
        &xm,
        TargetsRef::Values(&d),
        &Loss::HalfSquaredError,
        &mut ws,
        Par::Seq,
    );
    for (m, ym) in y.iter().enumerate() {
        assert!(
            (ws.output()[m] - ym).abs() < 1e-14,
            "forward pass disagrees"
        );
    }

    let mut paths_checked = 0;
    for i in 0..n_in {
        for j in 0..n1 {
            let mut sum = 0.0;
            for m in 0..n_out {
                for k in 0..n2 {
                    let de_dy = y[m] - d[m];
                    let dy_dh2 = w(2, k, m);
                    let dh2_dh1 = h2[k] * (1.0 - h2[k]) * w(1, j, k);
                    let dh1_dw = (1.0 - h1[j] * h1[j]) * x[i];
                    sum += de_dy * dy_dh2 * dh2_dh1 * dh1_dw;
                    paths_checked += 1;
                }
            }
            let engine = ws.grads[l[0].weight_offset + i * n1 + j];
            assert!(
                (engine - sum).abs() <= 1e-13 * sum.abs().max(1e-3),
                "∂E/∂W¹[{i}][{j}]: engine {engine}, sum over {} paths {sum}",
                n_out * n2
            );
        }
    }
    assert_eq!(paths_checked, n_in * n1 * n2 * n_out);
}
