//! Error functions E: the value and its gradient in one call.
//!
//! Notation: B rows in the batch, m outputs, y = the network's output h of the last layer,
//! d = the label (the seed's name), z = the output layer's pre-activation h'. What each loss
//! averages over, exactly:
//!
//! | loss | E | averaged over |
//! |---|---|---|
//! | [`Loss::MeanSquaredError`] | (y − d)² | all B·m values (PyTorch's `MSELoss`) |
//! | [`Loss::HalfSquaredError`] | Σⱼ (dⱼ − yⱼ)²/2, the seed's E | the B rows |
//! | [`Loss::MeanAbsoluteError`] | \|y − d\| | all B·m values |
//! | [`Loss::Huber`]`(δ)` | ½(y−d)² if \|y−d\| ≤ δ, else δ(\|y−d\| − ½δ) | all B·m values |
//! | [`Loss::BinaryCrossEntropy`] | −d ln σ(z) − (1−d) ln(1−σ(z)) from the logits z | all B·m values |
//! | [`Loss::CrossEntropy`] | −Σⱼ dⱼ ln softmax(z)ⱼ from the logits z | the B rows |
//! | [`Loss::SmoothedCrossEntropy`]`(ε)` | the same against d′ = (1 − ε)·d + ε/m | the B rows |
//! | [`Loss::Custom`] | Σⱼ value(yⱼ, dⱼ) | the B rows |
//!
//! The two cross-entropies are fused with their output activation and computed from the logits:
//! ln σ(z) = −softplus(−z) and ln softmax(z)ⱼ = zⱼ − logsumexp(z) never overflow, and the gradient
//! ∂E/∂z is the famous p − d, with no Jacobian formed. For every other loss the gradient ∂E/∂y is
//! passed back through the output activation's derivative.

use std::fmt;
use std::sync::Arc;

use crate::activation::{sigmoid, softplus, Activation};
use crate::data::{Dataset, Targets};
use crate::tensor::{Float, Matrix};

/// A loss of the user's own, element by element: E = Σⱼ value(yⱼ, dⱼ), averaged over the rows.
///
/// ```
/// use mlp::{CustomLoss, Loss};
/// #[derive(Debug)]
/// struct Quartic;
/// impl CustomLoss for Quartic {
///     fn name(&self) -> &str { "quartic" }
///     fn value(&self, y: f64, d: f64) -> f64 { (y - d).powi(4) }
///     fn derivative(&self, y: f64, d: f64) -> f64 { 4.0 * (y - d).powi(3) }
/// }
/// let loss = Loss::custom(Quartic);
/// assert_eq!(loss.to_string(), "custom:quartic");
/// ```
pub trait CustomLoss: Send + Sync + fmt::Debug {
    fn name(&self) -> &str;
    /// The loss of one output y against its label d.
    fn value(&self, y: f64, d: f64) -> f64;
    /// ∂value/∂y.
    fn derivative(&self, y: f64, d: f64) -> f64;
}

/// The error function E.
#[derive(Clone, Debug)]
pub enum Loss {
    MeanSquaredError,
    /// The seed's E = (d − y)²/2, summed over outputs.
    HalfSquaredError,
    MeanAbsoluteError,
    /// Huber with threshold δ (PyTorch's `HuberLoss(delta)`).
    Huber(f64),
    /// Sigmoid outputs, from logits (PyTorch's `BCEWithLogitsLoss`).
    BinaryCrossEntropy,
    /// Softmax output, from logits (PyTorch's `CrossEntropyLoss`).
    CrossEntropy,
    /// Cross-entropy with label smoothing ε: against d′ = (1 − ε)·d + ε/m, each class keeping ε/m
    /// of the target (PyTorch's `CrossEntropyLoss(label_smoothing=ε)`), so the network is never
    /// pushed to make one output certain. Softmax output, from logits.
    SmoothedCrossEntropy(f64),
    Custom(Arc<dyn CustomLoss>),
}

impl PartialEq for Loss {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// The labels of a batch, borrowed.
#[derive(Clone, Copy, Debug)]
pub enum TargetsRef<'a, T> {
    /// One class index per row. With m > 1 outputs it stands for the one-hot row; with one output
    /// it is the value itself (0 or 1, for binary classification).
    Classes(&'a [usize]),
    /// Classes as above, each row's loss (and so its gradient) multiplied by its class's weight,
    /// `weights[class]` (see [`ClassWeight`]). The mean is still over the rows, as Keras'
    /// `class_weight` does: E = (1/B)·Σᵣ w_{class r}·Eᵣ.
    Weighted {
        classes: &'a [usize],
        weights: &'a [T],
    },
    /// `[B × m]` values, row-major.
    Values(&'a [T]),
    /// `[B × m]` labels, row-major, each 0 or 1, any number of them 1 in a row (multi-label
    /// classification): to the loss the same as values, dⱼ = the label; to the metrics, a row is
    /// right when every output is on its label's side of 0.5.
    Labels(&'a [T]),
    /// Labels as above, the rows that have label j weighted by `positive[j]` in the binary
    /// cross-entropy (PyTorch's `BCEWithLogitsLoss(pos_weight=…)`):
    /// E = (1/(B·m))·Σᵣⱼ [pⱼ·d·softplus(−z) + (1 − d)·softplus(z)], each term −pⱼ·d·ln σ(z) −
    /// (1 − d)·ln(1 − σ(z)). With every pⱼ = 1 it is the plain binary cross-entropy.
    WeightedLabels { labels: &'a [T], positive: &'a [T] },
}

/// How much each class's rows count in the training loss (class targets), or each label's
/// positive rows (multi-label, in the binary cross-entropy: see [`ClassWeight::label_weights`]).
///
/// ```
/// use mlp::ClassWeight;
/// // 3 rows of class 0, 1 of class 1: n/(k·n_c) = 4/6 and 4/2.
/// let w = ClassWeight::Balanced.weights(&[0, 0, 0, 1], &["no".into(), "yes".into()]).unwrap();
/// assert_eq!(w, [4.0 / 6.0, 2.0]);
/// let named = ClassWeight::Named(vec![("yes".into(), 5.0)]);
/// assert_eq!(named.weights(&[0, 1], &["no".into(), "yes".into()]).unwrap(), [1.0, 5.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub enum ClassWeight {
    /// Every row alike.
    #[default]
    Equal,
    /// w_c = n / (k·n_c) for n rows, k classes and n_c rows of class c: every class counts in
    /// total as much as any other (scikit-learn's `class_weight="balanced"`).
    Balanced,
    /// Weights by class name; a class not named has weight 1 (as scikit-learn's dict).
    Named(Vec<(String, f64)>),
}

impl ClassWeight {
    /// One weight per class for the training rows `d` (empty for [`ClassWeight::Equal`]), its
    /// classes named by `d.class_names`, or 0, 1, … when it has none; for labels, one per label
    /// ([`ClassWeight::label_weights`]), which only `loss` = the binary cross-entropy takes;
    /// refused for values.
    pub fn for_data<T: Float>(&self, d: &Dataset<T>, loss: &Loss) -> Result<Vec<f64>, String> {
        let classes = match (&d.y, self) {
            (_, ClassWeight::Equal) => return Ok(Vec::new()),
            (Targets::Classes(c), _) => c,
            (Targets::Values(_), _) => {
                return Err(
                    "class weights apply to classification; these targets are values".into(),
                )
            }
            (Targets::Labels(_), _) if !loss.takes_label_weights() => {
                return Err(format!(
                    "label weights weigh each label's positive rows in the binary cross-entropy (PyTorch's pos_weight), not in {loss}"
                ))
            }
            (Targets::Labels(labels), _) => return self.label_weights(labels, &d.class_names),
        };
        if d.class_names.is_empty() {
            let k = classes.iter().max().map_or(0, |c| c + 1);
            let names: Vec<String> = (0..k).map(|c| c.to_string()).collect();
            return self.weights(classes, &names);
        }
        self.weights(classes, &d.class_names)
    }

    /// One weight per class (`names`, in class order) for training rows of classes `classes`;
    /// empty for [`ClassWeight::Equal`].
    pub fn weights(&self, classes: &[usize], names: &[String]) -> Result<Vec<f64>, String> {
        let k = names.len().max(classes.iter().max().map_or(0, |c| c + 1));
        match self {
            ClassWeight::Equal => Ok(Vec::new()),
            ClassWeight::Balanced => {
                let mut count = vec![0usize; k];
                for &c in classes {
                    count[c] += 1;
                }
                let n = classes.len() as f64;
                // A class with no training row gets weight 1: it adds nothing to any batch.
                Ok(count
                    .iter()
                    .map(|&nc| {
                        if nc == 0 {
                            1.0
                        } else {
                            n / (k as f64 * nc as f64)
                        }
                    })
                    .collect())
            }
            ClassWeight::Named(given) => named(given, names, k, ("class", "classes")),
        }
    }

    /// Multi-label: one weight per label for the rows that have it (`labels` `[rows × labels]`,
    /// named `names`), as PyTorch's `pos_weight`; empty for [`ClassWeight::Equal`]. `Balanced`
    /// gives label j (rows without it)/(rows with it), PyTorch's suggestion, so that its
    /// positives count in total as much as its negatives (1 for a label no row has or every row
    /// has); `Named` weighs the labels named (others 1).
    ///
    /// ```
    /// use mlp::{ClassWeight, Matrix};
    /// // label a: 1 row of 4; label b: 2 of 4
    /// let y = Matrix::from_vec(4, 2, vec![1.0f32, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    /// let names = ["a".to_string(), "b".to_string()];
    /// assert_eq!(ClassWeight::Balanced.label_weights(&y, &names).unwrap(), [3.0, 1.0]);
    /// ```
    pub fn label_weights<T: Float>(
        &self,
        labels: &Matrix<T>,
        names: &[String],
    ) -> Result<Vec<f64>, String> {
        match self {
            ClassWeight::Equal => Ok(Vec::new()),
            ClassWeight::Balanced => Ok((0..labels.cols)
                .map(|j| {
                    let with = (0..labels.rows)
                        .filter(|&r| labels[(r, j)] > T::of(0.5))
                        .count();
                    match labels.rows - with {
                        without if with > 0 && without > 0 => without as f64 / with as f64,
                        _ => 1.0,
                    }
                })
                .collect()),
            ClassWeight::Named(given) => named(given, names, labels.cols, ("label", "labels")),
        }
    }
}

/// `k` weights of 1, but those `given` by name (`what`: class(es) or label(s)), each checked.
fn named(
    given: &[(String, f64)],
    names: &[String],
    k: usize,
    (what, whats): (&str, &str),
) -> Result<Vec<f64>, String> {
    let mut w = vec![1.0; k];
    for (name, weight) in given {
        let c = names.iter().position(|n| n == name).ok_or_else(|| {
            format!(
                "{what} weight for '{name}': no such {what}; the {whats} are: {}",
                names.join(", ")
            )
        })?;
        if !(*weight > 0.0 && weight.is_finite()) {
            return Err(format!(
                "{what} weight for '{name}' must be a positive number, not {weight}"
            ));
        }
        w[c] = *weight;
    }
    Ok(w)
}

impl<'a, T: Float> TargetsRef<'a, T> {
    /// The targets of rows `start..end`, for `m` outputs.
    pub fn rows(&self, start: usize, end: usize, m: usize) -> TargetsRef<'a, T> {
        match *self {
            TargetsRef::Classes(c) => TargetsRef::Classes(&c[start..end]),
            TargetsRef::Weighted { classes, weights } => TargetsRef::Weighted {
                classes: &classes[start..end],
                weights,
            },
            TargetsRef::Values(v) => TargetsRef::Values(&v[start * m..end * m]),
            TargetsRef::Labels(v) => TargetsRef::Labels(&v[start * m..end * m]),
            TargetsRef::WeightedLabels { labels, positive } => TargetsRef::WeightedLabels {
                labels: &labels[start * m..end * m],
                positive,
            },
        }
    }

    /// The class of each row, for class targets (weighted or not).
    pub fn classes(&self) -> Option<&'a [usize]> {
        match *self {
            TargetsRef::Classes(c) | TargetsRef::Weighted { classes: c, .. } => Some(c),
            TargetsRef::Values(_) | TargetsRef::Labels(_) | TargetsRef::WeightedLabels { .. } => {
                None
            }
        }
    }

    /// Class targets weighted by `weights` (one per class), or labels whose positives are (one
    /// per label); unchanged when `weights` is empty.
    pub fn weighted(self, weights: &'a [T]) -> Self {
        match self {
            TargetsRef::Classes(classes) if !weights.is_empty() => {
                TargetsRef::Weighted { classes, weights }
            }
            TargetsRef::Labels(labels) if !weights.is_empty() => TargetsRef::WeightedLabels {
                labels,
                positive: weights,
            },
            other => other,
        }
    }

    /// The labels of each row, `[B × m]`, for label targets (weighted or not).
    pub fn labels(&self) -> Option<&'a [T]> {
        match *self {
            TargetsRef::Labels(l) | TargetsRef::WeightedLabels { labels: l, .. } => Some(l),
            _ => None,
        }
    }

    /// dⱼ of row r, for m outputs.
    #[inline]
    fn d(&self, r: usize, j: usize, m: usize) -> T {
        match self {
            TargetsRef::Classes(c) | TargetsRef::Weighted { classes: c, .. } if m == 1 => {
                T::of(c[r] as f64)
            }
            TargetsRef::Classes(c) | TargetsRef::Weighted { classes: c, .. } => {
                if c[r] == j {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            TargetsRef::Values(v)
            | TargetsRef::Labels(v)
            | TargetsRef::WeightedLabels { labels: v, .. } => v[r * m + j],
        }
    }
}

/// The binary cross-entropy with label j's positives weighted by `positive[j]` (see
/// [`TargetsRef::WeightedLabels`]), for sigmoid outputs σ(z): its mean over the B·m outputs, and
/// with `delta`, ∂E/∂z = [(1 − d)·σ(z) − pⱼ·d·σ(−z)]/(B·m).
/// Row r's terms are also weighted by `row(r)`.
fn positive_weighted_bce<T: Float>(
    z: &[T],
    labels: &[T],
    positive: &[T],
    mut delta: Option<&mut [T]>,
    row: impl Fn(usize) -> T,
) -> f64 {
    let m = positive.len();
    let all = T::of(1.0 / z.len() as f64);
    let mut total = 0.0f64;
    for (i, (&zi, &d)) in z.iter().zip(labels).enumerate() {
        let (p, w) = (positive[i % m], row(i / m));
        // −ln σ(z) = softplus(−z), −ln(1 − σ(z)) = softplus(z)
        total += (w * (p * d * softplus(-zi) + (T::ONE - d) * softplus(zi))).f64();
        if let Some(delta) = delta.as_deref_mut() {
            delta[i] = ((T::ONE - d) * sigmoid(zi) - p * d * sigmoid(-zi)) * all * w;
        }
    }
    total / z.len() as f64
}

impl Loss {
    /// Wraps a user-defined loss.
    pub fn custom(f: impl CustomLoss + 'static) -> Self {
        Loss::Custom(Arc::new(f))
    }

    /// The built-in losses (for sweeps and help text).
    pub fn builtin() -> Vec<Loss> {
        vec![
            Loss::MeanSquaredError,
            Loss::HalfSquaredError,
            Loss::MeanAbsoluteError,
            Loss::Huber(1.0),
            Loss::BinaryCrossEntropy,
            Loss::CrossEntropy,
            Loss::SmoothedCrossEntropy(0.1),
        ]
    }

    /// The natural loss for an output activation: softmax → cross-entropy, sigmoid → binary
    /// cross-entropy, anything else → mean squared error.
    pub fn for_output(output: &Activation) -> Loss {
        match output {
            Activation::Softmax => Loss::CrossEntropy,
            Activation::Sigmoid => Loss::BinaryCrossEntropy,
            _ => Loss::MeanSquaredError,
        }
    }

    /// Checks that this loss can follow `output`: the cross-entropies work from the logits of their
    /// own activation.
    pub fn check_output(&self, output: &Activation) -> Result<(), String> {
        match (self, output) {
            (Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_), Activation::Softmax) => Ok(()),
            (Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_), o) => {
                Err(format!("loss {self} needs a softmax output layer, not {o}"))
            }
            (Loss::BinaryCrossEntropy, Activation::Sigmoid) => Ok(()),
            (Loss::BinaryCrossEntropy, o) => Err(format!(
                "loss binary_cross_entropy needs a sigmoid output layer, not {o}"
            )),
            _ => Ok(()),
        }
    }

    /// Parses `mse`, `half_mse` (the seed's), `mae`, `huber` or `huber(0.5)`, `bce`, `cross_entropy`
    /// or `cross_entropy(0.1)` (label smoothing ε in [0, 1)).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        let smoothed = ["cross_entropy(", "ce("]
            .iter()
            .find_map(|p| s.strip_prefix(p))
            .and_then(|rest| rest.strip_suffix(')'));
        if let Some(inner) = smoothed {
            return match inner.trim().parse::<f64>() {
                Ok(e) if (0.0..1.0).contains(&e) => Ok(Loss::SmoothedCrossEntropy(e)),
                _ => Err(format!(
                    "loss '{s}': label smoothing must be a number in [0, 1), not '{inner}'"
                )),
            };
        }
        if let Some(rest) = s.strip_prefix("huber") {
            let inner = rest
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim();
            if inner.is_empty() {
                return Ok(Loss::Huber(1.0));
            }
            return inner
                .parse()
                .map(Loss::Huber)
                .map_err(|_| format!("loss '{s}': '{inner}' is not a number"));
        }
        Ok(match s.as_str() {
            "mse" | "mean_squared_error" => Loss::MeanSquaredError,
            "half_mse" | "half_squared_error" | "seed" => Loss::HalfSquaredError,
            "mae" | "mean_absolute_error" | "l1" => Loss::MeanAbsoluteError,
            "bce" | "binary_cross_entropy" => Loss::BinaryCrossEntropy,
            "cross_entropy" | "ce" | "categorical_cross_entropy" => Loss::CrossEntropy,
            _ => {
                return Err(format!(
                "unknown loss '{s}'; expected one of mse, half_mse, mae, huber(δ), bce, cross_entropy, cross_entropy(ε)"
            ))
            }
        })
    }

    /// The mean loss of a batch; with `delta`, also ∂E/∂z for the output layer, written into it.
    ///
    /// # Shapes
    /// `z`, `y` (= Φ(z)), `delta`: `[B × m]` row-major, B = `z.len() / m`; targets for B rows.
    ///
    /// # Panics
    /// If the loss does not fit the output activation (see [`Loss::check_output`]), or label
    /// weights come with a loss other than the binary cross-entropy.
    pub fn evaluate<T: Float>(
        &self,
        output: &Activation,
        z: &[T],
        y: &[T],
        targets: TargetsRef<'_, T>,
        m: usize,
        delta: Option<&mut [T]>,
    ) -> f64 {
        if let Err(e) = self.check_output(output) {
            panic!("Loss::evaluate: {e}");
        }
        // One copy of the loop per kind of weight: unweighted, the weight is the constant 1 and
        // its products fold away, so the plain loss costs what it did before class weights.
        match targets {
            TargetsRef::Weighted { classes, weights } => {
                self.evaluate_rows(output, (z, y), targets, m, delta, |r| weights[classes[r]])
            }
            TargetsRef::WeightedLabels { labels, positive } => match self {
                Loss::BinaryCrossEntropy => {
                    assert_eq!(positive.len(), m, "Loss::evaluate: one weight per label");
                    positive_weighted_bce(z, labels, positive, delta, |_| T::ONE)
                }
                _ => panic!(
                    "Loss::evaluate: label weights apply to binary cross-entropy, not {self}"
                ),
            },
            _ => self.evaluate_rows(output, (z, y), targets, m, delta, |_| T::ONE),
        }
    }

    /// [`Loss::evaluate`] with row r's loss (and ∂E/∂z) also multiplied by `rows[r]`: sample
    /// weights, which the caller scales to average 1 over the batch, so that the batch's loss is
    /// the weighted mean Σ w·E / Σ w (scikit-learn's `sample_weight`). Class or label weights
    /// multiply them. Its dispatch repeats `evaluate`'s on purpose: one function serving both
    /// cost the batch-1 step 1.4 % more instructions (callgrind, seed-online), its calls no longer
    /// inlined.
    ///
    /// # Panics
    /// As [`Loss::evaluate`], and if `rows` has fewer entries than the batch.
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate_with_rows<T: Float>(
        &self,
        output: &Activation,
        z: &[T],
        y: &[T],
        targets: TargetsRef<'_, T>,
        m: usize,
        delta: Option<&mut [T]>,
        rows: &[T],
    ) -> f64 {
        if let Err(e) = self.check_output(output) {
            panic!("Loss::evaluate: {e}");
        }
        assert!(
            rows.len() >= z.len() / m,
            "Loss::evaluate: a weight per row"
        );
        match targets {
            TargetsRef::Weighted { classes, weights } => {
                self.evaluate_rows(output, (z, y), targets, m, delta, |r| {
                    weights[classes[r]] * rows[r]
                })
            }
            TargetsRef::WeightedLabels { labels, positive } => match self {
                Loss::BinaryCrossEntropy => {
                    assert_eq!(positive.len(), m, "Loss::evaluate: one weight per label");
                    positive_weighted_bce(z, labels, positive, delta, |r| rows[r])
                }
                _ => panic!(
                    "Loss::evaluate: label weights apply to binary cross-entropy, not {self}"
                ),
            },
            _ => self.evaluate_rows(output, (z, y), targets, m, delta, |r| rows[r]),
        }
    }

    /// Whether the loss can weigh labels' positives ([`TargetsRef::WeightedLabels`]): the binary
    /// cross-entropy only, as PyTorch's `pos_weight`.
    pub fn takes_label_weights(&self) -> bool {
        matches!(self, Loss::BinaryCrossEntropy)
    }

    /// [`Loss::evaluate`] with row r's loss weighted by `weight(r)`.
    fn evaluate_rows<T: Float>(
        &self,
        output: &Activation,
        (z, y): (&[T], &[T]),
        targets: TargetsRef<'_, T>,
        m: usize,
        mut delta: Option<&mut [T]>,
        weight: impl Fn(usize) -> T,
    ) -> f64 {
        let b = z.len() / m;
        let rows = T::of(1.0 / b as f64);
        let all = T::of(1.0 / (b * m) as f64);
        let mut total = 0.0f64;
        match self {
            Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => {
                // d′ = (1 − ε)·d + ε/m; without smoothing d itself, not d·1 + 0 recomputed.
                let eps = match self {
                    Loss::SmoothedCrossEntropy(e) => T::of(*e),
                    _ => T::ZERO,
                };
                let (keep, spread) = (T::ONE - eps, eps * T::of(1.0 / m as f64));
                let target = |r: usize, j: usize| {
                    let d = targets.d(r, j, m);
                    if eps == T::ZERO {
                        d
                    } else {
                        d * keep + spread
                    }
                };
                for r in 0..b {
                    let zr = &z[r * m..(r + 1) * m];
                    let max = zr.iter().fold(zr[0], |a, &v| a.max(v));
                    let lse = max + zr.iter().fold(T::ZERO, |s, &v| s + (v - max).exp()).ln();
                    let w = weight(r);
                    let mut dsum = T::ZERO;
                    for (j, &zj) in zr.iter().enumerate() {
                        let d = target(r, j);
                        if d != T::ZERO {
                            total -= (w * d * (zj - lse)).f64();
                        }
                        dsum += d;
                    }
                    if let Some(delta) = delta.as_deref_mut() {
                        // ∂E/∂zⱼ = w·(pⱼ·Σd − dⱼ)/B, with p = softmax(z) = y.
                        let scale = w * rows;
                        for j in 0..m {
                            delta[r * m + j] = (y[r * m + j] * dsum - target(r, j)) * scale;
                        }
                    }
                }
                total / b as f64
            }
            Loss::BinaryCrossEntropy => {
                for r in 0..b {
                    let w = weight(r);
                    for j in 0..m {
                        let i = r * m + j;
                        let d = targets.d(r, j, m);
                        // −d ln σ(z) − (1−d) ln(1−σ(z)) = softplus(z) − d·z
                        total += (w * (softplus(z[i]) - d * z[i])).f64();
                        if let Some(delta) = delta.as_deref_mut() {
                            delta[i] = (sigmoid(z[i]) - d) * all * w;
                        }
                    }
                }
                total / (b * m) as f64
            }
            _ => {
                // Element-wise losses: E and ∂E/∂y, then back through Φ'.
                let (scale, mean) = match self {
                    Loss::HalfSquaredError | Loss::Custom(_) => (rows, b as f64),
                    _ => (all, (b * m) as f64),
                };
                for r in 0..b {
                    let w = weight(r);
                    for j in 0..m {
                        let i = r * m + j;
                        let (e, g) = self.pointwise(y[i], targets.d(r, j, m));
                        total += (w * e).f64();
                        if let Some(delta) = delta.as_deref_mut() {
                            delta[i] = g * scale * w;
                        }
                    }
                }
                if let Some(delta) = delta {
                    output.backward(z, y, delta, m);
                }
                total / mean
            }
        }
    }

    /// Value and ∂/∂y of one output against its label, for the element-wise losses.
    #[inline]
    fn pointwise<T: Float>(&self, y: T, d: T) -> (T, T) {
        let e = y - d;
        match self {
            Loss::MeanSquaredError => (e * e, T::of(2.0) * e),
            Loss::HalfSquaredError => (T::of(0.5) * e * e, e),
            Loss::MeanAbsoluteError => (
                e.abs(),
                if e > T::ZERO {
                    T::ONE
                } else if e < T::ZERO {
                    -T::ONE
                } else {
                    T::ZERO
                },
            ),
            Loss::Huber(delta) => {
                let dl = T::of(*delta);
                if e.abs() <= dl {
                    (T::of(0.5) * e * e, e)
                } else {
                    let s = if e > T::ZERO { T::ONE } else { -T::ONE };
                    (dl * (e.abs() - T::of(0.5) * dl), dl * s)
                }
            }
            Loss::Custom(f) => (
                T::of(f.value(y.f64(), d.f64())),
                T::of(f.derivative(y.f64(), d.f64())),
            ),
            Loss::BinaryCrossEntropy | Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => {
                unreachable!("fused above")
            }
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::MeanSquaredError => write!(f, "mse"),
            Loss::HalfSquaredError => write!(f, "half_mse"),
            Loss::MeanAbsoluteError => write!(f, "mae"),
            Loss::Huber(d) => write!(f, "huber({d})"),
            Loss::BinaryCrossEntropy => write!(f, "bce"),
            Loss::CrossEntropy => write!(f, "cross_entropy"),
            Loss::SmoothedCrossEntropy(e) => write!(f, "cross_entropy({e})"),
            Loss::Custom(c) => write!(f, "custom:{}", c.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows a..e of the test's targets, of one kind.
    fn rows_of<'a>(
        kind: &str,
        (classes, values, class_w, positive): (&'a [usize], &'a [f64], &'a [f64], &'a [f64]),
        (a, e): (usize, usize),
        m: usize,
    ) -> TargetsRef<'a, f64> {
        match kind {
            "classes" => TargetsRef::Classes(&classes[a..e]),
            "class weights" => TargetsRef::Weighted {
                classes: &classes[a..e],
                weights: class_w,
            },
            "labels" => TargetsRef::Labels(&values[a * m..e * m]),
            "label weights" => TargetsRef::WeightedLabels {
                labels: &values[a * m..e * m],
                positive,
            },
            _ => TargetsRef::Values(&values[a * m..e * m]),
        }
    }

    /// Sample weights against a row-by-row oracle: the batch's loss is (1/B)·Σᵣ wᵣ·Eᵣ and its
    /// ∂E/∂z for row r is wᵣ/B times the row's own, Eᵣ and its gradient from `evaluate` on that
    /// row alone; weights of 1 give `evaluate`'s bits. Every built-in loss, with class weights and
    /// label weights too.
    #[test]
    fn row_weights_weigh_each_rows_loss_and_gradient() {
        let (b, m) = (4, 3);
        let z: Vec<f64> = (0..b * m)
            .map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let classes = [2usize, 0, 1, 2];
        let values: Vec<f64> = (0..b * m)
            .map(|i| f64::from(u8::from(i % 3 != 1)))
            .collect();
        let class_w = [0.5, 2.0, 1.5];
        let positive = [3.0, 1.0, 0.25];
        let w = [0.5, 2.0, 0.0, 1.5];
        for loss in Loss::builtin() {
            let output = match loss {
                Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => Activation::Softmax,
                Loss::BinaryCrossEntropy => Activation::Sigmoid,
                _ => Activation::Tanh,
            };
            let mut y = z.clone();
            output.forward(&mut z.clone(), None, &mut y, m);
            let kinds: &[&str] = match loss {
                Loss::CrossEntropy | Loss::SmoothedCrossEntropy(_) => &["classes", "class weights"],
                Loss::BinaryCrossEntropy => &["labels", "label weights"],
                _ => &["values"],
            };
            let data = (&classes[..], &values[..], &class_w[..], &positive[..]);
            for &kind in kinds {
                let targets = |a, e| rows_of(kind, data, (a, e), m);
                let mut plain = vec![0.0; b * m];
                let e0 = loss.evaluate(&output, &z, &y, targets(0, b), m, Some(&mut plain));
                let mut ones = vec![0.0; b * m];
                let e1 = loss.evaluate_with_rows(
                    &output,
                    &z,
                    &y,
                    targets(0, b),
                    m,
                    Some(&mut ones),
                    &[1.0; 4],
                );
                assert_eq!((e0, &plain), (e1, &ones), "{loss} {kind}: weights of 1");
                let mut got = vec![0.0; b * m];
                let e =
                    loss.evaluate_with_rows(&output, &z, &y, targets(0, b), m, Some(&mut got), &w);
                let mut want_e = 0.0;
                for r in 0..b {
                    let mut d = vec![0.0; m];
                    let (zr, yr) = (&z[r * m..(r + 1) * m], &y[r * m..(r + 1) * m]);
                    want_e +=
                        w[r] * loss.evaluate(&output, zr, yr, targets(r, r + 1), m, Some(&mut d));
                    for j in 0..m {
                        let want = w[r] * d[j] / b as f64;
                        assert!(
                            (got[r * m + j] - want).abs() < 1e-15,
                            "{loss} {kind}: ∂E/∂z[{r}][{j}]"
                        );
                    }
                }
                assert!(
                    (e - want_e / b as f64).abs() < 1e-14,
                    "{loss} {kind}: E {e} vs {}",
                    want_e / b as f64
                );
            }
        }
    }

    #[test]
    fn parse_and_display_round_trip() {
        for l in Loss::builtin() {
            assert_eq!(Loss::parse(&l.to_string()).unwrap(), l);
        }
        assert!(Loss::parse("hinge").is_err());
    }

    /// Label smoothing against PyTorch 2.15 (f64):
    ///
    /// ```text
    /// z = torch.tensor([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    /// loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(z, torch.tensor([1, 2]))
    /// loss.backward(); loss.item(), z.grad.tolist()
    /// # 0.4566947753265026, [[0.09894528214440786, -0.15240080706078546, 0.053455524916377575],
    /// #                      [0.057446064775444394, 0.0035314089199001038, -0.06097747369534445]]
    /// ```
    #[test]
    fn label_smoothing_matches_pytorch() {
        let z = [1.0f64, 2.0, 0.5, 0.3, -1.0, 2.0];
        let mut y = z;
        Activation::Softmax.forward(&mut z.clone(), None, &mut y, 3);
        let mut delta = [0.0; 6];
        let loss = Loss::parse("cross_entropy(0.1)").unwrap();
        let e = loss.evaluate(
            &Activation::Softmax,
            &z,
            &y,
            TargetsRef::Classes(&[1, 2]),
            3,
            Some(&mut delta),
        );
        assert!((e - 0.4566947753265026).abs() < 1e-14, "{e}");
        let torch = [
            0.09894528214440786,
            -0.15240080706078546,
            0.053455524916377575,
            0.057446064775444394,
            0.0035314089199001038,
            -0.06097747369534445,
        ];
        for (got, want) in delta.iter().zip(torch) {
            assert!((got - want).abs() < 1e-14, "{delta:?}");
        }
        assert!(Loss::parse("cross_entropy(1)").is_err());
        assert!(Loss::parse("ce(-0.1)").is_err());
    }

    #[test]
    fn values_against_hand_computation() {
        // Two rows, two outputs, identity output: y = [[1, 2], [0, -1]], d = [[0, 2], [1, 1]].
        let y = [1.0f64, 2.0, 0.0, -1.0];
        let d = [0.0f64, 2.0, 1.0, 1.0];
        let t = TargetsRef::Values(&d);
        let id = Activation::Identity;
        let e = |l: Loss| l.evaluate(&id, &y, &y, t, 2, None);
        // squared errors 1, 0, 1, 4
        assert_eq!(e(Loss::MeanSquaredError), 6.0 / 4.0);
        assert_eq!(e(Loss::HalfSquaredError), (0.5 + 0.0 + 0.5 + 2.0) / 2.0);
        assert_eq!(e(Loss::MeanAbsoluteError), (1.0 + 0.0 + 1.0 + 2.0) / 4.0);
        assert_eq!(e(Loss::Huber(1.0)), (0.5 + 0.0 + 0.5 + 1.5) / 4.0);
    }

    #[test]
    fn cross_entropy_is_stable_and_matches_log_softmax() {
        let z = [1000.0f64, 0.0, -1000.0, 1.0, 2.0, 3.0];
        let mut p = z;
        for r in p.chunks_exact_mut(3) {
            crate::activation::softmax_in_place(r);
        }
        let classes = [0usize, 2];
        let e = Loss::CrossEntropy.evaluate(
            &Activation::Softmax,
            &z,
            &p,
            TargetsRef::Classes(&classes),
            3,
            None,
        );
        let row2 = -(3.0 - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln());
        assert!((e - (0.0 + row2) / 2.0).abs() < 1e-12, "{e}");
        let bce = Loss::BinaryCrossEntropy.evaluate(
            &Activation::Sigmoid,
            &[800.0f64],
            &[1.0],
            TargetsRef::Classes(&[0]),
            1,
            None,
        );
        assert_eq!(bce, 800.0);
    }
}
