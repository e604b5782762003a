//! Data sets: features one sample per row, and their targets; splitting, filling missing values and standardising.
//!
//! Readers: [`csv`] (here), with the built-in `iris` and `digits` sets embedded in the binary
//! ([`builtin`]).

pub mod csv;
pub mod idx;
pub mod images;
pub mod npy;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::init::Rng;
use crate::loss::TargetsRef;
use crate::tensor::{Float, Matrix};

pub use self::csv::{
    csv_columns, csv_headers, feature_columns, feature_groups, is_stdin, read_csv, read_csv_from,
    Categorical, Columns, Csv, Header, Missing, TargetColumn, MISSING_MARKERS, STDIN,
};

/// Classification (one class per row), regression (real values), or multi-label classification
/// (any number of labels per row, each 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Classification,
    Regression,
    MultiLabel,
}

impl Task {
    /// The name the model file and the messages use: `classification`, `regression`, `multilabel`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
            Task::MultiLabel => "multilabel",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "classification" | "classify" => Ok(Task::Classification),
            "regression" | "regress" => Ok(Task::Regression),
            "multilabel" | "multi-label" | "multi_label" => Ok(Task::MultiLabel),
            _ => Err(Error::config(format!(
                "unknown task '{s}'; expected classification, regression or multilabel"
            ))),
        }
    }
}

/// What a data set's rows are to predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets<T> {
    /// One class index per row, `0..names.len()`.
    Classes(Vec<usize>),
    /// `[rows × outputs]` real values.
    Values(Matrix<T>),
    /// `[rows × labels]` of 0 and 1: which labels each row has (multi-label classification, as
    /// scikit-learn's indicator matrix); the labels' names are the data set's `class_names`.
    Labels(Matrix<T>),
}

impl<T: Float> Targets<T> {
    /// Borrows the targets of every row.
    pub fn as_ref(&self) -> TargetsRef<'_, T> {
        match self {
            Targets::Classes(c) => TargetsRef::Classes(c),
            Targets::Values(v) => TargetsRef::Values(&v.data),
            Targets::Labels(v) => TargetsRef::Labels(&v.data),
        }
    }

    /// The targets of the rows at `indices`.
    pub fn gather(&self, indices: &[usize]) -> Self {
        match self {
            Targets::Classes(c) => Targets::Classes(indices.iter().map(|&i| c[i]).collect()),
            Targets::Values(v) => Targets::Values(v.gather_rows(indices)),
            Targets::Labels(v) => Targets::Labels(v.gather_rows(indices)),
        }
    }

    fn cast<U: Float>(&self) -> Targets<U> {
        match self {
            Targets::Classes(c) => Targets::Classes(c.clone()),
            Targets::Values(v) => Targets::Values(v.cast()),
            Targets::Labels(v) => Targets::Labels(v.cast()),
        }
    }
}

/// Features and targets, with the names of columns and classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    /// `[rows × features]`.
    pub x: Matrix<T>,
    pub y: Targets<T>,
    pub feature_names: Vec<String>,
    /// For classification, the label of each class index, as written in the data; empty otherwise.
    pub class_names: Vec<String>,
    /// How much each row counts (scikit-learn's `sample_weight=`): in training, each batch's loss
    /// is its weighted mean, Σ w·E / Σ w; in validation and the metrics, each row counts its
    /// weight. Subsets and splits keep their rows' weights. `None`: every row alike.
    pub sample_weight: Option<Vec<T>>,
}

impl<T: Float> Dataset<T> {
    /// A classification set with classes named `0`, `1`, …
    ///
    /// # Panics
    /// If the lengths disagree.
    #[track_caller]
    pub fn classification(x: Matrix<T>, classes: Vec<usize>) -> Self {
        assert_eq!(
            x.rows,
            classes.len(),
            "Dataset::classification: rows and labels differ"
        );
        let n = classes.iter().max().map_or(0, |m| m + 1);
        Dataset {
            feature_names: (0..x.cols).map(|j| format!("x{}", j + 1)).collect(),
            class_names: (0..n).map(|c| c.to_string()).collect(),
            x,
            y: Targets::Classes(classes),
            sample_weight: None,
        }
    }

    /// A multi-label set: `y` is `[rows × labels]` of 0 and 1 (row r has label j where
    /// y[r, j] = 1), the labels named `0`, `1`, … An error names the first value that is neither.
    ///
    /// # Panics
    /// If the row counts disagree.
    ///
    /// ```
    /// use mlp::{Dataset, Matrix, Task};
    /// let x = Matrix::from_vec(2, 1, vec![0.5f32, -1.0]);
    /// let d = Dataset::multi_label(x.clone(), Matrix::from_vec(2, 3, vec![1.0, 0.0, 1.0, 0.0, 0.0, 0.0])).unwrap();
    /// assert_eq!((d.task(), d.outputs()), (Task::MultiLabel, 3));
    /// assert!(Dataset::multi_label(x, Matrix::from_vec(2, 1, vec![1.0, 0.5])).is_err());
    /// ```
    #[track_caller]
    pub fn multi_label(x: Matrix<T>, y: Matrix<T>) -> Result<Self> {
        assert_eq!(
            x.rows, y.rows,
            "Dataset::multi_label: rows of x and y differ"
        );
        let names: Vec<String> = (0..y.cols).map(|j| j.to_string()).collect();
        if let Some(i) = y.data.iter().position(|&v| v != T::ZERO && v != T::ONE) {
            return Err(Error::config(format!(
                "multi-label targets are 0 or 1; row {}, label {} holds {}",
                i / y.cols,
                names[i % y.cols],
                y.data[i]
            )));
        }
        Ok(Dataset {
            feature_names: (0..x.cols).map(|j| format!("x{}", j + 1)).collect(),
            class_names: names,
            x,
            y: Targets::Labels(y),
            sample_weight: None,
        })
    }

    /// A regression set.
    ///
    /// # Panics
    /// If the row counts disagree.
    #[track_caller]
    pub fn regression(x: Matrix<T>, y: Matrix<T>) -> Self {
        assert_eq!(
            x.rows, y.rows,
            "Dataset::regression: rows of x and y differ"
        );
        Dataset {
            feature_names: (0..x.cols).map(|j| format!("x{}", j + 1)).collect(),
            class_names: Vec::new(),
            x,
            y: Targets::Values(y),
            sample_weight: None,
        }
    }

    /// These rows weighted by `weights` (see [`Dataset::sample_weight`]): one finite weight ≥ 0 per
    /// row, not all 0.
    pub fn with_sample_weight(mut self, weights: Vec<T>) -> Result<Self> {
        if weights.len() != self.len() {
            return Err(Error::config(format!(
                "{} sample weights for {} rows",
                weights.len(),
                self.len()
            )));
        }
        if let Some(r) = weights
            .iter()
            .position(|w| !(w.f64() >= 0.0 && w.f64().is_finite()))
        {
            return Err(Error::config(format!(
                "sample weight of row {} is {}; expected a finite number ≥ 0",
                r + 1,
                weights[r].f64()
            )));
        }
        self.sample_weight = Some(weights);
        if self.weightless() {
            return Err(Error::config("every sample weight is 0"));
        }
        Ok(self)
    }

    /// The sample weights in f64, as [`crate::metrics`] takes them (`None`: every row alike).
    pub fn weights(&self) -> Option<Vec<f64>> {
        (self.sample_weight.as_ref()).map(|w| w.iter().map(|w| w.f64()).collect())
    }

    /// Whether the rows have sample weights and every one is 0: no row counts (a split may
    /// leave such a side; [`Dataset::with_sample_weight`] refuses it for a whole set).
    pub fn weightless(&self) -> bool {
        (self.sample_weight.as_ref()).is_some_and(|w| w.iter().all(|w| w.f64() == 0.0))
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.rows
    }

    pub fn is_empty(&self) -> bool {
        self.x.rows == 0
    }

    pub fn task(&self) -> Task {
        match self.y {
            Targets::Classes(_) => Task::Classification,
            Targets::Values(_) => Task::Regression,
            Targets::Labels(_) => Task::MultiLabel,
        }
    }

    /// Number of classes (classification), target columns (regression) or labels (multi-label):
    /// the network's outputs.
    pub fn outputs(&self) -> usize {
        match &self.y {
            Targets::Classes(_) => self.class_names.len(),
            Targets::Values(v) | Targets::Labels(v) => v.cols,
        }
    }

    /// The class index of every row (classification only).
    pub fn classes(&self) -> Option<&[usize]> {
        match &self.y {
            Targets::Classes(c) => Some(c),
            Targets::Values(_) | Targets::Labels(_) => None,
        }
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Dataset {
            x: self.x.gather_rows(indices),
            y: self.y.gather(indices),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
            sample_weight: self
                .sample_weight
                .as_ref()
                .map(|w| indices.iter().map(|&i| w[i]).collect()),
        }
    }

    /// Splits off a `fraction` of the rows, shuffled with `seed`; stratified for classification
    /// (each class contributes its share, rounded). Returns (rest, split-off part).
    pub fn split(&self, fraction: f64, seed: u64) -> (Self, Self) {
        let (keep, take) = split_indices(self, fraction, seed);
        (self.subset(&keep), self.subset(&take))
    }

    /// Like [`Dataset::split`], but consumes the data set: only the split-off rows are copied and
    /// the rest are compacted in place (kept in their original order), so the peak memory is the
    /// data plus the split-off part, not twice the data.
    pub fn split_off(mut self, fraction: f64, seed: u64) -> (Self, Self) {
        let (mut keep, take) = split_indices(&self, fraction, seed);
        let taken = self.subset(&take);
        keep.sort_unstable();
        let f = self.x.cols;
        for (dst, &src) in keep.iter().enumerate() {
            // src ≥ dst, since keep is ascending: each row moves towards the front.
            self.x.data.copy_within(src * f..(src + 1) * f, dst * f);
        }
        self.x.data.truncate(keep.len() * f);
        self.x.data.shrink_to_fit();
        self.x.rows = keep.len();
        match &mut self.y {
            Targets::Classes(c) => {
                for (dst, &src) in keep.iter().enumerate() {
                    c[dst] = c[src];
                }
                c.truncate(keep.len());
            }
            Targets::Values(v) | Targets::Labels(v) => {
                let m = v.cols;
                for (dst, &src) in keep.iter().enumerate() {
                    v.data.copy_within(src * m..(src + 1) * m, dst * m);
                }
                v.data.truncate(keep.len() * m);
                v.rows = keep.len();
            }
        }
        if let Some(w) = &mut self.sample_weight {
            for (dst, &src) in keep.iter().enumerate() {
                w[dst] = w[src];
            }
            w.truncate(keep.len());
        }
        (self, taken)
    }

    /// The same data in another float type.
    pub fn cast<U: Float>(&self) -> Dataset<U> {
        Dataset {
            x: self.x.cast(),
            y: self.y.cast(),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
            sample_weight: self
                .sample_weight
                .as_ref()
                .map(|w| w.iter().map(|v| U::of(v.f64())).collect()),
        }
    }
}

/// The rows that splits and folds stratify by: one group per class, in order; all rows for
/// regression.
fn strata<T: Float>(data: &Dataset<T>) -> Vec<Vec<usize>> {
    match data.classes() {
        Some(classes) => {
            let mut g = vec![Vec::new(); data.class_names.len().max(1)];
            for (i, &c) in classes.iter().enumerate() {
                g[c].push(i);
            }
            g
        }
        None => vec![(0..data.len()).collect()],
    }
}

/// Indices of a seeded, stratified split: (rest, split-off part), each in shuffled order.
pub fn split_indices<T: Float>(
    data: &Dataset<T>,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let (mut keep, mut take) = (Vec::new(), Vec::new());
    for mut g in strata(data) {
        rng.shuffle(&mut g);
        let k = ((g.len() as f64) * fraction).round() as usize;
        take.extend_from_slice(&g[..k]);
        keep.extend_from_slice(&g[k..]);
    }
    rng.shuffle(&mut keep);
    rng.shuffle(&mut take);
    (keep, take)
}

/// The rows of `data` dealt into `k` seeded folds for cross-validation, each in shuffled order;
/// stratified for classification (each class dealt round the folds in turn, continuing where the
/// last class stopped), so that every fold holds each class's share to within one row and the
/// folds' sizes differ by at most one, as scikit-learn's `StratifiedKFold`.
pub fn fold_indices<T: Float>(data: &Dataset<T>, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = Rng::new(seed);
    let mut folds = vec![Vec::new(); k.max(1)];
    let mut next = 0;
    for mut g in strata(data) {
        rng.shuffle(&mut g);
        for i in g {
            folds[next].push(i);
            next = (next + 1) % folds.len();
        }
    }
    for f in &mut folds {
        rng.shuffle(f);
    }
    folds
}

/// Most distinct integer targets that still read as class labels when the task is not given.
pub const MAX_INFERRED_CLASSES: usize = 20;

/// What is wrong with a finite value read from a file, in the data's precision `T`: nothing,
/// or (f32 only) that it lies beyond f32's range, ±3.4·10³⁸, where it would be read as ±∞ and
/// turn every statistic and loss it meets into NaN.
pub fn beyond_precision<T: Float>(v: f64) -> Option<String> {
    (v.is_finite() && !T::of(v).is_finite()).then(|| {
        format!(
            "{v:e} is beyond {}'s range (±3.4e38); scale it down, or train with --precision f64",
            T::NAME
        )
    })
}

/// The task numeric targets suggest, and why: integers with at most [`MAX_INFERRED_CLASSES`]
/// distinct values are class labels, anything else is a regression target.
pub fn infer_task(values: &[f64], column: &str) -> (Task, String) {
    let mut distinct: Vec<f64> = values.to_vec();
    distinct.sort_by(|a, b| a.total_cmp(b));
    distinct.dedup();
    let integral = values.iter().all(|x| x.fract() == 0.0);
    if integral && distinct.len() <= MAX_INFERRED_CLASSES {
        (
            Task::Classification,
            format!(
                "classification: '{column}' holds {} distinct integer values (≤ {MAX_INFERRED_CLASSES}); pass --task regression to override",
                distinct.len()
            ),
        )
    } else {
        let what = if integral {
            format!(
                "{} distinct integer values (> {MAX_INFERRED_CLASSES})",
                distinct.len()
            )
        } else {
            "real values".to_string()
        };
        (
            Task::Regression,
            format!("regression: '{column}' holds {what}; pass --task classification to override"),
        )
    }
}

/// Class indices for numeric labels, classes in increasing order, named as the numbers print.
/// −0 is the class 0 (fuzzing found labels 0 and −0 breaking the lookup: sorted by `total_cmp`,
/// which orders −0 before 0, but deduplicated by `==`, which calls them equal).
pub fn classes_from_numbers(values: &[f64]) -> (Vec<usize>, Vec<String>) {
    let label = |x: f64| if x == 0.0 { 0.0 } else { x };
    let mut distinct: Vec<f64> = values.iter().map(|&x| label(x)).collect();
    distinct.sort_by(|a, b| a.total_cmp(b));
    distinct.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let ids = values
        .iter()
        .map(|&x| {
            distinct
                .binary_search_by(|d| d.total_cmp(&label(x)))
                .expect("every label is among the distinct ones")
        })
        .collect();
    (ids, distinct.iter().map(|d| format_number(*d)).collect())
}

/// Class indices for text labels, classes sorted as scikit-learn's `LabelEncoder` (and
/// `np.unique`) orders them: by code point.
pub fn classes_from_text(values: &[String]) -> (Vec<usize>, Vec<String>) {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut names = Vec::new();
    let ids = values
        .iter()
        .map(|v| {
            *seen.entry(v).or_insert_with(|| {
                names.push(v.clone());
                names.len() - 1
            })
        })
        .collect();
    sort_classes(ids, names)
}

/// Classes numbered in the order first seen (`ids` indexing `names`) renumbered in the order of
/// their sorted names.
pub fn sort_classes(ids: Vec<usize>, names: Vec<String>) -> (Vec<usize>, Vec<String>) {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut rank = vec![0; names.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let sorted = order.iter().map(|&i| names[i].clone()).collect();
    (ids.into_iter().map(|i| rank[i]).collect(), sorted)
}

/// The first `most` of `names`, joined by commas, with "…" after them when there are more: for
/// messages that name columns or categories.
pub fn first_names(names: &[String], most: usize) -> String {
    let mut s = names[..names.len().min(most)].join(", ");
    if names.len() > most {
        s += ", …";
    }
    s
}

/// 3.0 → "3", 0.5 → "0.5".
pub(crate) fn format_number(x: f64) -> String {
    format!("{x}")
}

/// How an [`Imputer`] picks a column's fill value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    Mean,
    Median,
}

impl Impute {
    pub fn name(self) -> &'static str {
        match self {
            Impute::Mean => "mean",
            Impute::Median => "median",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(Impute::Mean),
            "median" => Ok(Impute::Median),
            _ => Err(Error::config(format!(
                "--impute {s}: expected mean or median"
            ))),
        }
    }
}

/// Fills missing values (NaN, as [`Missing::Read`] reads them) column by column with the mean or
/// the median of the values present in the training rows, as scikit-learn's `SimpleImputer`. A
/// column with no value present is filled with 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Imputer {
    pub strategy: Impute,
    /// Per feature, what a missing value becomes.
    pub fill: Vec<f64>,
}

impl Imputer {
    /// The fill value of each column of `x`, from the values present.
    pub fn fit<T: Float>(x: &Matrix<T>, strategy: Impute) -> Self {
        let fill = (0..x.cols)
            .map(|j| {
                let mut present: Vec<f64> = (0..x.rows)
                    .map(|r| x.data[r * x.cols + j].f64())
                    .filter(|v| !v.is_nan())
                    .collect();
                let n = present.len();
                if n == 0 {
                    return 0.0;
                }
                match strategy {
                    Impute::Mean => present.iter().sum::<f64>() / n as f64,
                    Impute::Median => {
                        present.sort_by(f64::total_cmp);
                        (present[(n - 1) / 2] + present[n / 2]) / 2.0
                    }
                }
            })
            .collect();
        Imputer { strategy, fill }
    }

    /// Replaces every NaN in `x` by its column's fill value, in place.
    pub fn apply<T: Float>(&self, x: &mut Matrix<T>) {
        for row in x.data.chunks_exact_mut(x.cols) {
            for (v, f) in row.iter_mut().zip(&self.fill) {
                if v.f64().is_nan() {
                    *v = T::of(*f);
                }
            }
        }
    }
}

/// Per-column standardisation z = (x − mean)/std with statistics of the training data.
/// A constant column gets std 1, so it maps to 0 instead of dividing by zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Mean and population standard deviation (ddof = 0, as scikit-learn's `StandardScaler`) of each column.
    pub fn fit<T: Float>(x: &Matrix<T>) -> Self {
        let n = x.rows.max(1) as f64;
        let mut mean = vec![0.0; x.cols];
        for r in 0..x.rows {
            for (m, v) in mean.iter_mut().zip(x.row(r)) {
                *m += v.f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; x.cols];
        for r in 0..x.rows {
            for ((s, v), m) in var.iter_mut().zip(x.row(r)).zip(&mean) {
                *s += (v.f64() - m) * (v.f64() - m);
            }
        }
        let std = var
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd > 1e-12 * (1.0 + sd) && sd.is_finite() && sd > 0.0 {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer { mean, std }
    }

    /// Leaves the indicators of one-hot encoded columns as they are, 0 or 1 (mean 0, std 1), as a
    /// scikit-learn pipeline scales the numeric columns only.
    pub fn skip_categorical(mut self, categorical: &[Categorical]) -> Self {
        for c in categorical {
            let range = c.first_feature..c.first_feature + c.categories.len();
            self.mean[range.clone()].fill(0.0);
            self.std[range].fill(1.0);
        }
        self
    }

    /// z = (x − mean)/std, in place.
    pub fn apply<T: Float>(&self, x: &mut Matrix<T>) {
        for row in x.data.chunks_exact_mut(x.cols) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = T::of((v.f64() - m) / s);
            }
        }
    }

    /// x = z·std + mean, in place (maps standardised regression outputs back to their units).
    pub fn invert<T: Float>(&self, x: &mut Matrix<T>) {
        for row in x.data.chunks_exact_mut(x.cols) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = T::of(v.f64() * s + m);
            }
        }
    }
}

/// The data sets embedded in the binary: `iris` and `digits` (see `data/README.md`).
pub mod builtin {
    use super::*;

    const IRIS: &str = include_str!("../../data/iris.csv");
    const DIGITS: &str = include_str!("../../data/digits.csv");
    /// Names of the built-in data sets.
    pub const NAMES: [&str; 2] = ["iris", "digits"];

    /// The CSV text of a built-in data set.
    pub fn text(name: &str) -> Option<&'static str> {
        match name {
            "iris" => Some(IRIS),
            "digits" => Some(DIGITS),
            _ => None,
        }
    }

    /// Loads a built-in data set by name (classification, target in the last column).
    pub fn load<T: Float>(name: &str) -> Result<Dataset<T>> {
        let text = text(name).ok_or_else(|| {
            Error::config(format!(
                "no built-in data set '{name}'; built-in: {}",
                NAMES.join(", ")
            ))
        })?;
        read_csv_from(
            text.as_bytes(),
            name,
            &TargetColumn::Last,
            Some(Task::Classification),
            Columns::ALL,
            Missing::Refuse,
        )
        .map(|c| c.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_are_the_model_files() {
        for t in [Task::Classification, Task::Regression, Task::MultiLabel] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.name());
            assert_eq!(Task::parse(t.name()).unwrap(), t);
        }
    }

    /// numpy's `np.unique` (and so `LabelEncoder`) orders text by code point: capitals first.
    #[test]
    fn text_classes_sort_by_code_point() {
        let labels: Vec<String> = ["b", "B", "a", "é", "b"].map(String::from).to_vec();
        let (ids, names) = classes_from_text(&labels);
        assert_eq!(names, ["B", "a", "b", "é"]);
        assert_eq!(ids, [2, 0, 1, 3, 2]);
    }

    #[test]
    fn minus_zero_is_the_class_zero() {
        let (ids, names) = classes_from_numbers(&[0.0, -0.0, 2.0, -0.0, 1.0]);
        assert_eq!(ids, vec![0, 0, 2, 0, 1]);
        assert_eq!(names, vec!["0", "1", "2"]);
    }

    #[test]
    fn builtins_load_with_their_documented_shapes() {
        let iris = builtin::load::<f32>("iris").unwrap();
        assert_eq!(
            (iris.x.rows, iris.x.cols, iris.class_names.len()),
            (150, 4, 3)
        );
        let digits = builtin::load::<f32>("digits").unwrap();
        assert_eq!(
            (digits.x.rows, digits.x.cols, digits.outputs()),
            (1797, 64, 10)
        );
        let mut counts = [0; 10];
        digits
            .classes()
            .unwrap()
            .iter()
            .for_each(|&c| counts[c] += 1);
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    }

    #[test]
    fn split_is_stratified_and_disjoint() {
        let iris = builtin::load::<f64>("iris").unwrap();
        let (keep, take) = split_indices(&iris, 0.2, 1);
        assert_eq!((keep.len(), take.len()), (120, 30));
        let mut per_class = [0; 3];
        take.iter()
            .for_each(|&i| per_class[iris.classes().unwrap()[i]] += 1);
        assert_eq!(per_class, [10, 10, 10]);
        let mut all: Vec<usize> = keep.iter().chain(&take).copied().collect();
        all.sort();
        assert_eq!(all, (0..150).collect::<Vec<_>>());
    }

    #[test]
    fn split_off_keeps_the_rows_split_keeps_in_their_original_order() {
        let iris = builtin::load::<f64>("iris").unwrap();
        let (keep, take) = iris.split(0.2, 5);
        let (kept, taken) = iris.clone().split_off(0.2, 5);
        assert_eq!(taken, take);
        let mut want: Vec<Vec<u64>> = (0..keep.len())
            .map(|i| keep.x.row(i).iter().map(|v| v.to_bits()).collect())
            .collect();
        let mut got: Vec<Vec<u64>> = (0..kept.len())
            .map(|i| kept.x.row(i).iter().map(|v| v.to_bits()).collect())
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want);
        assert_eq!(kept.x.rows, 120);
        assert_eq!(kept.classes().unwrap().len(), 120);
    }

    #[test]
    fn standardizer_centres_scales_and_survives_constant_columns() {
        let mut x = Matrix::<f64>::from_rows(&[&[1.0, 5.0], &[3.0, 5.0]]);
        let s = Standardizer::fit(&x);
        assert_eq!(
            (s.mean.clone(), s.std.clone()),
            (vec![2.0, 5.0], vec![1.0, 1.0])
        );
        s.apply(&mut x);
        assert_eq!(x.data, vec![-1.0, 0.0, 1.0, 0.0]);
        s.invert(&mut x);
        assert_eq!(x.data, vec![1.0, 5.0, 3.0, 5.0]);
    }

    /// Every row is in exactly one fold; fold sizes differ by at most one, and so does each class's
    /// count across the folds; the same seed deals the same folds.
    #[test]
    fn folds_partition_the_rows_stratified() {
        let iris = builtin::load::<f64>("iris").unwrap(); // 50 rows of each of 3 classes
        let folds = fold_indices(&iris, 4, 3);
        let mut all: Vec<usize> = folds.concat();
        all.sort_unstable();
        assert_eq!(all, (0..150).collect::<Vec<_>>());
        let classes = iris.classes().unwrap();
        for c in 0..3 {
            let counts: Vec<usize> = folds
                .iter()
                .map(|f| f.iter().filter(|&&i| classes[i] == c).count())
                .collect();
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(hi - lo <= 1, "class {c}: {counts:?}");
        }
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
        assert_eq!(folds, fold_indices(&iris, 4, 3));
        assert_ne!(folds, fold_indices(&iris, 4, 4));
    }

    /// Missing values become the column's mean or median of the values present (the median of an
    /// even count is the mean of the middle two, as numpy's); a column with none present gets 0.
    #[test]
    fn imputer_fills_with_the_mean_or_median_of_the_values_present() {
        let nan = f64::NAN;
        let x = Matrix::<f64>::from_rows(&[
            &[1.0, nan, nan],
            &[nan, 4.0, nan],
            &[3.0, 10.0, nan],
            &[8.0, 1.0, nan],
        ]);
        let mean = Imputer::fit(&x, Impute::Mean);
        assert_eq!(mean.fill, vec![4.0, 5.0, 0.0]);
        let median = Imputer::fit(&x, Impute::Median);
        assert_eq!(median.fill, vec![3.0, 4.0, 0.0]);
        let mut filled = x.clone();
        median.apply(&mut filled);
        assert_eq!(
            filled.data,
            vec![1.0, 4.0, 0.0, 3.0, 4.0, 0.0, 3.0, 10.0, 0.0, 8.0, 1.0, 0.0]
        );
    }

    /// The indicators of a one-hot column stay 0 and 1; the numbers beside them are standardised.
    #[test]
    fn standardizer_leaves_one_hot_indicators_as_they_are() {
        let mut x = Matrix::<f64>::from_rows(&[&[1.0, 0.0, 1.0, 10.0], &[3.0, 1.0, 0.0, 30.0]]);
        let color = Categorical {
            column: "color".into(),
            first_feature: 1,
            categories: vec!["blue".into(), "red".into()],
        };
        let s = Standardizer::fit(&x).skip_categorical(&[color]);
        s.apply(&mut x);
        assert_eq!(x.data, vec![-1.0, 0.0, 1.0, -1.0, 1.0, 1.0, 0.0, 1.0]);
    }
}
