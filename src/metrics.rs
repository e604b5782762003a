//! Metrics: how good the predictions are. Classification: accuracy, confusion matrix, per-class and
//! macro precision/recall/F1, log-loss, ROC AUC; multi-label: subset accuracy, Hamming loss and
//! the same per label. Regression: MSE, RMSE, MAE, R². And which input columns
//! the network relies on: permutation importance.

use std::ops::Range;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch_norm::{NormSpace, Stats};
use crate::data::{Dataset, Targets};
use crate::init::Rng;
use crate::network::{classes, Network};
use crate::tensor::{matmul, Accum, Float, Matrix, Par};

/// Fraction of predictions equal to the truth.
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> f64 {
    let hits = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    hits as f64 / truth.len().max(1) as f64
}

/// `counts[t][p]`: rows of true class t predicted as p.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub counts: Vec<Vec<usize>>,
}

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

impl ConfusionMatrix {
    pub fn new(predicted: &[usize], truth: &[usize], classes: usize) -> Self {
        let mut counts = vec![vec![0; classes]; classes];
        for (&p, &t) in predicted.iter().zip(truth) {
            counts[t][p] += 1;
        }
        ConfusionMatrix { counts }
    }

    /// Scores of each class. A class never predicted has precision 0 (scikit-learn's `zero_division=0`).
    pub fn per_class(&self) -> Vec<ClassScores> {
        let n = self.counts.len();
        (0..n)
            .map(|c| {
                let predicted: usize = (0..n).map(|t| self.counts[t][c]).sum();
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

/// Mean −ln p(true class), probabilities clipped to [1e-15, 1] (as scikit-learn's `log_loss`).
/// `probs`: `[rows × classes]`, or `[rows × 1]` holding p(class 1) for a binary problem.
pub fn log_loss<T: Float>(probs: &Matrix<T>, truth: &[usize]) -> f64 {
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
            -p.clamp(1e-15, 1.0).ln()
        })
        .sum();
    total / truth.len().max(1) as f64
}

/// Area under the ROC curve of `scores` for the rows marked `positive`: the probability that a
/// positive row scores above a negative one, ties counting half — the Mann–Whitney U over P·N,
/// from the ranks (ties share their mean rank), which is scikit-learn's `roc_auc_score`. `None`
/// where every row is positive or every row negative (the curve is not defined).
///
/// ```
/// // positives 0.4 and 0.8 against negatives 0.1 and 0.5: three pairs of four in order
/// let auc = mlp::metrics::roc_auc(&[0.1, 0.4, 0.5, 0.8], &[false, true, false, true]);
/// assert_eq!(auc, Some(0.75));
/// ```
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let p = positive.iter().filter(|&&b| b).count();
    let n = positive.len() - p;
    if p == 0 || n == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut positive_ranks, mut start) = (0.0, 0);
    for tied in order.chunk_by(|&a, &b| scores[a] == scores[b]) {
        // Ranks are 1-based: this run of ties holds ranks start+1 ..= start+len.
        let mean_rank = start as f64 + (tied.len() + 1) as f64 / 2.0;
        positive_ranks += mean_rank * tied.iter().filter(|&&r| positive[r]).count() as f64;
        start += tied.len();
    }
    let (p, n) = (p as f64, n as f64);
    Some((positive_ranks - p * (p + 1.0) / 2.0) / (p * n))
}

/// The ROC curve of `scores` for the rows marked `positive`: (false positive rate, true positive
/// rate) at every distinct score taken as the threshold, highest first, from (0, 0) to (1, 1) — as
/// scikit-learn's `roc_curve(drop_intermediate=False)`. Its area (trapezoids) is [`roc_auc`].
/// `None` where the curve is not defined (every row positive, or none).
pub fn roc_curve(scores: &[f64], positive: &[bool]) -> Option<Vec<(f64, f64)>> {
    let p = positive.iter().filter(|&&b| b).count();
    let n = positive.len() - p;
    if p == 0 || n == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    for tied in order.chunk_by(|&a, &b| scores[a] == scores[b]) {
        let hits = tied.iter().filter(|&&r| positive[r]).count();
        tp += hits;
        fp += tied.len() - hits;
        points.push((fp as f64 / n as f64, tp as f64 / p as f64));
    }
    Some(points)
}

/// Each class's one-vs-rest ROC AUC (`None` where it is not defined: no row of the class, or
/// only), from `probs` `[rows × classes]`, or `[rows × 1]` holding p(class 1) for a binary problem.
pub fn roc_auc_per_class<T: Float>(
    probs: &Matrix<T>,
    truth: &[usize],
    classes: usize,
) -> Vec<Option<f64>> {
    (0..classes)
        .map(|c| {
            let (scores, positive) = one_vs_rest(probs, truth, c)?;
            roc_auc(&scores, &positive)
        })
        .collect()
}

/// Each class's one-vs-rest ROC curve ([`roc_curve`]), as [`roc_auc_per_class`] scores it.
pub fn roc_curve_per_class<T: Float>(
    probs: &Matrix<T>,
    truth: &[usize],
    classes: usize,
) -> Vec<Option<Vec<(f64, f64)>>> {
    (0..classes)
        .map(|c| {
            let (scores, positive) = one_vs_rest(probs, truth, c)?;
            roc_curve(&scores, &positive)
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
pub fn roc_auc_per_label<T: Float>(probs: &Matrix<T>, truth: &Matrix<T>) -> Vec<Option<f64>> {
    (0..truth.cols)
        .map(|j| {
            let (scores, positive) = label_column(probs, truth, j);
            roc_auc(&scores, &positive)
        })
        .collect()
}

/// Multi-label: each label's ROC curve ([`roc_curve`]).
pub fn roc_curve_per_label<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
) -> Vec<Option<Vec<(f64, f64)>>> {
    (0..truth.cols)
        .map(|j| {
            let (scores, positive) = label_column(probs, truth, j);
            roc_curve(&scores, &positive)
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

/// Multi-label: the fraction of rows whose every label is predicted right (an output > 0.5 says
/// "has the label"), as scikit-learn's `accuracy_score` on indicator matrices. `probs` and
/// `truth` are `[rows × labels]`.
pub fn subset_accuracy<T: Float>(probs: &Matrix<T>, truth: &Matrix<T>) -> f64 {
    let right = probs
        .data
        .chunks_exact(probs.cols.max(1))
        .zip(truth.data.chunks_exact(truth.cols.max(1)))
        .filter(|(p, t)| labels_right(p, t))
        .count();
    right as f64 / truth.rows.max(1) as f64
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

/// Multi-label: the fraction of (row, label) pairs predicted wrong, as scikit-learn's
/// `hamming_loss`.
pub fn hamming_loss<T: Float>(probs: &Matrix<T>, truth: &Matrix<T>) -> f64 {
    let half = T::of(0.5);
    let wrong = probs
        .data
        .iter()
        .zip(&truth.data)
        .filter(|(&p, &t)| (p > half) != (t > half))
        .count();
    wrong as f64 / truth.data.len().max(1) as f64
}

/// Multi-label: each label's precision, recall, F1 and support (rows that have it), the label
/// predicted where its output is > 0.5; as scikit-learn's `precision_recall_fscore_support` on
/// indicator matrices, with `zero_division=0`.
pub fn label_scores<T: Float>(probs: &Matrix<T>, truth: &Matrix<T>) -> Vec<ClassScores> {
    (0..truth.cols)
        .map(|j| {
            let [tp, predicted, support] = label_counts(probs, truth, j..j + 1);
            scores(tp, predicted, support)
        })
        .collect()
}

/// Multi-label: precision, recall and F1 over every (row, label) pair at once (scikit-learn's
/// `average="micro"`); the support is the number of labels the rows have in all.
pub fn micro_scores<T: Float>(probs: &Matrix<T>, truth: &Matrix<T>) -> ClassScores {
    let [tp, predicted, support] = label_counts(probs, truth, 0..truth.cols);
    scores(tp, predicted, support)
}

/// True positives, predictions and true labels over the labels `labels` of every row.
fn label_counts<T: Float>(
    probs: &Matrix<T>,
    truth: &Matrix<T>,
    labels: Range<usize>,
) -> [usize; 3] {
    let half = T::of(0.5);
    let mut n = [0usize; 3];
    for r in 0..truth.rows {
        for j in labels.clone() {
            let (p, t) = (probs[(r, j)] > half, truth[(r, j)] > half);
            n[0] += usize::from(p && t);
            n[1] += usize::from(p);
            n[2] += usize::from(t);
        }
    }
    n
}

/// Precision, recall and F1 from the counts of true positives, predictions and true rows (0
/// where a denominator is 0, as scikit-learn's `zero_division=0`).
fn scores(tp: usize, predicted: usize, support: usize) -> ClassScores {
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
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

/// Mean squared error over all values.
pub fn mse<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>) -> f64 {
    let s: f64 = predicted
        .data
        .iter()
        .zip(&truth.data)
        .map(|(p, t)| (p.f64() - t.f64()).powi(2))
        .sum();
    s / truth.data.len().max(1) as f64
}

/// √MSE.
pub fn rmse<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>) -> f64 {
    mse(predicted, truth).sqrt()
}

/// Mean absolute error over all values.
pub fn mae<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>) -> f64 {
    let s: f64 = predicted
        .data
        .iter()
        .zip(&truth.data)
        .map(|(p, t)| (p.f64() - t.f64()).abs())
        .sum();
    s / truth.data.len().max(1) as f64
}

/// Coefficient of determination 1 − SS_res/SS_tot, averaged uniformly over the output columns
/// (scikit-learn's `r2_score` default). A constant column scores 0.
pub fn r2<T: Float>(predicted: &Matrix<T>, truth: &Matrix<T>) -> f64 {
    let (n, m) = (truth.rows, truth.cols);
    let mut total = 0.0;
    for j in 0..m {
        let mean = (0..n).map(|r| truth[(r, j)].f64()).sum::<f64>() / n.max(1) as f64;
        let ss_tot: f64 = (0..n).map(|r| (truth[(r, j)].f64() - mean).powi(2)).sum();
        let ss_res: f64 = (0..n)
            .map(|r| (truth[(r, j)].f64() - predicted[(r, j)].f64()).powi(2))
            .sum();
        total += if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            0.0
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
/// classes and labels (subset accuracy) and R² for values (scikit-learn's default scorers). A column is a range of features,
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
    let score = |mut z: Matrix<T>| {
        let mut a = Matrix::zeros(z.rows, z.cols);
        let bias = first.bias(&net.params);
        if first.norm.is_some() {
            // Batch-normalised with the running statistics, as `predict` does.
            let mut space = NormSpace::new(0, z.cols);
            space.xhat = z.data.clone();
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
        match &data.y {
            Targets::Classes(truth) => accuracy(&classes(&outputs), truth),
            Targets::Values(truth) => r2(&outputs, truth),
            Targets::Labels(truth) => subset_accuracy(&outputs, truth),
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
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(subset_accuracy(&p, &y), 0.5));
        assert!(close(hamming_loss(&p, &y), 1.0 / 6.0));
        let per = label_scores(&p, &y);
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
            assert!(close(s.f1, f) && s.support == 3, "{s:?}");
        }
        let micro = micro_scores(&p, &y);
        assert!(close(micro.precision, 0.875) && close(micro.recall, 7.0 / 9.0));
        assert!(close(micro.f1, 0.8235294117647058));
        let auc = roc_auc_per_label(&p, &y);
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
        let curve = roc_curve(&[0.1, 0.4, 0.5, 0.8, 0.4, 0.4], &positive).unwrap();
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
            let curve = roc_curve(&scores, &positive).unwrap();
            let area: f64 = curve
                .windows(2)
                .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
                .sum();
            let auc = roc_auc(&scores, &positive).unwrap();
            assert!((area - auc).abs() < 1e-12, "{n} rows: {area} against {auc}");
        }
        assert_eq!(roc_curve(&[0.3], &[true]), None);
    }

    #[test]
    fn roc_auc_is_the_pairwise_count_and_scikit_learns() {
        let mut rng = Rng::new(3);
        for n in [2, 3, 10, 57] {
            let scores: Vec<f64> = (0..n).map(|_| rng.below(5) as f64 / 4.0).collect();
            let positive: Vec<bool> = (0..n)
                .map(|i| i == 0 || (i > 1 && rng.below(2) == 1))
                .collect();
            let auc = roc_auc(&scores, &positive).unwrap();
            assert!(
                (auc - pairwise_auc(&scores, &positive)).abs() < 1e-12,
                "{n} rows"
            );
        }
        assert_eq!(roc_auc(&[0.3, 0.7], &[true, true]), None);
        let y = [0, 1, 1, 0, 1, 0, 0, 1, 1, 0];
        let s = [0.1, 0.4, 0.35, 0.8, 0.65, 0.4, 0.2, 0.9, 0.4, 0.05];
        let p1 = Matrix::from_vec(10, 1, s.to_vec());
        let binary = roc_auc_per_class(&p1, &y, 2);
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
        let per_class = roc_auc_per_class(&p3, &y3, 3);
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
        let absent = roc_auc_per_class(&p4, &y3, 4);
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
        let score = |x: &Matrix<f64>| match &data.y {
            Targets::Classes(t) => accuracy(&net.predict_classes(x), t),
            Targets::Values(t) => r2(&net.predict(x), t),
            Targets::Labels(t) => subset_accuracy(&net.predict(x), t),
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
        assert_eq!(accuracy(&p, &t), 0.6);
        let cm = ConfusionMatrix::new(&p, &t, 3);
        assert_eq!(cm.counts, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]);
        let s = cm.per_class();
        assert_eq!((s[0].precision, s[0].recall), (0.5, 0.5));
        assert_eq!((s[1].precision, s[1].recall), (2.0 / 3.0, 1.0));
        assert_eq!((s[2].precision, s[2].recall, s[2].f1), (0.0, 0.0, 0.0));
        let m = cm.macro_average();
        assert!((m.f1 - (0.5 + 0.8 + 0.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn regression_scores_by_hand() {
        let t = Matrix::<f64>::from_rows(&[&[1.0], &[2.0], &[3.0]]);
        let p = Matrix::<f64>::from_rows(&[&[1.0], &[2.0], &[5.0]]);
        assert_eq!(mse(&p, &t), 4.0 / 3.0);
        assert_eq!(mae(&p, &t), 2.0 / 3.0);
        assert_eq!(r2(&p, &t), 1.0 - 4.0 / 2.0);
        let probs = Matrix::<f64>::from_rows(&[&[0.25, 0.75], &[0.5, 0.5]]);
        assert!((log_loss(&probs, &[1, 0]) - (-(0.75f64.ln()) - 0.5f64.ln()) / 2.0).abs() < 1e-12);
    }
}
