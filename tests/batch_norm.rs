//! Batch normalisation: one training step and inference against PyTorch's numbers, the running
//! statistics, and training with it (threads, early stopping, learning). (Its gradient is checked
//! by finite differences in `tests/gradcheck.rs` and in the module's own tests; its model file in
//! `model_file`'s tests; the command line in `tests/cli.rs`.)

use mlp::data::builtin;
use mlp::{
    fit, Activation, BatchNorm, Draw, Loss, Matrix, Network, NetworkSpec, Optimizer, Par,
    TargetsRef, TrainConfig, Trainer, Workspace,
};

/// The numbers below come from PyTorch 2.15 (float64) with this script:
///
/// ```python
/// import torch
/// torch.set_default_dtype(torch.float64)
/// net = torch.nn.Sequential(
///     torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(),
///     torch.nn.Linear(4, 2))
/// with torch.no_grad():
///     for i, p in enumerate(net.parameters()):
///         n = p.numel()
///         p.copy_(torch.tensor([((7 * (i + 1) * k) % 11 - 5) / 6 for k in range(n)]).reshape(p.shape))
/// x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-2.0, 1.0, 0.25],
///                   [0.0, 0.75, -1.25], [1.0, -0.5, 0.5]])
/// y = torch.tensor([0, 1, 1, 0, 1])
/// net.train()
/// loss = torch.nn.functional.cross_entropy(net(x), y)
/// loss.backward()
/// print("loss", repr(loss.item()))
/// for name, p in net.named_parameters():
///     print(name, "grad", p.grad.flatten().tolist())
/// bn = net[1]
/// print("running_mean", bn.running_mean.tolist())
/// print("running_var", bn.running_var.tolist())
/// net.eval()
/// print("eval_out", torch.softmax(net(x), 1).flatten().tolist())
/// ```
const TORCH_LOSS: f64 = 0.791007642325189;
/// `(name, gradient)` in PyTorch's layout (`[out, in]` for a Linear's weight).
const TORCH_GRADS: [(&str, &[f64]); 6] = [
    (
        "0.weight",
        &[
            0.09396059176223041,
            0.057597046014531125,
            -0.1773063928342657,
            0.0804895918248526,
            -0.09927043068697607,
            0.10105915222297727,
            0.022996031441322708,
            -0.015117401227236054,
            0.022996244410038176,
            -0.05092213423284241,
            0.045452702137984066,
            -0.03964378863369271,
        ],
    ),
    (
        "0.bias",
        &[
            -1.9081958235744878e-17,
            -2.0816681711721685e-17,
            6.938893903907228e-18,
            3.469446951953614e-18,
        ],
    ),
    (
        "1.weight",
        &[
            -0.1320672568501122,
            0.00179063480860948,
            -0.02484656310638459,
            -0.006094041135390519,
        ],
    ),
    (
        "1.bias",
        &[
            0.1757544209812641,
            0.2034072114149462,
            -0.05584072966829337,
            -0.04466050700361217,
        ],
    ),
    (
        "3.weight",
        &[
            0.00934709502614152,
            -0.06935838853855975,
            0.046122915754982494,
            -0.05713148240900308,
            -0.009347095026141531,
            0.0693583885385597,
            -0.04612291575498253,
            0.05713148240900306,
        ],
    ),
    ("3.bias", &[-0.1305125715923857, 0.13051257159238572]),
];
const TORCH_RUNNING_MEAN: [f64; 4] = [
    -0.10500000000000001,
    -0.025833333333333333,
    0.01666666666666667,
    0.05916666666666667,
];
const TORCH_RUNNING_VAR: [f64; 4] = [1.110625, 1.0559375, 1.0458333333333334, 1.0413541666666668];
const TORCH_EVAL_OUT: [f64; 10] = [
    0.11477727912648267,
    0.8852227208735174,
    0.060918677759697434,
    0.9390813222403026,
    0.6133058805605361,
    0.3866941194394637,
    0.29213775051590835,
    0.7078622494840917,
    0.07213011678993944,
    0.9278698832100606,
];

/// The script's network, its parameters set as the script sets them (in PyTorch's order and
/// layout, transposed into this crate's W).
fn torch_network() -> Network<f64> {
    let mut net = NetworkSpec::new(3)
        .batch_norm(BatchNorm::default())
        .dense(4, Activation::Tanh)
        .dense(2, Activation::Softmax)
        .build::<f64>(0);
    for (i, p) in net.parameters().into_iter().enumerate() {
        let n: usize = p.shape.iter().product();
        let v: Vec<f64> = (0..n)
            .map(|k| ((7 * (i + 1) * k) % 11) as f64 - 5.0)
            .map(|v| v / 6.0)
            .collect();
        match p.shape[..] {
            [inputs, outputs] => {
                for r in 0..outputs {
                    for c in 0..inputs {
                        net.params[p.offset + c * outputs + r] = v[r * inputs + c];
                    }
                }
            }
            _ => net.params[p.offset..p.offset + n].copy_from_slice(&v),
        }
    }
    net
}

fn torch_batch() -> (Matrix<f64>, Vec<usize>) {
    let x = Matrix::from_vec(
        5,
        3,
        vec![
            0.5, -1.0, 2.0, 1.5, 0.0, -0.5, -2.0, 1.0, 0.25, 0.0, 0.75, -1.25, 1.0, -0.5, 0.5,
        ],
    );
    (x, vec![0, 1, 1, 0, 1])
}

fn assert_close(ours: f64, torch: f64, what: &str) {
    assert!(
        (ours - torch).abs() <= 1e-12 * (1.0 + torch.abs()),
        "{what}: mlp {ours}, PyTorch {torch}"
    );
}

#[test]
fn a_training_step_and_inference_equal_pytorchs() {
    let mut net = torch_network();
    let names: Vec<String> = net.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"],
        "the names of torch.nn.Sequential(Linear, BatchNorm1d, Tanh, Linear)"
    );
    let (x, y) = torch_batch();
    let mut ws = Workspace::new(&net, 5);
    let draw = Draw {
        seed: 0,
        epoch: 1,
        batch: 0,
    };
    net.forward_train(x.view(), &mut ws, Par::Seq, draw);
    let loss = ws.evaluate_loss(&net, &Loss::CrossEntropy, TargetsRef::Classes(&y), true);
    assert_close(loss, TORCH_LOSS, "loss");
    net.backward(x.view(), &mut ws, Par::Seq);
    for (p, (name, torch)) in net.parameters().iter().zip(TORCH_GRADS) {
        assert_eq!(p.name, name);
        let n: usize = p.shape.iter().product();
        let g = &ws.grads[p.offset..p.offset + n];
        for (k, &t) in torch.iter().enumerate() {
            let ours = match p.shape[..] {
                [inputs, outputs] => g[(k % inputs) * outputs + k / inputs],
                _ => g[k],
            };
            assert_close(ours, t, &format!("∂E/∂{name}[{k}]"));
        }
    }
    net.update_running_stats(&ws);
    assert_eq!(net.batches_tracked, 1);
    for j in 0..4 {
        assert_close(net.buffers[j], TORCH_RUNNING_MEAN[j], "running_mean");
        assert_close(net.buffers[4 + j], TORCH_RUNNING_VAR[j], "running_var");
    }
    // Inference (PyTorch's eval()): the running statistics.
    let out = net.predict(&x);
    for (k, (&ours, &t)) in out.data.iter().zip(&TORCH_EVAL_OUT).enumerate() {
        assert_close(ours, t, &format!("eval output {k}"));
    }
}

/// The digits with two normalised hidden layers.
fn spec() -> NetworkSpec {
    NetworkSpec::new(64)
        .batch_norm(BatchNorm::default())
        .dense(64, Activation::Relu)
        .dense(32, Activation::Relu)
        .dense(10, Activation::Softmax)
}

fn train(threads: usize, config: TrainConfig) -> Network<f32> {
    let data = builtin::load::<f32>("digits").unwrap();
    let mut net = spec().build::<f32>(3);
    fit(&mut net, &data, &TrainConfig { threads, ..config }).unwrap();
    net
}

#[test]
fn training_moves_the_running_statistics_and_threads_do_not_change_the_bits() {
    let config = TrainConfig {
        epochs: 2,
        batch_size: 50,
        ..Default::default()
    };
    let one = train(1, config.clone());
    let two = train(2, config);
    // 1797 rows in batches of 50: 36 batches an epoch.
    assert_eq!(one.batches_tracked, 72);
    let start = spec().build::<f32>(3);
    assert_ne!(one.buffers, start.buffers, "the running statistics moved");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one.params), bits(&two.params));
    assert_eq!(bits(&one.buffers), bits(&two.buffers));
}

/// The running mean of a layer, after an epoch with momentum 1 and one batch of all rows, is the
/// mean of that layer's h' over the data at the weights the batch saw — computed here by hand
/// from the first layer's product.
#[test]
fn the_running_mean_follows_the_batch_mean() {
    let data = builtin::load::<f64>("iris").unwrap();
    let mut net = NetworkSpec::new(4)
        .batch_norm(BatchNorm {
            momentum: 1.0,
            eps: 1e-5,
        })
        .dense(5, Activation::Tanh)
        .dense(3, Activation::Softmax)
        .build::<f64>(1);
    let start = net.clone();
    let config = TrainConfig {
        epochs: 1,
        batch_size: data.len(),
        optimizer: Optimizer::Sgd,
        ..Default::default()
    };
    fit(&mut net, &data, &config).unwrap();
    let rows = data.len();
    for j in 0..5 {
        let mean: f64 = (0..rows)
            .map(|i| {
                let w = start.layers[0].weight(&start.params);
                let b = start.layers[0].bias(&start.params).unwrap()[j];
                b + (0..4)
                    .map(|c| data.x[(i, c)] * w.data[c * 5 + j])
                    .sum::<f64>()
            })
            .sum::<f64>()
            / rows as f64;
        let var: f64 = (0..rows)
            .map(|i| {
                let w = start.layers[0].weight(&start.params);
                let b = start.layers[0].bias(&start.params).unwrap()[j];
                let h = b
                    + (0..4)
                        .map(|c| data.x[(i, c)] * w.data[c * 5 + j])
                        .sum::<f64>();
                (h - mean) * (h - mean)
            })
            .sum::<f64>()
            / (rows - 1) as f64;
        assert!((net.buffers[j] - mean).abs() < 1e-12, "mean {j}");
        assert!((net.buffers[5 + j] - var).abs() < 1e-12 * var, "var {j}");
    }
}

#[test]
fn early_stopping_keeps_the_best_epochs_running_statistics_too() {
    let data = builtin::load::<f32>("digits").unwrap();
    let (train, val) = data.split(0.3, 4);
    let config = TrainConfig {
        epochs: 40,
        batch_size: 16,
        learning_rate: 0.01,
        early_stopping: Some(2),
        ..Default::default()
    };
    let mut trainer = Trainer::new(spec().build::<f32>(6), &config).unwrap();
    trainer
        .fit(&train, Some(&val), &mut |_| mlp::Control::Continue)
        .unwrap();
    let best = trainer.history.best_epoch.expect("stopped early");
    assert!(
        best < trainer.history.epochs.len(),
        "the best is not the last"
    );
    let best_loss = trainer.history.epochs[best - 1].val_loss.unwrap();
    // The validation loss of the network handed back is the best epoch's, which it is only if
    // its running statistics are that epoch's as well as its weights.
    let (loss, _) = trainer.evaluate(&val);
    assert!(
        (loss - best_loss).abs() <= 1e-6 * best_loss,
        "{loss} vs the best epoch's {best_loss}"
    );
}

#[test]
fn batch_normalisation_learns_the_digits() {
    let data = builtin::load::<f32>("digits").unwrap();
    let (train_set, test) = data.split(0.2, 1);
    let mut net = spec().build::<f32>(1);
    let config = TrainConfig {
        epochs: 10,
        ..Default::default()
    };
    fit(&mut net, &train_set, &config).unwrap();
    let acc = mlp::metrics::accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
    assert!(acc > 0.95, "test accuracy {acc}");
}

#[test]
fn what_batch_normalisation_cannot_do_is_refused() {
    let net = spec().build::<f32>(0);
    let refused = |config: TrainConfig| match Trainer::new(net.clone(), &config) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted {config:?}"),
    };
    let e = refused(TrainConfig {
        batch_size: 1,
        ..Default::default()
    });
    assert!(e.contains("batch of one row has no variance"), "{e}");
    let e = refused(TrainConfig {
        optimizer: Optimizer::parse("lbfgs", 0.0).unwrap(),
        ..Default::default()
    });
    assert!(e.contains("L-BFGS"), "{e}");
}
