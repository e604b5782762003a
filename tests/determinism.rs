//! Same data, configuration and seed give bit-identical weights, whatever the number of threads.

use mlp::data::builtin;
use mlp::tensor::{matmul, Accum};
use mlp::{fit, Activation, Matrix, NetworkSpec, Optimizer, Par, Rng, TrainConfig};

fn random(rows: usize, cols: usize, seed: u64) -> Matrix<f32> {
    let mut rng = Rng::new(seed);
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.normal() as f32).collect(),
    )
}

#[test]
fn matrix_products_do_not_depend_on_the_thread_count() {
    // Large enough that the products really run on two threads (above the parallel threshold).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for &(m, k, n) in &[
        (128, 784, 512),
        (784, 128, 512),
        (128, 512, 784),
        (257, 129, 63),
        (64, 784, 128),
    ] {
        let a = random(m, k, 1);
        let at = random(k, m, 2);
        let b = random(k, n, 3);
        for (av, bv) in [(a.view(), b.view()), (at.view().t(), b.view())] {
            let mut seq = vec![0f32; m * n];
            let mut par = vec![0f32; m * n];
            matmul(&mut seq, Accum::Replace, av, bv, Par::Seq);
            pool.install(|| matmul(&mut par, Accum::Replace, av, bv, Par::Threads(2)));
            assert!(
                seq.iter()
                    .zip(&par)
                    .all(|(s, p)| s.to_bits() == p.to_bits()),
                "{m}×{k}·{k}×{n}: results differ between 1 and 2 threads"
            );
        }
    }
}

#[test]
fn training_on_one_and_two_threads_gives_identical_bits() {
    let data = builtin::load::<f32>("digits").unwrap();
    let spec = NetworkSpec::new(64)
        .dense(256, Activation::Relu)
        .dense(256, Activation::Tanh)
        .dense(10, Activation::Softmax);
    // Adam; and plain SGD, whose step the backward pass takes, each weight's update folded into
    // the product that gives its gradient.
    for optimizer in [Optimizer::default(), Optimizer::Sgd] {
        let run = |threads: usize| {
            let mut net = spec.build::<f32>(4);
            let config = TrainConfig {
                epochs: 2,
                batch_size: 128,
                threads,
                optimizer,
                learning_rate: if optimizer == Optimizer::Sgd {
                    0.05
                } else {
                    0.001
                },
                validation_split: 0.1,
                ..Default::default()
            };
            let history = fit(&mut net, &data, &config).unwrap();
            (net, history)
        };
        let (one, h1) = run(1);
        let (two, h2) = run(2);
        assert!(
            one.params
                .iter()
                .zip(&two.params)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{optimizer:?}: weights differ between 1 and 2 threads"
        );
        for (a, b) in h1.epochs.iter().zip(&h2.epochs) {
            assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits());
            assert_eq!(a.val_loss.map(f64::to_bits), b.val_loss.map(f64::to_bits));
        }
    }
}
