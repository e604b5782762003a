//! Lesson 4 — MNIST from its IDX files: 60 000 handwritten digits, 784 pixels each.
//!
//! Run: `cargo run --release --example 04_mnist -- PATH/TO/mnist` (a folder holding MNIST's four
//! files, gzip'd or not; default `../shared/data/mnist`).

use std::path::PathBuf;

use mlp::data::idx::read_mnist;
use mlp::{
    fit_with_progress, metrics, Activation, Control, NetworkSpec, Optimizer, Progress, TrainConfig,
};

fn main() -> mlp::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data/mnist".into()),
    );
    let (train, test) = read_mnist::<f32>(&dir)?;
    println!(
        "{} training and {} test images of {} pixels",
        train.len(),
        test.len(),
        train.x.cols
    );
    let mut net = NetworkSpec::new(784)
        .dense(128, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build::<f32>(0);
    let config = TrainConfig {
        epochs: 5,
        batch_size: 64,
        learning_rate: 0.1,
        optimizer: Optimizer::Sgd,
        ..Default::default()
    };
    fit_with_progress(&mut net, &train, &config, &mut |p| {
        if let Progress::Epoch(e) = p {
            println!(
                "epoch {}  loss {:.4}  accuracy {:.4}  {:.2} s",
                e.epoch, e.train_loss, e.train_metric, e.seconds
            );
        }
        Control::Continue
    })?;
    let acc = metrics::accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
    println!("test accuracy {acc:.4}");
    Ok(())
}
