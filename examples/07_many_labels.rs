//! Lesson 7 — many labels at once: one sigmoid per label, not one softmax over them.
//!
//! Each handwritten digit gets three yes/no labels at once: "even", "five or more", "prime" (7 is
//! odd, ≥ 5 and prime: three answers, two of them yes). A softmax output makes its outputs
//! compete — they sum to 1, so at most one can pass 0.5 and a row with two labels is always
//! wrong. One sigmoid per label asks each question on its own: yⱼ = σ(zⱼ), with the binary
//! cross-entropy E = −Σⱼ [dⱼ ln yⱼ + (1 − dⱼ) ln(1 − yⱼ)] / (B·m), whose chain rule through σ
//! gives the output error δⱼ = ∂E/∂zⱼ = (yⱼ − dⱼ)/(B·m): the seed's δ = y − d again, each label
//! apart. The rest of the backward pass (Equation A through the hidden layer) is unchanged.
//!
//! Run: `cargo run --release --example 07_many_labels`

use mlp::data::{builtin, Standardizer};
use mlp::metrics::{hamming_loss, label_scores, subset_accuracy};
use mlp::{fit, Activation, Dataset, Loss, Matrix, NetworkSpec, Targets, TrainConfig};

const LABELS: [&str; 3] = ["even", "five or more", "prime"];

/// The digit's three labels, 0 or 1 each.
fn labels_of(digit: usize) -> [f32; 3] {
    [
        digit.is_multiple_of(2),
        digit >= 5,
        [2, 3, 5, 7].contains(&digit),
    ]
    .map(|b| f32::from(u8::from(b)))
}

/// The same rows with the three labels as targets.
fn relabelled(d: &Dataset<f32>) -> mlp::Result<Dataset<f32>> {
    let digits = d.classes().expect("digits are classes");
    let y = digits.iter().flat_map(|&c| labels_of(c)).collect();
    let mut out = Dataset::multi_label(d.x.clone(), Matrix::from_vec(d.len(), 3, y))?;
    out.class_names = LABELS.map(String::from).to_vec();
    Ok(out)
}

fn main() -> mlp::Result<()> {
    let (mut train, mut test) = builtin::load::<f32>("digits")?.split(0.2, 3);
    let s = Standardizer::fit(&train.x);
    s.apply(&mut train.x);
    s.apply(&mut test.x);
    let (train, test) = (relabelled(&train)?, relabelled(&test)?);
    let Targets::Labels(truth) = &test.y else {
        unreachable!("relabelled")
    };
    // Rows with two or three labels: the ones a softmax cannot get right.
    let several: Vec<usize> = (0..test.len())
        .filter(|&r| truth.row(r).iter().sum::<f32>() >= 2.0)
        .collect();
    println!(
        "{} training digits, {} test digits ({} with two or three labels)\n",
        train.len(),
        test.len(),
        several.len()
    );
    println!(
        "{:<28} {:>16} {:>13} {:>22}",
        "output layer", "subset accuracy", "Hamming loss", "rows with ≥ 2 labels"
    );
    let config = TrainConfig {
        epochs: 30,
        batch_size: 32,
        learning_rate: 2e-3,
        ..Default::default()
    };
    for (name, output, loss) in [
        (
            "3 sigmoids, binary CE",
            Activation::Sigmoid,
            Loss::BinaryCrossEntropy,
        ),
        (
            "softmax over 3, CE",
            Activation::Softmax,
            Loss::CrossEntropy,
        ),
    ] {
        let mut net = NetworkSpec::new(64)
            .dense(64, Activation::Relu)
            .dense(3, output.clone())
            .build::<f32>(3);
        let config = TrainConfig {
            loss: Some(loss),
            ..config.clone()
        };
        fit(&mut net, &train, &config)?;
        let probs = net.predict(&test.x);
        let right_several = several
            .iter()
            .filter(|&&r| {
                probs
                    .row(r)
                    .iter()
                    .zip(truth.row(r))
                    .all(|(&p, &d)| (p > 0.5) == (d > 0.5))
            })
            .count();
        println!(
            "{name:<28} {:>16.4} {:>13.4} {:>15} of {:>3}",
            subset_accuracy(&probs, truth, None),
            hamming_loss(&probs, truth, None),
            right_several,
            several.len()
        );
        if output == Activation::Sigmoid {
            for (label, s) in LABELS.iter().zip(label_scores(&probs, truth, None)) {
                println!(
                    "    {label:<14} precision {:.3}  recall {:.3}  F1 {:.3}",
                    s.precision, s.recall, s.f1
                );
            }
        }
    }
    println!("\nWith the command line: mlp train --data your.csv --target even,five_or_more,prime");
    Ok(())
}
