//! Dropout: the masks' statistics and determinism, training with it, and inference without it.
//! (Its gradient is checked by finite differences in `tests/gradcheck.rs`; resuming a run with it
//! mid-epoch in `tests/faults.rs`.)

use mlp::data::builtin;
use mlp::dropout;
use mlp::{fit, Activation, Dataset, Draw, Dropout, Network, NetworkSpec, TrainConfig, Trainer};

const DRAW: Draw = Draw {
    seed: 11,
    epoch: 1,
    batch: 0,
};

fn mask(p: f64, draw: Draw, layer: usize, n: usize) -> Vec<f32> {
    let h = vec![1f32; n];
    let (mut m, mut d) = (vec![0f32; n], vec![0f32; n]);
    dropout::forward(p, draw, layer, &h, &mut m, &mut d);
    assert_eq!(m, d, "h̃ = h ⊙ m with h = 1");
    m
}

#[test]
fn masks_drop_a_fraction_p_and_scale_the_rest_by_one_over_one_minus_p() {
    const N: usize = 200_000;
    for p in [0.1, 0.5, 0.9] {
        let m = mask(p, DRAW, 0, N);
        let keep = (1.0 / (1.0 - p)) as f32;
        assert!(m.iter().all(|&v| v == 0.0 || v == keep), "p = {p}");
        let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64;
        // Binomial(N, p): five standard deviations.
        let sd = (N as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (dropped - N as f64 * p).abs() < 5.0 * sd,
            "p = {p}: {dropped} of {N} dropped"
        );
        // E[m] = 1: the expected output of a neuron is what inference computes.
        let mean = m.iter().map(|&v| v as f64).sum::<f64>() / N as f64;
        assert!(
            (mean - 1.0).abs() < 5.0 * sd * keep as f64 / N as f64,
            "p = {p}: mean {mean}"
        );
    }
}

#[test]
fn a_mask_depends_on_seed_epoch_batch_and_layer_only() {
    let a = mask(0.5, DRAW, 1, 1000);
    assert_eq!(a, mask(0.5, DRAW, 1, 1000), "the same draw twice");
    assert_eq!(
        a[..100],
        mask(0.5, DRAW, 1, 100),
        "a smaller batch: a prefix"
    );
    for other in [
        Draw { seed: 12, ..DRAW },
        Draw { epoch: 2, ..DRAW },
        Draw { batch: 1, ..DRAW },
    ] {
        assert_ne!(a, mask(0.5, other, 1, 1000), "{other:?}");
    }
    assert_ne!(a, mask(0.5, DRAW, 0, 1000), "another layer");
}

fn spec() -> NetworkSpec {
    NetworkSpec::new(64)
        .dense(128, Activation::Relu)
        .dense(64, Activation::Tanh)
        .dense(10, Activation::Softmax)
}

fn train(data: &Dataset<f32>, dropout: Dropout, threads: usize) -> Network<f32> {
    let mut net = spec().build::<f32>(5);
    let config = TrainConfig {
        epochs: 3,
        batch_size: 64,
        dropout,
        threads,
        ..Default::default()
    };
    fit(&mut net, data, &config).unwrap();
    net
}

#[test]
fn rate_zero_is_no_dropout_to_the_bit_and_threads_do_not_change_the_bits() {
    let data = builtin::load::<f32>("digits").unwrap();
    let plain = train(&data, Dropout::none(), 1);
    assert_eq!(plain.params, train(&data, Dropout::every(0.0), 1).params);
    let dropped = train(&data, Dropout::per_layer(vec![0.5, 0.2]), 1);
    assert_ne!(plain.params, dropped.params);
    let two = train(&data, Dropout::per_layer(vec![0.5, 0.2]), 2);
    assert!(
        dropped
            .params
            .iter()
            .zip(&two.params)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "1 and 2 threads differ with dropout"
    );
}

#[test]
fn evaluation_during_training_and_prediction_do_not_drop() {
    let data = builtin::load::<f32>("digits").unwrap();
    let (train, val) = data.split(0.2, 3);
    let config = TrainConfig {
        epochs: 2,
        dropout: Dropout::every(0.5),
        ..Default::default()
    };
    let mut trainer = Trainer::new(spec().build::<f32>(2), &config).unwrap();
    trainer
        .fit(&train, Some(&val), &mut |_| mlp::Control::Continue)
        .unwrap();
    let (loss, _) = trainer.evaluate(&val);
    let net = trainer.into_network();
    let y = val.y.as_ref();
    let expected = net.mean_loss(&val.x, y, &mlp::Loss::CrossEntropy, None);
    assert!(
        (loss - expected).abs() <= 1e-6 * expected,
        "the trainer's validation loss {loss} is not the network's {expected}"
    );
    let p = net.predict(&val.x);
    assert_eq!(
        p.data,
        net.predict(&val.x).data,
        "prediction is deterministic"
    );
}

#[test]
fn dropout_raises_held_out_accuracy_where_a_wide_network_overfits() {
    // 300 of the digits, one layer of 512: training loss goes to ~0 and the rest (1497 rows) are
    // classified worse than they could be. Tried while writing this test: 100 or 300 rows, [512]
    // or [256, 256], 30 or 100 epochs, p = 0.2 or 0.5 — held-out accuracy rose with dropout in all
    // 16 comparisons (held-out *loss* did not always fall, so that is not what is asserted).
    // Here: 0.9105 without, 0.9492 with p = 0.5 (fixed seeds: the same numbers each run).
    let data = builtin::load::<f32>("digits").unwrap();
    let (rest, small) = data.split(300.0 / data.len() as f64, 1);
    let accuracy = |dropout: Dropout| {
        let mut net = NetworkSpec::new(64)
            .dense(512, Activation::Relu)
            .dense(10, Activation::Softmax)
            .build::<f32>(9);
        let config = TrainConfig {
            epochs: 30,
            batch_size: 32,
            dropout,
            ..Default::default()
        };
        fit(&mut net, &small, &config).unwrap();
        mlp::metrics::accuracy(&net.predict_classes(&rest.x), rest.classes().unwrap(), None)
    };
    let (plain, dropped) = (accuracy(Dropout::none()), accuracy(Dropout::every(0.5)));
    eprintln!("held-out accuracy: {plain:.4} without dropout, {dropped:.4} with p = 0.5");
    assert!(
        dropped > plain,
        "held-out accuracy {dropped} with dropout, {plain} without"
    );
}
