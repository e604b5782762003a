//! The training loop's promises: early stopping restores the best weights whether or not it
//! triggered, the last partial batch is kept, a batch beyond the rows is all of them, unshuffled
//! batches take the rows in order, a training step allocates nothing (with dropout and
//! class weights too), and class weights of 1 change no bit.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mlp::data::builtin;
use mlp::{Activation, Control, NetworkSpec, Progress, TrainConfig, Trainer};

/// Counts the allocations of each thread (tests run side by side in one process; training runs on
/// the trainer's pool thread, where its progress callback runs too).
struct Counting;
thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn digits_split() -> (mlp::Dataset<f32>, mlp::Dataset<f32>) {
    builtin::load::<f32>("digits").unwrap().split(0.3, 2)
}

#[test]
fn early_stopping_restores_the_best_weights_whether_or_not_it_triggers() {
    let (train, val) = digits_split();
    for patience in [2, 1000] {
        // A learning rate high enough that the validation loss goes up and down.
        let config = TrainConfig {
            epochs: 25,
            batch_size: 16,
            learning_rate: 0.03,
            early_stopping: Some(patience),
            threads: 1,
            ..Default::default()
        };
        let net = NetworkSpec::new(64)
            .dense(32, Activation::Relu)
            .dense(10, Activation::Softmax)
            .build::<f32>(1);
        let mut t = Trainer::new(net, &config).unwrap();
        t.fit(&train, Some(&val), &mut |_| Control::Continue)
            .unwrap();
        let h = t.history.clone();
        let best = h
            .epochs
            .iter()
            .min_by(|a, b| a.val_loss.unwrap().total_cmp(&b.val_loss.unwrap()))
            .unwrap();
        assert_eq!(h.best_epoch, Some(best.epoch));
        if patience == 2 {
            assert!(
                h.stopped_early && h.epochs.len() < 25,
                "expected early stopping to trigger"
            );
        } else {
            assert!(!h.stopped_early && h.epochs.len() == 25);
            assert_ne!(
                best.epoch, 25,
                "the test needs a best epoch before the last"
            );
        }
        let (loss_now, _) = t.evaluate(&val);
        assert_eq!(
            loss_now,
            best.val_loss.unwrap(),
            "patience {patience}: weights not restored"
        );
    }
}

#[test]
fn a_minimum_improvement_counts_only_falls_larger_than_it() {
    // scikit-learn's tol (Keras' min_delta): with patience 3, an epoch resets the count only when
    // the validation loss falls more than min_improvement below the best so far; the weights kept
    // are the lowest loss's all the same.
    let (train, val) = digits_split();
    let run = |min_improvement: f64| {
        let config = TrainConfig {
            epochs: 40,
            batch_size: 16,
            learning_rate: 1e-3,
            early_stopping: Some(3),
            min_improvement,
            threads: 1,
            ..Default::default()
        };
        let net = NetworkSpec::new(64)
            .dense(32, Activation::Relu)
            .dense(10, Activation::Softmax)
            .build::<f32>(2);
        let mut t = Trainer::new(net, &config).unwrap();
        t.fit(&train, Some(&val), &mut |_| Control::Continue)
            .unwrap();
        t.history
    };
    // A fall of more than 10 never happens: the first epoch sets the best, three more stop it.
    let h = run(10.0);
    assert!(h.stopped_early && h.epochs.len() == 4, "{}", h.epochs.len());
    let lowest = h
        .epochs
        .iter()
        .min_by(|a, b| a.val_loss.unwrap().total_cmp(&b.val_loss.unwrap()))
        .unwrap();
    assert_eq!(h.best_epoch, Some(lowest.epoch));
    assert!(
        lowest.epoch > 1,
        "the loss fell after epoch 1, by less than 10"
    );
    // With 0 every fall counts (the plain rule); with 0.01 the slow falls near the end do not,
    // and the run stops sooner (23 epochs against 27), having trained the same way until then.
    let plain = run(0.0);
    let small = run(0.01);
    assert!(plain.epochs.len() > 4);
    assert!(small.epochs.len() < plain.epochs.len());
    for (a, b) in small.epochs.iter().zip(&plain.epochs) {
        assert_eq!(a.val_loss, b.val_loss, "the same training until one stops");
    }
}

#[test]
fn every_row_is_trained_each_epoch_including_the_partial_batch() {
    let (train, _) = digits_split();
    let n = train.len();
    assert_ne!(n % 32, 0, "the test needs a partial last batch");
    let config = TrainConfig {
        epochs: 1,
        batch_size: 32,
        ..Default::default()
    };
    let net = NetworkSpec::new(64)
        .dense(10, Activation::Softmax)
        .build::<f32>(0);
    let mut t = Trainer::new(net, &config).unwrap();
    let mut last = (0, 0, 0);
    t.fit(&train, None, &mut |p| {
        if let Progress::Batch {
            batch,
            batches,
            rows_done,
            ..
        } = p
        {
            last = (batch, batches, rows_done);
        }
        Control::Continue
    })
    .unwrap();
    let batches = n.div_ceil(32);
    assert_eq!(last, (batches, batches, n));
}

/// A batch size beyond the training rows is one batch of all of them (PyTorch's DataLoader gives
/// one short batch): the same weights, bit for bit, as a batch of exactly the rows, and no buffer
/// sized for the batch asked for (10¹⁵ rows of 128 units could not be allocated).
#[test]
fn a_batch_beyond_the_rows_is_all_of_them() {
    let (train, _) = digits_split();
    let run = |batch_size: usize| {
        let config = TrainConfig {
            epochs: 3,
            batch_size,
            ..Default::default()
        };
        let net = NetworkSpec::new(64)
            .dense(128, Activation::Relu)
            .dense(10, Activation::Softmax)
            .build::<f32>(0);
        let mut t = Trainer::new(net, &config).unwrap();
        t.fit(&train, None, &mut |_| Control::Continue).unwrap();
        t.into_network().params
    };
    assert_eq!(run(1_000_000_000_000_000), run(train.len()));
}

/// Without shuffling (PyTorch's `DataLoader(shuffle=False)`), an epoch is the batches of
/// consecutive rows in the data's order, the last one short: the same weights, bit for bit, as
/// Adam stepped through them by hand for two epochs; and the seed, which draws the order when
/// shuffling, then changes nothing (the network is built once, outside).
#[test]
fn without_shuffling_the_batches_are_the_rows_in_order() {
    use mlp::{Draw, Optimizer, Par, TargetsRef, Workspace};
    let (train, _) = digits_split();
    let mlp::data::Targets::Classes(classes) = &train.y else {
        panic!("digits are classes")
    };
    let (batch, epochs, lr) = (100, 2, 1e-3);
    assert_ne!(train.len() % batch, 0, "the test needs a short last batch");
    let net = NetworkSpec::new(64)
        .dense(32, Activation::Tanh)
        .dense(10, Activation::Softmax)
        .build::<f32>(0);
    let trained = |seed: u64, shuffle: bool| {
        let config = TrainConfig {
            epochs,
            batch_size: batch,
            learning_rate: lr,
            seed,
            shuffle,
            ..Default::default()
        };
        let mut t = Trainer::new(net.clone(), &config).unwrap();
        t.fit(&train, None, &mut |_| Control::Continue).unwrap();
        t.into_network().params
    };
    let mut by_hand = net.clone();
    let adam = Optimizer::default();
    let mut state = adam.state(by_hand.param_count());
    let mut ws = Workspace::new(&by_hand, batch);
    let draw = Draw {
        seed: 0,
        epoch: 1,
        batch: 0,
    };
    for _ in 0..epochs {
        for start in (0..train.len()).step_by(batch) {
            let end = (start + batch).min(train.len());
            let x = train.x.view_rows(start, end);
            by_hand.forward_train(x, &mut ws, Par::Seq, draw);
            let targets = TargetsRef::Classes(&classes[start..end]);
            ws.evaluate_loss(&by_hand, &mlp::Loss::CrossEntropy, targets, true);
            by_hand.backward(x, &mut ws, Par::Seq);
            adam.step(&mut by_hand.params, &mut ws.grads, &mut state, lr, 0.0, &[]);
        }
    }
    let in_order = trained(0, false);
    assert_eq!(in_order, by_hand.params);
    assert_eq!(in_order, trained(7, false), "the seed draws no order");
    assert_ne!(
        trained(0, true),
        trained(7, true),
        "shuffled, the seed draws the order"
    );
}

/// The `gemm` crate allocates its packing scratch inside each product (a `dyn_stack::MemBuffer`
/// per call) and offers no way to pass a workspace in, so "no allocation" is asserted for our
/// code: a step allocates exactly as much as its five matrix products do on their own.
#[test]
fn a_training_step_allocates_nothing_beyond_the_gemm_crates_scratch() {
    use mlp::tensor::{matmul, Accum, View};
    use mlp::Par;
    let (train, _) = digits_split();
    let (b, f, h, m) = (64, 64, 48, 10);
    let config = TrainConfig {
        epochs: 2,
        batch_size: b,
        weight_decay: 1e-4,
        clip_grad_norm: Some(5.0),
        // Their masks and weights are planned with the rest.
        dropout: mlp::Dropout::every(0.2),
        class_weight: mlp::ClassWeight::Balanced,
        threads: 1,
        ..Default::default()
    };
    let net = NetworkSpec::new(f)
        .dense(h, Activation::Gelu)
        .dense(m, Activation::Softmax)
        .build::<f32>(0);

    // The step's products alone, same shapes and transposes, on this thread.
    let (x, w1, w2) = (
        vec![0.5f32; b * f],
        vec![0.5f32; f * h],
        vec![0.5f32; h * m],
    );
    let (mut a1, mut a2, mut g1, mut g2, mut dx) = (
        vec![0f32; b * h],
        vec![0f32; b * m],
        vec![0f32; f * h],
        vec![0f32; h * m],
        vec![0f32; b * h],
    );
    let products = |a1: &mut Vec<f32>,
                    a2: &mut Vec<f32>,
                    g1: &mut Vec<f32>,
                    g2: &mut Vec<f32>,
                    dx: &mut Vec<f32>| {
        let (xv, w1v, w2v) = (
            View::new(&x, b, f),
            View::new(&w1, f, h),
            View::new(&w2, h, m),
        );
        matmul(a1, Accum::Replace, xv, w1v, Par::Seq);
        matmul(a2, Accum::Replace, View::new(a1, b, h), w2v, Par::Seq);
        matmul(
            g2,
            Accum::Replace,
            View::new(a1, b, h).t(),
            View::new(a2, b, m),
            Par::Seq,
        );
        matmul(dx, Accum::Replace, View::new(a2, b, m), w2v.t(), Par::Seq);
        matmul(g1, Accum::Replace, xv.t(), View::new(dx, b, h), Par::Seq);
    };
    products(&mut a1, &mut a2, &mut g1, &mut g2, &mut dx); // first call: thread-local caches
    let before = ALLOCATIONS.with(|a| a.get());
    products(&mut a1, &mut a2, &mut g1, &mut g2, &mut dx);
    let gemm_scratch = ALLOCATIONS.with(|a| a.get()) - before;

    // Adam with decay and clipping; and plain SGD, whose step the backward pass takes.
    let sgd = TrainConfig {
        optimizer: mlp::Optimizer::Sgd,
        weight_decay: 0.0,
        clip_grad_norm: None,
        ..config.clone()
    };
    for config in [config, sgd] {
        let mut t = Trainer::new(net.clone(), &config).unwrap();
        let mut counts = Vec::with_capacity(1000); // sized up front: the callback must not allocate
        t.fit(&train, None, &mut |p| {
            if let Progress::Batch { batch, batches, .. } = p {
                if batch < batches {
                    counts.push(ALLOCATIONS.with(|a| a.get())); // full batches only
                }
            }
            Control::Continue
        })
        .unwrap();
        let per_epoch = counts.len() / 2;
        for e in 0..2 {
            let c = &counts[e * per_epoch..(e + 1) * per_epoch];
            for w in c.windows(2) {
                assert_eq!(
                    w[1] - w[0],
                    gemm_scratch,
                    "{:?}, epoch {}: a step allocated {} times, its products alone {gemm_scratch}",
                    config.optimizer,
                    e + 1,
                    w[1] - w[0]
                );
            }
        }
    }
}

/// Plain SGD's step taken inside the backward pass ([`mlp::Network::backward_descend`]) against
/// the backward pass and then the optimizer's step: the same biases, γ and β to the bit, and
/// weights within the one rounding the folded update saves (W − α·g rounds α·g first); the
/// seed's network, whose products are plain loops, to the bit. With batch normalisation and
/// dropout, so that every kind of parameter and mask is crossed.
#[test]
fn sgd_in_the_backward_pass_is_the_optimizers_step() {
    use mlp::{BatchNorm, Draw, Dropout, Matrix, Optimizer, Par, Workspace};
    let (rows, inputs) = (16, 30);
    let mut rng = mlp::Rng::new(3);
    let x = Matrix::<f64>::from_vec(
        rows,
        inputs,
        (0..rows * inputs).map(|_| rng.normal()).collect(),
    );
    let classes: Vec<usize> = (0..rows).map(|i| i % 4).collect();
    let lr = 0.1;
    let draw = Draw {
        seed: 1,
        epoch: 1,
        batch: 0,
    };
    let specs = [
        NetworkSpec::new(inputs)
            .batch_norm(BatchNorm::default())
            .dense(40, Activation::Relu)
            .dense(24, Activation::Tanh)
            .dense(4, Activation::Softmax),
        NetworkSpec::new(inputs)
            .dense(40, Activation::Sigmoid)
            .dense(4, Activation::Softmax),
    ];
    for (case, spec) in specs.iter().enumerate() {
        for dropout in [Dropout::none(), Dropout::every(0.25)] {
            let net = spec.build::<f64>(case as u64);
            let targets = mlp::TargetsRef::Classes(&classes);
            let run = |folded: bool| {
                let mut net = net.clone();
                let mut ws = Workspace::new(&net, rows).with_dropout(&net, &dropout);
                net.forward_train(x.view(), &mut ws, Par::Threads(2), draw);
                ws.evaluate_loss(&net, &mlp::Loss::CrossEntropy, targets, true);
                if folded {
                    net.backward_descend(x.view(), &mut ws, Par::Threads(2), lr);
                } else {
                    net.backward(x.view(), &mut ws, Par::Threads(2));
                    let mut state = Optimizer::Sgd.state(net.param_count());
                    Optimizer::Sgd.step(&mut net.params, &mut ws.grads, &mut state, lr, 0.0, &[]);
                }
                (net, ws.grads)
            };
            let ((plain, grads), (folded, unwritten)) = (run(false), run(true));
            assert_ne!(plain.params, net.params, "a step was taken");
            let weights: Vec<_> = plain
                .layers
                .iter()
                .map(|l| l.weight_offset..l.weight_offset + l.weight_len())
                .collect();
            // The first layer's product went through gemm: its gradient was never written.
            assert!(unwritten[weights[0].clone()].iter().all(|&g| g == 0.0));
            for (i, (&a, &b)) in plain.params.iter().zip(&folded.params).enumerate() {
                if weights.iter().any(|w| w.contains(&i)) {
                    let bound = 2.0 * f64::EPSILON * (a.abs() + (lr * grads[i]).abs());
                    assert!(
                        (a - b).abs() <= bound,
                        "case {case}, weight {i}: {a} against {b}"
                    );
                } else {
                    assert_eq!(a.to_bits(), b.to_bits(), "case {case}, parameter {i}");
                }
            }
        }
    }
    // The seed's network at batch 1: plain loops, the gradients kept and stepped as before.
    let (net, x, d, _) = mlp::explain::seed_example();
    let x = Matrix::from_vec(1, 2, x.to_vec());
    let (mut plain, mut folded) = (net.clone(), net);
    let mut ws = Workspace::new(&plain, 1);
    for (net, fold) in [(&mut plain, false), (&mut folded, true)] {
        net.forward_train(x.view(), &mut ws, Par::Seq, draw);
        ws.evaluate_loss(
            net,
            &mlp::Loss::HalfSquaredError,
            mlp::TargetsRef::Values(&[d]),
            true,
        );
        if fold {
            net.backward_descend(x.view(), &mut ws, Par::Seq, lr);
        } else {
            net.backward(x.view(), &mut ws, Par::Seq);
            let mut state = Optimizer::Sgd.state(net.param_count());
            Optimizer::Sgd.step(&mut net.params, &mut ws.grads, &mut state, lr, 0.0, &[]);
        }
    }
    assert_eq!(plain.params, folded.params);
}

#[test]
fn class_weights_of_one_change_no_bit_and_regression_refuses_them() {
    let (train, _) = digits_split();
    let run = |class_weight: mlp::ClassWeight| {
        let config = TrainConfig {
            epochs: 2,
            class_weight,
            ..Default::default()
        };
        let mut net = NetworkSpec::new(64)
            .dense(32, Activation::Relu)
            .dense(10, Activation::Softmax)
            .build::<f32>(1);
        mlp::fit(&mut net, &train, &config).unwrap();
        net.params
    };
    let ones = mlp::ClassWeight::Named(vec![("3".into(), 1.0), ("7".into(), 1.0)]);
    assert_eq!(run(mlp::ClassWeight::Equal), run(ones));
    let heavy = mlp::ClassWeight::Named(vec![("3".into(), 4.0)]);
    assert_ne!(run(mlp::ClassWeight::Equal), run(heavy));

    let values = mlp::Dataset {
        x: train.x.clone(),
        y: mlp::Targets::Values(mlp::Matrix::zeros(train.len(), 1)),
        feature_names: train.feature_names.clone(),
        class_names: Vec::new(),
        sample_weight: None,
    };
    let config = TrainConfig {
        class_weight: mlp::ClassWeight::Balanced,
        ..Default::default()
    };
    let mut net = NetworkSpec::new(64)
        .dense(1, Activation::Identity)
        .build::<f32>(1);
    let e = mlp::fit(&mut net, &values, &config)
        .unwrap_err()
        .to_string();
    assert!(e.contains("class weights apply to classification"), "{e}");
}

#[test]
fn a_row_of_weight_two_counts_as_the_row_twice_and_weights_of_one_change_no_bit() {
    // Full batch (L-BFGS), f64: 40 iris rows with row 0 weighted 2 against the same rows with
    // row 0 written twice. The loss is Σ w·E / Σ w against the plain mean over 41 rows: equal, so
    // three iterations land on the same weights (to the rounding of the sums' order).
    let iris = builtin::load::<f64>("iris").unwrap();
    let rows: Vec<usize> = (0..150).step_by(4).chain([1, 2]).collect();
    let base = iris.subset(&rows[..40]);
    let mut weights = vec![1.0; 40];
    weights[0] = 2.0;
    let weighted = base.clone().with_sample_weight(weights).unwrap();
    let twice = iris.subset(&[&rows[..40], &[rows[0]][..]].concat());
    let run = |data: &mlp::Dataset<f64>, optimizer: mlp::Optimizer, batch_size: usize| {
        let net = NetworkSpec::new(4)
            .dense(6, Activation::Tanh)
            .dense(3, Activation::Softmax)
            .build::<f64>(3);
        let config = TrainConfig {
            epochs: 3,
            batch_size,
            optimizer,
            learning_rate: if matches!(optimizer, mlp::Optimizer::Lbfgs(_)) {
                1.0
            } else {
                0.01
            },
            threads: 1,
            ..Default::default()
        };
        let mut t = Trainer::new(net, &config).unwrap();
        t.fit(data, None, &mut |_| Control::Continue).unwrap();
        t.net.params
    };
    let lbfgs = mlp::Optimizer::Lbfgs(Default::default());
    let (a, b) = (run(&weighted, lbfgs, 1), run(&twice, lbfgs, 1));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
    assert!(a != run(&base, lbfgs, 1), "the weight made no difference");
    // Mini-batches (Adam, 8 rows): weights of 1 are no weights, to the bit.
    let ones = base.clone().with_sample_weight(vec![1.0; 40]).unwrap();
    let adam = mlp::Optimizer::default();
    assert!(run(&ones, adam, 8) == run(&base, adam, 8));
    // And bad weights are refused with the row named.
    let err = base.clone().with_sample_weight(vec![-1.0; 40]).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
    assert!(base.with_sample_weight(vec![0.0; 40]).is_err());
}

/// Validation and held-out rows count their sample weights, as scikit-learn scores its
/// early-stopping rows: the loss and accuracy (or R²) of rows weighted 0, 1, 2 and 3 are those of
/// the rows repeated as many times (f64, to the rounding of the sums' order).
#[test]
fn weighted_validation_rows_score_as_repeated_rows() {
    let iris = builtin::load::<f64>("iris").unwrap();
    // A regression of the same rows: the petal width from the other three measurements.
    let values = mlp::Dataset {
        x: mlp::Matrix::from_vec(
            150,
            3,
            (0..150).flat_map(|r| iris.x.row(r)[..3].to_vec()).collect(),
        ),
        y: mlp::Targets::Values(mlp::Matrix::from_vec(
            150,
            1,
            (0..150).map(|r| iris.x[(r, 3)]).collect(),
        )),
        feature_names: iris.feature_names[..3].to_vec(),
        class_names: Vec::new(),
        sample_weight: None,
    };
    let weights: Vec<f64> = (0..150).map(|i| ((i * 7 + i / 5) % 4) as f64).collect();
    let copies: Vec<usize> = (0..150)
        .flat_map(|r| vec![r; weights[r] as usize])
        .collect();
    for (data, spec) in [
        (
            &iris,
            NetworkSpec::new(4)
                .dense(6, Activation::Tanh)
                .dense(3, Activation::Softmax),
        ),
        (
            &values,
            NetworkSpec::new(3)
                .dense(6, Activation::Tanh)
                .dense(1, Activation::Identity),
        ),
    ] {
        let config = TrainConfig {
            epochs: 2,
            threads: 1,
            ..Default::default()
        };
        let mut t = Trainer::new(spec.build::<f64>(5), &config).unwrap();
        t.fit(data, None, &mut |_| Control::Continue).unwrap();
        let weighted = data.clone().with_sample_weight(weights.clone()).unwrap();
        let (loss, metric) = t.evaluate(&weighted);
        let (want_loss, want_metric) = t.evaluate(&data.subset(&copies));
        assert!((loss - want_loss).abs() < 1e-12, "{loss} vs {want_loss}");
        assert!(
            (metric - want_metric).abs() < 1e-12,
            "{metric} vs {want_metric}"
        );
        let plain = t.evaluate(data);
        assert!(
            plain.0 != loss && plain.1 != metric,
            "the weights made no difference"
        );
        // The history's validation figures are these.
        let mut t = Trainer::new(spec.build::<f64>(5), &config).unwrap();
        t.fit(data, Some(&weighted), &mut |_| Control::Continue)
            .unwrap();
        let last = t.history.epochs.last().unwrap();
        assert_eq!(
            (last.val_loss, last.val_metric),
            (Some(t.evaluate(&weighted).0), Some(t.evaluate(&weighted).1))
        );
    }
}

/// The library checks the optimizers' constants once, when the trainer is made, as it does the
/// learning rate: library users build `AdamParams` and `RmsPropParams` themselves.
#[test]
fn optimizer_constants_out_of_range_are_refused() {
    let adam = mlp::AdamParams::default();
    for (optimizer, want) in [
        (
            mlp::Optimizer::Adam(mlp::AdamParams { beta1: 1.0, ..adam }),
            "betas must be in [0, 1), not 1,0.999",
        ),
        (
            mlp::Optimizer::AdamW(mlp::AdamParams {
                beta2: -0.1,
                ..adam
            }),
            "betas must be in [0, 1), not 0.9,-0.1",
        ),
        (
            mlp::Optimizer::Adam(mlp::AdamParams { eps: 0.0, ..adam }),
            "eps must be > 0 and finite, not 0",
        ),
        (
            mlp::Optimizer::RmsProp(mlp::RmsPropParams {
                rho: 1.0,
                eps: 1e-8,
            }),
            "rho must be in [0, 1), not 1",
        ),
        (
            mlp::Optimizer::RmsProp(mlp::RmsPropParams {
                rho: 0.9,
                eps: f64::NAN,
            }),
            "eps must be > 0 and finite, not NaN",
        ),
    ] {
        let config = TrainConfig {
            optimizer,
            ..Default::default()
        };
        let net = NetworkSpec::new(4)
            .dense(3, Activation::Softmax)
            .build::<f32>(0);
        let e = Trainer::new(net, &config)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains(want),
            "{optimizer:?}: expected «{want}», got «{e}»"
        );
    }
}

#[test]
fn empty_data_is_refused_naming_which() {
    let (train, val) = digits_split();
    let none = val.subset(&[]);
    let spec = NetworkSpec::new(64).dense(10, Activation::Softmax);
    let config = TrainConfig {
        epochs: 1,
        ..Default::default()
    };
    let refusal = |t: &mlp::Dataset<f32>, v: Option<&mlp::Dataset<f32>>| {
        let mut trainer = Trainer::new(spec.build::<f32>(0), &config).unwrap();
        trainer
            .fit(t, v, &mut |_| Control::Continue)
            .unwrap_err()
            .to_string()
    };
    assert!(refusal(&none, None).contains("the training data has no rows"));
    assert!(refusal(&train, Some(&none)).contains("the validation data has no rows"));
}
