//! It learns: fixed seeds, a few seconds each.

use mlp::data::{builtin, Standardizer};
use mlp::{fit, metrics, Activation, Dataset, Matrix, NetworkSpec, Optimizer, Rng, TrainConfig};

/// Splits off 20 % for testing (stratified) and standardises with the training rows' statistics.
fn prepared(name: &str, seed: u64) -> (Dataset<f32>, Dataset<f32>) {
    let data = builtin::load::<f32>(name).unwrap();
    let (mut train, mut test) = data.split(0.2, seed);
    let s = Standardizer::fit(&train.x);
    s.apply(&mut train.x);
    s.apply(&mut test.x);
    (train, test)
}

#[test]
fn xor_with_no_errors() {
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
    fit(&mut net, &data, &config).unwrap();
    assert_eq!(net.predict_classes(&x), vec![0, 1, 1, 0]);
}

#[test]
fn iris_at_least_95_percent() {
    let (train, test) = prepared("iris", 3);
    let mut net = NetworkSpec::new(4)
        .dense(16, Activation::Relu)
        .dense(3, Activation::Softmax)
        .build::<f32>(3);
    let config = TrainConfig {
        epochs: 150,
        batch_size: 16,
        learning_rate: 0.01,
        ..Default::default()
    };
    fit(&mut net, &train, &config).unwrap();
    let acc = metrics::accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
    assert!(acc >= 0.95, "iris test accuracy {acc}");
}

#[test]
fn digits_at_least_96_percent() {
    let (train, test) = prepared("digits", 5);
    let mut net = NetworkSpec::new(64)
        .dense(64, Activation::Relu)
        .dense(10, Activation::Softmax)
        .build::<f32>(5);
    let config = TrainConfig {
        epochs: 40,
        batch_size: 32,
        learning_rate: 1e-3,
        ..Default::default()
    };
    let history = fit(&mut net, &train, &config).unwrap();
    let acc = metrics::accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
    assert!(acc >= 0.96, "digits test accuracy {acc}");
    let first = &history.epochs[0];
    let last = history.epochs.last().unwrap();
    assert!(
        last.train_loss < first.train_loss / 5.0,
        "loss fell from {} to {}",
        first.train_loss,
        last.train_loss
    );
}

#[test]
fn smooth_regression_reaches_r2_095() {
    // d = sin(x₁) + ½x₂x₃ − x₄²/4, the seed-online function without its noise; x ~ N(0, 1).
    let mut rng = Rng::new(9);
    let n = 2000;
    let mut x = Vec::with_capacity(n * 4);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let v: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
        y.push(v[0].sin() + 0.5 * v[1] * v[2] - v[3] * v[3] / 4.0);
        x.extend(v);
    }
    let data = Dataset::regression(Matrix::<f64>::from_vec(n, 4, x), Matrix::from_vec(n, 1, y))
        .cast::<f32>();
    let (train, test) = data.split(0.2, 9);
    let mut net = NetworkSpec::new(4)
        .dense(32, Activation::Tanh)
        .dense(1, Activation::Identity)
        .build::<f32>(9);
    let config = TrainConfig {
        epochs: 100,
        batch_size: 32,
        learning_rate: 3e-3,
        optimizer: Optimizer::default(),
        ..Default::default()
    };
    fit(&mut net, &train, &config).unwrap();
    let mlp::Targets::Values(truth) = &test.y else {
        unreachable!()
    };
    let r2 = metrics::r2(&net.predict(&test.x), truth, None);
    assert!(r2 >= 0.95, "test R² {r2}");
}

/// Multi-label: digits, each row labelled "even", "≥ 5" and "prime" at once (any number of the
/// three). Sigmoid outputs and binary cross-entropy learn all three; the training loop's tally
/// and the metrics agree on which rows have every label right.
#[test]
fn digits_as_three_labels_at_once() {
    let (train, test) = prepared("digits", 5);
    let labels = |d: &Dataset<f32>| -> Dataset<f32> {
        let y: Vec<f32> = d
            .classes()
            .unwrap()
            .iter()
            .flat_map(|&c| [c % 2 == 0, c >= 5, [2, 3, 5, 7].contains(&c)])
            .map(|b| f32::from(u8::from(b)))
            .collect();
        Dataset::multi_label(d.x.clone(), Matrix::from_vec(d.len(), 3, y)).unwrap()
    };
    let (train, test) = (labels(&train), labels(&test));
    let mut net = NetworkSpec::new(64)
        .dense(64, Activation::Relu)
        .dense(3, Activation::Sigmoid)
        .build::<f32>(5);
    let config = TrainConfig {
        epochs: 30,
        batch_size: 32,
        learning_rate: 2e-3,
        ..Default::default()
    };
    let h = fit(&mut net, &train, &config).unwrap();
    let mlp::Targets::Labels(truth) = &test.y else {
        unreachable!()
    };
    let probs = net.predict(&test.x);
    let subset = metrics::subset_accuracy(&probs, truth, None);
    let hamming = metrics::hamming_loss(&probs, truth, None);
    // Seen: 0.967 and 0.013 (12 of 359 rows with a label wrong).
    assert!(
        subset > 0.95 && hamming < 0.025,
        "subset accuracy {subset}, Hamming loss {hamming}"
    );
    // The tally of the last epoch counts rows with all three right, as subset_accuracy does.
    let mlp::Targets::Labels(train_truth) = &train.y else {
        unreachable!()
    };
    let last = h.epochs.last().unwrap();
    assert_eq!(h.metric, "accuracy");
    let now = metrics::subset_accuracy(&net.predict(&train.x), train_truth, None);
    assert!(
        (last.train_metric - now).abs() < 0.02,
        "tally {} (during the epoch), after it {now}",
        last.train_metric
    );
}
