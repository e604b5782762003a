//! The seed's worked example: 2 inputs, 3 sigmoid hidden neurons, 1 linear output, no bias,
//! E = (d − y)²/2, one SGD step with learning rate α.
//!
//! The seed derives, for this network,
//!   ΔW²ᵢ  = α(d − y)·hᵢ                     (hidden → output)
//!   ΔW¹ᵢⱼ = α(d − y)·W²ⱼ·Φ'ⱼ·xᵢ             (input → hidden, by the chain rule)
//! with Φ the logistic sigmoid and Φ'ⱼ = hⱼ(1 − hⱼ). The test evaluates these closed forms with plain
//! scalar arithmetic, sharing no code with the engine, and requires the engine's update to equal
//! them to 1e-12 in f64.

// The loops index by i, j, k, m because those are the seed's subscripts.
#![allow(clippy::needless_range_loop)]

use mlp::{
    Activation, Bias, Control, Dataset, Loss, Matrix, NetworkSpec, Optimizer, TrainConfig, Trainer,
};

const X: [f64; 2] = [0.6, -0.4];
const W1: [[f64; 3]; 2] = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]];
const W2: [f64; 3] = [0.7, -0.8, 0.9];
const D: f64 = 0.25;
const ALPHA: f64 = 0.5;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The seed's network with the example's weights.
fn seed_network() -> mlp::Network<f64> {
    let mut net = NetworkSpec::new(2)
        .dense(3, Activation::Sigmoid)
        .dense(1, Activation::Identity)
        .bias(Bias::None)
        .build::<f64>(0);
    // Parameter layout: W¹ row-major (W¹[i][j] from input i to hidden j), then W² (3×1).
    net.params = W1.iter().flatten().chain(W2.iter()).copied().collect();
    net
}

#[test]
fn one_sgd_step_equals_the_seeds_closed_forms() {
    // The closed forms, by hand.
    let h: Vec<f64> = (0..3)
        .map(|j| sigmoid(X[0] * W1[0][j] + X[1] * W1[1][j]))
        .collect();
    let y: f64 = (0..3).map(|j| h[j] * W2[j]).sum();
    let dw2: Vec<f64> = (0..3).map(|i| ALPHA * (D - y) * h[i]).collect();
    let dw1: Vec<Vec<f64>> = (0..2)
        .map(|i| {
            (0..3)
                .map(|j| ALPHA * (D - y) * W2[j] * h[j] * (1.0 - h[j]) * X[i])
                .collect()
        })
        .collect();

    // The same numbers as computed independently (Python, math.exp) for this example, so that
    // a mistake shared by the closed forms above and the engine would still show:
    //   h = [0.47502081252106, 0.42067574785125056, 0.6034832498647263], y = 0.5391088953619952
    //   ΔW² = [-0.06866637119096054, -0.06081055038342815, -0.087236187868929]
    //   ΔW¹ = [[-0.015140334617082259, 0.01690993277934401, -0.018678929242308073],
    //          [0.010093556411388174, -0.011273288519562673, 0.01245261949487205]]
    assert!((y - 0.5391088953619952).abs() < 1e-15);
    assert!((dw2[2] - -0.087236187868929).abs() < 1e-15);
    assert!((dw1[1][2] - 0.01245261949487205).abs() < 1e-15);

    // The engine: one epoch of one row, batch 1, plain SGD, the seed's loss.
    let net = seed_network();
    let data = Dataset::regression(Matrix::from_rows(&[&X]), Matrix::from_rows(&[&[D]]));
    let config = TrainConfig {
        epochs: 1,
        batch_size: 1,
        learning_rate: ALPHA,
        optimizer: Optimizer::Sgd,
        loss: Some(Loss::HalfSquaredError),
        threads: 1,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net.clone(), &config).unwrap();
    let mut seen_loss = f64::NAN;
    trainer
        .fit(&data, None, &mut |p| {
            if let mlp::Progress::Batch { loss, .. } = p {
                seen_loss = loss;
            }
            Control::Continue
        })
        .unwrap();
    assert!(
        (seen_loss - (D - y).powi(2) / 2.0).abs() < 1e-15,
        "E = (d − y)²/2"
    );
    let after = trainer.into_network();
    for i in 0..2 {
        for j in 0..3 {
            let delta = after.params[i * 3 + j] - net.params[i * 3 + j];
            assert!(
                (delta - dw1[i][j]).abs() < 1e-12,
                "ΔW¹[{i}][{j}]: engine {delta}, seed {}",
                dw1[i][j]
            );
        }
    }
    for i in 0..3 {
        let delta = after.params[6 + i] - net.params[6 + i];
        assert!(
            (delta - dw2[i]).abs() < 1e-12,
            "ΔW²[{i}]: engine {delta}, seed {}",
            dw2[i]
        );
    }
}
