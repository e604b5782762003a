//! Gradient check: the backward pass against central differences, in f64.
//!
//! For every parameter w: the numerical gradient is (E(w + h) − E(w − h)) / 2h with a step
//! h = 1e-6·max(1, |w|), and the relative error between it (n) and backprop's value (a) is
//! |a − n| / max(|a|, |n|, 1e-6). The floor 1e-6 stops a gradient that is zero up to rounding from
//! reading as a large relative error; above it the measure is purely relative.

use serde::{Deserialize, Serialize};

use crate::loss::{Loss, TargetsRef};
use crate::network::{Network, Workspace};
use crate::tensor::{Matrix, Par};

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
    let mut ws = Workspace::new(net, x.rows.max(1));
    let value = net.loss_and_gradient(x, targets, loss, &mut ws, Par::Seq);
    let analytic = ws.grads.clone();
    let mut probe = net.clone();
    let loss_at = |params: &[f64], probe: &mut Network<f64>, ws: &mut Workspace<f64>| {
        probe.params.copy_from_slice(params);
        probe.forward(x.view(), ws, Par::Seq);
        ws.evaluate_loss(probe, loss, targets, false)
    };
    let mut params = net.params.clone();
    let mut layers = Vec::new();
    for info in net.parameters() {
        let len: usize = info.shape.iter().product();
        for i in 0..len {
            let p = info.offset + i;
            let w = params[p];
            let h = 1e-6 * w.abs().max(1.0);
            params[p] = w + h;
            let plus = loss_at(&params, &mut probe, &mut ws);
            params[p] = w - h;
            let minus = loss_at(&params, &mut probe, &mut ws);
            params[p] = w;
            let numeric = (plus - minus) / (2.0 * h);
            let a = analytic[p];
            let err = (a - numeric).abs() / a.abs().max(numeric.abs()).max(1e-6);
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
