//! L-BFGS on networks: it finds the minimum SciPy finds where the minimum is unique, it never
//! raises the loss from one iteration to the next, it stops when converged, and it refuses what
//! would make its line search meaningless.

use mlp::data::builtin;
use mlp::optim::LbfgsParams;
use mlp::{Activation, Dropout, NetworkSpec, Optimizer, TrainConfig, Trainer};

/// Tolerances tight enough to reach the minimum to f64's precision, not the defaults' early stop.
fn tight() -> Optimizer {
    Optimizer::Lbfgs(LbfgsParams {
        tolerance_grad: 1e-10,
        tolerance_change: 1e-16,
        ..LbfgsParams::default()
    })
}

/// Softmax regression (no hidden layer) on iris with an L2 penalty on the weights is strictly
/// convex in the weights, so every method must land on the same point; the biases start at 0
/// and their gradient sums to 0 (softmax is unchanged by adding a constant to every logit), so
/// they stay on the plane Σb = 0, where the minimum is unique too.
///
/// The oracle: SciPy 1.17's L-BFGS-B on the same objective, mean cross-entropy + λ/2·‖W‖²,
/// λ = 0.01, from zero:
///
/// ```python
/// import numpy as np
/// from scipy.optimize import minimize
/// d = np.loadtxt("data/iris.csv", delimiter=",", skiprows=1)
/// x, c = d[:, :4], d[:, 4].astype(int)
/// n, lam = len(x), 0.01
/// y = np.eye(3)[c]
/// def f(p):
///     w, b = p[:12].reshape(4, 3), p[12:]
///     z = x @ w + b
///     z = z - z.max(1, keepdims=True)
///     logp = z - np.log(np.exp(z).sum(1, keepdims=True))
///     loss = -(y * logp).sum() / n + 0.5 * lam * (w * w).sum()
///     g = (np.exp(logp) - y) / n
///     return loss, np.concatenate([(x.T @ g + lam * w).ravel(), g.sum(0)])
/// r = minimize(f, np.zeros(15), jac=True, method="L-BFGS-B",
///              options=dict(gtol=1e-12, ftol=1e-15, maxiter=10000))
/// print(r.message, r.nit, repr(r.fun), np.abs(r.jac).max())
/// print([repr(v) for v in r.x])
/// ```
/// It reports convergence after 147 iterations at f = 0.22428890289472622 with a largest
/// gradient of 2.5e-8, at the weights and biases below.
#[test]
fn softmax_regression_reaches_the_minimum_scipy_finds() {
    let scipy_w = [
        -0.4158303586070809,
        0.4383991722557922,
        -0.022568813648695663,
        0.8238621935443466,
        -0.34788211823398063,
        -0.4759800753103704,
        -2.2465108490480166,
        -0.14864982118153294,
        2.395160670229568,
        -0.9491904570504452,
        -0.7817265785003913,
        1.7309170355508359,
    ];
    let scipy_b = [9.064408741259872, 2.1619158705181207, -11.226324611777837];
    let scipy_f = 0.22428890289472622;

    let iris = builtin::load::<f64>("iris").unwrap();
    let net = NetworkSpec::new(4)
        .dense(3, Activation::Softmax)
        .build::<f64>(1);
    let config = TrainConfig {
        epochs: 2000,
        optimizer: tight(),
        learning_rate: 1.0,
        weight_decay: 0.01,
        threads: 1,
        ..Default::default()
    };
    let mut t = Trainer::new(net, &config).unwrap();
    t.fit(&iris, None, &mut |_| mlp::Control::Continue).unwrap();
    assert!(
        t.history.converged.is_some(),
        "{} iterations, not converged",
        t.history.epochs.len()
    );
    let layer = &t.net.layers[0];
    let w = &t.net.params[layer.weight_offset..layer.weight_offset + 12];
    let b0 = layer.bias_offset.unwrap();
    let b = &t.net.params[b0..b0 + 3];
    // The minimum is known to about |g|/curvature: SciPy's gradient of 2.5e-8 over the smallest
    // curvature λ = 0.01 (the biases' is larger) gives a few 1e-6.
    for (got, want) in w.iter().chain(b).zip(scipy_w.iter().chain(&scipy_b)) {
        assert!((got - want).abs() < 1e-5, "{got} vs SciPy's {want}");
    }
    // The objective there: the last epoch's data loss plus the penalty.
    let penalty: f64 = 0.5 * 0.01 * w.iter().map(|w| w * w).sum::<f64>();
    let f = t.history.epochs.last().unwrap().train_loss + penalty;
    assert!((f - scipy_f).abs() < 1e-10, "f = {f}, SciPy's {scipy_f}");
}

#[test]
fn every_iteration_lowers_the_loss_until_it_converges() {
    // A real network in f32 on digits: each iteration's line search asks for sufficient decrease,
    // so the training loss (here the whole objective, without a penalty) never rises.
    let (train, _) = builtin::load::<f32>("digits").unwrap().split(0.3, 2);
    let net = NetworkSpec::new(64)
        .dense(32, Activation::Tanh)
        .dense(10, Activation::Softmax)
        .build::<f32>(4);
    let config = TrainConfig {
        epochs: 60,
        optimizer: Optimizer::Lbfgs(LbfgsParams::default()),
        learning_rate: 1.0,
        threads: 2,
        ..Default::default()
    };
    let mut t = Trainer::new(net, &config).unwrap();
    t.fit(&train, None, &mut |_| mlp::Control::Continue)
        .unwrap();
    let losses: Vec<f64> = t.history.epochs.iter().map(|e| e.train_loss).collect();
    for pair in losses.windows(2) {
        assert!(pair[1] <= pair[0], "the loss rose: {losses:?}");
    }
    assert!(losses[losses.len() - 1] < 0.01, "{losses:?}");
    assert!(t.history.epochs.last().unwrap().train_metric > 0.999);
}

#[test]
fn a_regression_network_fits_a_smooth_function_closely() {
    // d = sin(x₁) + ½x₂x₃ − x₄²/4 (tests/learning.rs's function, no noise): L-BFGS, full batch,
    // goes well past the R² that 100 epochs of Adam reach there (0.95), in 150 iterations.
    let mut rng = mlp::Rng::new(9);
    let n = 2000;
    let (mut x, mut y) = (Vec::with_capacity(n * 4), Vec::with_capacity(n));
    for _ in 0..n {
        let v: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
        y.push(v[0].sin() + 0.5 * v[1] * v[2] - v[3] * v[3] / 4.0);
        x.extend(v);
    }
    let data = mlp::Dataset::regression(
        mlp::Matrix::<f64>::from_vec(n, 4, x),
        mlp::Matrix::from_vec(n, 1, y),
    )
    .cast::<f32>();
    let (train, test) = data.split(0.2, 9);
    let net = NetworkSpec::new(4)
        .dense(32, Activation::Tanh)
        .dense(1, Activation::Identity)
        .build::<f32>(9);
    let config = TrainConfig {
        epochs: 150,
        optimizer: Optimizer::Lbfgs(LbfgsParams::default()),
        learning_rate: 1.0,
        ..Default::default()
    };
    let mut t = Trainer::new(net, &config).unwrap();
    t.fit(&train, None, &mut |_| mlp::Control::Continue)
        .unwrap();
    let losses: Vec<f64> = t.history.epochs.iter().map(|e| e.train_loss).collect();
    assert!(losses.windows(2).all(|p| p[1] <= p[0]), "{losses:?}");
    let mlp::Targets::Values(truth) = &test.y else {
        unreachable!()
    };
    let r2 = mlp::metrics::r2(&t.net.predict(&test.x), truth, None);
    assert!(r2 >= 0.99, "test R² {r2}");
}

#[test]
fn the_result_does_not_depend_on_the_thread_count() {
    let (train, _) = builtin::load::<f32>("digits").unwrap().split(0.3, 2);
    let run = |threads| {
        let net = NetworkSpec::new(64)
            .dense(48, Activation::Relu)
            .dense(10, Activation::Softmax)
            .build::<f32>(5);
        let config = TrainConfig {
            epochs: 8,
            optimizer: Optimizer::Lbfgs(LbfgsParams::default()),
            learning_rate: 1.0,
            weight_decay: 1e-3,
            threads,
            ..Default::default()
        };
        let mut t = Trainer::new(net, &config).unwrap();
        t.fit(&train, None, &mut |_| mlp::Control::Continue)
            .unwrap();
        t.net.params
    };
    assert!(run(1) == run(2), "one and two threads differ");
}

#[test]
fn dropout_and_gradient_clipping_are_refused_by_name() {
    let net = || {
        NetworkSpec::new(4)
            .dense(8, Activation::Relu)
            .dense(3, Activation::Softmax)
            .build::<f32>(1)
    };
    let lbfgs = TrainConfig {
        optimizer: Optimizer::Lbfgs(LbfgsParams::default()),
        ..Default::default()
    };
    let with_dropout = TrainConfig {
        dropout: Dropout::every(0.2),
        ..lbfgs.clone()
    };
    let err = Trainer::new(net(), &with_dropout)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("dropout") && err.contains("L-BFGS"), "{err}");
    let with_clipping = TrainConfig {
        clip_grad_norm: Some(1.0),
        ..lbfgs
    };
    let err = Trainer::new(net(), &with_clipping)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("clipping") && err.contains("L-BFGS"), "{err}");
}

#[test]
#[should_panic(expected = "L-BFGS")]
fn a_single_step_of_lbfgs_is_refused_loudly() {
    // Optimizer::step updates from one batch's gradient; L-BFGS needs the whole training set.
    let opt = Optimizer::Lbfgs(LbfgsParams::default());
    let mut state = opt.state::<f64>(2);
    opt.step(&mut [0.0; 2], &mut [1.0; 2], &mut state, 0.1, 0.0, &[]);
}
