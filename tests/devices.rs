//! One test body for every device: the CPU always, CUDA where this build has it and a GPU is
//! present (otherwise the CUDA half is skipped, and says why). With `MLP_REQUIRE_CUDA=1` a missing
//! GPU fails instead, so that `scripts/gpu-check.sh` cannot pass by skipping.
//!
//! The CPU is the reference. The GPU computes the same formulas in f32, but sums in another order
//! (cuBLAS's blocked products against the `gemm` crate's, fused multiply-adds in the kernels), so
//! results agree to rounding, not to the bit. Each tolerance below says why it is what it is.

use mlp::data::{builtin, Standardizer};
use mlp::{
    metrics, Activation, AdamParams, BatchNorm, Bias, ClassWeight, Dataset, Device, Dropout,
    LayerNorm, Loss, Matrix, NetworkSpec, Normalization, Optimizer, RmsPropParams, Rng,
    TrainConfig, Trainer,
};

/// The GPU, when there is one to test; else why not (printed) and `None`.
fn cuda() -> Option<Device> {
    let d = Device::Cuda(0);
    match d.check() {
        Ok(()) => Some(d),
        Err(e) if std::env::var("MLP_REQUIRE_CUDA").is_ok_and(|v| v == "1") => {
            panic!("MLP_REQUIRE_CUDA=1 but {e}")
        }
        Err(e) => {
            eprintln!("skipping the CUDA half: {e}");
            None
        }
    }
}

/// Every device to run a test body on, the CPU (the reference) first.
fn devices() -> Vec<Device> {
    std::iter::once(Device::Cpu).chain(cuda()).collect()
}

/// `rows` random rows of `inputs` features; targets by `kind`.
fn data(rows: usize, inputs: usize, outputs: usize, kind: &str, seed: u64) -> Dataset<f32> {
    let mut rng = Rng::new(seed);
    let x = Matrix::from_vec(
        rows,
        inputs,
        (0..rows * inputs).map(|_| rng.normal() as f32).collect(),
    );
    match kind {
        "classes" => {
            Dataset::classification(x, (0..rows).map(|_| rng.below(outputs.max(2))).collect())
        }
        "labels" => {
            let y = (0..rows * outputs).map(|_| rng.below(2) as f32).collect();
            Dataset::multi_label(x, Matrix::from_vec(rows, outputs, y)).unwrap()
        }
        _ => {
            let y = (0..rows * outputs).map(|_| rng.normal() as f32).collect();
            Dataset::regression(x, Matrix::from_vec(rows, outputs, y))
        }
    }
}

/// Largest absolute element.
fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Trains `net` for the epochs of `config` on `d`: the change in every parameter, and the last
/// epoch's mean training loss.
fn train_update(net: mlp::Network<f32>, config: &TrainConfig, d: &Dataset<f32>) -> (Vec<f32>, f64) {
    let before = net.params.clone();
    let what = format!("{} {:?}", config.device, config.matmul);
    let mut t = Trainer::new(net, config).unwrap_or_else(|e| panic!("{what}: {e}"));
    t.fit(d, None, &mut |_| mlp::Control::Continue)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let update = t
        .net
        .params
        .iter()
        .zip(&before)
        .map(|(a, b)| a - b)
        .collect();
    (
        update,
        t.history.epochs.last().expect("an epoch").train_loss,
    )
}

/// `‖a − b‖∞ ≤ rel·‖b‖∞`, with the worst element in the message.
fn assert_close(what: &str, a: &[f32], b: &[f32], rel: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = max_abs(b).max(f32::MIN_POSITIVE);
    let (i, d) = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold((0, 0.0f32), |m, (i, d)| if d > m.1 { (i, d) } else { m });
    assert!(
        d <= rel * scale,
        "{what}: element {i} differs by {d:e} (device {}, cpu {}), more than {rel:e} × {scale:e}",
        a[i],
        b[i]
    );
}

struct Case {
    name: &'static str,
    hidden: Activation,
    output: Activation,
    loss: Loss,
    targets: &'static str,
    outputs: usize,
    bias: Bias,
    optimizer: Optimizer,
    weight_decay: f64,
    clip: Option<f64>,
    dropout: Dropout,
    class_weight: ClassWeight,
    norm: Option<Normalization>,
    epochs: usize,
}

fn case(name: &'static str, hidden: Activation, output: Activation, loss: Loss) -> Case {
    let (targets, outputs) = match loss {
        Loss::CrossEntropy => ("classes", 4),
        Loss::BinaryCrossEntropy => ("classes", 1),
        _ => ("values", 3),
    };
    Case {
        name,
        hidden,
        output,
        loss,
        targets,
        outputs,
        bias: Bias::Zero,
        optimizer: Optimizer::Sgd,
        weight_decay: 0.0,
        clip: None,
        dropout: Dropout::none(),
        class_weight: ClassWeight::Equal,
        norm: None,
        epochs: 1,
    }
}

/// What `one_epoch` leaves: the parameters before and after, batch normalisation's running
/// statistics after (empty without it), the optimizer's state, and the last epoch's mean loss and
/// metric.
struct Trained {
    before: Vec<f32>,
    after: Vec<f32>,
    running: Vec<f32>,
    state: mlp::OptimizerState<f32>,
    loss: f64,
    metric: f64,
}

/// Trains the epochs of `c` (one, unless it says) on `device` (37 rows in batches of 16: two full
/// batches and one of 5, so both the full and the short step run).
fn one_epoch(c: &Case, device: Device, batch: usize) -> Trained {
    let d = data(37, 6, c.outputs, c.targets, 11);
    let mut spec = NetworkSpec::new(6)
        .dense(8, c.hidden.clone())
        .dense(5, c.hidden.clone())
        .dense(c.outputs, c.output.clone())
        .bias(c.bias);
    spec.norm = c.norm;
    let net = spec.build::<f32>(5);
    let before = net.params.clone();
    let config = TrainConfig {
        epochs: c.epochs,
        batch_size: batch,
        learning_rate: 0.05,
        optimizer: c.optimizer,
        loss: Some(c.loss.clone()),
        weight_decay: c.weight_decay,
        clip_grad_norm: c.clip,
        dropout: c.dropout.clone(),
        class_weight: c.class_weight.clone(),
        device,
        ..Default::default()
    };
    let mut t = Trainer::new(net, &config).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    t.fit(&d, None, &mut |_| mlp::Control::Continue)
        .unwrap_or_else(|e| panic!("{} on {device}: {e}", c.name));
    let e = t.history.epochs.last().expect("an epoch");
    Trained {
        before,
        after: t.net.params.clone(),
        running: t.net.buffers.clone(),
        state: t.optimizer.clone(),
        loss: e.train_loss,
        metric: e.train_metric,
    }
}

/// Three SGD-family steps of every activation, loss and output layer: the epoch's loss (forward
/// values) and the parameter updates (gradients, and the optimizer's rule) agree with the CPU.
#[test]
fn forward_gradients_and_steps_agree_with_the_cpu() {
    use Activation::*;
    let mut cases = vec![
        case(
            "relu softmax cross-entropy",
            Relu,
            Softmax,
            Loss::CrossEntropy,
        ),
        case("tanh identity mse", Tanh, Identity, Loss::MeanSquaredError),
        case(
            "sigmoid sigmoid bce",
            Sigmoid,
            Sigmoid,
            Loss::BinaryCrossEntropy,
        ),
        case("gelu softmax mse", Gelu, Softmax, Loss::MeanSquaredError),
        case("elu tanh huber", Elu(0.7), Tanh, Loss::Huber(0.5)),
        case(
            "leaky softplus mae",
            LeakyRelu(0.1),
            Softplus,
            Loss::MeanAbsoluteError,
        ),
        case(
            "softplus identity half-mse",
            Softplus,
            Identity,
            Loss::HalfSquaredError,
        ),
        case("relu elu mse", Relu, Elu(1.0), Loss::MeanSquaredError),
        case("tanh gelu mse", Tanh, Gelu, Loss::MeanSquaredError),
        case(
            "silu softmax cross-entropy",
            Silu,
            Softmax,
            Loss::CrossEntropy,
        ),
        case("tanh silu huber", Tanh, Silu, Loss::Huber(0.5)),
        case(
            "selu softmax cross-entropy",
            Selu,
            Softmax,
            Loss::CrossEntropy,
        ),
        case(
            "relu leaky mse",
            Relu,
            LeakyRelu(0.2),
            Loss::MeanSquaredError,
        ),
        case("sigmoid relu mse", Sigmoid, Relu, Loss::MeanSquaredError),
    ];
    let mut c = case("momentum, L2, clipping", Tanh, Softmax, Loss::CrossEntropy);
    c.optimizer = Optimizer::Momentum(0.9);
    c.weight_decay = 1e-2;
    c.clip = Some(0.5);
    cases.push(c);
    let mut c = case("nesterov, no bias", Relu, Identity, Loss::MeanSquaredError);
    c.optimizer = Optimizer::Nesterov(0.8);
    c.bias = Bias::None;
    cases.push(c);
    let mut c = case("uniform bias", Sigmoid, Softmax, Loss::CrossEntropy);
    c.bias = Bias::Uniform;
    cases.push(c);
    let mut c = case(
        "label smoothing",
        Relu,
        Softmax,
        Loss::SmoothedCrossEntropy(0.1),
    );
    (c.targets, c.outputs) = ("classes", 4);
    cases.push(c);
    agree_with_the_cpu(&cases);
}

/// Dropout (the same masks on every device: dropout.rs draws them from (seed, epoch, batch,
/// layer) alone), class weights and multi-label targets: the same agreement as above, over two
/// epochs, so that the second epoch's masks are not the first's.
#[test]
fn dropout_class_weights_and_labels_agree_with_the_cpu() {
    use Activation::*;
    let mut cases = Vec::new();
    let mut c = case("dropout 0.3", Relu, Softmax, Loss::CrossEntropy);
    c.dropout = Dropout::every(0.3);
    cases.push(c);
    let mut c = case("dropout 0.5, 0", Tanh, Identity, Loss::MeanSquaredError);
    c.dropout = Dropout::per_layer(vec![0.5, 0.0]);
    cases.push(c);
    let mut c = case(
        "dropout 0, 0.2 after GELU",
        Gelu,
        Identity,
        Loss::Huber(1.0),
    );
    c.dropout = Dropout::per_layer(vec![0.0, 0.2]);
    c.bias = Bias::Uniform;
    cases.push(c);
    let mut c = case("balanced classes", Sigmoid, Softmax, Loss::CrossEntropy);
    c.class_weight = ClassWeight::Balanced;
    cases.push(c);
    let mut c = case(
        "named classes, bce",
        Tanh,
        Sigmoid,
        Loss::BinaryCrossEntropy,
    );
    c.class_weight = ClassWeight::Named(vec![("1".into(), 4.0)]);
    cases.push(c);
    let mut c = case(
        "weights and dropout, mse",
        Relu,
        Softmax,
        Loss::MeanSquaredError,
    );
    c.targets = "classes";
    c.outputs = 4;
    c.class_weight = ClassWeight::Named(vec![("0".into(), 0.5), ("3".into(), 2.0)]);
    c.dropout = Dropout::every(0.25);
    cases.push(c);
    let mut c = case("multi-label", Tanh, Sigmoid, Loss::BinaryCrossEntropy);
    (c.targets, c.outputs) = ("labels", 5);
    cases.push(c);
    let mut c = case(
        "multi-label, balanced",
        Relu,
        Sigmoid,
        Loss::BinaryCrossEntropy,
    );
    (c.targets, c.outputs) = ("labels", 5);
    c.class_weight = ClassWeight::Balanced;
    cases.push(c);
    for c in &mut cases {
        c.epochs = 2;
    }
    agree_with_the_cpu(&cases);
}

/// Layer and batch normalisation between every hidden product and its activation (layer_norm.rs,
/// batch_norm.rs; on the GPU `layer_norm_*` and `batch_norm_*`): the same agreement, and batch
/// normalisation's running statistics too, with the bias in the product and without a bias,
/// dropout after the normalised layer, an activation whose Φ' needs u itself (GELU), the adaptive
/// and momentum rules (γ and β step with the rest, undecayed), and regression and classification
/// outputs; over two epochs (batches of 16, 16 and 5 rows).
#[test]
fn normalisation_agrees_with_the_cpu() {
    for norm in [
        Normalization::Layer(LayerNorm::default()),
        Normalization::Batch(BatchNorm::default()),
    ] {
        normalised(norm);
    }
}

fn normalised(norm: Normalization) {
    use Activation::*;
    let mut cases = vec![
        case(
            "elu softmax cross-entropy",
            Elu(0.5),
            Softmax,
            Loss::CrossEntropy,
        ),
        case(
            "sigmoid identity mae",
            Sigmoid,
            Identity,
            Loss::MeanAbsoluteError,
        ),
        case("gelu sigmoid bce", Gelu, Sigmoid, Loss::BinaryCrossEntropy),
    ];
    let mut c = case(
        "dropout 0.3, uniform bias",
        Relu,
        Identity,
        Loss::Huber(0.5),
    );
    c.dropout = Dropout::every(0.3);
    c.bias = Bias::Uniform;
    cases.push(c);
    let mut c = case("no bias, adam", Tanh, Softmax, Loss::CrossEntropy);
    c.bias = Bias::None;
    c.optimizer = Optimizer::Adam(AdamParams::default());
    cases.push(c);
    let mut c = case("momentum, L2", Silu, Identity, Loss::MeanSquaredError);
    c.optimizer = Optimizer::Momentum(0.9);
    c.weight_decay = 1e-2;
    cases.push(c);
    for c in &mut cases {
        c.norm = Some(norm);
        c.epochs = 2;
    }
    agree_with_the_cpu(&cases);
}

/// Trains each case on every device; the GPU's loss, metric and update agree with the CPU's.
fn agree_with_the_cpu(cases: &[Case]) {
    for c in cases {
        let mut reference = None;
        for device in devices() {
            let Trained {
                before,
                after,
                running,
                loss,
                metric,
                ..
            } = one_epoch(c, device, 16);
            let update: Vec<f32> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
            match &reference {
                None => reference = Some((update, running, loss, metric)),
                Some((cpu_update, cpu_running, cpu_loss, cpu_metric)) => {
                    // The epoch's tally: R² from sums over 37 rows (f32 terms, f64 sums), or the
                    // accuracy, where a row whose two best outputs tie to rounding may flip.
                    let tol = if c.targets == "values" {
                        1e-4
                    } else {
                        1.0 / 37.0 + 1e-9
                    };
                    assert!(
                        (metric - cpu_metric).abs() <= tol,
                        "{}: train metric on {device} {metric}, on the CPU {cpu_metric}",
                        c.name
                    );
                    // The loss is a mean of ~100 f32 terms, each a short f32 computation:
                    // a few ulps of its size.
                    assert!(
                        (loss - cpu_loss).abs() <= 1e-5 * cpu_loss.abs().max(1e-3),
                        "{}: loss on {device} {loss}, on the CPU {cpu_loss}",
                        c.name
                    );
                    // Three steps (per epoch) of products of at most 16 terms, rounded
                    // differently: ~1e-6 of the update's size. 1e-3 leaves headroom; a wrong formula (a missing factor, a
                    // transposed product, a wrong derivative) is off by O(1).
                    assert_close(
                        &format!("{} update on {device}", c.name),
                        &update,
                        cpu_update,
                        1e-3,
                    );
                    // Batch normalisation's running statistics: means and variances of the
                    // batches' h', each a sum of 16 f32 terms, moved 0.1 of the way six times.
                    assert_close(
                        &format!("{} running statistics on {device}", c.name),
                        &running,
                        cpu_running,
                        1e-4,
                    );
                }
            }
        }
    }
}

/// Large batches take the GPU's other path (biases added and summed by kernels rather than folded
/// into the products, the tally summed by cuBLAS): the same agreement as above, with and without
/// dropout, and with layer and batch normalisation (the bias then added by their kernels).
#[test]
fn large_batches_agree_with_the_cpu() {
    let d = data(2500, 12, 8, "values", 3);
    let layer_norm = Some(Normalization::Layer(LayerNorm::default()));
    let batch_norm = Some(Normalization::Batch(BatchNorm::default()));
    for (dropout, norm) in [
        (Dropout::none(), None),
        (Dropout::every(0.3), None),
        (Dropout::none(), layer_norm),
        (Dropout::none(), batch_norm),
    ] {
        let mut reference: Option<(Vec<f32>, f64)> = None;
        for device in devices() {
            let mut spec = NetworkSpec::new(12)
                .dense(20, Activation::Tanh)
                .dense(8, Activation::Identity)
                .bias(Bias::Uniform);
            spec.norm = norm;
            let net = spec.build::<f32>(8);
            let config = TrainConfig {
                epochs: 1,
                batch_size: 2048,
                learning_rate: 0.1,
                optimizer: Optimizer::Sgd,
                dropout: dropout.clone(),
                device,
                ..Default::default()
            };
            let (update, loss) = train_update(net, &config, &d);
            match &reference {
                None => reference = Some((update, loss)),
                Some((cpu_update, cpu_loss)) => {
                    // Sums over 2048 rows now: rounding grows like √2048·ε ≈ 5e-6 of the update.
                    let what = format!("dropout {}, {norm:?}", dropout.describe());
                    assert!(
                        (loss - cpu_loss).abs() <= 1e-5 * cpu_loss,
                        "{what}: loss {loss}, CPU {cpu_loss}"
                    );
                    let what = format!("{what}: update on {device}");
                    assert_close(&what, &update, cpu_update, 1e-3);
                }
            }
        }
    }
}

/// Narrow networks at large batches take the GPU's fused path (the whole forward pass in one
/// kernel, the backward pass's δ in another): the same agreement with the CPU, over widths that are
/// not multiples of 4, the widest the kernels take (128), every activation they take, biases that
/// are not zero, and a last batch that ends inside a tile.
#[test]
fn fused_narrow_networks_agree_with_the_cpu() {
    use Activation::*;
    let nets = [
        (
            "37-100-128-7 tanh relu, mse",
            NetworkSpec::new(37)
                .dense(100, Tanh)
                .dense(128, Relu)
                .dense(7, Identity),
            data(9000, 37, 7, "values", 5),
            Loss::MeanSquaredError,
        ),
        (
            "64-64-64-64-16 leaky elu sigmoid, cross-entropy",
            NetworkSpec::new(64)
                .dense(64, LeakyRelu(0.1))
                .dense(64, Elu(1.0))
                .dense(64, Sigmoid)
                .dense(16, Softmax),
            data(9000, 64, 16, "classes", 6),
            Loss::CrossEntropy,
        ),
    ];
    // The CPU, then the GPU with f32 products, then with TF32 products (the fused kernels on the
    // tensor cores where the GPU has them).
    let mut runs = vec![(Device::Cpu, mlp::Matmul::F32)];
    if let Some(gpu) = cuda() {
        runs.extend([(gpu, mlp::Matmul::F32), (gpu, mlp::Matmul::Tf32)]);
    }
    for (name, spec, d, loss) in nets {
        let mut reference: Option<(Vec<f32>, f64)> = None;
        for &(device, matmul) in &runs {
            let net = spec.clone().bias(Bias::Uniform).build::<f32>(9);
            let config = TrainConfig {
                epochs: 1,
                batch_size: 4096,
                learning_rate: 0.1,
                optimizer: Optimizer::Momentum(0.5),
                loss: Some(loss.clone()),
                device,
                matmul,
                ..Default::default()
            };
            if device != Device::Cpu {
                let state = config.optimizer.state::<f32>(net.param_count());
                let run =
                    mlp::device::Run::new(&net, (&loss, &[]), &config, &state, &d, 4096).unwrap();
                assert!(
                    run.kernels().starts_with("fused"),
                    "{name}: the fused path was not chosen ({matmul:?})"
                );
            }
            let (update, loss) = train_update(net, &config, &d);
            match &reference {
                None => reference = Some((update, loss)),
                Some((cpu_update, cpu_loss)) => {
                    // f32, as in large_batches_agree_with_the_cpu: sums over 4096 rows, rounding
                    // near √4096·ε ≈ 8e-6 of the update; three steps (the last of 808 rows).
                    // TF32: inputs of every product rounded to 2⁻¹¹, as in
                    // tensor_core_products_agree_with_the_cpu_to_their_rounding.
                    let (rel, loss_rel) = match matmul {
                        mlp::Matmul::F32 => (1e-3, 1e-5),
                        _ => (1e-2, 1e-2),
                    };
                    assert!(
                        (loss - cpu_loss).abs() <= loss_rel * cpu_loss,
                        "{name} {matmul:?}: loss {loss}, CPU {cpu_loss}"
                    );
                    assert_close(
                        &format!("{name}: update on {device}, {matmul:?}"),
                        &update,
                        cpu_update,
                        rel,
                    );
                }
            }
        }
    }
}

/// The tensor-core modes (TF32 and bf16 products, f32 everywhere else): the same three steps as
/// the f32 GPU, agreeing with the CPU to the rounding of their inputs.
#[test]
fn tensor_core_products_agree_with_the_cpu_to_their_rounding() {
    let c = case(
        "tanh softmax cross-entropy",
        Activation::Tanh,
        Activation::Softmax,
        Loss::CrossEntropy,
    );
    let d = data(37, 6, c.outputs, c.targets, 11);
    let epoch = |device: Device, matmul: mlp::Matmul| {
        let net = NetworkSpec::new(6)
            .dense(8, Activation::Tanh)
            .dense(5, Activation::Tanh)
            .dense(4, Activation::Softmax)
            .bias(Bias::Uniform)
            .build::<f32>(5);
        let config = TrainConfig {
            epochs: 1,
            batch_size: 16,
            learning_rate: 0.05,
            device,
            matmul,
            ..Default::default()
        };
        train_update(net, &config, &d)
    };
    let (cpu_update, cpu_loss) = epoch(Device::Cpu, mlp::Matmul::F32);
    let Some(device) = cuda() else { return };
    // Each product's inputs are rounded to 11 significant bits (TF32, unit roundoff 2⁻¹¹ ≈ 5e-4)
    // or 8 (bf16, 2⁻⁸ ≈ 4e-3), both operands, over sums of up to 16 terms of either sign: a few
    // times that, relative to the largest element. A wrong formula is off by O(1).
    for (matmul, rel) in [(mlp::Matmul::Tf32, 1e-2), (mlp::Matmul::Bf16, 5e-2)] {
        let (update, loss) = epoch(device, matmul);
        assert!(
            (loss - cpu_loss).abs() <= rel as f64 * cpu_loss,
            "{matmul:?}: loss {loss}, CPU {cpu_loss}"
        );
        assert_close(&format!("{matmul:?} update"), &update, &cpu_update, rel);
    }
}

/// The adaptive rules, one step on the whole set (batch 37): their moments agree with the CPU's,
/// and the step applied is the rule's formula of those moments.
#[test]
fn adaptive_optimizer_steps_agree_with_the_cpu() {
    let adam = AdamParams::default();
    let rms = RmsPropParams::default();
    for (name, optimizer, weight_decay) in [
        ("adam", Optimizer::Adam(adam), 0.0),
        ("adamw", Optimizer::AdamW(adam), 0.1),
        ("adam with L2", Optimizer::Adam(adam), 0.1),
        ("rmsprop", Optimizer::RmsProp(rms), 0.0),
    ] {
        let mut c = case(
            "adaptive",
            Activation::Tanh,
            Activation::Softmax,
            Loss::CrossEntropy,
        );
        c.name = name;
        c.optimizer = optimizer;
        c.weight_decay = weight_decay;
        let Trained {
            before,
            after: cpu_after,
            state: cpu_state,
            ..
        } = one_epoch(&c, Device::Cpu, 37);
        let Some(device) = cuda() else { return };
        let Trained { after, state, .. } = one_epoch(&c, device, 37);
        assert_eq!(state.step, 1, "{name}: steps");
        // m = (1−β₁)g and v = (1−β₂)g²: gradients, to the rounding of one backward pass.
        assert_close(&format!("{name} m"), &state.m, &cpu_state.m, 1e-4);
        assert_close(&format!("{name} v"), &state.v, &cpu_state.v, 2e-4);
        // The step, recomputed here in f64 from the device's own moments: it must match to f32
        // rounding of the parameter. (Comparing with the CPU's parameters directly would not do:
        // where g ≈ 0 the first Adam step is ±α·sign(g), and rounding may flip the sign.)
        let lr = 0.05f64;
        for i in 0..before.len() {
            let w0 = before[i] as f64;
            let w0 = match optimizer {
                Optimizer::AdamW(_) if is_weight(i) => w0 * (1.0 - lr * weight_decay),
                _ => w0,
            };
            let expected = match optimizer {
                Optimizer::Adam(p) | Optimizer::AdamW(p) => {
                    let (m, v) = (state.m[i] as f64, state.v[i] as f64);
                    let mhat = m / (1.0 - p.beta1);
                    let vhat = v / (1.0 - p.beta2);
                    w0 - lr * mhat / (vhat.sqrt() + p.eps)
                }
                Optimizer::RmsProp(p) => {
                    // |g| from v; its sign from the CPU's step where g is not ≈ 0.
                    // v = c·g² with c = 1 − ρ rounded to f32, as both devices compute it.
                    let v = state.v[i] as f64;
                    let g = (v / (1.0 - p.rho as f32) as f64).sqrt();
                    let cpu_step = cpu_after[i] as f64 - before[i] as f64;
                    if g < 1e-3 * max_abs(&state.v).sqrt() as f64 {
                        continue;
                    }
                    // w − α·g/(√v + ε), and the CPU's step has the sign of −g
                    w0 + cpu_step.signum() * lr * g / (v.sqrt() + p.eps)
                }
                _ => unreachable!(),
            };
            let got = after[i] as f64;
            assert!(
                (got - expected).abs() <= 1e-6 * lr + 2.0 * f32::EPSILON as f64 * expected.abs(),
                "{name}: parameter {i} is {got}, the rule gives {expected}"
            );
        }
    }
}

/// Weights of the 6-8-5-4 network with zero biases: [W¹ 48 | b¹ 8 | W² 40 | b² 5 | W³ 20 | b³ 4].
fn is_weight(i: usize) -> bool {
    !((48..56).contains(&i) || (96..101).contains(&i) || (121..125).contains(&i))
}

/// A short training run reaches the same accuracy on every device.
#[test]
fn training_reaches_the_same_accuracy() {
    let data = builtin::load::<f32>("digits").unwrap();
    let (mut train, mut test) = data.split(0.2, 4);
    let s = Standardizer::fit(&train.x);
    s.apply(&mut train.x);
    s.apply(&mut test.x);
    for norm in [
        None,
        Some(Normalization::Layer(LayerNorm::default())),
        Some(Normalization::Batch(BatchNorm::default())),
    ] {
        same_accuracy(&train, &test, norm);
    }
}

fn same_accuracy(train: &Dataset<f32>, test: &Dataset<f32>, norm: Option<Normalization>) {
    let mut results = Vec::new();
    for device in devices() {
        let mut spec = NetworkSpec::new(64)
            .dense(64, Activation::Relu)
            .dense(10, Activation::Softmax);
        spec.norm = norm;
        let mut net = spec.build::<f32>(4);
        let config = TrainConfig {
            epochs: 15,
            batch_size: 32,
            learning_rate: 1e-3,
            seed: 4,
            device,
            ..Default::default()
        };
        let h = mlp::fit(&mut net, train, &config).unwrap();
        let acc = metrics::accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
        let last = h.epochs.last().unwrap();
        assert!(acc > 0.93, "{device}, {norm:?}: test accuracy {acc}");
        results.push((device, acc, last.train_loss, last.train_metric));
    }
    let (_, cpu_acc, cpu_loss, cpu_train_acc) = results[0];
    for &(device, acc, loss, train_acc) in &results[1..] {
        // 15 epochs of 45 steps each: rounding differences grow along the trajectory, so the
        // weights are not the CPU's, but the learning is: 360 test rows, 1.5 points is 5 rows.
        assert!(
            (acc - cpu_acc).abs() <= 0.015,
            "{device}, {norm:?}: accuracy {acc}, CPU {cpu_acc}"
        );
        assert!(
            (loss - cpu_loss).abs() <= 0.1 * cpu_loss,
            "{device}, {norm:?}: loss {loss}, CPU {cpu_loss}"
        );
        assert!(
            (train_acc - cpu_train_acc).abs() <= 0.015,
            "{device}, {norm:?}: train accuracy {train_acc}, CPU {cpu_train_acc}"
        );
    }
}

/// Two runs on the same device give the same bits (the GPU's reductions have a fixed order too).
#[test]
fn each_device_is_deterministic() {
    let d = data(300, 10, 3, "values", 2);
    for device in devices() {
        let run = || {
            let mut net = NetworkSpec::new(10)
                .dense(32, Activation::Tanh)
                .dense(3, Activation::Identity)
                .build::<f32>(9);
            let config = TrainConfig {
                epochs: 3,
                batch_size: 64,
                learning_rate: 1e-2,
                clip_grad_norm: Some(1.0),
                device,
                ..Default::default()
            };
            let h = mlp::fit(&mut net, &d, &config).unwrap();
            (net.params, h.epochs.last().unwrap().train_metric)
        };
        let (a, ra) = run();
        let (b, rb) = run();
        assert!(a == b && ra == rb, "{device}: two runs differ");
    }
}

/// What a GPU cannot do gets a clear error, not a panic or a silent CPU run.
#[test]
fn device_errors_are_clear() {
    let net = NetworkSpec::new(2).dense(2, Activation::Softmax);
    let config = TrainConfig {
        device: Device::Cuda(0),
        ..Default::default()
    };
    match cuda() {
        None => {
            let e = Trainer::new(net.build::<f32>(1), &config).err().unwrap();
            assert!(e.to_string().starts_with("device cuda:0: "), "{e}");
        }
        Some(_) => {
            let e = Trainer::new(net.build::<f64>(1), &config).err().unwrap();
            assert!(e.to_string().contains("f32"), "{e}");
            let e = Trainer::new(
                NetworkSpec::new(2)
                    .dense(2, Activation::Softmax)
                    .build::<f32>(1),
                &TrainConfig {
                    device: Device::Cuda(99),
                    ..Default::default()
                },
            )
            .err()
            .unwrap();
            assert!(e.to_string().contains("cuda:99"), "{e}");
            // L-BFGS evaluates the whole training set in its line search, on the CPU only.
            let lbfgs = TrainConfig {
                optimizer: mlp::Optimizer::Lbfgs(Default::default()),
                ..config.clone()
            };
            let e = Trainer::new(net.build::<f32>(1), &lbfgs).err().unwrap();
            assert!(e.to_string().contains("CPU only"), "{e}");
            // So are sample weights.
            let weighted = data(20, 2, 2, "classes", 1)
                .with_sample_weight(vec![1.0; 20])
                .unwrap();
            let mut t = Trainer::new(net.build::<f32>(1), &config).unwrap();
            let e = t
                .fit(&weighted, None, &mut |_| mlp::Control::Continue)
                .unwrap_err();
            assert!(e.to_string().contains("CPU only"), "{e}");
        }
    }
    let tf32_on_cpu = TrainConfig {
        matmul: mlp::Matmul::Tf32,
        ..Default::default()
    };
    assert!(tf32_on_cpu.validate().is_err());
    let bf16_on_cpu = TrainConfig {
        matmul: mlp::Matmul::Bf16,
        ..Default::default()
    };
    let e = bf16_on_cpu.validate().unwrap_err().to_string();
    assert!(e.contains("bf16 products are a GPU mode"), "{e}");
}
