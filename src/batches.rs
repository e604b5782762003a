//! Seeded, shuffled mini-batches: a new permutation every epoch, the last partial batch kept.
//!
//! Batch size 1 is the seed's online update; a batch of the whole set is full-batch gradient descent.

use crate::data::Targets;
use crate::init::Rng;
use crate::loss::TargetsRef;
use crate::tensor::{Float, Matrix, View};

/// The epoch's order of rows and the buffers one batch is gathered into, planned once.
#[derive(Clone, Debug)]
pub struct Batches<T> {
    pub batch_size: usize,
    /// This epoch's permutation of the training rows.
    pub order: Vec<usize>,
    x: Vec<T>,
    classes: Vec<usize>,
    values: Vec<T>,
}

impl<T: Float> Batches<T> {
    /// Buffers for `rows` training rows of `features` columns and `outputs` target columns.
    pub fn new(rows: usize, features: usize, outputs: usize, batch_size: usize) -> Self {
        let b = batch_size.min(rows).max(1);
        Batches {
            batch_size: b,
            order: (0..rows).collect(),
            x: vec![T::ZERO; b * features],
            classes: vec![0; b],
            values: vec![T::ZERO; b * outputs],
        }
    }

    /// Number of batches in an epoch: ⌈rows / batch_size⌉.
    pub fn count(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// The rows of batch `k`, in the current order.
    pub fn indices(&self, k: usize) -> &[usize] {
        let (start, n) = (k * self.batch_size, self.order.len());
        &self.order[start..(start + self.batch_size).min(n)]
    }

    /// Draws this epoch's order: the identity permutation shuffled by `rng`, so the order depends
    /// only on the generator's state (a resumed run draws the same one).
    pub fn shuffle(&mut self, rng: &mut Rng) {
        for (i, o) in self.order.iter_mut().enumerate() {
            *o = i;
        }
        rng.shuffle(&mut self.order);
    }

    /// Copies batch `k`'s rows of `x` and `y` into the buffers and returns views of them; a batch
    /// of one row (the seed's online rule, or a last batch of one) is viewed where it lies.
    pub fn gather<'a>(
        &'a mut self,
        k: usize,
        x: &'a Matrix<T>,
        y: &'a Targets<T>,
    ) -> (View<'a, T>, TargetsRef<'a, T>) {
        let (start, n) = (k * self.batch_size, self.order.len());
        let idx = &self.order[start..(start + self.batch_size).min(n)];
        // The rows of a shuffled epoch come from anywhere in the data: ask for the next batch's
        // once this one is in hand, so the fetch overlaps this batch's forward and backward pass
        // instead of stalling the next gather (measured: a quarter of a batch-1 step was spent
        // waiting here).
        let next =
            &self.order[(start + self.batch_size).min(n)..(start + 2 * self.batch_size).min(n)];
        let prefetch_next = || next.iter().for_each(|&i| prefetch(x.row(i).as_ptr()));
        if let &[i] = idx {
            prefetch_next();
            let t = match y {
                Targets::Classes(c) => TargetsRef::Classes(&c[i..i + 1]),
                Targets::Values(v) => TargetsRef::Values(v.row(i)),
                Targets::Labels(v) => TargetsRef::Labels(v.row(i)),
            };
            return (View::new(x.row(i), 1, x.cols), t);
        }
        let f = x.cols;
        copy_rows(&mut self.x[..idx.len() * f], idx, x);
        prefetch_next();
        let t = match y {
            Targets::Classes(c) => {
                for (r, &i) in idx.iter().enumerate() {
                    self.classes[r] = c[i];
                }
                TargetsRef::Classes(&self.classes[..idx.len()])
            }
            Targets::Values(v) | Targets::Labels(v) => {
                let m = v.cols;
                for (r, &i) in idx.iter().enumerate() {
                    self.values[r * m..(r + 1) * m].copy_from_slice(v.row(i));
                }
                let values = &self.values[..idx.len() * m];
                match y {
                    Targets::Labels(_) => TargetsRef::Labels(values),
                    _ => TargetsRef::Values(values),
                }
            }
        };
        (View::new(&self.x, idx.len(), f), t)
    }
}

/// Below this many values a batch is copied on one thread.
const PARALLEL_COPY_MIN: usize = 1 << 15;

/// Copies rows `idx` of `x` into `dst`, one after another. The rows of a shuffled batch come from
/// anywhere in the data, so the copy waits on memory: a large batch (MNIST's 64 × 784 values) is
/// copied in two halves side by side on the current rayon pool, each thread waiting on its own rows.
fn copy_rows<T: Float>(dst: &mut [T], idx: &[usize], x: &Matrix<T>) {
    let f = x.cols;
    if dst.len() < PARALLEL_COPY_MIN || idx.len() < 2 {
        for (d, &i) in dst.chunks_exact_mut(f).zip(idx) {
            d.copy_from_slice(x.row(i));
        }
        return;
    }
    let half = idx.len() / 2;
    let (d0, d1) = dst.split_at_mut(half * f);
    let (i0, i1) = idx.split_at(half);
    rayon::join(|| copy_rows(d0, i0, x), || copy_rows(d1, i1, x));
}

/// A hint to bring the cache line at `p` closer; no effect on results.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program's state.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches of one row are the rows themselves, in the epoch's order, with their targets: every
    /// batch at batch size 1, and the last of 5 rows in batches of 2.
    #[test]
    fn a_batch_of_one_is_its_row() {
        let x = Matrix::from_vec(5, 2, (0..10).map(|v| v as f64).collect());
        let y = Targets::Values(Matrix::from_vec(5, 1, vec![0.5, 1.5, 2.5, 3.5, 4.5]));
        for batch in [1, 2] {
            let mut b = Batches::new(5, 2, 1, batch);
            b.shuffle(&mut Rng::new(1));
            for k in 0..b.count() {
                let idx = b.order[k * batch..((k + 1) * batch).min(5)].to_vec();
                let (got, t) = b.gather(k, &x, &y);
                assert_eq!(
                    got.data[..2 * idx.len()],
                    x.gather_rows(&idx).data[..],
                    "batch {k}"
                );
                let want: Vec<f64> = idx.iter().map(|&i| i as f64 + 0.5).collect();
                assert!(matches!(t, TargetsRef::Values(v) if v == want), "batch {k}");
                if idx.len() == 1 {
                    assert!(
                        std::ptr::eq(got.data.as_ptr(), x.row(idx[0]).as_ptr()),
                        "copied"
                    );
                }
            }
        }
    }

    /// A batch large enough to be copied in parallel holds the shuffled rows in order, with their
    /// labels: the oracle is `Matrix::gather_rows` on the same indices.
    #[test]
    fn a_large_batch_is_gathered_in_order() {
        let (rows, features, batch) = (300, 200, 250);
        let x = Matrix::from_vec(
            rows,
            features,
            (0..rows * features).map(|v| v as f32).collect(),
        );
        let y = Targets::Classes((0..rows).map(|r| r % 7).collect());
        let mut b = Batches::new(rows, features, 1, batch);
        b.shuffle(&mut Rng::new(3));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for k in 0..b.count() {
            let idx = b.order[k * batch..((k + 1) * batch).min(rows)].to_vec();
            let want = x.gather_rows(&idx);
            let (got, t) = pool.install(|| b.gather(k, &x, &y));
            assert_eq!(got.data[..want.data.len()], want.data[..], "batch {k}");
            let labels: Vec<usize> = idx.iter().map(|r| r % 7).collect();
            assert!(matches!(t, TargetsRef::Classes(c) if c == &labels[..]));
        }
    }
}
