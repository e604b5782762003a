//! Metrics: how good the predictions are. Classification: accuracy, confusion matrix, per-class and
//! macro precision/recall/F1, log-loss, ROC AUC; multi-label: subset accuracy, Hamming loss and
//! the same per label. Regression: MSE, RMSE, MAE, R². And which input columns
//! the network relies on: permutation importance.

use std::ops::Range;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch_norm::Stats;
use crate::data::{Dataset, Targets};
use crate::init::Rng;
use crate::network::{classes, Network};
use crate::tensor::{matmul, Accum, Float, Matrix, Par};

/// Each figure takes `weights`, one per row, as scikit-learn's `sample_weight=`: a row of weight 2
/// counts as the row twice, one of weight 0 not at all. `None`: every row 1.
fn weight(weights: Option<&[f64]>, r: usize) -> f64 {
    weights.map_or(1.0, |w| w[r])
}

/// The weights of `rows` rows summed (their number without weights).
fn total_weight(weights: Option<&[f64]>, rows: usize) -> f64 {
    weights.map_or(rows as f64, |w| w.iter().sum())
}

/// `part / whole`, 0 where `whole` is 0: scikit-learn's `zero_division=0` for precision and recall.
/// (A mean over rows of total weight 0 is no figure: NaN, as 0/0 is.)
fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// The weighted fraction of predictions equal to the truth: Σ w·[p = t] / Σ w.
pub fn accuracy(predicted: &[usize], truth: &[usize], weights: Option<&[f64]>) -> f64 {
    let hits: f64 = (0..truth.len())
        .filter(|&r| predicted[r] == truth[r])
        .map(|r| weight(weights, r))
        .sum();
    hits / total_weight(weights, truth.len())
}

/// `counts[t][p]`: the rows (their weights summed) of true class t predicted as p.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub counts: Vec<Vec<f64>>,
}

/// Precision, recall, F1 and support (rows of the class, or their weights summed) of one class.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: f64,
}

impl ConfusionMatrix {
    pub fn new(
        predicted: &[usize],
        truth: &[usize],
        classes: usize,
        weights: Option<&[f64]>,
    ) -> Self {
        let mut counts = vec![vec![0.0; classes]; classes];
        for (r, (&p, &t)) in predicted.iter().zip(truth).enumerate() {
            counts[t][p] += weight(weights, r);
        }
        ConfusionMatrix { counts }
    }

    /// Scores of each class. A class never predicted has precision 0 (scikit-learn's `zero_division=0`).
    pub fn per_class(&self) -> Vec<ClassScores> {
        let n = self.counts.len();
        (0..n)
            .map(|c| {
                let predicted: f64 = (0..n).map(|t| self.counts[t][c]).sum();
                scores(self.counts[c][c], predicted, self.counts[c].iter().sum())
            })
            .collect()
    }

    /// Unweighted means over the classes of precision, recall and F1 (the "macro" average).
    pub fn macro_average(&self) -> ClassScores {
        macro_average(&self.per_class())
    }
}

/// Unweighted means of precision, recall and F1 over classes or labels (the "macro" average);
/// the support is their sum.
pub fn macro_average(s: &[ClassScores]) -> ClassScores {
    let n = s.len().max(1) as f64;
    ClassScores {
        precision: s.iter().map(|c| c.precision).sum::<f64>() / n,
        recall: s.iter().map(|c| c.recall).sum::<f64>() / n,
        f1: s.iter().map(|c| c.f1).sum::<f64>() / n,
        support: s.iter().map(|c| c.support).sum(),
    }
}

/// Weighted mean −ln p(true class), probabilities clipped to [1e-15, 1] (as scikit-learn's
/// `log_loss`). `probs`: `[rows × classes]`, or `[rows × 1]` holding p(class 1) for a binary problem.
pub fn log_loss<T: Float>(probs: &Matrix<T>, truth: &[usize], weights: Option<&[f64]>) -> f64 {
    let total: f64 = truth
        .iter()
        .enumerate()
        .map(|(r, &t)| {
            let p = if probs.cols == 1 {
                let p1 = probs[(r, 0)].f64();
                if t == 1 {
                    p1
                } else {
                    1.0 - p1
                }
            } else {
                probs[(r, t)].f64()
            };
            weight(weights, r) * -p.clamp(1e-15, 1.0).ln()
        })
        .sum();
    total / total_weight(weights, truth.len())
}

/// Area under the ROC curve of `scores` for the rows marked `positive`: the probability that a
/// positive row scores above a negative one, ties counting half — the Mann–Whitney U over P·N,
/// which is scikit-learn's `roc_auc_score`. With weights, each (positive, negative) pair counts
/// the product of their weights, over (Σ w of positives)·(Σ w of negatives). `None` where every
/// row (of weight > 0) is positive or every one negative: the curve is not defined.
///
/// ```
/// // positives 0.4 and 0.8 against negatives 0.1 and 0.5: three pairs of four in order
/// let auc = mlp::metrics::roc_auc(&[0.1, 0.4, 0.5, 0.8], &[false, true, false, true], None);
/// assert_eq!(auc, Some(0.75));
/// ```
pub fn roc_auc(scores: &[f64], positive: &[bool], weights: Option<&[f64]>) -> Option<f64> {
    let (p, n) = sides(positive, weights, 0..positive.len());
    if !(p > 0.0 && n > 0.0) {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // From the lowest score up: each run of tied rows' positives beat the negatives below the
    // run and tie with those in it (counted from the run's sums, so n rows take n·log n, not n²).
    let (mut pairs, mut below) = (0.0, 0.0);
    for tied in order.chunk_by(|&a, &b| scores[a] == scores[b]) {
        let (tp, tn) = sides(positive, weights, tied.iter().copied());
        pairs += tp * (below + tn / 2.0);
        below += tn;
    }
    Some(pairs / (p * n))
}

/// The weights (or numbers) of the positive and of the negative rows among `rows`.
fn sides(
    positive: &[bool],
    weights: Option<&[f64]>,
    rows: impl Iterator<Item = usize>,
) -> (f64, f64) {
    rows.fold((0.0, 0.0), |(p, n), r| match positive[r] {
        true => (p + weight(weights, r), n),
        false => (p, n + weight(weights, r)),
    })
}

/// The ROC curve of `scores` for the rows marked `positive`: (false positive rate, true positive
/// rate) at every distinct score taken as the threshold, highest first, from (0, 0) to (1, 1) — as
/// scikit-learn's `roc_curve(drop_intermediate=False)`, which also leaves out the rows of weight 0.
/// Its area (trapezoids) is [`roc_auc`]. `None` where the curve is not defined (every row positive,
/// or none).
pub fn roc_curve(
    scores: &[f64],
    positive: &[bool],
    weights: Option<&[f64]>,
) -> Option<Vec<(f64, f64)>> {
    let (p, n) = sides(positive, weights, 0..positive.len());
    if !(p > 0.0 && n > 0.0) {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.retain(|&r| weight(weights, r) != 0.0);
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for tied in order.chunk_by(|&a, &b| scores[a] == scores[b]) {
        let (hits, misses) = sides(positive, weights, tied.iter().copied());
        tp += hits;
        fp += misses;
        points.push((fp / n, tp / p));
    }
    Some(points)
}

/// Each class's one-vs-rest ROC AUC (`None` where it is not defined: no row of the class, or
/// only), from `probs` `[rows × classes]`, or `[rows × 1]` holding p(class 1) for a binary problem.
pub fn roc_auc_per_class<T: Float>(
    probs: &Matrix<T>,
    truth: &[usize],
    classes: usize,
    weights: Option<&[f64]>,
) -> Vec<Option<f64>> {
    (0..classes)
        .map(|c| {
            let (scores, positive) = one_vs_rest(probs, truth, c)?;
            roc_auc(&scores, &positive, weights)
        })
        .collect()
}

/// Each class's one-vs-rest ROC curve ([`roc_curve`]), as [`roc_auc_per_class`] scores it.
pub fn roc_curve_per_class<T: Float>(
    probs: &Matrix<T>,
    truth: &[usize],
    classes: usize,
    weights: Option<&[f64]>,
) -> Vec<Option<Vec<(f64, f64)>>> {
    (0..classes)
        .map(|c| {
            let (scores, positive) = one_vs_rest(probs, truth, c)?;
            roc_curve(&scores, &positive, weights)
        })
        .collect()
}

/// Class c's scores (its probability; with one output, p(class 1) or 1 − it) and which rows are
/// of class c; `None` where no output scores the class.
fn one_vs_rest<T: Float>(
    probs: &Matrix<T>,
    truth: &[usize],
    c: usize,
) -> Option<(Vec<f64>, Vec<bool>)> {
    if probs.cols > 1 && c >= probs.cols {
        return None;
    }
    let scores = (0..probs.rows)
        .map(|r| match probs.cols {
            1 if c == 0 => 1.0 - probs[(r, 0)].f64(),
            1 => probs[(r, 0)].f64(),
            _ => probs[(r, c)].f64(),
        })
        .collect();
    Some((scores, truth.iter().map(|&t| t == c).collect()))
}

/// The ROC AUC of a classifier, as scikit-learn's `roc_auc_score`: with two classes, class 1's;
/// with more, the mean of each class's one-vs-rest AUC (`multi_class="ovr"`, `average="macro"`)
/// over the classes where it is defined. `None` where no class's is.
pub fn roc_auc_summary(per_class: &[Option<f64>]) -> Option<f64> {
    if per_class.len() == 2 {
        return per_class[1];
    }
    mean_defined(per_class)
}

/// Multi-label: each label's ROC AUC from its output's column of `probs` (`None` where every row
/// has the label, or none does). Their mean ([`mean_defined`]) is scikit-learn's
/// `roc_auc_score` on an indicator matrix (`average="macro"`).
pub fn roc_auc_per_label<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    weights: Option<&[f64]>,
) -> Vec<Option<f64>> {
    (0..truth.cols)
        .map(|j| {
            let (scores, positive) = label_column(probs, truth, j);
            roc_auc(&scores, &positive, weights)
        })
        .collect()
}

/// Multi-label: each label's ROC curve ([`roc_curve`]).
pub fn roc_curve_per_label<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    weights: Option<&[f64]>,
) -> Vec<Option<Vec<(f64, f64)>>> {
    (0..truth.cols)
        .map(|j| {
            let (scores, positive) = label_column(probs, truth, j);
            roc_curve(&scores, &positive, weights)
        })
        .collect()
}

/// Label j's scores and which rows have it.
fn label_column<T: Float>(probs: &Matrix<T>, truth: &Matrix<T>, j: usize) -> (Vec<f64>, Vec<bool>) {
    let scores = (0..probs.rows).map(|r| probs[(r, j)].f64()).collect();
    let positive = (0..truth.rows)
        .map(|r| truth[(r, j)] > T::of(0.5))
        .collect();
    (scores, positive)
}

/// The mean of the figures that are defined; `None` where none is.
pub fn mean_defined(v: &[Option<f64>]) -> Option<f64> {
    let defined: Vec<f64> = v.iter().flatten().copied().collect();
    (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64)
}

/// Multi-label: the weighted fraction of rows whose every label is predicted right (an output
/// above 0.5 says "has the label"), as scikit-learn's `accuracy_score` on indicator matrices.
/// `probs` and `truth` are `[rows × labels]`.
pub fn subset_accuracy<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    weights: Option<&[f64]>,
) -> f64 {
    let right: f64 = probs
        .data
        .chunks_exact(probs.cols.max(1))
        .zip(truth.data.chunks_exact(truth.cols.max(1)))
        .enumerate()
        .filter(|(_, (p, t))| labels_right(p, t))
        .map(|(r, _)| weight(weights, r))
        .sum();
    right / total_weight(weights, truth.rows)
}

/// Multi-label: whether one row's outputs `probs` put every label on its side of 0.5 (`truth`:
/// its labels). The training loop's tally counts rows by it too.
pub fn labels_right<T: Float>(probs: &[T], truth: &[T]) -> bool {
    let half = T::of(0.5);
    probs
        .iter()
        .zip(truth)
        .all(|(&p, &t)| (p > half) == (t > half))
}

/// Multi-label: the weighted fraction of (row, label) pairs predicted wrong, as scikit-learn's
/// `hamming_loss`: Σ w·(labels wrong) / (Σ w · labels).
pub fn hamming_loss<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    weights: Option<&[f64]>,
) -> f64 {
    let half = T::of(0.5);
    let cols = truth.cols.max(1);
    let wrong: f64 = probs
        .data
        .chunks_exact(cols)
        .zip(truth.data.chunks_exact(cols))
        .enumerate()
        .map(|(r, (p, t))| {
            let n = p
                .iter()
                .zip(t)
                .filter(|(&p, &t)| (p > half) != (t > half))
                .count();
            weight(weights, r) * n as f64
        })
        .sum();
    wrong / (total_weight(weights, truth.rows) * truth.cols as f64)
}

/// Multi-label: each label's precision, recall, F1 and support (rows that have it, or their
/// weights summed), the label predicted where its output is > 0.5; as scikit-learn's
/// `precision_recall_fscore_support` on indicator matrices, with `zero_division=0`.
pub fn label_scores<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    weights: Option<&[f64]>,
) -> Vec<ClassScores> {
    (0..truth.cols)
        .map(|j| {
            let [tp, predicted, support] = label_counts(probs, truth, j..j + 1, weights);
            scores(tp, predicted, support)
        })
        .collect()
}

/// Multi-label: precision, recall and F1 over every (row, label) pair at once (scikit-learn's
/// `average="micro"`); the support is the number of labels the rows have in all.
pub fn micro_scores<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    weights: Option<&[f64]>,
) -> ClassScores {
    let [tp, predicted, support] = label_counts(probs, truth, 0..truth.cols, weights);
    scores(tp, predicted, support)
}

/// True positives, predictions and true labels over the labels `labels` of every row, each
/// counting its row's weight.
fn label_counts<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    labels: Range<usize>,
    weights: Option<&[f64]>,
) -> [f64; 3] {
    let half = T::of(0.5);
    let mut n = [0.0; 3];
    for r in 0..truth.rows {
        let w = weight(weights, r);
        for j in labels.clone() {
            let (p, t) = (probs[(r, j)] > half, truth[(r, j)] > half);
            for (count, yes) in n.iter_mut().zip([p && t, p, t]) {
                if yes {
                    *count += w;
                }
            }
        }
    }
    n
}

/// Precision, recall and F1 from the (weighted) counts of true positives, predictions and true
/// rows (0 where a denominator is 0, as scikit-learn's `zero_division=0`).
fn scores(tp: f64, predicted: f64, support: f64) -> ClassScores {
    let (precision, recall) = (share(tp, predicted), share(tp, support));
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    ClassScores {
        precision,
        recall,
        f1,
        support,
    }
}

/// The weighted mean of `f(predicted, truth)` over every row's values (the targets alike).
fn mean_over_values<T: Float>(
    predicted: &Matrix<T>,
    truth: &Matrix<T>,
    weights: Option<&[f64]>,
    f: impl Fn(f64, f64) -> f64,
) -> f64 {
    let cols = truth.cols.max(1);
    let s: f64 = predicted
        .data
        .chunks_exact(cols)
        .zip(truth.data.chunks_exact(cols))
        .enumerate()
        .map(|(r, (p, t))| {
            let row: f64 = p.iter().zip(t).map(|(p, t)| f(p.f64(), t.f64())).sum();
            weight(weights, r) * row
        })
        .sum();
    s / (total_weight(weights, truth.rows) * truth.cols as f64)
}

/// Mean squared error over all values: Σ w·(p − t)² / (Σ w · targets).
pub fn mse<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>, weights: Option<&[f64]>) -> f64 {
    mean_over_values(predicted, truth, weights, |p, t| (p - t).powi(2))
}

/// √MSE.
pub fn rmse<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>, weights: Option<&[f64]>) -> f64 {
    mse(predicted, truth, weights).sqrt()
}

/// Mean absolute error over all values: Σ w·|p − t| / (Σ w · targets).
pub fn mae<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>, weights: Option<&[f64]>) -> f64 {
    mean_over_values(predicted, truth, weights, |p, t| (p - t).abs())
}

/// Coefficient of determination 1 − SS_res/SS_tot, averaged uniformly over the output columns
/// (scikit-learn's `r2_score` default); with weights, SS_res = Σ w·(t − p)² and
/// SS_tot = Σ w·(t − t̄)² about the weighted mean t̄. A constant column scores 1 where it is
/// predicted exactly, else 0 (scikit-learn's `force_finite=True`).
pub fn r2<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>, weights: Option<&[f64]>) -> f64 {
    let (n, m) = (truth.rows, truth.cols);
    let w = |r| weight(weights, r);
    let total_w = total_weight(weights, n);
    if total_w == 0.0 {
        return f64::NAN; // no row counts: no figure
    }
    let mut total = 0.0;
    for j in 0..m {
        let mean = (0..n).map(|r| w(r) * truth[(r, j)].f64()).sum::<f64>() / total_w;
        let ss_tot: f64 = (0..n)
            .map(|r| w(r) * (truth[(r, j)].f64() - mean).powi(2))
            .sum();
        let ss_res: f64 = (0..n)
            .map(|r| w(r) * (truth[(r, j)].f64() - predicted[(r, j)].f64()).powi(2))
            .sum();
        total += match (ss_tot > 0.0, ss_res > 0.0) {
            (true, _) => 1.0 - ss_res / ss_tot,
            (false, false) => 1.0,
            (false, true) => 0.0,
        };
    }
    total / m.max(1) as f64
}

/// Mean and population standard deviation (ddof = 0, as numpy's default and scikit-learn's
/// reports) of `v`.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// How much one input column matters: the score lost when its values are shuffled across rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    pub column: String,
    /// Mean over the repeats of (score with the data as it is − score with the column shuffled).
    pub mean: f64,
    /// Their standard deviation (population, as scikit-learn's `importances_std`).
    pub std: f64,
}

/// Permutation importance (Breiman; scikit-learn's `permutation_importance`): for each column,
/// `repeats` times, shuffle its values across the rows of `data`, breaking its link with the
/// target and nothing else, and measure how much the score falls. The score is accuracy for
/// classes and labels (subset accuracy) and R² for values (scikit-learn's default scorers),
/// weighted by the data's sample weights where it has them. A column is a range of features,
/// so the indicators of a one-hot encoded column move together. Returns the unshuffled score and
/// one [`Importance`] per column, most important first.
///
/// Shuffling column j changes only x's column j, so the first layer's product changes by a
/// rank-one term: x̃·W¹ = x·W¹ + (x̃_j − x_j)·W¹_j (row j of W¹). The product is computed once and
/// each shuffle updates it in rows × h₁ steps instead of rows × inputs × h₁: for MNIST's 784
/// pixels, 785 products instead of 3 921. (Its sums run in another order than a fresh product's,
/// so an output may differ from `predict`'s in the last bits.)
///
/// Column k's shuffles come from a generator keyed by `seed` and k, so the figures do not depend
/// on the number of threads the columns are spread over.
pub fn permutation_importance<T: Float>(
    net: &Network<T>,
    data: &Dataset<T>,
    columns: &[(String, Range<usize>)],
    repeats: usize,
    seed: u64,
) -> (f64, Vec<Importance>) {
    let first = &net.layers[0];
    let w = first.weight(&net.params);
    let mut product = Matrix::zeros(data.x.rows, first.outputs);
    matmul(
        &mut product.data,
        Accum::Replace,
        data.x.view(),
        w,
        Par::Seq,
    );
    // The layers after the first, reading the flat parameters at their own offsets.
    let tail = Network {
        inputs: first.outputs,
        layers: net.layers[1..].to_vec(),
        params: net.params.clone(),
        buffers: net.buffers.clone(),
        batches_tracked: net.batches_tracked,
    };
    // Rows keep their weights while a column's values move between them.
    let weights = data.weights();
    let score = |mut z: Matrix<T>| {
        let mut a = Matrix::zeros(z.rows, z.cols);
        let bias = first.bias(&net.params);
        if let Some(nm) = &first.norm {
            // Normalised as `predict` does: batch normalisation with the running statistics.
            let mut space = nm.kind.space(z.rows, z.cols);
            space.xhat.copy_from_slice(&z.data);
            let running = Stats::Running;
            first.normalise(
                (&net.params, &net.buffers),
                (&mut space, running),
                &mut z.data,
            );
            first
                .activation
                .forward(&mut z.data, None, &mut a.data, z.cols);
        } else {
            first
                .activation
                .forward(&mut z.data, bias, &mut a.data, z.cols);
        }
        let outputs = if tail.layers.is_empty() {
            a
        } else {
            tail.predict(&a)
        };
        let w = weights.as_deref();
        match &data.y {
            Targets::Classes(truth) => accuracy(&classes(&outputs), truth, w),
            Targets::Values(truth) => r2(&outputs, truth, w),
            Targets::Labels(truth) => subset_accuracy(&outputs, truth, w),
        }
    };
    let baseline = score(product.clone());
    let mut found: Vec<Importance> = columns
        .par_iter()
        .enumerate()
        .map(|(k, (name, features))| {
            let mut rng = Rng::new(Rng::new(seed ^ k as u64).next_u64());
            let mut order: Vec<usize> = (0..data.x.rows).collect();
            let drops: Vec<f64> = (0..repeats.max(1))
                .map(|_| {
                    rng.shuffle(&mut order);
                    let mut z = product.clone();
                    let mut changed = false;
                    for (r, &from) in order.iter().enumerate() {
                        let row = &mut z.data[r * z.cols..(r + 1) * z.cols];
                        for j in features.clone() {
                            let change = data.x[(from, j)] - data.x[(r, j)];
                            if change != T::ZERO {
                                changed = true;
                                for (zi, &wi) in row.iter_mut().zip(&w.data[j * w.cols..][..w.cols])
                                {
                                    *zi += change * wi;
                                }
                            }
                        }
                    }
                    // A constant column (MNIST's border pixels) shuffles to the same rows.
                    if changed {
                        baseline - score(z)
                    } else {
                        0.0
                    }
                })
                .collect();
            let (mean, std) = mean_std(&drops);
            Importance {
                column: name.clone(),
                mean,
                std,
            }
        })
        .collect();
    found.sort_by(|a, b| b.mean.total_cmp(&a.mean));
    (baseline, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, NetworkSpec};

    /// The naive reference: every (positive, negative) pair, a win 1, a tie ½.
    fn pairwise_auc(scores: &[f64], positive: &[bool]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &p) in positive.iter().enumerate() {
            for (j, &q) in positive.iter().enumerate() {
                if p && !q {
                    pairs += 1.0;
                    wins += match scores[i].partial_cmp(&scores[j]) {
                        Some(std::cmp::Ordering::Greater) => 1.0,
                        Some(std::cmp::Ordering::Equal) => 0.5,
                        _ => 0.0,
                    };
                }
            }
        }
        wins / pairs
    }

    /// The indicator matrix `y` and the probabilities `p` of the multi-label tests (their scripts'
    /// `y` and `p`).
    fn six_rows_three_labels() -> (Matrix<f64>, Matrix<f64>) {
        let y = Matrix::from_vec(
            6,
            3,
            vec![
                1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0,
                1.0, 1.0,
            ],
        );
        let p = Matrix::from_vec(
            6,
            3,
            vec![
                0.9, 0.2, 0.6, 0.3, 0.7, 0.4, 0.8, 0.4, 0.1, 0.2, 0.1, 0.3, 0.6, 0.55, 0.2, 0.1,
                0.8, 0.9,
            ],
        );
        (y, p)
    }

    /// The multi-label figures against scikit-learn's on an indicator matrix:
    ///
    /// ```text
    /// import numpy as np
    /// from sklearn.metrics import (accuracy_score, hamming_loss, precision_recall_fscore_support,
    ///                              roc_auc_score)
    /// y = np.array([[1,0,1],[0,1,0],[1,1,0],[0,0,1],[1,0,0],[0,1,1]])
    /// p = np.array([[0.9,0.2,0.6],[0.3,0.7,0.4],[0.8,0.4,0.1],[0.2,0.1,0.3],[0.6,0.55,0.2],
    ///               [0.1,0.8,0.9]])
    /// yp = (p > 0.5).astype(int)
    /// accuracy_score(y, yp), hamming_loss(y, yp)          # 0.5, 0.16666666666666666
    /// precision_recall_fscore_support(y, yp, zero_division=0)
    /// # precision [1, 0.667, 1], recall [1, 0.667, 0.667], f1 [1, 0.667, 0.8], support [3, 3, 3]
    /// precision_recall_fscore_support(y, yp, average="micro")   # 0.875, 0.7777…, 0.8235294117647058
    /// roc_auc_score(y, p, average=None), roc_auc_score(y, p)    # [1, 0.888…, 0.888…], 0.9259259259259259
    /// ```
    #[test]
    fn multi_label_figures_are_scikit_learns() {
        let (y, p) = six_rows_three_labels();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(subset_accuracy(&p, &y, None), 0.5));
        assert!(close(hamming_loss(&p, &y, None), 1.0 / 6.0));
        let per = label_scores(&p, &y, None);
        let (two_thirds, f1) = (2.0 / 3.0, 0.8);
        for (s, (precision, recall, f)) in per.iter().zip([
            (1.0, 1.0, 1.0),
            (two_thirds, two_thirds, two_thirds),
            (1.0, two_thirds, f1),
        ]) {
            assert!(
                close(s.precision, precision) && close(s.recall, recall),
                "{s:?}"
            );
            assert!(close(s.f1, f) && s.support == 3.0, "{s:?}");
        }
        let micro = micro_scores(&p, &y, None);
        assert!(close(micro.precision, 0.875) && close(micro.recall, 7.0 / 9.0));
        assert!(close(micro.f1, 0.8235294117647058));
        let auc = roc_auc_per_label(&p, &y, None);
        assert!(close(auc[0].unwrap(), 1.0) && close(auc[1].unwrap(), 8.0 / 9.0));
        assert!(close(mean_defined(&auc).unwrap(), 0.9259259259259259));
    }

    /// Against the pairwise count on random scores with many ties, and against scikit-learn:
    ///
    /// ```text
    /// from sklearn.metrics import roc_auc_score          # scikit-learn 1.x
    /// roc_auc_score([0, 1, 1, 0, 1, 0, 0, 1, 1, 0],
    ///               [0.1, 0.4, 0.35, 0.8, 0.65, 0.4, 0.2, 0.9, 0.4, 0.05])       # 0.76
    /// y3 = [0, 1, 2, 2, 1, 0, 2, 1]
    /// p3 = [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4],
    ///       [0.1, 0.8, 0.1], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]]
    /// roc_auc_score(y3, p3, multi_class='ovr', average='macro')                   # 0.9
    /// [roc_auc_score([int(t == c) for t in y3], [p[c] for p in p3]) for c in range(3)]
    ///                                       # 0.8333333333333334, 0.8666666666666667, 1.0
    /// ```
    /// The curve's points are scikit-learn's, and its area by trapezoids is `roc_auc`:
    ///
    /// ```python
    /// from sklearn.metrics import roc_curve
    /// roc_curve([0, 1, 0, 1, 1, 0], [0.1, 0.4, 0.5, 0.8, 0.4, 0.4], drop_intermediate=False)
    /// # fpr [0, 0, 1/3, 2/3, 1], tpr [0, 1/3, 1/3, 1, 1], thresholds [inf, 0.8, 0.5, 0.4, 0.1]
    /// ```
    #[test]
    fn roc_curve_is_scikit_learns_and_its_area_the_auc() {
        let positive = [false, true, false, true, true, false];
        let curve = roc_curve(&[0.1, 0.4, 0.5, 0.8, 0.4, 0.4], &positive, None).unwrap();
        let third = 1.0 / 3.0;
        let want = [
            (0.0, 0.0),
            (0.0, third),
            (third, third),
            (2.0 * third, 1.0),
            (1.0, 1.0),
        ];
        assert_eq!(curve.len(), want.len());
        for (g, w) in curve.iter().zip(want) {
            assert!(
                (g.0 - w.0).abs() < 1e-15 && (g.1 - w.1).abs() < 1e-15,
                "{curve:?}"
            );
        }
        let mut rng = Rng::new(8);
        for n in [2, 9, 40] {
            let scores: Vec<f64> = (0..n).map(|_| rng.below(6) as f64 / 5.0).collect();
            let positive: Vec<bool> = (0..n)
                .map(|i| i == 0 || (i > 1 && rng.below(2) == 1))
                .collect();
            let curve = roc_curve(&scores, &positive, None).unwrap();
            let area: f64 = curve
                .windows(2)
                .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
                .sum();
            let auc = roc_auc(&scores, &positive, None).unwrap();
            assert!((area - auc).abs() < 1e-12, "{n} rows: {area} against {auc}");
        }
        assert_eq!(roc_curve(&[0.3], &[true], None), None);
    }

    #[test]
    fn roc_auc_is_the_pairwise_count_and_scikit_learns() {
        let mut rng = Rng::new(3);
        for n in [2, 3, 10, 57] {
            let scores: Vec<f64> = (0..n).map(|_| rng.below(5) as f64 / 4.0).collect();
            let positive: Vec<bool> = (0..n)
                .map(|i| i == 0 || (i > 1 && rng.below(2) == 1))
                .collect();
            let auc = roc_auc(&scores, &positive, None).unwrap();
            assert!(
                (auc - pairwise_auc(&scores, &positive)).abs() < 1e-12,
                "{n} rows"
            );
        }
        assert_eq!(roc_auc(&[0.3, 0.7], &[true, true], None), None);
        let y = [0, 1, 1, 0, 1, 0, 0, 1, 1, 0];
        let s = [0.1, 0.4, 0.35, 0.8, 0.65, 0.4, 0.2, 0.9, 0.4, 0.05];
        let p1 = Matrix::from_vec(10, 1, s.to_vec());
        let binary = roc_auc_per_class(&p1, &y, 2, None);
        assert!((roc_auc_summary(&binary).unwrap() - 0.76).abs() < 1e-12);
        let y3 = [0, 1, 2, 2, 1, 0, 2, 1];
        let p3 = [
            [0.7, 0.2, 0.1],
            [0.3, 0.4, 0.3],
            [0.2, 0.2, 0.6],
            [0.5, 0.1, 0.4],
            [0.1, 0.8, 0.1],
            [0.4, 0.4, 0.2],
            [0.3, 0.3, 0.4],
            [0.6, 0.3, 0.1],
        ];
        let p3 = Matrix::from_vec(8, 3, p3.concat());
        let per_class = roc_auc_per_class(&p3, &y3, 3, None);
        for (got, want) in per_class
            .iter()
            .zip([0.8333333333333334, 0.8666666666666667, 1.0])
        {
            assert!((got.unwrap() - want).abs() < 1e-12, "{got:?} {want}");
        }
        assert!((roc_auc_summary(&per_class).unwrap() - 0.9).abs() < 1e-12);
        // A class with no row has no AUC, and the mean is over the others.
        let p4 = Matrix::from_vec(
            8,
            4,
            p3.data
                .chunks(3)
                .flat_map(|r| [r[0], r[1], r[2], 0.0])
                .collect(),
        );
        let absent = roc_auc_per_class(&p4, &y3, 4, None);
        assert_eq!(absent[3], None);
        assert!((roc_auc_summary(&absent).unwrap() - 0.9).abs() < 1e-12);
    }

    /// The naive reference: shuffle the column's features in a copy of x, predict from scratch.
    fn naive_importance(
        net: &Network<f64>,
        data: &Dataset<f64>,
        columns: &[(String, Range<usize>)],
        repeats: usize,
        seed: u64,
    ) -> (f64, Vec<f64>) {
        let w = data.sample_weight.as_deref();
        let score = |x: &Matrix<f64>| match &data.y {
            Targets::Classes(t) => accuracy(&net.predict_classes(x), t, w),
            Targets::Values(t) => r2(&net.predict(x), t, w),
            Targets::Labels(t) => subset_accuracy(&net.predict(x), t, w),
        };
        let baseline = score(&data.x);
        let means = columns
            .iter()
            .enumerate()
            .map(|(k, (_, features))| {
                // The same shuffles as `permutation_importance` (its doc: keyed by seed and k).
                let mut rng = Rng::new(Rng::new(seed ^ k as u64).next_u64());
                let mut order: Vec<usize> = (0..data.x.rows).collect();
                let mut sum = 0.0;
                for _ in 0..repeats {
                    rng.shuffle(&mut order);
                    let mut x = data.x.clone();
                    for (r, &from) in order.iter().enumerate() {
                        for j in features.clone() {
                            x[(r, j)] = data.x[(from, j)];
                        }
                    }
                    sum += baseline - score(&x);
                }
                sum / repeats as f64
            })
            .collect();
        (baseline, means)
    }

    #[test]
    fn permutation_importance_matches_the_naive_reference_and_ranks_the_columns() {
        // y = 3·x0 + x1 + (1 if the category in x2..x5 is the second) ; x5 is noise.
        let mut rng = Rng::new(4);
        let rows = 200;
        let mut x = Matrix::<f64>::zeros(rows, 6);
        let mut y = Matrix::<f64>::zeros(rows, 1);
        for r in 0..rows {
            let (a, b, c) = (rng.normal(), rng.normal(), rng.below(3));
            x[(r, 0)] = a;
            x[(r, 1)] = b;
            x[(r, 2 + c)] = 1.0;
            x[(r, 5)] = rng.normal();
            y[(r, 0)] = 3.0 * a + b + f64::from(u8::from(c == 1));
        }
        let data = Dataset {
            x,
            y: Targets::Values(y),
            feature_names: (0..6).map(|j| format!("f{j}")).collect(),
            class_names: Vec::new(),
            sample_weight: None,
        };
        let mut net = NetworkSpec::new(6)
            .dense(16, Activation::Tanh)
            .dense(8, Activation::Relu)
            .dense(1, Activation::Identity)
            .build::<f64>(1);
        let config = crate::TrainConfig {
            epochs: 200,
            learning_rate: 0.01,
            ..Default::default()
        };
        crate::fit(&mut net, &data, &config).unwrap();
        let columns: Vec<(String, Range<usize>)> = vec![
            ("a".into(), 0..1),
            ("b".into(), 1..2),
            ("category".into(), 2..5),
            ("noise".into(), 5..6),
        ];
        let (baseline, found) = permutation_importance(&net, &data, &columns, 3, 7);
        let (naive_baseline, naive) = naive_importance(&net, &data, &columns, 3, 7);
        assert!(
            (baseline - naive_baseline).abs() < 1e-12,
            "{baseline} vs {naive_baseline}"
        );
        for (k, (name, _)) in columns.iter().enumerate() {
            let got = found.iter().find(|i| i.column == *name).unwrap();
            assert!(
                (got.mean - naive[k]).abs() < 1e-9,
                "{name}: rank-one updates {} vs recomputed {}",
                got.mean,
                naive[k]
            );
        }
        let order: Vec<&str> = found.iter().map(|i| i.column.as_str()).collect();
        assert_eq!(order, ["a", "b", "category", "noise"], "{found:?}");
        assert!(found[3].mean.abs() < 0.01, "noise matters: {found:?}");
        // With sample weights, the score is weighted and the rows keep their weights.
        let weights = (0..rows).map(|_| rng.below(4) as f64).collect();
        let weighted = data.clone().with_sample_weight(weights).unwrap();
        let (baseline, found) = permutation_importance(&net, &weighted, &columns, 3, 7);
        let (naive_baseline, naive) = naive_importance(&net, &weighted, &columns, 3, 7);
        assert!((baseline - naive_baseline).abs() < 1e-12);
        assert_ne!(baseline, naive_importance(&net, &data, &columns, 1, 7).0);
        for (k, (name, _)) in columns.iter().enumerate() {
            let got = found.iter().find(|i| i.column == *name).unwrap();
            assert!((got.mean - naive[k]).abs() < 1e-9, "{name}, weighted");
        }
    }

    /// Multi-label targets are scored by subset accuracy: the same agreement with the naive
    /// reference, and a label's only cause ranks first.
    #[test]
    fn permutation_importance_of_labels_matches_the_naive_reference() {
        // Labels: a > 0, and a + b > 0; c is noise.
        let mut rng = Rng::new(6);
        let rows = 150;
        let mut x = Matrix::<f64>::zeros(rows, 3);
        let mut y = Matrix::<f64>::zeros(rows, 2);
        for r in 0..rows {
            let (a, b) = (rng.normal(), rng.normal());
            (x[(r, 0)], x[(r, 1)], x[(r, 2)]) = (a, b, rng.normal());
            y[(r, 0)] = f64::from(u8::from(a > 0.0));
            y[(r, 1)] = f64::from(u8::from(a + b > 0.0));
        }
        let data = Dataset::multi_label(x, y).unwrap();
        let mut net = NetworkSpec::new(3)
            .dense(12, Activation::Tanh)
            .dense(2, Activation::Sigmoid)
            .build::<f64>(2);
        let config = crate::TrainConfig {
            epochs: 100,
            learning_rate: 0.01,
            ..Default::default()
        };
        crate::fit(&mut net, &data, &config).unwrap();
        let columns: Vec<(String, Range<usize>)> =
            vec![("a".into(), 0..1), ("b".into(), 1..2), ("c".into(), 2..3)];
        let (baseline, found) = permutation_importance(&net, &data, &columns, 3, 5);
        let (naive_baseline, naive) = naive_importance(&net, &data, &columns, 3, 5);
        assert!(baseline > 0.9 && (baseline - naive_baseline).abs() < 1e-12);
        for (k, (name, _)) in columns.iter().enumerate() {
            let got = found.iter().find(|i| i.column == *name).unwrap();
            assert!((got.mean - naive[k]).abs() < 1e-9, "{name}");
        }
        let order: Vec<&str> = found.iter().map(|i| i.column.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"], "{found:?}");
    }

    #[test]
    fn classification_scores_by_hand() {
        // truth 0 0 1 1 2, predicted 0 1 1 1 0
        let t = [0, 0, 1, 1, 2];
        let p = [0, 1, 1, 1, 0];
        assert_eq!(accuracy(&p, &t, None), 0.6);
        let cm = ConfusionMatrix::new(&p, &t, 3, None);
        let want = [[1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.0]];
        assert_eq!(cm.counts, want.map(Vec::from));
        let s = cm.per_class();
        assert_eq!((s[0].precision, s[0].recall), (0.5, 0.5));
        assert_eq!((s[1].precision, s[1].recall), (2.0 / 3.0, 1.0));
        assert_eq!((s[2].precision, s[2].recall, s[2].f1), (0.0, 0.0, 0.0));
        let m = cm.macro_average();
        assert!((m.f1 - (0.5 + 0.8 + 0.0) / 3.0).abs() < 1e-12);
    }

    /// Weighted figures against scikit-learn 1.9.1's `sample_weight=`:
    ///
    /// ```python
    /// import numpy as np
    /// from sklearn.metrics import *
    /// w = np.array([1, 0.5, 2, 0, 3, 1.5, 1, 2.5])
    /// y3 = [0, 1, 2, 2, 1, 0, 2, 1]
    /// p3 = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4],
    ///       [0.1, 0.8, 0.1], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    /// yp = p3.argmax(1)                                  # [0, 1, 2, 0, 1, 0, 2, 0]
    /// accuracy_score(y3, yp, sample_weight=w)            # 0.782608695652174
    /// confusion_matrix(y3, yp, sample_weight=w)          # [[2.5,0,0],[2.5,3.5,0],[0,0,3]]
    /// precision_recall_fscore_support(y3, yp, sample_weight=w, zero_division=0)
    /// # precision [0.5, 1, 1], recall [1, 0.5833333333333334, 1],
    /// # f1 [0.6666666666666666, 0.7368421052631579, 1], support [2.5, 6, 3]
    /// log_loss(y3, p3, sample_weight=w)                  # 0.6788313958130998
    /// roc_auc_score(y3, p3, multi_class='ovr', sample_weight=w)   # 0.8901515151515151
    /// # one-vs-rest: 0.8333333333333333, 0.8371212121212122, 1.0
    /// roc_curve([int(t == 2) for t in y3], p3[:, 2], sample_weight=w, drop_intermediate=False)
    /// # fpr [0, 0, 0, 0.058823529411764705, 0.23529411764705882, 1], tpr [0, 2/3, 1, 1, 1, 1]
    /// y = np.array([[1,0,1],[0,1,0],[1,1,0],[0,0,1],[1,0,0],[0,1,1]])
    /// p = np.array([[0.9,0.2,0.6],[0.3,0.7,0.4],[0.8,0.4,0.1],[0.2,0.1,0.3],[0.6,0.55,0.2],
    ///               [0.1,0.8,0.9]])
    /// wl = np.array([2, 1, 0.5, 3, 1, 0.25])
    /// ypl = (p > 0.5).astype(int)
    /// accuracy_score(y, ypl, sample_weight=wl), hamming_loss(y, ypl, sample_weight=wl)
    /// # 0.41935483870967744, 0.1935483870967742
    /// precision_recall_fscore_support(y, ypl, sample_weight=wl, zero_division=0)
    /// # precision [1, 0.5555555555555556, 1], recall [1, 0.7142857142857143, 0.42857142857142855],
    /// # f1 [1, 0.625, 0.6], support [3.5, 1.75, 5.25]
    /// precision_recall_fscore_support(y, ypl, sample_weight=wl, average='micro')
    /// # 0.875, 0.6666666666666666, 0.7567567567567568
    /// roc_auc_score(y, p, average=None, sample_weight=wl)   # [1, 0.9523809523809524, 0.7714285714285714]
    /// t = np.array([[1.0, 0.5], [2.0, 0.0], [3.0, 1.0], [4.0, 2.0]])
    /// q = np.array([[1.5, 0.5], [2.0, 0.5], [2.0, 1.0], [4.5, 1.0]])
    /// wr = np.array([1, 2, 0.5, 1.5])
    /// mean_squared_error(t, q, sample_weight=wr)         # 0.3125
    /// mean_absolute_error(t, q, sample_weight=wr)        # 0.425
    /// r2_score(t, q, sample_weight=wr)                   # 0.6283098591549297
    /// r2_score([[2.0], [2.0]], [[2.0], [2.0]]), r2_score([[2.0], [2.0]], [[2.0], [3.0]])  # 1, 0
    /// ```
    #[test]
    fn weighted_figures_are_scikit_learns() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        let all_close = |a: &[f64], b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| close(*a, *b))
        };
        let w = [1.0, 0.5, 2.0, 0.0, 3.0, 1.5, 1.0, 2.5];
        let y3 = [0, 1, 2, 2, 1, 0, 2, 1];
        let p3 = Matrix::from_vec(
            8,
            3,
            vec![
                0.7, 0.2, 0.1, 0.3, 0.4, 0.3, 0.2, 0.2, 0.6, 0.5, 0.1, 0.4, 0.1, 0.8, 0.1, 0.4,
                0.4, 0.2, 0.3, 0.3, 0.4, 0.6, 0.3, 0.1,
            ],
        );
        let yp = classes(&p3);
        assert_eq!(yp, [0, 1, 2, 0, 1, 0, 2, 0]);
        assert!(close(accuracy(&yp, &y3, Some(&w)), 0.782608695652174));
        let cm = ConfusionMatrix::new(&yp, &y3, 3, Some(&w));
        assert_eq!(
            cm.counts,
            [[2.5, 0.0, 0.0], [2.5, 3.5, 0.0], [0.0, 0.0, 3.0]].map(Vec::from)
        );
        let s = cm.per_class();
        let column = |f: fn(&ClassScores) -> f64| s.iter().map(f).collect::<Vec<_>>();
        assert!(
            all_close(&column(|c| c.precision), &[0.5, 1.0, 1.0]),
            "{s:?}"
        );
        assert!(all_close(
            &column(|c| c.recall),
            &[1.0, 0.5833333333333334, 1.0]
        ));
        assert!(all_close(
            &column(|c| c.f1),
            &[2.0 / 3.0, 0.7368421052631579, 1.0]
        ));
        assert!(all_close(&column(|c| c.support), &[2.5, 6.0, 3.0]));
        assert!(close(log_loss(&p3, &y3, Some(&w)), 0.6788313958130998));
        let auc = roc_auc_per_class(&p3, &y3, 3, Some(&w));
        let auc: Vec<f64> = auc.into_iter().map(Option::unwrap).collect();
        assert!(
            all_close(&auc, &[0.8333333333333333, 0.8371212121212122, 1.0]),
            "{auc:?}"
        );
        let per_class = roc_auc_per_class(&p3, &y3, 3, Some(&w));
        assert!(close(
            roc_auc_summary(&per_class).unwrap(),
            0.8901515151515151
        ));
        let curve = roc_curve_per_class(&p3, &y3, 3, Some(&w))
            .remove(2)
            .unwrap();
        let (fpr, tpr): (Vec<f64>, Vec<f64>) = curve.into_iter().unzip();
        assert!(all_close(
            &fpr,
            &[
                0.0,
                0.0,
                0.0,
                0.058823529411764705,
                0.23529411764705882,
                1.0
            ]
        ));
        assert!(
            all_close(&tpr, &[0.0, 2.0 / 3.0, 1.0, 1.0, 1.0, 1.0]),
            "{tpr:?}"
        );

        let wl = [2.0, 1.0, 0.5, 3.0, 1.0, 0.25];
        let (y, p) = six_rows_three_labels();
        assert!(close(
            subset_accuracy(&p, &y, Some(&wl)),
            0.41935483870967744
        ));
        assert!(close(hamming_loss(&p, &y, Some(&wl)), 0.1935483870967742));
        let s = label_scores(&p, &y, Some(&wl));
        let column = |f: fn(&ClassScores) -> f64| s.iter().map(f).collect::<Vec<_>>();
        assert!(all_close(
            &column(|c| c.precision),
            &[1.0, 0.5555555555555556, 1.0]
        ));
        assert!(all_close(
            &column(|c| c.recall),
            &[1.0, 0.7142857142857143, 0.42857142857142855]
        ));
        assert!(all_close(&column(|c| c.f1), &[1.0, 0.625, 0.6]));
        assert!(all_close(&column(|c| c.support), &[3.5, 1.75, 5.25]));
        let micro = micro_scores(&p, &y, Some(&wl));
        assert!(close(micro.precision, 0.875) && close(micro.recall, 0.6666666666666666));
        assert!(close(micro.f1, 0.7567567567567568));
        let auc: Vec<f64> = roc_auc_per_label(&p, &y, Some(&wl))
            .into_iter()
            .map(Option::unwrap)
            .collect();
        assert!(
            all_close(&auc, &[1.0, 0.9523809523809524, 0.7714285714285714]),
            "{auc:?}"
        );

        let t = Matrix::<f64>::from_rows(&[&[1.0, 0.5], &[2.0, 0.0], &[3.0, 1.0], &[4.0, 2.0]]);
        let q = Matrix::<f64>::from_rows(&[&[1.5, 0.5], &[2.0, 0.5], &[2.0, 1.0], &[4.5, 1.0]]);
        let wr = [1.0, 2.0, 0.5, 1.5];
        assert!(close(mse(&q, &t, Some(&wr)), 0.3125));
        assert!(close(mae(&q, &t, Some(&wr)), 0.425));
        assert!(close(r2(&q, &t, Some(&wr)), 0.6283098591549297));
        let constant = Matrix::<f64>::from_rows(&[&[2.0], &[2.0]]);
        assert_eq!(r2(&constant, &constant, None), 1.0);
        assert_eq!(
            r2(&Matrix::from_rows(&[&[2.0], &[3.0]]), &constant, None),
            0.0
        );
    }

    /// The naive reference for weights: a row of integer weight k counts as k copies of the row
    /// (0: left out). Every figure, weighted, against the same figure of the repeated rows.
    #[test]
    fn integer_weights_score_as_repeated_rows() {
        let mut rng = Rng::new(21);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * (1.0 + b.abs());
        let (n, k) = (60, 3);
        let w: Vec<f64> = (0..n).map(|_| rng.below(4) as f64).collect();
        // Probabilities on a coarse grid, so that scores tie.
        let mut probs = Matrix::<f64>::zeros(n, k);
        for v in probs.data.iter_mut() {
            *v = rng.below(6) as f64 / 5.0;
        }
        let truth: Vec<usize> = (0..n).map(|_| rng.below(k)).collect();
        let labels = Matrix::from_vec(n, k, (0..n * k).map(|_| rng.below(2) as f64).collect());
        let values = Matrix::from_vec(n, 2, (0..n * 2).map(|_| rng.normal()).collect());
        let fitted = Matrix::from_vec(n, 2, (0..n * 2).map(|_| rng.normal()).collect());
        // The rows repeated as their weights say.
        let copies: Vec<usize> = (0..n).flat_map(|r| vec![r; w[r] as usize]).collect();
        let rows = |m: &Matrix<f64>| {
            Matrix::from_vec(
                copies.len(),
                m.cols,
                copies.iter().flat_map(|&r| m.row(r).to_vec()).collect(),
            )
        };
        let (r_probs, r_labels, r_values, r_fitted) =
            (rows(&probs), rows(&labels), rows(&values), rows(&fitted));
        let r_truth: Vec<usize> = copies.iter().map(|&r| truth[r]).collect();
        let w = Some(&w[..]);

        let predicted = classes(&probs);
        let r_predicted = classes(&r_probs);
        assert!(close(
            accuracy(&predicted, &truth, w),
            accuracy(&r_predicted, &r_truth, None)
        ));
        let (cm, r_cm) = (
            ConfusionMatrix::new(&predicted, &truth, k, w),
            ConfusionMatrix::new(&r_predicted, &r_truth, k, None),
        );
        assert_eq!(cm, r_cm);
        assert_eq!(cm.per_class(), r_cm.per_class());
        assert!(close(
            log_loss(&probs, &truth, w),
            log_loss(&r_probs, &r_truth, None)
        ));
        let pairs = |a: Vec<Option<f64>>, b: Vec<Option<f64>>| {
            a.len() == b.len() && a.iter().zip(&b).all(|(a, b)| close(a.unwrap(), b.unwrap()))
        };
        assert!(pairs(
            roc_auc_per_class(&probs, &truth, k, w),
            roc_auc_per_class(&r_probs, &r_truth, k, None)
        ));
        let curves = roc_curve_per_class(&probs, &truth, k, w);
        let r_curves = roc_curve_per_class(&r_probs, &r_truth, k, None);
        for (c, r) in curves.iter().zip(&r_curves) {
            let (c, r) = (c.as_ref().unwrap(), r.as_ref().unwrap());
            assert_eq!(c.len(), r.len());
            assert!(
                c.iter()
                    .zip(r)
                    .all(|(a, b)| close(a.0, b.0) && close(a.1, b.1)),
                "{c:?} {r:?}"
            );
        }

        assert!(close(
            subset_accuracy(&probs, &labels, w),
            subset_accuracy(&r_probs, &r_labels, None)
        ));
        assert!(close(
            hamming_loss(&probs, &labels, w),
            hamming_loss(&r_probs, &r_labels, None)
        ));
        assert_eq!(
            label_scores(&probs, &labels, w),
            label_scores(&r_probs, &r_labels, None)
        );
        assert_eq!(
            micro_scores(&probs, &labels, w),
            micro_scores(&r_probs, &r_labels, None)
        );
        assert!(pairs(
            roc_auc_per_label(&probs, &labels, w),
            roc_auc_per_label(&r_probs, &r_labels, None)
        ));

        assert!(close(
            mse(&fitted, &values, w),
            mse(&r_fitted, &r_values, None)
        ));
        assert!(close(
            mae(&fitted, &values, w),
            mae(&r_fitted, &r_values, None)
        ));
        assert!(close(
            r2(&fitted, &values, w),
            r2(&r_fitted, &r_values, None)
        ));

        // Rows that all weigh 0 have no figure (NaN, where scikit-learn divides by zero).
        let zeros = vec![0.0; n];
        let none = Some(&zeros[..]);
        assert!(accuracy(&predicted, &truth, none).is_nan());
        assert!(log_loss(&probs, &truth, none).is_nan() && r2(&fitted, &values, none).is_nan());
        assert!(
            mse(&fitted, &values, none).is_nan() && hamming_loss(&probs, &labels, none).is_nan()
        );
        // Weights of 1 are no weights, to the bit.
        let ones = vec![1.0; n];
        let ones = Some(&ones[..]);
        assert_eq!(
            accuracy(&predicted, &truth, ones),
            accuracy(&predicted, &truth, None)
        );
        assert_eq!(
            log_loss(&probs, &truth, ones),
            log_loss(&probs, &truth, None)
        );
        assert_eq!(
            roc_auc_per_class(&probs, &truth, k, ones),
            roc_auc_per_class(&probs, &truth, k, None)
        );
        assert_eq!(
            hamming_loss(&probs, &labels, ones),
            hamming_loss(&probs, &labels, None)
        );
        assert_eq!(r2(&fitted, &values, ones), r2(&fitted, &values, None));
    }

    #[test]
    fn regression_scores_by_hand() {
        let t = Matrix::<f64>::from_rows(&[&[1.0], &[2.0], &[3.0]]);
        let p = Matrix::<f64>::from_rows(&[&[1.0], &[2.0], &[5.0]]);
        assert_eq!(mse(&p, &t, None), 4.0 / 3.0);
        assert_eq!(mae(&p, &t, None), 2.0 / 3.0);
        assert_eq!(r2(&p, &t, None), 1.0 - 4.0 / 2.0);
        let probs = Matrix::<f64>::from_rows(&[&[0.25, 0.75], &[0.5, 0.5]]);
        assert!(
            (log_loss(&probs, &[1, 0], None) - (-(0.75f64.ln()) - 0.5f64.ln()) / 2.0).abs() < 1e-12
        );
    }
}
