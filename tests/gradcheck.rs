//! Finite-difference gradient checks (f64, central differences) of every activation × every loss ×
//! with and without bias × 1, 2 and 3 hidden layers, at odd widths (1, 3, 17); and of dropout after
//! every hidden activation, one rate or one per layer; of batch normalisation with the batch's
//! statistics (training) and the running ones (inference); and of class- and label-weighted
//! losses. Relative error < 1e-6.

use mlp::{
    gradient_check, gradient_check_with_dropout, Activation, BatchNorm, Bias, CustomActivation,
    CustomLoss, Draw, Dropout, GradCheckReport, LayerNorm, Loss, Matrix, NetworkSpec, Rng,
    TargetsRef,
};

#[derive(Debug)]
/// Swish (SiLU), z·σ(z): an activation the crate does not have, defined by the user.
struct Swish;
impl CustomActivation for Swish {
    fn name(&self) -> &str {
        "swish"
    }
    fn value(&self, z: f64) -> f64 {
        z / (1.0 + (-z).exp())
    }
    fn derivative(&self, z: f64) -> f64 {
        let s = 1.0 / (1.0 + (-z).exp());
        s * (1.0 + z * (1.0 - s))
    }
}

#[derive(Debug)]
struct LogCosh;
impl CustomLoss for LogCosh {
    fn name(&self) -> &str {
        "log_cosh"
    }
    fn value(&self, y: f64, d: f64) -> f64 {
        (y - d).cosh().ln()
    }
    fn derivative(&self, y: f64, d: f64) -> f64 {
        (y - d).tanh()
    }
}

const TOLERANCE: f64 = 1e-6;
const ROWS: usize = 4;
const FEATURES: usize = 5;

fn hidden_activations() -> Vec<Activation> {
    let mut v: Vec<Activation> = Activation::builtin()
        .into_iter()
        .filter(|a| *a != Activation::Softmax)
        .collect();
    v.push(Activation::custom(Swish));
    v
}

fn losses() -> Vec<Loss> {
    let mut v = Loss::builtin();
    v.push(Loss::custom(LogCosh));
    v
}

/// The output activations each loss is checked with.
fn outputs_for(loss: &Loss) -> Vec<Activation> {
    match loss {
        Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => vec![Activation::Softmax],
        Loss::BinaryCrossEntropy => vec![Activation::Sigmoid],
        _ => Activation::builtin(),
    }
}

fn widths(depth: usize) -> Vec<usize> {
    match depth {
        1 => vec![17],
        2 => vec![3, 1],
        _ => vec![17, 3, 17],
    }
}

/// Every layer's worst parameter within [`TOLERANCE`], or the case, the parameter and both values.
fn assert_within_tolerance(report: &GradCheckReport, case: &str) {
    for l in &report.layers {
        assert!(
            l.worst_relative_error < TOLERANCE,
            "{case}: layer {} {}: backprop {} vs finite difference {} (relative error {:.2e})",
            l.layer,
            l.worst_parameter,
            l.analytic,
            l.numeric,
            l.worst_relative_error
        );
    }
}

#[test]
fn every_activation_loss_bias_and_depth() {
    let mut rng = Rng::new(2024);
    let x = Matrix::<f64>::from_vec(
        ROWS,
        FEATURES,
        (0..ROWS * FEATURES).map(|_| rng.normal()).collect(),
    );
    let classes = [0usize, 2, 1, 2];
    let mut checked = 0;
    let mut worst = (0.0, String::new());
    for hidden in hidden_activations() {
        for loss in losses() {
            for output in outputs_for(&loss) {
                for bias in [Bias::Constant(0.1), Bias::None] {
                    for depth in 1..=3 {
                        // BCE is checked with one output (binary) and with three (multi-label).
                        let outs: &[usize] = match loss {
                            Loss::BinaryCrossEntropy if depth == 2 => &[1],
                            _ => &[3],
                        };
                        let m = outs[0];
                        let mut spec = NetworkSpec::new(FEATURES).bias(bias);
                        for w in widths(depth) {
                            spec = spec.dense(w, hidden.clone());
                        }
                        let net = spec
                            .dense(m, output.clone())
                            .build::<f64>(checked as u64 + 1);
                        let values: Vec<f64> = (0..ROWS * m)
                            .map(|_| match loss {
                                Loss::BinaryCrossEntropy => (rng.uniform() > 0.5) as u8 as f64,
                                _ => rng.normal(),
                            })
                            .collect();
                        let targets = match loss {
                            Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => {
                                TargetsRef::Classes(&classes)
                            }
                            _ => TargetsRef::Values(&values),
                        };
                        let report = gradient_check(&net, &x, targets, &loss);
                        let case = format!("hidden {hidden}, output {output}, loss {loss}, {bias:?}, depth {depth}");
                        assert_eq!(report.layers.len(), depth + 1, "{case}");
                        assert_within_tolerance(&report, &case);
                        if report.worst() > worst.0 {
                            worst = (report.worst(), case);
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    // 11 hidden activations × (5 element-wise losses × 11 outputs + 3 cross-entropies: binary,
    // softmax, softmax with label smoothing 0.1) × 2 × 3
    assert_eq!(checked, 11 * (5 * 11 + 3) * 2 * 3);
    eprintln!(
        "{checked} networks checked; worst relative error {:.2e} ({})",
        worst.0, worst.1
    );
}

#[test]
fn dropout_after_every_hidden_activation() {
    // With a batch's masks fixed, E is a function of the weights like any other; the differences
    // check ∂E/∂h = ∂E/∂h̃ ⊙ m and the next layer's ∂E/∂W = h̃ᵀ·δ. More rows than elsewhere, so
    // that every mask keeps some neurons and drops others.
    const ROWS: usize = 16;
    let mut rng = Rng::new(7);
    let x = Matrix::<f64>::from_vec(
        ROWS,
        FEATURES,
        (0..ROWS * FEATURES).map(|_| rng.normal()).collect(),
    );
    let classes: Vec<usize> = (0..ROWS).map(|i| i % 3).collect();
    let values: Vec<f64> = (0..ROWS * 3).map(|_| rng.normal()).collect();
    let draw = Draw {
        seed: 3,
        epoch: 2,
        batch: 5,
    };
    let mut checked = 0;
    for hidden in hidden_activations() {
        for depth in 1..=3 {
            let widths = [17, 9, 17];
            for dropout in [
                Dropout::every(0.5),
                Dropout::per_layer(vec![0.3, 0.0, 0.6][..depth].to_vec()),
            ] {
                for (loss, output) in [
                    (Loss::CrossEntropy, Activation::Softmax),
                    (Loss::MeanSquaredError, Activation::Identity),
                ] {
                    let mut spec = NetworkSpec::new(FEATURES).bias(Bias::Constant(0.1));
                    for &w in &widths[..depth] {
                        spec = spec.dense(w, hidden.clone());
                    }
                    let net = spec.dense(3, output).build::<f64>(checked + 1);
                    let targets = match loss {
                        Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => {
                            TargetsRef::Classes(&classes)
                        }
                        _ => TargetsRef::Values(&values),
                    };
                    let case = format!("hidden {hidden}, depth {depth}, {dropout:?}, loss {loss}");
                    let plain = gradient_check(&net, &x, targets, &loss);
                    let report =
                        gradient_check_with_dropout(&net, &x, targets, &loss, &dropout, draw);
                    // The masks took effect: the training loss is not the plain one.
                    assert_ne!(report.loss, plain.loss, "{case}");
                    assert_within_tolerance(&report, &case);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 11 * 3 * 2 * 2);
}

/// Batch normalisation between every hidden product and its activation. In training (the batch's
/// μ and σ², which depend on every row's h') E is a function of the parameters through the
/// statistics too, and the differences check the backward pass's two sums over the batch; at
/// inference (running statistics, set away from their start of 0 and 1) the affine map per column.
/// γ and β are drawn away from 1 and 0 so that neither hides a mistake; with dropout as well, so
/// that normalisation and masks meet.
#[test]
fn batch_norm_in_training_and_in_inference() {
    const ROWS: usize = 8;
    let mut rng = Rng::new(11);
    let x = Matrix::<f64>::from_vec(
        ROWS,
        FEATURES,
        (0..ROWS * FEATURES).map(|_| rng.normal()).collect(),
    );
    let classes: Vec<usize> = (0..ROWS).map(|i| i % 3).collect();
    let values: Vec<f64> = (0..ROWS * 3).map(|_| rng.normal()).collect();
    let draw = Draw {
        seed: 5,
        epoch: 1,
        batch: 2,
    };
    let mut checked = 0;
    for hidden in hidden_activations() {
        for depth in 1..=3 {
            for bias in [Bias::Constant(0.1), Bias::None] {
                for (loss, output) in [
                    (Loss::CrossEntropy, Activation::Softmax),
                    (Loss::MeanSquaredError, Activation::Identity),
                ] {
                    let mut spec = NetworkSpec::new(FEATURES)
                        .bias(bias)
                        .batch_norm(BatchNorm::default());
                    for w in widths(depth) {
                        spec = spec.dense(w, hidden.clone());
                    }
                    let mut net = spec.dense(3, output).build::<f64>(checked + 1);
                    assert!(net.has_batch_norm());
                    for p in net.parameters() {
                        if p.name
                            .starts_with(&format!("{}.", net.module_index(p.layer) + 1))
                        {
                            for v in &mut net.params[p.offset..p.offset + p.shape[0]] {
                                *v += 0.5 * rng.normal();
                            }
                        }
                    }
                    for s in net.running_stats() {
                        let variance = s.name.ends_with("var");
                        for v in &mut net.buffers[s.offset..s.offset + s.shape[0]] {
                            *v = if variance {
                                0.2 + rng.uniform()
                            } else {
                                0.3 * rng.normal()
                            };
                        }
                    }
                    let targets = match loss {
                        Loss::CrossEntropy => TargetsRef::Classes(&classes),
                        _ => TargetsRef::Values(&values),
                    };
                    let case = format!("hidden {hidden}, depth {depth}, {bias:?}, loss {loss}");
                    let inference = gradient_check(&net, &x, targets, &loss);
                    assert_within_tolerance(&inference, &format!("{case}, inference"));
                    for dropout in [Dropout::none(), Dropout::every(0.3)] {
                        let training =
                            gradient_check_with_dropout(&net, &x, targets, &loss, &dropout, draw);
                        // The batch's statistics are not the running ones: another loss.
                        assert_ne!(training.loss, inference.loss, "{case}");
                        assert_within_tolerance(
                            &training,
                            &format!("{case}, training {dropout:?}"),
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 11 * 3 * 2 * 2);
}

/// Layer normalisation between every hidden product and its activation: each row's μ and σ² over
/// the layer's units depend on every unit's h', and the differences check the backward pass's two
/// sums along the row. The same in training and inference, and on a batch of one row (where batch
/// normalisation has nothing to normalise by); γ and β drawn away from 1 and 0; with dropout too.
#[test]
fn layer_norm_on_batches_and_on_one_row() {
    const ROWS: usize = 8;
    let mut rng = Rng::new(12);
    let x = Matrix::<f64>::from_vec(
        ROWS,
        FEATURES,
        (0..ROWS * FEATURES).map(|_| rng.normal()).collect(),
    );
    let one_row = Matrix::from_vec(1, FEATURES, x.data[..FEATURES].to_vec());
    let classes: Vec<usize> = (0..ROWS).map(|i| i % 3).collect();
    let values: Vec<f64> = (0..ROWS * 3).map(|_| rng.normal()).collect();
    let draw = Draw {
        seed: 5,
        epoch: 1,
        batch: 2,
    };
    let mut checked = 0;
    for hidden in hidden_activations() {
        for depth in 1..=3 {
            for bias in [Bias::Constant(0.1), Bias::None] {
                for (loss, output) in [
                    (Loss::CrossEntropy, Activation::Softmax),
                    (Loss::MeanSquaredError, Activation::Identity),
                ] {
                    let mut spec = NetworkSpec::new(FEATURES)
                        .bias(bias)
                        .layer_norm(LayerNorm::default());
                    for w in widths(depth) {
                        spec = spec.dense(w, hidden.clone());
                    }
                    let mut net = spec.dense(3, output).build::<f64>(checked + 1);
                    assert!(net.layer_norm().is_some() && net.buffers.is_empty());
                    for p in net.parameters() {
                        if p.name
                            .starts_with(&format!("{}.", net.module_index(p.layer) + 1))
                        {
                            for v in &mut net.params[p.offset..p.offset + p.shape[0]] {
                                *v += 0.5 * rng.normal();
                            }
                        }
                    }
                    let targets = match loss {
                        Loss::CrossEntropy => TargetsRef::Classes(&classes),
                        _ => TargetsRef::Values(&values),
                    };
                    let case = format!("hidden {hidden}, depth {depth}, {bias:?}, loss {loss}");
                    let inference = gradient_check(&net, &x, targets, &loss);
                    assert_within_tolerance(&inference, &format!("{case}, inference"));
                    let training = gradient_check_with_dropout(
                        &net,
                        &x,
                        targets,
                        &loss,
                        &Dropout::none(),
                        draw,
                    );
                    // Rows are their own statistics: training and inference are one function.
                    assert_eq!(training.loss, inference.loss, "{case}");
                    assert_within_tolerance(&training, &format!("{case}, training"));
                    let dropout = Dropout::every(0.3);
                    let dropped =
                        gradient_check_with_dropout(&net, &x, targets, &loss, &dropout, draw);
                    assert_within_tolerance(&dropped, &format!("{case}, dropout"));
                    let one = match loss {
                        Loss::CrossEntropy => TargetsRef::Classes(&classes[..1]),
                        _ => TargetsRef::Values(&values[..3]),
                    };
                    let single = gradient_check(&net, &one_row, one, &loss);
                    assert_within_tolerance(&single, &format!("{case}, one row"));
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 11 * 3 * 2 * 2);
}

#[test]
fn class_weights_scale_each_rows_loss_and_gradient() {
    // E = (1/B)·Σᵣ w_{class r}·Eᵣ: checked against the rows' own losses, one row at a time, and
    // its gradient against finite differences; for softmax + cross-entropy (three classes) and
    // a single sigmoid output + binary cross-entropy (two).
    const ROWS: usize = 6;
    let mut rng = Rng::new(9);
    let x = Matrix::<f64>::from_vec(
        ROWS,
        FEATURES,
        (0..ROWS * FEATURES).map(|_| rng.normal()).collect(),
    );
    for (outputs, output, loss, classes, weights) in [
        (
            3,
            Activation::Softmax,
            Loss::CrossEntropy,
            vec![0, 2, 1, 2, 0, 2],
            vec![0.5, 3.0, 1.25],
        ),
        (
            1,
            Activation::Sigmoid,
            Loss::BinaryCrossEntropy,
            vec![0, 1, 1, 0, 0, 0],
            vec![0.75, 2.5],
        ),
    ] {
        let net = NetworkSpec::new(FEATURES)
            .dense(7, Activation::Tanh)
            .dense(outputs, output)
            .build::<f64>(3);
        let weighted = TargetsRef::Weighted {
            classes: &classes,
            weights: &weights,
        };
        let report = gradient_check(&net, &x, weighted, &loss);
        let case = format!("{loss}, weights {weights:?}");
        assert_within_tolerance(&report, &case);
        let by_row: f64 = (0..ROWS)
            .map(|r| {
                let row = Matrix::from_vec(1, FEATURES, x.row(r).to_vec());
                let one = TargetsRef::Classes(&classes[r..r + 1]);
                weights[classes[r]] * net.mean_loss(&row, one, &loss, None)
            })
            .sum::<f64>()
            / ROWS as f64;
        assert!(
            (report.loss - by_row).abs() < 1e-12 * by_row,
            "{case}: weighted loss {} vs the rows' {by_row}",
            report.loss
        );
    }
}

#[test]
fn label_weights_weigh_each_labels_positives() {
    // Multi-label, sigmoid outputs and binary cross-entropy with label j's positive rows weighted
    // by pⱼ (PyTorch's pos_weight): the gradient against finite differences; with every pⱼ = 1,
    // the plain binary cross-entropy; and E against the formula written out here.
    const ROWS: usize = 6;
    const LABELS: usize = 3;
    let mut rng = Rng::new(12);
    let x = Matrix::<f64>::from_vec(
        ROWS,
        FEATURES,
        (0..ROWS * FEATURES).map(|_| rng.normal()).collect(),
    );
    let labels: Vec<f64> = (0..ROWS * LABELS).map(|_| rng.below(2) as f64).collect();
    let net = NetworkSpec::new(FEATURES)
        .dense(7, Activation::Tanh)
        .dense(LABELS, Activation::Sigmoid)
        .build::<f64>(4);
    let loss = Loss::BinaryCrossEntropy;
    let positive = [0.5, 4.0, 1.5];
    let weighted = TargetsRef::WeightedLabels {
        labels: &labels,
        positive: &positive,
    };
    let report = gradient_check(&net, &x, weighted, &loss);
    assert_within_tolerance(&report, "bce, label weights [0.5, 4, 1.5]");
    let y = net.predict(&x);
    let by_formula: f64 = (0..ROWS * LABELS)
        .map(|i| {
            let (p, d, w) = (y.data[i], labels[i], positive[i % LABELS]);
            -w * d * p.ln() - (1.0 - d) * (1.0 - p).ln()
        })
        .sum::<f64>()
        / (ROWS * LABELS) as f64;
    assert!(
        (report.loss - by_formula).abs() < 1e-12 * by_formula,
        "weighted loss {} vs the formula's {by_formula}",
        report.loss
    );
    let ones = TargetsRef::WeightedLabels {
        labels: &labels,
        positive: &[1.0; LABELS],
    };
    let plain = net.mean_loss(&x, TargetsRef::Labels(&labels), &loss, None);
    let unit = net.mean_loss(&x, ones, &loss, None);
    assert!((plain - unit).abs() < 1e-14, "{plain} vs {unit}");
}
