//! Lesson 11 — batch normalisation: each hidden layer's h' rescaled over the batch, so that the
//! step size α means the same thing in every layer.
//!
//! In a deep stack of sigmoids the pre-activations h' drift as the weights below them move: some
//! columns sit where Φ' ≈ 0 and learn nothing, others swing. Batch normalisation puts a layer
//! between x·W + b and Φ that, column by column, subtracts the batch's mean and divides by its
//! standard deviation, then scales and shifts by learnt γ and β:
//!
//! ```text
//! u = γ·(h' − μ_batch)/√(σ²_batch + ε) + β,   h = Φ(u)
//! ```
//!
//! Its backward pass is the chain rule through μ and σ² as well, since every row's h' moves them
//! (`src/batch_norm.rs`). At prediction, μ and σ² are running averages kept during training.
//!
//! Layer normalisation (`src/layer_norm.rs`) takes μ and σ² along the row instead, over the
//! layer's units: each row is normalised by itself, so training and prediction are the same map,
//! nothing is kept, and a batch of one row (the seed's online rule) is as good as any.
//!
//! Here a 64-32-32-32-10 network of sigmoids learns the digits by plain SGD (the seed's rule, in
//! batches of 32) at three learning rates: plain, with batch normalisation, and with layer
//! normalisation. The table is measured when you run it: nothing below is written in advance.
//!
//! Run: `cargo run --release --example 11_batch_norm`

use mlp::data::{builtin, Standardizer};
use mlp::metrics::accuracy;
use mlp::{fit, Activation, BatchNorm, LayerNorm, NetworkSpec, Optimizer, TrainConfig};

/// How the hidden layers are normalised in one column of the table.
#[derive(Clone, Copy)]
enum Norm {
    Plain,
    Batch,
    Layer,
}

fn main() -> mlp::Result<()> {
    let digits = builtin::load::<f32>("digits")?;
    let (mut train, mut test) = digits.split(0.25, 3); // stratified, seeded
    let scaler = Standardizer::fit(&train.x); // statistics of the training rows only
    scaler.apply(&mut train.x);
    scaler.apply(&mut test.x);
    println!(
        "{} training rows, {} test; network 64-32-32-32-10, sigmoid, SGD, 20 epochs\n",
        train.len(),
        test.len()
    );
    println!(
        "{:>6}  {:>22}  {:>22}  {:>22}",
        "α", "test acc: plain", "with batch norm", "with layer norm"
    );
    for lr in [0.01, 0.1, 1.0] {
        let mut row = format!("{lr:>6}");
        for norm in [Norm::Plain, Norm::Batch, Norm::Layer] {
            let mut spec = NetworkSpec::new(64);
            match norm {
                Norm::Plain => {}
                Norm::Batch => spec = spec.batch_norm(BatchNorm::default()),
                Norm::Layer => spec = spec.layer_norm(LayerNorm::default()),
            }
            for _ in 0..3 {
                spec = spec.dense(32, Activation::Sigmoid);
            }
            let mut net = spec.dense(10, Activation::Softmax).build::<f32>(1);
            let config = TrainConfig {
                epochs: 20,
                batch_size: 32,
                learning_rate: lr,
                optimizer: Optimizer::Sgd,
                ..Default::default()
            };
            let acc = match fit(&mut net, &train, &config) {
                Ok(_) => {
                    let predicted = net.predict_classes(&test.x);
                    format!("{:.4}", accuracy(&predicted, test.classes().unwrap(), None))
                }
                Err(e) => format!("stopped: {e}"),
            };
            row += &format!("  {acc:>22}");
        }
        println!("{row}");
    }
    println!(
        "\nThe running statistics the batch-normalised network predicts with are in its model file\n\
         as PyTorch's BatchNorm1d keeps them: `mlp train --batch-norm`, then `mlp info`; a\n\
         layer-normalised one (`--layer-norm`) keeps only γ and β, as PyTorch's LayerNorm."
    );
    Ok(())
}
