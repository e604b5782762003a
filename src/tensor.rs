//! Row-major matrices, one sample per row, and the one place that multiplies them.
//!
//! Matrix products go through the [`gemm`](https://crates.io/crates/gemm) crate, chosen by
//! measurement at the protocol's shapes (see `BENCHMARKS.md`). A [`View`] carries its strides
//! and [`View::t`] swaps them, so `xᵀ·δ` and `δ·Wᵀ` read the same memory as `x·W`; the one
//! transpose ever materialised is a large right factor like `Wᵀ`, copied for the product in
//! [`matmul`] because gemm reads it slowly (measured there).

use rayon::prelude::*;
use std::cell::RefCell;
use std::fmt::{Debug, Display, LowerExp};
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// The two floating-point types a network trains in: `f32` (the default) and `f64`
/// (as scikit-learn trains; gradient checks need it).
pub trait Float:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + 'static
    + Default
    + PartialOrd
    + Debug
    + Display
    + LowerExp
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
{
    /// `"f32"` or `"f64"`, as written in model files.
    const NAME: &'static str;
    const ZERO: Self;
    const ONE: Self;
    /// Converts from `f64`, rounding to nearest.
    fn of(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn tanh(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn max(self, other: Self) -> Self;
    fn min(self, other: Self) -> Self;
    fn is_finite(self) -> bool;
    /// tanh of every value, in place. f32 runs rten-vecmath's SIMD kernel (within 1.6 ulp of the
    /// correctly rounded value over [−20, 20], as glibc's `tanhf` is); f64 calls `tanh` per value.
    fn tanh_in_place(xs: &mut [Self]);
    /// σ(x) = 1/(1 + e^{−x}) of every value, in place: f32 in SIMD as above (within 1.5 ulp),
    /// f64 by the overflow-free formula per value.
    fn sigmoid_in_place(xs: &mut [Self]);
    /// e^x of every value, in place: f32 in SIMD as above (within 1 ulp), f64 per value.
    fn exp_in_place(xs: &mut [Self]);
    /// Ψ(x) = ½·erfc(−x/√2), the standard normal CDF, of every value, in place: f32 through one
    /// SIMD exponential (within (4 + x²/2)·ε of Ψ, relative: 4 ε and what rounding x to f32 costs;
    /// see `simd_f32::normal_cdf`), f64 by libm's `erfc` per value. Through erfc, Ψ of a negative
    /// x keeps its digits (½·(1 + erf) cancels them: ~100 ε off at x = −3, ~5 000 at −4, all at −6).
    fn normal_cdf_in_place(xs: &mut [Self]);
    /// This thread's buffer for [`matmul`]'s transposed copies, kept between products so that a
    /// training step allocates nothing.
    fn scratch() -> &'static std::thread::LocalKey<RefCell<Vec<Self>>>;
}

/// Only f32 and f64 are floats here (the `gemm` crate dispatches on them).
mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

macro_rules! impl_float {
    ($t:ty, $slices:ident) => {
        impl Float for $t {
            const NAME: &'static str = stringify!($t);
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn of(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            fn tanh_in_place(xs: &mut [Self]) {
                $slices::tanh(xs)
            }
            fn sigmoid_in_place(xs: &mut [Self]) {
                $slices::sigmoid(xs)
            }
            fn exp_in_place(xs: &mut [Self]) {
                $slices::exp(xs)
            }
            fn normal_cdf_in_place(xs: &mut [Self]) {
                $slices::normal_cdf(xs)
            }
            fn scratch() -> &'static std::thread::LocalKey<RefCell<Vec<Self>>> {
                thread_local!(static SCRATCH: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) });
                &SCRATCH
            }
        }
    };
}
impl_float!(f32, simd_f32);
impl_float!(f64, per_value);

/// f32's whole-slice functions: rten-vecmath's kernels. An element-wise pass of tanh or σ costs
/// as much as a layer's product when each value is a call into the C library (a tanh network on
/// MNIST spent a fifth of its epoch in `tanhf`); these run 16 or 8 values per instruction.
mod simd_f32 {
    use rten_simd::SimdUnaryOp;

    pub fn tanh(xs: &mut [f32]) {
        rten_vecmath::Tanh {}.map_mut(xs)
    }

    pub fn sigmoid(xs: &mut [f32]) {
        rten_vecmath::Sigmoid {}.map_mut(xs)
    }

    pub fn exp(xs: &mut [f32]) {
        rten_vecmath::Exp {}.map_mut(xs)
    }

    /// Ψ(x) = ½·erfc(−x/√2). For u ≥ 0, erfc(u) = t·e^{−u² + P(t)} with t = 1/(1 + u/2) and P the
    /// degree-9 Chebyshev fit of Numerical Recipes' `erfcc` (relative error below 1.2e-7 for every
    /// u ≥ 0), and erfc(−u) = 2 − erfc(u). Written here because no crate offers Ψ (or erfc) over
    /// slices: `libm::erfcf` per value made a GELU network's epoch a third slower than ReLU's, and
    /// rten-vecmath's `Erf` is Abramowitz–Stegun's 7.1.26, 7e-7 off in absolute terms — all of Ψ
    /// at x = −5. Here the polynomial vectorises and the one exponential runs in rten's SIMD
    /// kernel; the tests bound the result against f64's erfc ((4 + x²/2)·ε, relative).
    pub fn normal_cdf(xs: &mut [f32]) {
        // Numerical Recipes' coefficients as published (f32 rounds the last digits).
        #[allow(clippy::excessive_precision)]
        const P: [f32; 10] = [
            -1.265_512_23,
            1.000_023_68,
            0.374_091_96,
            0.096_784_18,
            -0.186_288_06,
            0.278_868_07,
            -1.135_203_98,
            1.488_515_87,
            -0.822_152_23,
            0.170_872_77,
        ];
        const CHUNK: usize = 256;
        // t, signed as x: the sign says which side of erfc(−u) = 2 − erfc(u) the value is on.
        let mut ts = [0f32; CHUNK];
        for xs in xs.chunks_mut(CHUNK) {
            let ts = &mut ts[..xs.len()];
            for (x, t) in xs.iter_mut().zip(ts.iter_mut()) {
                let u = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
                let tu = 1.0 / (1.0 + 0.5 * u);
                let p = P.iter().rev().fold(0.0, |p, &c| p * tu + c);
                *t = tu.copysign(*x);
                // −u² as −x²/2: one rounding (the product's), not u's too.
                *x = p - 0.5 * (*x * *x);
            }
            exp(xs);
            for (x, &t) in xs.iter_mut().zip(ts.iter()) {
                let half_erfc = 0.5 * t.abs() * *x;
                *x = if t.is_sign_negative() {
                    half_erfc
                } else {
                    1.0 - half_erfc
                };
            }
        }
    }
}

/// f64's: the scalar functions, one value at a time (f64 is for gradient checks and exactness).
mod per_value {
    pub fn tanh(xs: &mut [f64]) {
        xs.iter_mut().for_each(|x| *x = x.tanh())
    }

    pub fn sigmoid(xs: &mut [f64]) {
        xs.iter_mut()
            .for_each(|x| *x = crate::activation::sigmoid(*x))
    }

    pub fn exp(xs: &mut [f64]) {
        xs.iter_mut().for_each(|x| *x = x.exp())
    }

    pub fn normal_cdf(xs: &mut [f64]) {
        xs.iter_mut()
            .for_each(|x| *x = 0.5 * libm::erfc(-*x * std::f64::consts::FRAC_1_SQRT_2))
    }
}

/// A dense row-major matrix: `rows` samples of `cols` values each.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<T>,
}

impl<T: Float> Matrix<T> {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![T::ZERO; rows * cols],
        }
    }

    /// Wraps row-major `data`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "Matrix::from_vec: {} values for a {rows}×{cols} matrix",
            data.len()
        );
        Matrix { rows, cols, data }
    }

    /// Builds a matrix from rows of `f64` (convenient in tests and examples).
    ///
    /// # Panics
    /// If the rows have different lengths.
    #[track_caller]
    pub fn from_rows(rows: &[&[f64]]) -> Self {
        let cols = rows.first().map_or(0, |r| r.len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            assert_eq!(r.len(), cols, "Matrix::from_rows: ragged rows");
            data.extend(r.iter().map(|&v| T::of(v)));
        }
        Matrix::from_vec(rows.len(), cols, data)
    }

    /// Row `i` as a slice.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The whole matrix as a [`View`].
    pub fn view(&self) -> View<'_, T> {
        View::new(&self.data, self.rows, self.cols)
    }

    /// Column `j` as a new `rows × 1` matrix.
    pub fn column(&self, j: usize) -> Matrix<T> {
        Matrix::from_vec(
            self.rows,
            1,
            (0..self.rows)
                .map(|r| self.data[r * self.cols + j])
                .collect(),
        )
    }

    /// Rows `start..end`, borrowed.
    pub fn view_rows(&self, start: usize, end: usize) -> View<'_, T> {
        View::new(
            &self.data[start * self.cols..end * self.cols],
            end - start,
            self.cols,
        )
    }

    /// Rows `start..end` as a new matrix.
    pub fn slice_rows(&self, start: usize, end: usize) -> Matrix<T> {
        Matrix::from_vec(
            end - start,
            self.cols,
            self.data[start * self.cols..end * self.cols].to_vec(),
        )
    }

    /// The rows at `indices`, in that order.
    pub fn gather_rows(&self, indices: &[usize]) -> Matrix<T> {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix::from_vec(indices.len(), self.cols, data)
    }

    /// Converts every value to another float type.
    pub fn cast<U: Float>(&self) -> Matrix<U> {
        Matrix::from_vec(
            self.rows,
            self.cols,
            self.data.iter().map(|v| U::of(v.f64())).collect(),
        )
    }

    /// Index of the largest value in each row (ties: the first).
    pub fn argmax_rows(&self) -> Vec<usize> {
        (0..self.rows)
            .map(|i| {
                let row = self.row(i);
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best
            })
            .collect()
    }
}

impl<T: Float> std::ops::Index<(usize, usize)> for Matrix<T> {
    type Output = T;
    fn index(&self, (i, j): (usize, usize)) -> &T {
        &self.data[i * self.cols + j]
    }
}

impl<T: Float> std::ops::IndexMut<(usize, usize)> for Matrix<T> {
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut T {
        &mut self.data[i * self.cols + j]
    }
}

/// A borrowed `rows × cols` matrix with arbitrary strides, so that a transpose is free.
#[derive(Clone, Copy, Debug)]
pub struct View<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Float> View<'a, T> {
    /// The first `rows * cols` values of `data`, row-major.
    ///
    /// # Panics
    /// If `data` is shorter than `rows * cols`.
    #[track_caller]
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "View::new: {} values for a {rows}×{cols} view",
            data.len()
        );
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose: the same memory read with swapped strides.
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Element `(i, j)`.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// Whether a product replaces the destination or is added to it (faer's `Accum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accum {
    Replace,
    Add,
}

/// How many threads one product may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Par {
    /// On the calling thread.
    Seq,
    /// On up to this many threads of the current rayon pool.
    Threads(usize),
}

impl Par {
    /// The threads shared between two products run side by side (`rayon::join`): half each,
    /// the odd one to the second.
    pub fn halves(self) -> (Par, Par) {
        let share = |t: usize| if t > 1 { Par::Threads(t) } else { Par::Seq };
        match self {
            Par::Threads(t) if t > 1 => (share(t / 2), share(t - t / 2)),
            Par::Threads(_) | Par::Seq => (Par::Seq, Par::Seq),
        }
    }
}

/// Runs `work` on the current rayon pool with the pool's other threads kept awake: each spins,
/// taking whatever job `work` posts (`rayon::yield_now`), instead of going to sleep between jobs,
/// as OpenMP's threads spin between parallel regions (PyTorch's and MKL's products run so).
///
/// A training step alternates parallel products with short serial stretches (a bias, an
/// activation, the loss). Between them rayon's idle threads sleep, and here a sleeping thread
/// took tens of µs to wake: mnist-mlp-small's 64×784·784×128 product, 64 µs on two threads back
/// to back, took 83 µs after a serial stretch of 30 µs and 111 µs after 60 µs (one thread: 135),
/// and 64–66 µs after either with the threads kept awake. Only where the work runs; the results
/// are the same bits (the same jobs, run by the same rules).
pub fn with_threads_awake<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let helpers = rayon::current_num_threads().saturating_sub(1);
    if helpers == 0 || rayon::current_thread_index().is_none() {
        return work();
    }
    let (done, started) = (AtomicBool::new(false), AtomicUsize::new(0));
    /// Ends the helpers' spinning however `work` ends, a panic included (else the scope would
    /// wait for them for ever).
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    rayon::scope(|s| {
        let _done = Done(&done);
        for _ in 0..helpers {
            s.spawn(|_| {
                started.fetch_add(1, Ordering::AcqRel);
                // Until every helper has its own thread, take no job: a helper taken as a job by
                // a thread that already runs one would spin on it, leaving a thread asleep.
                while started.load(Ordering::Acquire) < helpers && !done.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        // Nor may this thread take a helper as a job while `work` waits on its own jobs: it would
        // spin there for ever, `work` unfinished below it. So `work` starts once all have started.
        while started.load(Ordering::Acquire) < helpers {
            std::hint::spin_loop();
        }
        work()
    })
}

/// Up to this many multiply-adds a product is a plain loop (see `matmul`): measured with
/// `mlp bench --case seed-online` (`BENCHMARKS.md`).
const TINY_MACS: usize = 512;

/// Whether [`matmul`] writes an `m×k · k×n` product out as a plain loop rather than calling gemm.
fn is_plain_loop(m: usize, k: usize, n: usize) -> bool {
    m * n * k <= TINY_MACS
}

/// Below this many multiply-adds a product runs on one thread: splitting it costs more than it saves.
pub const PARALLEL_MIN_MACS: usize = 1 << 18;

/// From this many multiply-adds in a step's largest product on, the pool's threads are kept awake
/// through the epoch ([`with_threads_awake`]). Below it a product takes a few µs, and a thread
/// spinning beside such steps only costs: the default run (`mlp train`: 64-128-10 on digits at
/// batch 32, 262 k multiply-adds) took 0.225–0.237 s for 100 epochs with the threads awake against
/// 0.15–0.17 without (one thread: 0.14); mnist-mlp-small's 6.4 M gained 4–12 % (BENCHMARKS.md).
pub const AWAKE_MIN_MACS: usize = 1 << 21;

/// The fewest steps an epoch must have for its threads to be kept awake: waking them at the
/// epoch's start and the spinning beside short epochs cost more than the steps gain. digits
/// (1 438 rows) at batch 256 or 512, 6 or 3 steps of products above `AWAKE_MIN_MACS`, ran
/// 5–15 % slower awake (0.26 against 0.21–0.25 s for 200 epochs; 0.36–0.39 against 0.32–0.34
/// for 300); mnist-mlp-small's 938 steps gained.
pub const AWAKE_MIN_STEPS: usize = 64;

/// From this many values on, a right factor read through a transposed view (`δ·Wᵀ`, the
/// backward pass's ∂E/∂h) is copied into row-major order before the product. gemm packs such a
/// factor on one thread, value by value down its columns: mnist-mlp-wide's `δ·W²ᵀ`
/// (128×512·512×512) took 760–820 µs in the training step, and back to back 730–950 µs
/// through the view against 370–410 with W² already transposed. The copy costs 80–90 µs on its
/// own, more where W² has left the cache; whole epochs are the measure (`BENCHMARKS.md`). Below
/// 2¹⁵ values the copy lost to the view (128×128·128×256 gained 11–14 %, 64×128·128×128 lost).
const TRANSPOSED_COPY_MIN: usize = 1 << 15;

/// `dst = a·b` or `dst += a·b`, with `dst` row-major `a.rows × b.cols`.
///
/// With [`Par::Threads`], a large product runs on that many threads of the current rayon pool.
/// The `gemm` crate parallelises over blocks of the output, never over the inner dimension, so
/// each element is summed in the same order on any number of threads and the result does not
/// depend on the thread count (checked bit for bit by `tests/determinism.rs`).
///
/// # Panics
/// If the shapes do not agree or `dst` is too short.
#[track_caller]
pub fn matmul<T: Float>(dst: &mut [T], accum: Accum, a: View<'_, T>, b: View<'_, T>, par: Par) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "matmul: {m}×{k} · {}×{n}", b.rows);
    assert!(dst.len() >= m * n, "matmul: destination too short");
    if m == 0 || n == 0 {
        return;
    }
    if is_plain_loop(m, k, n) {
        tiny(dst, accum, a, b);
        return;
    }
    let transposed_right = b.row_stride == 1 && b.col_stride > 1 && k > 1 && m > 1;
    if transposed_right && k * n >= TRANSPOSED_COPY_MIN {
        return product_of_copy(dst, accum, a, b, par);
    }
    gemm_product(dst, accum, a, b, par);
}

/// `dst ← dst − α·(a·b)`: plain gradient descent on a weight matrix whose gradient is the product
/// `a·b` (∂E/∂W = xᵀ·δ), with the update folded into the product, so that the gradient is never
/// written and read back. Returns `false`, touching nothing, for a product [`matmul`] would write
/// out as a plain loop: there the caller keeps the gradient and steps as before.
///
/// gemm adds −α·Σ onto each element of `dst` with one fused multiply-add as it stores the sums,
/// once per block of the inner dimension (one block at the batch sizes of a training step), where
/// W − α·g rounds α·g first: the same update to within a rounding of each weight. Each element is
/// still summed in one order on any number of threads. An outer product (k = 1: one row's
/// xᵀ·δ, the seed's online rule) small enough for a plain loop steps each weight by α·(xᵢ·δⱼ),
/// the bits of the gradient kept and stepped.
///
/// # Panics
/// If the shapes do not agree or `dst` is too short.
#[track_caller]
pub fn descend<T: Float>(dst: &mut [T], lr: T, a: View<'_, T>, b: View<'_, T>, par: Par) -> bool {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "descend: {m}×{k} · {}×{n}", b.rows);
    assert!(dst.len() >= m * n, "descend: destination too short");
    if !is_plain_loop(m, k, n) {
        gemm_call(dst, (true, -lr), a, b, par);
        return true;
    }
    if k != 1 {
        return false;
    }
    let last = |v: &View<'_, T>| (v.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride;
    assert!(m > 0 && n > 0 && last(&a) < a.data.len() && last(&b) < b.data.len());
    outer(&mut dst[..m * n], a, b, |d, ab| *d -= lr * ab);
    true
}

/// An outer product (k = 1: ∂E/∂W = xᵀ·δ at batch 1), one multiply per element: `put(d, aᵢ·bⱼ)`
/// for each element d of `dst` (`[m × n]`). Column by column: the inner loop's stores are
/// strided, so LLVM leaves it a plain scalar loop instead of a vector loop whose set-up outweighs
/// three elements. The caller has checked that the views' last elements lie inside their data.
#[inline(always)]
fn outer<T: Float>(dst: &mut [T], a: View<'_, T>, b: View<'_, T>, put: impl Fn(&mut T, T)) {
    let (m, n) = (a.rows, b.cols);
    debug_assert_eq!(dst.len(), m * n);
    for j in 0..n {
        // SAFETY: j·cs ≤ last(b) and i·rs ≤ last(a), checked by the caller; i·n + j < m·n = dst.len().
        let bj = unsafe { *b.data.get_unchecked(j * b.col_stride) };
        let (mut ia, mut id) = (0, j);
        for _ in 0..m {
            let d = unsafe { dst.get_unchecked_mut(id) };
            put(d, unsafe { *a.data.get_unchecked(ia) } * bj);
            ia += a.row_stride;
            id += n;
        }
    }
}

/// [`matmul`] with `b` copied into row-major order first (see [`TRANSPOSED_COPY_MIN`]): the
/// same products, summed in the same order, so the same bits.
// Out of line: the small products' calls (seed-online's, many per step) stay as lean as they were.
#[inline(never)]
fn product_of_copy<T: Float>(
    dst: &mut [T],
    accum: Accum,
    a: View<'_, T>,
    b: View<'_, T>,
    par: Par,
) {
    // The thread's buffer is borrowed across the product; should rayon run another product on
    // this thread meanwhile (it may, while it waits), that one copies into a buffer of its own.
    T::scratch().with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => copy_then_product(dst, accum, a, b, par, &mut buffer),
        Err(_) => copy_then_product(dst, accum, a, b, par, &mut Vec::new()),
    })
}

fn copy_then_product<T: Float>(
    dst: &mut [T],
    accum: Accum,
    a: View<'_, T>,
    b: View<'_, T>,
    par: Par,
    buffer: &mut Vec<T>,
) {
    let (k, n) = (b.rows, b.cols);
    if buffer.len() < k * n {
        buffer.resize(k * n, T::ZERO);
    }
    let rows = &mut buffer[..k * n];
    copy_transposed(b, rows, par);
    gemm_product(dst, accum, a, View::new(rows, k, n), par);
}

/// `out` = the values of `b` in row-major order, where `b` is a transposed view (row stride 1).
/// In 16×16 tiles, so that the reads run along `b`'s columns and the writes along `out`'s rows,
/// 16 values at a time, and in bands of rows, one per thread. Written here rather than taken
/// from a crate: a few loops, tuned to the one product that needs them.
fn copy_transposed<T: Float>(b: View<'_, T>, out: &mut [T], par: Par) {
    const TILE: usize = 16;
    let (k, n, stride) = (b.rows, b.cols, b.col_stride);
    // Rows `first..` of `out`, as many as `band` holds.
    let copy_band = |first: usize, band: &mut [T]| {
        let last = first + band.len() / n;
        for c0 in (0..n).step_by(TILE) {
            let width = TILE.min(n - c0);
            for r0 in (first..last).step_by(TILE) {
                let height = TILE.min(last - r0);
                let mut tile = [[T::ZERO; TILE]; TILE];
                if width == TILE && height == TILE {
                    // A whole tile: fixed lengths, so that both loops become vector moves.
                    for (j, column) in tile.iter_mut().enumerate() {
                        let from = (c0 + j) * stride + r0;
                        *column = b.data[from..from + TILE].try_into().expect("16 values");
                    }
                    for i in 0..TILE {
                        let at = (r0 - first + i) * n + c0;
                        let row: &mut [T; TILE] =
                            (&mut band[at..at + TILE]).try_into().expect("16");
                        for (v, column) in row.iter_mut().zip(&tile) {
                            *v = column[i];
                        }
                    }
                    continue;
                }
                for (j, column) in tile[..width].iter_mut().enumerate() {
                    let from = (c0 + j) * stride + r0;
                    column[..height].copy_from_slice(&b.data[from..from + height]);
                }
                for i in 0..height {
                    let row = &mut band[(r0 - first + i) * n + c0..][..width];
                    for (v, column) in row.iter_mut().zip(&tile) {
                        *v = column[i];
                    }
                }
            }
        }
    };
    match par {
        Par::Threads(t) if t > 1 => {
            let rows_each = k.div_ceil(t).next_multiple_of(TILE);
            out.par_chunks_mut(rows_each * n)
                .enumerate()
                .for_each(|(i, band)| copy_band(i * rows_each, band));
        }
        Par::Threads(_) | Par::Seq => copy_band(0, out),
    }
}

/// The product through gemm, with the views' strides as they are.
fn gemm_product<T: Float>(dst: &mut [T], accum: Accum, a: View<'_, T>, b: View<'_, T>, par: Par) {
    gemm_call(dst, (accum == Accum::Add, T::ONE), a, b, par)
}

/// `dst = β·(a·b)`, or with `read_dst` `dst += β·(a·b)`, through gemm.
fn gemm_call<T: Float>(
    dst: &mut [T],
    (read_dst, beta): (bool, T),
    a: View<'_, T>,
    b: View<'_, T>,
    par: Par,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let parallelism = match par {
        Par::Threads(t) if t > 1 && m * n * k >= PARALLEL_MIN_MACS => gemm::Parallelism::Rayon(t),
        _ => gemm::Parallelism::None,
    };
    // SAFETY: `matmul`'s assertions (and `View::new`'s, for a copied factor) guarantee that
    // every element addressed by the shapes and strides lies inside `dst`, `a.data` and
    // `b.data`; `dst` is borrowed mutably, so it aliases neither.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            read_dst,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            T::ONE,
            beta,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// A product of a few dozen multiply-adds (the seed's 8-3-1 network at batch 1), written out here
/// rather than called: at these sizes any GEMM library's dispatch and packing cost more than the
/// arithmetic. Not a GEMM kernel: one dot product per element, summed in order of k (onto the
/// element's old value, with [`Accum::Add`]).
fn tiny<T: Float>(dst: &mut [T], accum: Accum, a: View<'_, T>, b: View<'_, T>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let last = |v: &View<'_, T>| (v.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride;
    assert!(m > 0 && k > 0 && n > 0 && last(&a) < a.data.len() && last(&b) < b.data.len());
    let dst = &mut dst[..m * n];
    if m == 1 && n <= 4 {
        // One row, a few columns (the seed's network at batch 1, forward): the sums in registers.
        match n {
            1 => return row_product::<T, 1>(dst, accum, a, b),
            2 => return row_product::<T, 2>(dst, accum, a, b),
            3 => return row_product::<T, 3>(dst, accum, a, b),
            _ => return row_product::<T, 4>(dst, accum, a, b),
        }
    }
    if k == 1 {
        return outer(dst, a, b, |d, ab| {
            let s = if accum == Accum::Add { *d } else { T::ZERO };
            *d = s + ab;
        });
    }
    for i in 0..m {
        for j in 0..n {
            let d = &mut dst[i * n + j];
            let mut s = if accum == Accum::Add { *d } else { T::ZERO };
            let (mut ia, mut ib) = (i * a.row_stride, j * b.col_stride);
            for _ in 0..k {
                // SAFETY: ia = i·rs + p·cs ≤ last(a) and ib = p·rs + j·cs ≤ last(b) for p < k,
                // both checked against the lengths above.
                s += unsafe { *a.data.get_unchecked(ia) * *b.data.get_unchecked(ib) };
                ia += a.col_stride;
                ib += b.row_stride;
            }
            *d = s;
        }
    }
}

/// `tiny` for one row of `a` and N columns of `b`: k outermost, the N sums held in registers, each
/// still summed in order of k (the same bits as `tiny`'s loop). `tiny` has checked the views.
#[inline(always)]
fn row_product<T: Float, const N: usize>(
    dst: &mut [T],
    accum: Accum,
    a: View<'_, T>,
    b: View<'_, T>,
) {
    let mut s = [T::ZERO; N];
    if accum == Accum::Add {
        s.copy_from_slice(&dst[..N]);
    }
    let (mut ia, mut ib) = (0, 0);
    for _ in 0..a.cols {
        // SAFETY: ia = p·cs(a) ≤ last(a), ib + j·cs(b) = p·rs(b) + j·cs(b) ≤ last(b) for p < k,
        // j < N = n: checked by `tiny`.
        let ap = unsafe { *a.data.get_unchecked(ia) };
        for (j, sj) in s.iter_mut().enumerate() {
            *sj += ap * unsafe { *b.data.get_unchecked(ib + j * b.col_stride) };
        }
        ia += a.col_stride;
        ib += b.row_stride;
    }
    dst[..N].copy_from_slice(&s);
}

#[cfg(test)]
mod tests {
    /// f32's Ψ against f64's erfc on 2 000 001 points of [−14, 14]: within (4 + x²/2)·ε, relative
    /// — 4 ε, and what rounding x to f32 already costs Ψ where x < 0 (its relative change is
    /// x·φ(x)/Ψ(x) ≈ x² times x's, ε/2). ½·(1 + erf) fails it: at x = −3 it is ~100 ε off.
    #[test]
    fn normal_cdf_of_f32_keeps_its_digits_on_both_sides() {
        let n = 2_000_001;
        let xs: Vec<f32> = (0..n)
            .map(|i| (-14.0 + 28.0 * i as f64 / (n - 1) as f64) as f32)
            .collect();
        let mut ys = xs.clone();
        f32::normal_cdf_in_place(&mut ys);
        let eps = f32::EPSILON as f64;
        for (&x, &y) in xs.iter().zip(&ys) {
            let x = x as f64;
            let exact = 0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2);
            if exact < f32::MIN_POSITIVE as f64 {
                continue; // subnormal in f32
            }
            let rel = (y as f64 - exact).abs() / exact;
            assert!(
                rel <= (4.0 + x * x / 2.0) * eps,
                "Ψ({x}) = {y}, not {exact}"
            );
        }
        let mut special = [0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -200.0];
        f32::normal_cdf_in_place(&mut special);
        assert_eq!(special[..3], [0.5, 1.0, 0.0]);
        assert!(special[3].is_nan() && special[4] == 0.0, "{special:?}");
    }

    use super::*;

    /// The oracle: a naive triple loop in f64.
    fn naive(a: View<'_, f64>, b: View<'_, f64>) -> Vec<f64> {
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                c[i * b.cols + j] = (0..a.cols).map(|p| a.at(i, p) * b.at(p, j)).sum();
            }
        }
        c
    }

    fn filled(rows: usize, cols: usize, seed: u64) -> Matrix<f64> {
        let mut rng = crate::init::Rng::new(seed);
        Matrix::from_vec(
            rows,
            cols,
            (0..rows * cols).map(|_| rng.uniform() - 0.5).collect(),
        )
    }

    #[test]
    fn one_row_products_sum_in_order_of_k() {
        // The bits of a row of a tiny product: each element summed in order of k, in f32, onto its
        // old value with Accum::Add — what the CPU's results have always been (seed-online's MSE).
        let a = Matrix::from_vec(1, 8, (0..8).map(|v| 0.1f32 * v as f32 - 0.3).collect());
        let b = Matrix::from_vec(8, 3, (0..24).map(|v| (v as f32).sin()).collect());
        // b again, stored transposed and viewed through .t()
        let bt = Matrix::from_vec(3, 8, (0..24).map(|i| b.data[(i % 8) * 3 + i / 8]).collect());
        for bv in [b.view(), bt.view().t()] {
            let mut got = vec![0.25f32; 3];
            matmul(&mut got, Accum::Add, a.view(), bv, Par::Seq);
            for (j, g) in got.iter().enumerate() {
                let mut s = 0.25f32;
                for p in 0..8 {
                    s += a.data[p] * b.data[p * 3 + j];
                }
                assert_eq!(g.to_bits(), s.to_bits(), "column {j}");
            }
        }
    }

    /// The awake threads take the work's jobs (a `join`'s second half runs on another thread),
    /// the work's result comes back, and a panic in the work ends the helpers and reaches the
    /// caller rather than leaving them spinning for ever.
    #[test]
    fn threads_kept_awake_take_jobs_and_let_go() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let elsewhere = pool.install(|| {
            with_threads_awake(|| {
                (0..20)
                    .filter(|_| {
                        let here = rayon::current_thread_index();
                        let (_, there) = rayon::join(
                            || std::thread::sleep(std::time::Duration::from_millis(2)),
                            rayon::current_thread_index,
                        );
                        here != there
                    })
                    .count()
            })
        });
        assert!(elsewhere > 0, "no job ran on the other thread");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| with_threads_awake(|| panic!("the work fails")))
        }));
        assert!(panicked.is_err());
        // The pool is free again: the helpers let go.
        assert_eq!(pool.install(|| with_threads_awake(|| 7)), 7);
    }

    #[test]
    fn matmul_matches_naive_at_awkward_sizes_and_transposes() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (1, 8, 3),
            (1, 5, 2),
            (1, 1, 4),
            (3, 17, 5),
            (15, 16, 17),
            (64, 33, 127),
            (129, 7, 128),
        ] {
            let a = filled(m, k, 1);
            let at = filled(k, m, 2);
            let b = filled(k, n, 3);
            let bt = filled(n, k, 4);
            for (av, bv) in [
                (a.view(), b.view()),
                (at.view().t(), b.view()),
                (a.view(), bt.view().t()),
                (at.view().t(), bt.view().t()),
            ] {
                let want = naive(av, bv);
                for par in [Par::Seq, Par::Threads(2)] {
                    let mut got = vec![1.0; m * n];
                    matmul(&mut got, Accum::Replace, av, bv, par);
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - w).abs() < 1e-12, "{m}×{k}×{n}: {g} vs {w}");
                    }
                    matmul(&mut got, Accum::Add, av, bv, par);
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - 2.0 * w).abs() < 1e-12);
                    }
                }
            }
        }
    }

    #[test]
    fn a_copied_transposed_factor_gives_the_bits_of_the_row_major_one() {
        // From TRANSPOSED_COPY_MIN values on, a·bᵀ copies bᵀ into row-major order first: the
        // result must be that of the product with bᵀ stored row-major, bit for bit, and the
        // naive sum's within rounding — at sizes that leave partial 16×16 tiles, one column, on
        // one thread and two (bands of rows), and when this thread's buffer is already lent out.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool");
        for &(m, k, n) in &[(37, 190, 180), (5, 33, 1000), (3, 40000, 1), (64, 256, 130)] {
            assert!(k * n >= TRANSPOSED_COPY_MIN);
            let a = filled(m, k, 5);
            let bt = filled(n, k, 6);
            let b = Matrix::from_vec(
                k,
                n,
                (0..k * n).map(|i| bt.view().at(i % n, i / n)).collect(),
            );
            let want = naive(a.view(), b.view());
            for par in [Par::Seq, Par::Threads(2)] {
                let mut row_major = vec![0.0; m * n];
                let mut copied = vec![0.0; m * n];
                pool.install(|| {
                    matmul(&mut row_major, Accum::Replace, a.view(), b.view(), par);
                    matmul(&mut copied, Accum::Replace, a.view(), bt.view().t(), par);
                });
                assert_eq!(copied, row_major, "{m}×{k}×{n}, {par:?}");
                for (g, w) in copied.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-12, "{m}×{k}×{n}: {g} vs {w}");
                }
                let mut nested = vec![0.0; m * n];
                f64::scratch().with(|cell| {
                    let _lent = cell.borrow_mut();
                    matmul(
                        &mut nested,
                        Accum::Replace,
                        a.view(),
                        bt.view().t(),
                        Par::Seq,
                    );
                });
                assert_eq!(nested, row_major, "{m}×{k}×{n}, buffer in use");
            }
        }
    }

    /// Distance in units in the last place of the f32 nearest `want` (the f64 oracle).
    fn ulps(got: f32, want: f64) -> f64 {
        let nearest = want as f32;
        if got == nearest {
            return 0.0;
        }
        let ulp = (nearest.abs().max(f32::MIN_POSITIVE) as f64) * f32::EPSILON as f64;
        (got as f64 - want).abs() / ulp
    }

    #[test]
    fn simd_tanh_and_sigmoid_are_within_two_ulp_of_f64() {
        // Every 1/1024 over [−20, 20] (past both saturations), and the edges.
        let mut xs: Vec<f32> = (-20 * 1024..=20 * 1024)
            .map(|i| i as f32 / 1024.0)
            .collect();
        xs.extend([1e-30, -1e-30, 1e-7, -1e-7, 88.0, -88.0, 1e30, -1e30]);
        let oracle_sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        for (name, f, oracle) in [
            (
                "tanh",
                f32::tanh_in_place as fn(&mut [f32]),
                f64::tanh as fn(f64) -> f64,
            ),
            ("sigmoid", f32::sigmoid_in_place, oracle_sigmoid),
            ("exp", f32::exp_in_place, f64::exp),
        ] {
            let mut got = xs.clone();
            f(&mut got);
            for (&x, &g) in xs.iter().zip(&got) {
                let u = ulps(g, oracle(x as f64));
                assert!(
                    u <= 2.0,
                    "{name}({x:e}) = {g:e}: {u:.2} ulp from {:e}",
                    oracle(x as f64)
                );
            }
        }
        let mut edges = [f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0];
        f32::tanh_in_place(&mut edges);
        assert_eq!(edges, [1.0, -1.0, 0.0, 0.0]);
        let mut edges = [f32::INFINITY, f32::NEG_INFINITY, 0.0];
        f32::sigmoid_in_place(&mut edges);
        assert_eq!(edges, [1.0, 0.0, 0.5]);
        let mut edges = [f32::INFINITY, f32::NEG_INFINITY, 0.0, 89.0];
        f32::exp_in_place(&mut edges);
        assert_eq!(edges, [f32::INFINITY, 0.0, 1.0, f32::INFINITY]);
        let mut nan = [f32::NAN; 3];
        f32::tanh_in_place(&mut nan[..1]);
        f32::sigmoid_in_place(&mut nan[1..2]);
        f32::exp_in_place(&mut nan[2..]);
        assert!(
            nan.iter().all(|v| v.is_nan()),
            "NaN must propagate: {nan:?}"
        );
    }

    #[test]
    fn simd_results_do_not_depend_on_the_slice_around_a_value() {
        // A value's tanh and σ are the same bits alone, in a SIMD body or in a masked tail: a
        // prediction must not change with the batch it is predicted in.
        let xs: Vec<f32> = (0..37).map(|i| (i as f32 * 0.731).sin() * 6.0).collect();
        for f in [
            f32::tanh_in_place as fn(&mut [f32]),
            f32::sigmoid_in_place,
            f32::exp_in_place,
        ] {
            let mut whole = xs.clone();
            f(&mut whole);
            for len in [1, 3, 8, 16, 17, 33] {
                for (chunk, want) in xs.chunks(len).zip(whole.chunks(len)) {
                    let mut got = chunk.to_vec();
                    f(&mut got);
                    assert_eq!(got, want, "slices of {len}");
                }
            }
        }
    }
}
