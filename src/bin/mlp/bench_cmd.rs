//! `mlp bench`: one case of `../shared/bench/PROTOCOL.md`, timed exactly as the peers time it, printed
//! as the same one-line JSON record (`"system": "mlp"`).
//!
//! Timed: the training loop only — per-epoch shuffle, batch gathering, forward, loss, backward and
//! update, for all epochs. Not timed: start-up, reading and converting the data, building the
//! network, and the evaluation afterwards. Initialisation: He-uniform weights, zero biases.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mlp::data::idx::read_mnist;
use mlp::data::{read_csv, Columns, Missing, TargetColumn, Targets, Task};
use mlp::{
    metrics, Activation, Control, Dataset, Error, Loss, NetworkSpec, Optimizer, Result,
    TrainConfig, Trainer,
};
use serde_json::json;

use crate::BenchArgs;

/// (layers, hidden activation, optimizer, learning rate, batch) of each case.
fn case(name: &str) -> Result<(Vec<usize>, Activation, Optimizer, f64, usize)> {
    Ok(match name {
        "mnist-mlp-small" => (
            vec![784, 128, 10],
            Activation::Relu,
            Optimizer::Sgd,
            0.1,
            64,
        ),
        "mnist-mlp-wide" => (
            vec![784, 512, 512, 10],
            Activation::Relu,
            Optimizer::default(),
            1e-3,
            128,
        ),
        "seed-online" => (vec![8, 3, 1], Activation::Sigmoid, Optimizer::Sgd, 0.05, 1),
        _ => {
            return Err(Error::config(format!(
                "--case {name}: expected mnist-mlp-small, mnist-mlp-wide or seed-online"
            )))
        }
    })
}

/// `dir/sub/name` or `dir/name`, as the peers look for files.
fn find(dir: &Path, sub: &str, name: &str) -> Result<PathBuf> {
    [dir.join(sub).join(name), dir.join(name)]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| Error::data(dir, format!("{name} not found here or in {sub}/")))
}

fn load(name: &str, dir: &Path) -> Result<(Dataset<f32>, Dataset<f32>)> {
    if name == "seed-online" {
        let read = |f: &str| -> Result<Dataset<f32>> {
            let path = find(dir, "synthetic", f)?;
            Ok(read_csv::<f32>(
                &path,
                &TargetColumn::Last,
                Some(Task::Regression),
                Columns::ALL,
                Missing::Refuse,
            )?
            .data)
        };
        Ok((
            read("seed_online_train.csv")?,
            read("seed_online_test.csv")?,
        ))
    } else {
        let mnist = if dir.join("mnist").is_dir() {
            dir.join("mnist")
        } else {
            dir.to_path_buf()
        };
        read_mnist::<f32>(&mnist)
    }
}

/// (system-wide busy CPU seconds from /proc/stat, this process's CPU seconds), as the peers' `cpu_snapshot`.
fn cpu_snapshot() -> (f64, f64) {
    let busy = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let v: Vec<f64> = s
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7)?)
        })
        .unwrap_or(0.0);
    let (utime, stime, _) = rusage();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (busy / hz.max(1.0), utime + stime)
}

/// (user CPU s, system CPU s, peak RSS MiB) of this process.
fn rusage() -> (f64, f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    (t(ru.ru_utime), t(ru.ru_stime), ru.ru_maxrss as f64 / 1024.0)
}

/// A benchmark's network: `widths` from inputs to outputs, `hidden` between the layers, `output`
/// at the end; He-uniform weights, zero biases.
fn network(
    widths: &[usize],
    hidden: Activation,
    output: Activation,
    seed: u64,
) -> mlp::Network<f32> {
    let mut spec = NetworkSpec::new(widths[0]);
    for &w in &widths[1..widths.len() - 1] {
        spec = spec.dense(w, hidden.clone());
    }
    spec.dense(widths[widths.len() - 1], output).build(seed)
}

/// The cases of `../shared/bench/peers/torch_gpu_mlp.py`: (widths, loss, optimizer, lr, batch);
/// ReLU between layers, biases on.
fn gpu_case(name: &str) -> Result<(Vec<usize>, Loss, Optimizer, f64, usize)> {
    let adam = Optimizer::default();
    let ce = Loss::CrossEntropy;
    let mse = Loss::MeanSquaredError;
    Ok(match name {
        "mnist-mlp-small" => (vec![784, 128, 10], ce, Optimizer::Sgd, 0.1, 64),
        "mnist-mlp-wide" => (vec![784, 512, 512, 10], ce, adam, 1e-3, 128),
        "mnist-mlp-wide-b4096" => (vec![784, 512, 512, 10], ce, adam, 1e-3, 4096),
        "fused-64x4-b65536" => (vec![64, 64, 64, 64, 64, 16], mse, adam, 1e-3, 65536),
        "wide-2048x4-b8192" => (
            vec![1024, 2048, 2048, 2048, 2048, 1024],
            mse,
            adam,
            1e-3,
            8192,
        ),
        _ => {
            return Err(Error::config(format!(
                "--case {name} with --steps: expected mnist-mlp-small, mnist-mlp-wide, \
                 mnist-mlp-wide-b4096, fused-64x4-b65536 or wide-2048x4-b8192"
            )))
        }
    })
}

fn matmul_flag(p: &str) -> Result<mlp::Matmul> {
    mlp::Matmul::parse(p).ok_or_else(|| {
        Error::config(format!(
            "--precision {p}: expected f32, or tf32 or bf16 on a GPU"
        ))
    })
}

/// `--steps`: milliseconds per training step on a GPU, measured as `torch_gpu_mlp.py` measures
/// PyTorch: 8 batches of random data resident on the GPU, rotated; 20 warm-up steps; the timed
/// steps between two CUDA events.
fn gpu_steps(a: &BenchArgs, steps: usize) -> Result<ExitCode> {
    let device = mlp::Device::parse(&a.device)?;
    let (widths, loss, optimizer, lr, batch) = gpu_case(&a.case)?;
    let batch = a.batch.unwrap_or(batch);
    if batch == 0 {
        return Err(Error::config("--batch 0: expected at least one row"));
    }
    let rows = 8 * batch;
    let (inputs, outputs) = (widths[0], *widths.last().expect("widths"));
    let mut rng = mlp::Rng::new(a.seed);
    let x: Vec<f32> = (0..rows * inputs).map(|_| rng.normal() as f32).collect();
    let x = mlp::Matrix::from_vec(rows, inputs, x);
    let data = if loss == Loss::CrossEntropy {
        Dataset::classification(x, (0..rows).map(|_| rng.below(outputs)).collect())
    } else {
        let y = (0..rows * outputs).map(|_| rng.normal() as f32).collect();
        Dataset::regression(x, mlp::Matrix::from_vec(rows, outputs, y))
    };
    let output = if loss == Loss::CrossEntropy {
        Activation::Softmax
    } else {
        Activation::Identity
    };
    let net = network(&widths, Activation::Relu, output, a.seed);
    let config = TrainConfig {
        batch_size: batch,
        learning_rate: lr,
        optimizer,
        loss: Some(loss.clone()),
        device,
        matmul: matmul_flag(&a.precision)?,
        ..Default::default()
    };
    config.validate()?;
    let state = optimizer.state::<f32>(net.param_count());
    let mut run = mlp::device::Run::new(&net, (&loss, &[]), &config, &state, &data, batch)?;
    let ms = run.time_steps(20, steps)?;
    let weights: usize = net.layers.iter().map(|l| l.weight_len()).sum();
    let flops = 6.0 * weights as f64 * batch as f64;
    println!(
        "{}",
        json!({
            "case": a.case,
            "system": "mlp",
            "version": env!("CARGO_PKG_VERSION"),
            "mode": if run.uses_graphs() { "graph" } else { "eager" },
            "kernels": run.kernels(),
            "dtype": a.precision,
            "batch": batch,
            "ms_per_step": (ms * 1e4).round() / 1e4,
            "samples_per_second": (batch as f64 / ms * 1e3).round(),
            "tflops": (flops / ms / 1e9 * 100.0).round() / 100.0,
            "device": run.device_name(),
        })
    );
    Ok(ExitCode::SUCCESS)
}

pub fn bench(a: BenchArgs) -> Result<ExitCode> {
    if let Some(steps) = a.steps {
        if a.activation.is_some() {
            return Err(Error::config(
                "--activation goes with the protocol's epochs; the --steps cases are ReLU networks, as torch_gpu_mlp.py builds them",
            ));
        }
        return gpu_steps(&a, steps);
    }
    if a.batch.is_some() {
        return Err(Error::config(
            "--batch goes with --steps; the protocol's cases fix their batch",
        ));
    }
    let (layers, mut hidden, optimizer, lr, batch) = case(&a.case)?;
    if let Some(act) = &a.activation {
        hidden = Activation::parse(act).map_err(|e| Error::config(format!("--activation: {e}")))?;
    }
    let load_started = Instant::now();
    let (train, test) = load(&a.case, &a.data_dir)?;
    let load_seconds = load_started.elapsed().as_secs_f64();
    let regression = a.case == "seed-online";
    let output = if regression {
        Activation::Identity
    } else {
        Activation::Softmax
    };
    let net = network(&layers, hidden.clone(), output, a.seed);
    let loss = if regression {
        Loss::HalfSquaredError
    } else {
        Loss::CrossEntropy
    };
    let config = TrainConfig {
        epochs: a.epochs,
        batch_size: batch,
        learning_rate: lr,
        optimizer,
        loss: Some(loss.clone()),
        seed: a.seed,
        threads: a.threads,
        device: mlp::Device::parse(&a.device)?,
        matmul: matmul_flag(&a.precision)?,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, &config).map_err(|e| match e {
        Error::Config(m) => Error::config(crate::train_cmd::flag_names(&m)),
        e => e,
    })?;

    let cpu0 = cpu_snapshot();
    let t0 = Instant::now();
    let mut epoch_seconds = Vec::new();
    while !trainer.finished {
        let e0 = Instant::now();
        trainer.step_epoch(&train, None, &mut |_| Control::Continue)?;
        epoch_seconds.push((e0.elapsed().as_secs_f64() * 1e4).round() / 1e4);
    }
    let train_seconds = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_snapshot();
    let rss_after_train = rusage().2;

    let net = &trainer.net;
    let final_train_loss = net.mean_loss(&train.x, train.y.as_ref(), &loss, None);
    let params = net.param_count() as f64;
    let sps = (a.epochs * train.len()) as f64 / train_seconds;
    let mut rec = json!({
        "case": a.case,
        "system": "mlp",
        "version": env!("CARGO_PKG_VERSION"),
        "threads": a.threads,
        "epochs": a.epochs,
        "seed": a.seed,
        "n_train": train.len(),
        "batch": batch,
        "params": net.param_count(),
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / a.epochs as f64,
        "samples_per_second": sps,
        "achieved_gflops": 6.0 * params * sps / 1e9,
        "self_cpu_s": cpu1.1 - cpu0.1,
        "foreign_cpu_s": ((cpu1.0 - cpu0.0) - (cpu1.1 - cpu0.1) + 0.0005).max(0.0),
        "peak_rss_mib": rss_after_train,
        "epoch_seconds": epoch_seconds,
        "final_train_loss": final_train_loss,
        "load_seconds": load_seconds,
    });
    match &test.y {
        Targets::Classes(truth) => {
            rec["test_accuracy"] = json!(metrics::accuracy(
                &net.predict_classes(&test.x),
                truth,
                None
            ))
        }
        Targets::Values(truth) => {
            rec["test_mse"] = json!(metrics::mse(&net.predict(&test.x), truth, None))
        }
        Targets::Labels(truth) => {
            rec["test_accuracy"] =
                json!(metrics::subset_accuracy(&net.predict(&test.x), truth, None))
        }
    }
    if a.activation.is_some() {
        rec["activation"] = json!(hidden.to_string());
    }
    rec["peak_rss_mib_exit"] = json!(rusage().2);
    println!("{rec}");
    Ok(ExitCode::SUCCESS)
}
