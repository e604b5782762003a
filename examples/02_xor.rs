//! Lesson 2 — XOR: the classic problem a single layer cannot solve and one hidden layer can.
//!
//! Run: `cargo run --example 02_xor`

use mlp::{fit, Activation, Dataset, Matrix, NetworkSpec, TrainConfig};

fn main() -> mlp::Result<()> {
    let x = Matrix::<f32>::from_rows(&[&[0.0, 0.0], &[0.0, 1.0], &[1.0, 0.0], &[1.0, 1.0]]);
    let data = Dataset::classification(x.clone(), vec![0, 1, 1, 0]);
    let mut net = NetworkSpec::new(2)
        .dense(8, Activation::Tanh)
        .dense(2, Activation::Softmax)
        .build::<f32>(1);
    let config = TrainConfig {
        epochs: 300,
        batch_size: 4,
        learning_rate: 0.05,
        ..Default::default()
    };
    let history = fit(&mut net, &data, &config)?;
    for e in history.epochs.iter().step_by(50) {
        println!(
            "epoch {:>3}  loss {:.4}  accuracy {:.2}",
            e.epoch, e.train_loss, e.train_metric
        );
    }
    let p = net.predict(&x);
    for (i, class) in net.predict_classes(&x).iter().enumerate() {
        println!("{:?} → class {class} (p = {:.3})", x.row(i), p[(i, *class)]);
    }
    Ok(())
}
