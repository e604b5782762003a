//! `cargo bench`: the pieces of a training step, timed with criterion. The protocol cases end to
//! end, against the peers, are `mlp bench` and `scripts/bench-compare.sh` (BENCHMARKS.md).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mlp::tensor::{matmul, Accum};
use mlp::{Activation, Loss, Matrix, NetworkSpec, Optimizer, Par, Rng, TargetsRef, Workspace};

fn random(rows: usize, cols: usize, seed: u64) -> Matrix<f32> {
    let mut rng = Rng::new(seed);
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.normal() as f32).collect(),
    )
}

/// The protocol's products (forward, weight gradient, input gradient), 2 threads.
fn gemm(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("matmul");
    for &(name, m, k, n, at, bt) in &[
        ("small x·W1 64x784x128", 64, 784, 128, false, false),
        ("small dW1 784x64x128", 784, 64, 128, true, false),
        ("small h·W2 64x128x10", 64, 128, 10, false, false),
        ("wide x·W1 128x784x512", 128, 784, 512, false, false),
        ("wide h·W2 128x512x512", 128, 512, 512, false, false),
        ("wide dW2 512x128x512", 512, 128, 512, true, false),
        ("wide dh 128x512x512", 128, 512, 512, false, true),
    ] {
        let a = if at { random(k, m, 1) } else { random(m, k, 1) };
        let b = if bt { random(n, k, 2) } else { random(k, n, 2) };
        let mut out = vec![0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * n * k) as u64)); // FLOPs
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let av = if at { a.view().t() } else { a.view() };
                let bv = if bt { b.view().t() } else { b.view() };
                pool.install(|| matmul(&mut out, Accum::Replace, av, bv, Par::Threads(2)));
                black_box(&out);
            })
        });
    }
    g.finish();
}

/// One training step (forward, loss, backward, update) of each protocol case, on random data.
fn training_step(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("step");
    for (name, layers, act, opt, batch) in [
        (
            "seed-online 8-3-1 b1 sgd",
            vec![8, 3, 1],
            Activation::Sigmoid,
            Optimizer::Sgd,
            1,
        ),
        (
            "mnist-mlp-small 784-128-10 b64 sgd",
            vec![784, 128, 10],
            Activation::Relu,
            Optimizer::Sgd,
            64,
        ),
        (
            "mnist-mlp-wide 784-512-512-10 b128 adam",
            vec![784, 512, 512, 10],
            Activation::Relu,
            Optimizer::default(),
            128,
        ),
    ] {
        let regression = layers[layers.len() - 1] == 1;
        let mut spec = NetworkSpec::new(layers[0]);
        for &w in &layers[1..layers.len() - 1] {
            spec = spec.dense(w, act.clone());
        }
        let out = if regression {
            Activation::Identity
        } else {
            Activation::Softmax
        };
        let mut net = spec.dense(layers[layers.len() - 1], out).build::<f32>(0);
        let loss = if regression {
            Loss::HalfSquaredError
        } else {
            Loss::CrossEntropy
        };
        let x = random(batch, layers[0], 3);
        let classes: Vec<usize> = (0..batch).map(|i| i % 10).collect();
        let values = vec![0.5f32; batch];
        let targets = if regression {
            TargetsRef::Values(&values)
        } else {
            TargetsRef::Classes(&classes)
        };
        let mut ws = Workspace::new(&net, batch);
        let mut state = opt.state::<f32>(net.param_count());
        let par = if batch > 1 { Par::Threads(2) } else { Par::Seq };
        g.throughput(Throughput::Elements(batch as u64)); // samples
        g.bench_function(name, |bench| {
            bench.iter(|| {
                pool.install(|| {
                    net.forward(x.view(), &mut ws, par);
                    let e = ws.evaluate_loss(&net, &loss, targets, true);
                    net.backward(x.view(), &mut ws, par);
                    opt.step(&mut net.params, &mut ws.grads, &mut state, 1e-3, 0.0, &[]);
                    black_box(e)
                })
            })
        });
    }
    g.finish();
}

/// Activation forward (fused with the bias) and backward, and the losses, on a 128×512 batch.
fn kernels(c: &mut Criterion) {
    let (rows, cols) = (128, 512);
    let z0 = random(rows, cols, 4);
    let bias = vec![0.1f32; cols];
    let mut g = c.benchmark_group("kernel");
    g.throughput(Throughput::Elements((rows * cols) as u64));
    for act in Activation::builtin() {
        let mut z = z0.data.clone();
        let mut a = vec![0f32; rows * cols];
        g.bench_function(format!("forward {act}"), |b| {
            b.iter(|| {
                z.copy_from_slice(&z0.data);
                act.forward(&mut z, Some(&bias), &mut a, cols);
                black_box(&a);
            })
        });
        let mut grad = vec![1f32; rows * cols];
        g.bench_function(format!("backward {act}"), |b| {
            b.iter(|| {
                // Afresh each time: multiplied again and again by Φ' < 1 the gradient would sink
                // into subnormals, which the CPU handles hundreds of times slower.
                grad.fill(1.0);
                act.backward(&z, &a, &mut grad, cols);
                black_box(&grad);
            })
        });
    }
    let classes: Vec<usize> = (0..rows).map(|i| i % cols).collect();
    let mut p = z0.data.clone();
    Activation::Softmax.forward(&mut p.clone(), None, &mut p, cols);
    let mut delta = vec![0f32; rows * cols];
    for loss in Loss::builtin() {
        let (out, targets) = match loss {
            Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => {
                (Activation::Softmax, TargetsRef::Classes(&classes))
            }
            Loss::BinaryCrossEntropy => (Activation::Sigmoid, TargetsRef::Values(&z0.data)),
            _ => (Activation::Identity, TargetsRef::Values(&z0.data)),
        };
        g.bench_function(format!("loss {loss}"), |b| {
            b.iter(|| black_box(loss.evaluate(&out, &z0.data, &p, targets, cols, Some(&mut delta))))
        });
    }
    g.finish();
}

/// Reading data: the digits CSV from memory, and an MNIST-sized IDX image file, gzip'd.
fn loading(c: &mut Criterion) {
    use std::io::Write;
    let mut g = c.benchmark_group("load");
    let csv = include_str!("../data/digits.csv");
    g.throughput(Throughput::Bytes(csv.len() as u64));
    g.bench_function("csv digits (265 kB)", |b| {
        b.iter(|| {
            mlp::data::read_csv_from::<f32>(
                csv.as_bytes(),
                "digits",
                &mlp::data::TargetColumn::Last,
                None,
                mlp::data::Columns::ALL,
                mlp::data::Missing::Refuse,
            )
            .unwrap()
        })
    });
    let n = 10_000u32;
    let mut raw = vec![0, 0, 8, 3];
    for d in [n, 28, 28] {
        raw.extend_from_slice(&d.to_be_bytes());
    }
    let mut rng = Rng::new(5);
    raw.extend((0..n as usize * 784).map(|i| {
        if i % 3 == 0 {
            (rng.next_u64() & 255) as u8
        } else {
            0
        }
    }));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("idx 10 000 images, gzip'd", |b| {
        b.iter(|| mlp::data::idx::idx_from_bytes(&gz, std::path::Path::new("x.gz")).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2));
    targets = gemm, training_step, kernels, loading
}
criterion_main!(benches);
