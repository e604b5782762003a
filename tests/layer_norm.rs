//! Layer normalisation: one training step against PyTorch's numbers, and training with it where
//! batch normalisation cannot go (batches of one row, L-BFGS), on any number of threads. (Its
//! gradient is checked by finite differences in `tests/gradcheck.rs` and in the module's own
//! tests; its model file in `model_file`'s tests; the command line in `tests/cli.rs`.)

use mlp::data::builtin;
use mlp::{
    fit, Activation, Draw, LayerNorm, Loss, Matrix, Network, NetworkSpec, Optimizer, Par,
    TargetsRef, TrainConfig, Workspace,
};

/// The numbers below come from PyTorch 2.15 (float64) with this script:
///
/// ```python
/// import torch
/// torch.set_default_dtype(torch.float64)
/// net = torch.nn.Sequential(
///     torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Tanh(),
///     torch.nn.Linear(4, 2))
/// with torch.no_grad():
///     for i, p in enumerate(net.parameters()):
///         n = p.numel()
///         p.copy_(torch.tensor([((7 * (i + 1) * k) % 11 - 5) / 6 for k in range(n)]).reshape(p.shape))
/// x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-2.0, 1.0, 0.25],
///                   [0.0, 0.75, -1.25], [1.0, -0.5, 0.5]])
/// y = torch.tensor([0, 1, 1, 0, 1])
/// loss = torch.nn.functional.cross_entropy(net(x), y)
/// loss.backward()
/// print("loss", repr(loss.item()))
/// for name, p in net.named_parameters():
///     print(name, "grad", p.grad.flatten().tolist())
/// print("out", torch.softmax(net(x), 1).flatten().tolist())
/// ```
const TORCH_LOSS: f64 = 1.0295893706173729;
/// `(name, gradient)` in PyTorch's layout (`[out, in]` for a Linear's weight).
const TORCH_GRADS: [(&str, &[f64]); 6] = [
    (
        "0.weight",
        &[
            0.006524499280254881,
            -0.08310768919251625,
            0.07732967111955773,
            0.20858631204746328,
            -0.10582667265788169,
            0.20046614826620276,
            -0.11157715635659829,
            0.09727311034746997,
            -0.14437451968473533,
            -0.10353365497111973,
            0.09166125150292792,
            -0.13342129970102506,
        ],
    ),
    (
        "0.bias",
        &[
            -0.2643955660504008,
            0.531748539151365,
            -0.14424623083300242,
            -0.12310674226796159,
        ],
    ),
    (
        "1.weight",
        &[
            -0.533580205931613,
            0.040541819510802476,
            -0.08337040438386098,
            -0.08469186474179546,
        ],
    ),
    (
        "1.bias",
        &[
            0.3432607046505459,
            0.2977232891009585,
            -0.1162522939368496,
            -0.021863564636707494,
        ],
    ),
    (
        "3.weight",
        &[
            -0.23852903869390157,
            -0.08511683014788937,
            0.008440542460754902,
            -0.18646100134605395,
            0.23852903869390152,
            0.08511683014788936,
            -0.008440542460754897,
            0.18646100134605392,
        ],
    ),
    ("3.bias", &[-0.19394249167088035, 0.19394249167088032]),
];
const TORCH_OUT: [f64; 10] = [
    0.08525964309967905,
    0.914740356900321,
    0.06874914570920714,
    0.9312508542907928,
    0.6018239052732769,
    0.3981760947267231,
    0.1988524329468621,
    0.8011475670531378,
    0.07560241461657316,
    0.9243975853834268,
];

/// The script's network, its parameters set as the script sets them (in PyTorch's order and
/// layout, transposed into this crate's W).
fn torch_network() -> Network<f64> {
    let mut net = NetworkSpec::new(3)
        .layer_norm(LayerNorm::default())
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

fn assert_close(ours: f64, torch: f64, what: &str) {
    assert!(
        (ours - torch).abs() <= 1e-12 * (1.0 + torch.abs()),
        "{what}: mlp {ours}, PyTorch {torch}"
    );
}

#[test]
fn a_training_step_and_inference_equal_pytorchs() {
    let net = torch_network();
    let names: Vec<String> = net.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"],
        "the names of torch.nn.Sequential(Linear, LayerNorm, Tanh, Linear)"
    );
    assert!(net.buffers.is_empty() && net.running_stats().is_empty());
    let x = Matrix::from_vec(
        5,
        3,
        vec![
            0.5, -1.0, 2.0, 1.5, 0.0, -0.5, -2.0, 1.0, 0.25, 0.0, 0.75, -1.25, 1.0, -0.5, 0.5,
        ],
    );
    let y = [0, 1, 1, 0, 1];
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
    // Inference (PyTorch's eval()) is the same map; and each row alone gives its own output.
    let out = net.predict(&x);
    for (k, (&ours, &t)) in out.data.iter().zip(&TORCH_OUT).enumerate() {
        assert_close(ours, t, &format!("output {k}"));
    }
    for i in 0..5 {
        let row = Matrix::from_vec(1, 3, x.data[3 * i..3 * i + 3].to_vec());
        assert_eq!(
            net.predict(&row).data,
            out.data[2 * i..2 * i + 2],
            "row {i}"
        );
    }
}

/// The digits with two normalised hidden layers.
fn spec() -> NetworkSpec {
    NetworkSpec::new(64)
        .layer_norm(LayerNorm::default())
        .dense(64, Activation::Relu)
        .dense(32, Activation::Relu)
        .dense(10, Activation::Softmax)
}

fn digits_accuracy(config: TrainConfig) -> (f64, Network<f32>) {
    let data = builtin::load::<f32>("digits").unwrap();
    let (train_set, test) = data.split(0.2, 1);
    let mut net = spec().build::<f32>(1);
    fit(&mut net, &train_set, &config).unwrap();
    let acc = mlp::metrics::accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
    (acc, net)
}

#[test]
fn layer_normalisation_learns_the_digits_and_threads_do_not_change_the_bits() {
    let config = TrainConfig {
        epochs: 10,
        ..Default::default()
    };
    let (acc, one) = digits_accuracy(TrainConfig {
        threads: 1,
        ..config.clone()
    });
    assert!(acc > 0.95, "test accuracy {acc}");
    let (_, two) = digits_accuracy(TrainConfig {
        threads: 2,
        ..config
    });
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one.params), bits(&two.params));
}

/// Where batch normalisation is refused: the seed's online rule (batches of one row) and L-BFGS
/// (all rows at once, in chunks). A row is its own statistics, so both learn.
#[test]
fn one_row_batches_and_lbfgs_learn() {
    let (acc, _) = digits_accuracy(TrainConfig {
        epochs: 2,
        batch_size: 1,
        optimizer: Optimizer::Sgd,
        learning_rate: 0.01,
        ..Default::default()
    });
    assert!(acc > 0.9, "batches of one row: test accuracy {acc}");
    let (acc, _) = digits_accuracy(TrainConfig {
        epochs: 60,
        optimizer: Optimizer::parse("lbfgs", 0.0).unwrap(),
        learning_rate: 1.0,
        ..Default::default()
    });
    assert!(acc > 0.9, "L-BFGS: test accuracy {acc}");
}
