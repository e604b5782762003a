//! Metrics: how good the predictions are. Classification: accuracy, confusion matrix, per-class and
//! macro precision/recall/F1, log-loss. Regression: MSE, RMSE, MAE, R².

use serde::{Deserialize, Serialize};

use crate::tensor::{Float, Matrix};

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
                let tp = self.counts[c][c] as f64;
                let predicted: usize = (0..n).map(|t| self.counts[t][c]).sum();
                let support: usize = self.counts[c].iter().sum();
                let precision = if predicted > 0 {
                    tp / predicted as f64
                } else {
                    0.0
                };
                let recall = if support > 0 {
                    tp / support as f64
                } else {
                    0.0
                };
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
            })
            .collect()
    }

    /// Unweighted means over the classes of precision, recall and F1 (the "macro" average).
    pub fn macro_average(&self) -> ClassScores {
        let s = self.per_class();
        let n = s.len().max(1) as f64;
        ClassScores {
            precision: s.iter().map(|c| c.precision).sum::<f64>() / n,
            recall: s.iter().map(|c| c.recall).sum::<f64>() / n,
            f1: s.iter().map(|c| c.f1).sum::<f64>() / n,
            support: s.iter().map(|c| c.support).sum(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
