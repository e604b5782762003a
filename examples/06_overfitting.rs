//! Lesson 6 — overfitting, and three ways to hold it back: L2 weight decay, dropout, early stopping.
//!
//! A network with 33 802 parameters trained on 300 handwritten digits can learn every one of them
//! by heart: its training loss falls to nearly 0 while the 1 497 digits it never saw are classified
//! worse than they could be. Each remedy changes one thing in the seed's update
//! W_new = W_prev + α·(−∂E/∂W):
//! - weight decay adds λ·W to ∂E/∂W (AdamW: shrinks W by α·λ apart from the gradient), so large
//!   weights, which fit noise, cost something;
//! - dropout zeroes each hidden output with probability p in every batch (the rest scaled by
//!   1/(1 − p)), so ∂E/∂W comes from a different thinned network each step and no neuron can rely
//!   on another being there;
//! - early stopping watches a validation split and keeps the weights of its best epoch.
//!
//! Run: `cargo run --release --example 06_overfitting`

use mlp::data::builtin;
use mlp::metrics::accuracy;
use mlp::{
    fit, Activation, AdamParams, Dataset, Dropout, Loss, NetworkSpec, Optimizer, TrainConfig,
};

fn main() -> mlp::Result<()> {
    let digits = builtin::load::<f32>("digits")?;
    let (unseen, small) = digits.split(300.0 / digits.len() as f64, 1); // stratified, seeded
    println!(
        "{} training rows, {} unseen; network 64-512-10\n",
        small.len(),
        unseen.len()
    );
    println!(
        "{:<24} {:>10} {:>12} {:>12}",
        "", "train loss", "unseen loss", "unseen acc"
    );
    let plain = TrainConfig {
        epochs: 100,
        batch_size: 32,
        ..Default::default()
    };
    let runs = [
        ("nothing", plain.clone()),
        (
            "weight decay λ = 0.1",
            TrainConfig {
                optimizer: Optimizer::AdamW(AdamParams::default()),
                weight_decay: 0.1,
                ..plain.clone()
            },
        ),
        (
            "dropout p = 0.5",
            TrainConfig {
                dropout: Dropout::every(0.5),
                ..plain.clone()
            },
        ),
        (
            "early stopping (10)",
            TrainConfig {
                validation_split: 0.2,
                early_stopping: Some(10),
                ..plain.clone()
            },
        ),
    ];
    for (name, config) in runs {
        let (train_loss, unseen_loss, acc) = run(&small, &unseen, &config)?;
        println!("{name:<24} {train_loss:>10.4} {unseen_loss:>12.4} {acc:>12.4}");
    }
    println!(
        "\nThe training loss says how well the rows were memorised; only the unseen columns say"
    );
    println!(
        "how well the network learnt digits. Early stopping spends a fifth of the rows on its"
    );
    println!("validation split: on 300 rows, weigh what that costs against what it saves.");
    Ok(())
}

/// Trains a fresh network (the same initial weights every time) and measures it.
fn run(
    train: &Dataset<f32>,
    unseen: &Dataset<f32>,
    config: &TrainConfig,
) -> mlp::Result<(f64, f64, f64)> {
    let mut net = NetworkSpec::new(64)
        .dense(512, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build::<f32>(9);
    fit(&mut net, train, config)?;
    let ce = Loss::CrossEntropy;
    Ok((
        net.mean_loss(&train.x, train.y.as_ref(), &ce, None),
        net.mean_loss(&unseen.x, unseen.y.as_ref(), &ce, None),
        accuracy(
            &net.predict_classes(&unseen.x),
            unseen.classes().unwrap(),
            None,
        ),
    ))
}
