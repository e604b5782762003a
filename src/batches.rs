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

    /// Draws this epoch's order: the identity permutation shuffled by `rng`, so the order depends
    /// only on the generator's state (a resumed run draws the same one).
    pub fn shuffle(&mut self, rng: &mut Rng) {
        for (i, o) in self.order.iter_mut().enumerate() {
            *o = i;
        }
        rng.shuffle(&mut self.order);
    }

    /// Copies batch `k`'s rows of `x` and `y` into the buffers and returns views of them.
    pub fn gather<'a>(
        &'a mut self,
        k: usize,
        x: &Matrix<T>,
        y: &Targets<T>,
    ) -> (View<'a, T>, TargetsRef<'a, T>) {
        let start = k * self.batch_size;
        let idx = &self.order[start..(start + self.batch_size).min(self.order.len())];
        let f = x.cols;
        for (r, &i) in idx.iter().enumerate() {
            self.x[r * f..(r + 1) * f].copy_from_slice(x.row(i));
        }
        // The rows of a shuffled epoch come from anywhere in the data: ask for the next batch's
        // now, so the fetch overlaps this batch's forward and backward pass instead of stalling
        // the next gather (measured: a quarter of a batch-1 step was spent waiting here).
        let next = &self.order[(start + self.batch_size).min(self.order.len())
            ..(start + 2 * self.batch_size).min(self.order.len())];
        for &i in next {
            prefetch(x.row(i).as_ptr());
        }
        let t = match y {
            Targets::Classes(c) => {
                for (r, &i) in idx.iter().enumerate() {
                    self.classes[r] = c[i];
                }
                TargetsRef::Classes(&self.classes[..idx.len()])
            }
            Targets::Values(v) => {
                let m = v.cols;
                for (r, &i) in idx.iter().enumerate() {
                    self.values[r * m..(r + 1) * m].copy_from_slice(v.row(i));
                }
                TargetsRef::Values(&self.values[..idx.len() * m])
            }
        };
        (View::new(&self.x, idx.len(), f), t)
    }
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
