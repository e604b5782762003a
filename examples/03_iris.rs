//! Lesson 3 — iris: a real tabular data set, a held-out test split, standardised features,
//! validation with early stopping, and the metrics a practitioner reads.
//!
//! Run: `cargo run --release --example 03_iris`

use mlp::data::{builtin, Standardizer};
use mlp::metrics::{accuracy, ConfusionMatrix};
use mlp::{fit, Activation, NetworkSpec, TrainConfig};

fn main() -> mlp::Result<()> {
    let data = builtin::load::<f32>("iris")?;
    let (mut train, mut test) = data.split(0.2, 42); // stratified
    let scaler = Standardizer::fit(&train.x); // statistics of the training rows only
    scaler.apply(&mut train.x);
    scaler.apply(&mut test.x);

    let mut net = NetworkSpec::new(4)
        .dense(16, Activation::Relu)
        .dense(3, Activation::Softmax)
        .build::<f32>(42);
    let config = TrainConfig {
        epochs: 300,
        batch_size: 16,
        learning_rate: 0.01,
        validation_split: 0.2,
        early_stopping: Some(30),
        seed: 42,
        ..Default::default()
    };
    let history = fit(&mut net, &train, &config)?;
    println!(
        "trained {} epochs, kept epoch {:?} (early stop: {})",
        history.epochs.len(),
        history.best_epoch,
        history.stopped_early
    );
    let predicted = net.predict_classes(&test.x);
    let truth = test.classes().unwrap();
    println!("test accuracy {:.3}", accuracy(&predicted, truth, None));
    let cm = ConfusionMatrix::new(&predicted, truth, 3, None);
    for (c, scores) in cm.per_class().iter().enumerate() {
        println!(
            "{:<3} precision {:.3} recall {:.3} f1 {:.3}  row {:?}",
            test.class_names[c], scores.precision, scores.recall, scores.f1, cm.counts[c]
        );
    }
    Ok(())
}
