//! Gradient check: the backward pass against central differences, in f64.
//!
//! For every parameter w the numerical gradient comes from central differences of order four,
//!
//! ```text
//! D(h) = [8·(E(w+h) − E(w−h)) − (E(w+2h) − E(w−2h))] / 12h,       truncation O(h⁴)
//! ```
//!
//! at h = 1e-3·max(1, |w|). Its rounding error is about 1e-16·|E|/h ≈ 1e-13; the plain two-point
//! difference at h = 1e-6 carries about 2e-10 of rounding, too much to verify a gradient of 1e-4 to
//! six digits. A large step may straddle a kink (ReLU at 0, |y − d| at y = d), so D(h) is confirmed
//! against D(h/4) (equal to within their rounding, 16·ε·|E|/h); when they disagree a kink is within reach, and the estimate is a one-sided
//! difference of order four on the side where E is smooth (again confirmed at h and h/4) — backprop's
//! value is the derivative of that smooth piece. Smooth on both sides, w sits exactly on the kink,
//! and backprop's value is one of the two one-sided derivatives: the nearer is compared. If neither
//! side is smooth, D(1e-5·max(1, |w|)).
//!
//! The relative error between the numerical value n and backprop's value a is
//! |a − n| / max(|a|, |n|, 1e-5). The floor is there because a finite difference in f64 resolves a
//! derivative only to about 1e-12 absolute (the worst seen over the 362 457 parameters of
//! `tests/gradcheck.rs`): a gradient below 1e-5 is checked to an absolute 1e-11 instead, which a
//! relative 1e-6 could not be.

use serde::{Deserialize, Serialize};

use crate::dropout::{Draw, Dropout};
use crate::loss::{Loss, TargetsRef};
use crate::network::{Network, Workspace};
use crate::tensor::{Matrix, Par};

/// Below this magnitude a gradient's error is measured against it instead of against itself.
pub const FLOOR: f64 = 1e-5;

/// Steps, relative to max(1, |w|): the large step and the kink fallback.
const LARGE_STEP: f64 = 1e-3;
const SMALL_STEP: f64 = 1e-5;

/// Central difference of order four: truncation O(h⁴).
fn central(e: &mut impl FnMut(f64) -> f64, h: f64) -> f64 {
    (8.0 * (e(h) - e(-h)) - (e(2.0 * h) - e(-2.0 * h))) / (12.0 * h)
}

/// One-sided difference of order four, towards `sign`: truncation O(h⁴), reaching w + 4h·sign.
fn one_sided(e: &mut impl FnMut(f64) -> f64, h: f64, sign: f64) -> f64 {
    let h = h * sign;
    (-25.0 * e(0.0) + 48.0 * e(h) - 36.0 * e(2.0 * h) + 16.0 * e(3.0 * h) - 3.0 * e(4.0 * h))
        / (12.0 * h)
}

/// Two estimates "agree" when they differ by no more than `noise`, the rounding of the finer one,
/// plus 1e-8 of their size.
fn agree(a: f64, b: f64, noise: f64) -> bool {
    (a - b).abs() <= noise + 1e-8 * a.abs().max(b.abs())
}

/// dE/dw from loss evaluations `e(offset)` = E(w + offset), choosing the step as the module doc
/// says; `analytic` (backprop's value) only picks a side when w sits exactly on a kink.
fn numerical_derivative(e: &mut impl FnMut(f64) -> f64, scale: f64, analytic: f64) -> f64 {
    let h = LARGE_STEP * scale;
    // The rounding of a difference quotient at step h/4 is about 2·ε·|E|/(h/4); twice that is the
    // band within which two estimates count as equal.
    let noise = 16.0 * f64::EPSILON * e(0.0).abs().max(1.0) / h;
    let c = central(e, h);
    if agree(c, central(e, h / 4.0), noise) {
        return c;
    }
    // A kink lies within reach: E is smooth on one side, and backprop's value is the derivative of
    // that smooth piece. When it is smooth on both, w sits exactly on the kink (a ReLU at h' = 0,
    // as when dropout has zeroed a whole row of a layer's input and the bias is 0): E has two
    // one-sided derivatives there, and backprop takes one of them (Φ'(0) = 0, as PyTorch), so
    // the one compared is the nearer.
    let mut smooth = [1.0, -1.0].map(|sign| {
        let s = one_sided(e, h, sign);
        agree(s, one_sided(e, h / 4.0, sign), 8.0 * noise).then_some(s)
    });
    match &mut smooth {
        [Some(right), Some(left)] => {
            if (*right - analytic).abs() <= (*left - analytic).abs() {
                *right
            } else {
                *left
            }
        }
        [Some(side), None] | [None, Some(side)] => *side,
        [None, None] => central(e, SMALL_STEP * scale),
    }
}

/// The worst disagreement in one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerCheck {
    pub layer: usize,
    /// Name of the parameter with the worst error, e.g. `2.weight[3][1]`.
    pub worst_parameter: String,
    pub worst_relative_error: f64,
    pub analytic: f64,
    pub numeric: f64,
}

/// Per-layer results of [`gradient_check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradCheckReport {
    pub layers: Vec<LayerCheck>,
    /// The loss at the unperturbed parameters.
    pub loss: f64,
}

impl GradCheckReport {
    /// The worst relative error over all layers.
    pub fn worst(&self) -> f64 {
        self.layers
            .iter()
            .map(|l| l.worst_relative_error)
            .fold(0.0, f64::max)
    }
}

/// Checks every parameter of `net` on the batch (`x`, `targets`) under `loss`.
pub fn gradient_check(
    net: &Network<f64>,
    x: &Matrix<f64>,
    targets: TargetsRef<'_, f64>,
    loss: &Loss,
) -> GradCheckReport {
    check(net, x, targets, loss, &Dropout::none(), None)
}

/// As [`gradient_check`], for a training step with `dropout`'s masks of `draw`: with the masks
/// fixed, E is an ordinary function of the parameters, and its differences check the masked
/// backward pass. A batch-normalised network is normalised, as in training, with the mean and
/// variance of `x`'s rows (pass [`Dropout::none`] to check that alone); [`gradient_check`] uses
/// the running statistics, as inference.
pub fn gradient_check_with_dropout(
    net: &Network<f64>,
    x: &Matrix<f64>,
    targets: TargetsRef<'_, f64>,
    loss: &Loss,
    dropout: &Dropout,
    draw: Draw,
) -> GradCheckReport {
    check(net, x, targets, loss, dropout, Some(draw))
}

fn check(
    net: &Network<f64>,
    x: &Matrix<f64>,
    targets: TargetsRef<'_, f64>,
    loss: &Loss,
    dropout: &Dropout,
    draw: Option<Draw>,
) -> GradCheckReport {
    let mut ws = Workspace::new(net, x.rows.max(1)).with_dropout(net, dropout);
    let forward = |net: &Network<f64>, ws: &mut Workspace<f64>| match draw {
        Some(d) => net.forward_train(x.view(), ws, Par::Seq, d),
        None => net.forward(x.view(), ws, Par::Seq),
    };
    forward(net, &mut ws);
    let value = ws.evaluate_loss(net, loss, targets, true);
    net.backward(x.view(), &mut ws, Par::Seq);
    let analytic = ws.grads.clone();
    let mut probe = net.clone();
    let loss_at = |params: &[f64], probe: &mut Network<f64>, ws: &mut Workspace<f64>| {
        probe.params.copy_from_slice(params);
        forward(probe, ws);
        ws.evaluate_loss(probe, loss, targets, false)
    };
    let mut params = net.params.clone();
    let mut layers = Vec::new();
    for info in net.parameters() {
        let len: usize = info.shape.iter().product();
        for i in 0..len {
            let p = info.offset + i;
            let w = params[p];
            let scale = w.abs().max(1.0);
            let mut at = |offset: f64| {
                params[p] = w + offset;
                let e = loss_at(&params, &mut probe, &mut ws);
                params[p] = w;
                e
            };
            let a = analytic[p];
            let numeric = numerical_derivative(&mut at, scale, a);
            let err = (a - numeric).abs() / a.abs().max(numeric.abs()).max(FLOOR);
            let name = if info.shape.len() == 2 {
                format!(
                    "{}[{}][{}]",
                    info.name,
                    i / info.shape[1],
                    i % info.shape[1]
                )
            } else {
                format!("{}[{i}]", info.name)
            };
            if layers.len() <= info.layer {
                layers.push(LayerCheck {
                    layer: info.layer,
                    worst_parameter: name.clone(),
                    worst_relative_error: -1.0,
                    analytic: a,
                    numeric,
                });
            }
            let l = &mut layers[info.layer];
            if err > l.worst_relative_error {
                *l = LayerCheck {
                    layer: info.layer,
                    worst_parameter: name,
                    worst_relative_error: err,
                    analytic: a,
                    numeric,
                };
            }
        }
    }
    GradCheckReport {
        layers,
        loss: value,
    }
}
