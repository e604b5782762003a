//! GEMM candidates at the protocol's shapes, f32, row-major, transposes by strides.
//! Usage: MATMUL_NUM_THREADS=T gemm-choice T   (a markdown table: GFLOP/s = 2·M·N·K / t, best of 7)
//!
//! matrixmultiply's `threading` feature takes its thread count from MATMUL_NUM_THREADS (unset: the
//! number of physical cores), so the variable must equal THREADS for a fair comparison. With
//! THREADS > 1 a last column measures what mlp does: single-threaded matrixmultiply calls on blocks
//! of output rows or columns, split over a rayon pool (`src/tensor.rs`).
use std::time::Instant;

/// (name, m, k, n, a transposed, b transposed): C[m×n] = op(A)[m×k] · op(B)[k×n].
const SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("small fwd x·W¹", 64, 784, 128, false, false),
    ("small dW¹ = xᵀ·δ", 784, 64, 128, true, false),
    ("small fwd h·W²", 64, 128, 10, false, false),
    ("small dh = δ·W²ᵀ", 64, 10, 128, false, true),
    ("wide fwd x·W¹", 128, 784, 512, false, false),
    ("wide fwd h·W²", 128, 512, 512, false, false),
    ("wide dW² = hᵀ·δ", 512, 128, 512, true, false),
    ("wide dh = δ·W²ᵀ", 128, 512, 512, false, true),
    ("wide dW¹ = xᵀ·δ", 784, 128, 512, true, false),
    ("square 1024³", 1024, 1024, 1024, false, false),
];

fn fill(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// Row/column strides of op(X) where X is stored row-major as [rows×cols] before the op.
fn strides(rows_op: usize, cols_op: usize, t: bool) -> (isize, isize) {
    let _ = rows_op;
    if t {
        (1, rows_op as isize) // X stored [cols_op × rows_op] row-major
    } else {
        (cols_op as isize, 1)
    }
}

fn time<F: FnMut()>(flop: f64, mut f: F) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..7 {
        let reps = ((2e9 / flop) as usize).clamp(1, 10_000);
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    flop / best / 1e9
}

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mm_threads = std::env::var("MATMUL_NUM_THREADS").unwrap_or_default();
    assert_eq!(mm_threads, threads.to_string(), "set MATMUL_NUM_THREADS={threads}");
    rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().ok();
    println!("| shape | m×k·k×n | gemm 0.19 | matrixmultiply 0.3 | faer 0.24 | matrixmultiply, mlp's split |");
    println!("|---|---|---|---|---|---|");
    for &(name, m, k, n, ta, tb) in SHAPES {
        let a = fill(m * k, 1);
        let b = fill(k * n, 2);
        let mut c = vec![0f32; m * n];
        let (ars, acs) = strides(m, k, ta);
        let (brs, bcs) = strides(k, n, tb);
        let flop = 2.0 * (m * n * k) as f64;
        let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
        let g = time(flop, || unsafe {
            gemm::gemm(
                m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), acs, ars,
                b.as_ptr(), bcs, brs, 0.0, 1.0, false, false, false, par,
            )
        });
        let mm = time(flop, || unsafe {
            matrixmultiply::sgemm(
                m, k, n, 1.0, a.as_ptr(), ars, acs, b.as_ptr(), brs, bcs, 0.0,
                c.as_mut_ptr(), n as isize, 1,
            )
        });
        let fpar = if threads > 1 { faer::Par::rayon(threads) } else { faer::Par::Seq };
        let fa = time(flop, || {
            let av = faer::MatRef::from_row_major_slice(&a, if ta { k } else { m }, if ta { m } else { k });
            let av = if ta { av.transpose() } else { av };
            let bv = faer::MatRef::from_row_major_slice(&b, if tb { n } else { k }, if tb { k } else { n });
            let bv = if tb { bv.transpose() } else { bv };
            let cv = faer::MatMut::from_row_major_slice_mut(&mut c, m, n);
            faer::linalg::matmul::matmul(cv, faer::Accum::Replace, av, bv, 1.0f32, fpar);
        });
        let split = if threads > 1 {
            // mlp's scheme: split the dimension whose blocks share the smaller operand.
            let split_rows = m * k >= k * n;
            let (len, align) = if split_rows { (m, 8) } else { (n, 16) };
            let block = len.div_ceil(threads).div_ceil(align) * align;
            let c_addr = c.as_mut_ptr() as usize;
            let (a_addr, b_addr) = (a.as_ptr() as usize, b.as_ptr() as usize);
            time(flop, || {
                rayon::scope(|s| {
                    for start in (0..len).step_by(block) {
                        let end = (start + block).min(len);
                        s.spawn(move |_| unsafe {
                            let (pa, pb, pc) = (a_addr as *const f32, b_addr as *const f32, c_addr as *mut f32);
                            if split_rows {
                                matrixmultiply::sgemm(end - start, k, n, 1.0, pa.offset(start as isize * ars), ars, acs,
                                    pb, brs, bcs, 0.0, pc.add(start * n), n as isize, 1)
                            } else {
                                matrixmultiply::sgemm(m, k, end - start, 1.0, pa, ars, acs,
                                    pb.offset(start as isize * bcs), brs, bcs, 0.0, pc.add(start), n as isize, 1)
                            }
                        });
                    }
                });
            })
        } else {
            f64::NAN
        };
        println!("| {name} | {m}×{k}·{k}×{n} | {g:.0} | {mm:.0} | {fa:.0} | {split:.0} |");
    }
}
