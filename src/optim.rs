//! Optimizers: W_new = W_prev + α·(−∂E/∂W) and its descendants, over the flat parameter buffer.
//!
//! Each rule reads like its formula (g = ∂E/∂W, α the learning rate, t the step number from 1);
//! the conventions are PyTorch's, so its figures are reproduced:
//!
//! | rule | update |
//! |---|---|
//! | [`Optimizer::Sgd`] | W ← W − α·g (the seed's rule) |
//! | [`Optimizer::Momentum`]`(μ)` | v ← μ·v + g;  W ← W − α·v |
//! | [`Optimizer::Nesterov`]`(μ)` | v ← μ·v + g;  W ← W − α·(g + μ·v) |
//! | [`Optimizer::Adam`] | m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  W ← W − α·m̂/(√v̂ + ε), m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) |
//! | [`Optimizer::AdamW`] | Adam, with weight decay applied to W directly: W ← W − α·λ·W |
//! | [`Optimizer::RmsProp`] | v ← ρ·v + (1−ρ)g²;  W ← W − α·g/(√v + ε) |
//! | [`Optimizer::Lbfgs`] | W ← W + t·d, d = −H·g over the whole training set, t by line search ([`lbfgs`]) |
//!
//! Weight decay λ (L2) adds λ·W to the gradient of the weights before the rule (AdamW: decoupled, as
//! above). Biases are not decayed, as in scikit-learn and Keras. State is explicit and serialisable:
//! an [`OptimizerState`] holds the step count and the moment buffers, so a checkpoint resumes exactly.

use std::ops::Range;

pub mod lbfgs;

pub use lbfgs::LbfgsParams;
use serde::{Deserialize, Serialize};

use crate::tensor::Float;

/// Adam's constants.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamParams {
    fn default() -> Self {
        AdamParams {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// RMSprop's constants (PyTorch's `alpha` is ρ here).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmsPropParams {
    pub rho: f64,
    pub eps: f64,
}

impl Default for RmsPropParams {
    fn default() -> Self {
        RmsPropParams {
            rho: 0.99,
            eps: 1e-8,
        }
    }
}

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    Sgd,
    Momentum(f64),
    Nesterov(f64),
    Adam(AdamParams),
    AdamW(AdamParams),
    RmsProp(RmsPropParams),
    /// Full-batch L-BFGS (scikit-learn's `solver="lbfgs"`): one iteration per epoch, each a line
    /// search over the whole training set; the trainer runs it, not [`Optimizer::step`].
    Lbfgs(LbfgsParams),
}

impl Default for Optimizer {
    /// Adam with PyTorch's constants, the usual first choice (and scikit-learn's default solver).
    fn default() -> Self {
        Optimizer::Adam(AdamParams::default())
    }
}

/// The optimizer's memory between steps.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OptimizerState<T> {
    /// Steps taken, t.
    pub step: u64,
    /// First moment m (or velocity v for momentum); empty for plain SGD.
    pub m: Vec<T>,
    /// Second moment v (Adam, RMSprop); empty otherwise.
    pub v: Vec<T>,
    /// L-BFGS's remembered steps and gradient changes, oldest first; empty otherwise.
    pub history: Vec<lbfgs::Pair>,
}

impl Optimizer {
    /// Parses `sgd`, `momentum`, `nesterov`, `adam`, `adamw`, `rmsprop`, `lbfgs`, taking μ from
    /// `momentum` for the two momentum rules.
    pub fn parse(s: &str, momentum: f64) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "sgd" if momentum > 0.0 => Optimizer::Momentum(momentum),
            "sgd" => Optimizer::Sgd,
            "momentum" => Optimizer::Momentum(if momentum > 0.0 { momentum } else { 0.9 }),
            "nesterov" => Optimizer::Nesterov(if momentum > 0.0 { momentum } else { 0.9 }),
            "adam" => Optimizer::Adam(AdamParams::default()),
            "adamw" => Optimizer::AdamW(AdamParams::default()),
            "rmsprop" => Optimizer::RmsProp(RmsPropParams::default()),
            "lbfgs" | "l-bfgs" => Optimizer::Lbfgs(LbfgsParams::default()),
            other => {
                return Err(format!(
                    "unknown optimizer '{other}'; expected one of sgd, momentum, nesterov, adam, adamw, rmsprop, lbfgs"
                ))
            }
        })
    }

    /// ε of the rules that divide by √v (Adam, AdamW, RMSprop); `None` for the others.
    pub fn eps(&self) -> Option<f64> {
        match self {
            Optimizer::Adam(p) | Optimizer::AdamW(p) => Some(p.eps),
            Optimizer::RmsProp(p) => Some(p.eps),
            _ => None,
        }
    }

    /// The name, as `parse` reads it.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Momentum(_) => "momentum",
            Optimizer::Nesterov(_) => "nesterov",
            Optimizer::Adam(_) => "adam",
            Optimizer::AdamW(_) => "adamw",
            Optimizer::RmsProp(_) => "rmsprop",
            Optimizer::Lbfgs(_) => "lbfgs",
        }
    }

    /// Fresh state for `n` parameters.
    pub fn state<T: Float>(&self, n: usize) -> OptimizerState<T> {
        let (m, v) = match self {
            Optimizer::Sgd | Optimizer::Lbfgs(_) => (0, 0),
            Optimizer::Momentum(_) | Optimizer::Nesterov(_) => (n, 0),
            Optimizer::RmsProp(_) => (0, n),
            Optimizer::Adam(_) | Optimizer::AdamW(_) => (n, n),
        };
        OptimizerState {
            step: 0,
            m: vec![T::ZERO; m],
            v: vec![T::ZERO; v],
            history: Vec::new(),
        }
    }

    /// One update of `params` from `grads` with learning rate `lr`. `decayed` lists the ranges
    /// (the weights) that weight decay λ applies to. `grads` may be modified (L2 is added to it).
    ///
    /// A large buffer is updated in blocks side by side on the current rayon pool (the trainer's
    /// threads); the result is the same bit for bit on any number of threads.
    ///
    /// # Panics
    /// If the state was made for another number of parameters, or for [`Optimizer::Lbfgs`],
    /// whose iterations need the whole training set's loss ([`lbfgs::iterate`]; the trainer
    /// runs them).
    #[track_caller]
    pub fn step<T: Float>(
        &self,
        params: &mut [T],
        grads: &mut [T],
        state: &mut OptimizerState<T>,
        lr: f64,
        weight_decay: f64,
        decayed: &[Range<usize>],
    ) {
        assert_eq!(
            params.len(),
            grads.len(),
            "Optimizer::step: params and grads differ in length"
        );
        state.step += 1;
        if weight_decay != 0.0 {
            let wd = T::of(weight_decay);
            let shrink = T::ONE - T::of(lr * weight_decay);
            for r in decayed {
                match self {
                    // decoupled: W ← W − α·λ·W, before the Adam step
                    Optimizer::AdamW(_) => params[r.clone()].iter_mut().for_each(|w| *w *= shrink),
                    // L2: g ← g + λ·W
                    _ => {
                        for (g, &w) in grads[r.clone()].iter_mut().zip(&params[r.clone()]) {
                            *g += wd * w;
                        }
                    }
                }
            }
        }
        let a = T::of(lr);
        let n = params.len();
        let (m, v) = (&mut state.m[..], &mut state.v[..]);
        match *self {
            Optimizer::Sgd => in_blocks(params, grads, m, v, &|w, g, _, _| sgd(w, g, a)),
            Optimizer::Momentum(mu) | Optimizer::Nesterov(mu) => {
                assert_eq!(m.len(), n, "Optimizer::step: state of another size");
                let mu = T::of(mu);
                let nesterov = matches!(self, Optimizer::Nesterov(_));
                in_blocks(params, grads, m, v, &|w, g, m, _| {
                    for ((w, &g), v) in w.iter_mut().zip(g).zip(m) {
                        *v = mu * *v + g;
                        *w -= a * if nesterov { g + mu * *v } else { *v };
                    }
                })
            }
            Optimizer::Adam(p) | Optimizer::AdamW(p) => {
                assert_eq!(v.len(), n, "Optimizer::step: state of another size");
                let t = state.step as i32;
                let bc1 = 1.0 - p.beta1.powi(t);
                let bc2 = 1.0 - p.beta2.powi(t);
                let (b1, b2) = (T::of(p.beta1), T::of(p.beta2));
                let (c1, c2) = (T::ONE - b1, T::ONE - b2);
                // W ← W − (α/bc1)·m / (√v/√bc2 + ε), as PyTorch evaluates it
                let step = T::of(lr / bc1);
                let inv_sqrt_bc2 = T::of(1.0 / bc2.sqrt());
                let eps = T::of(p.eps);
                in_blocks(params, grads, m, v, &|w, g, m, v| {
                    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                        *m = b1 * *m + c1 * g;
                        *v = b2 * *v + c2 * g * g;
                        *w -= step * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                    }
                })
            }
            Optimizer::RmsProp(p) => {
                assert_eq!(v.len(), n, "Optimizer::step: state of another size");
                let (rho, eps) = (T::of(p.rho), T::of(p.eps));
                let c = T::ONE - rho;
                in_blocks(params, grads, m, v, &|w, g, _, v| {
                    for ((w, &g), v) in w.iter_mut().zip(g).zip(v) {
                        *v = rho * *v + c * g * g;
                        *w -= a * g / (v.sqrt() + eps);
                    }
                })
            }
            Optimizer::Lbfgs(_) => panic!("Optimizer::step: L-BFGS steps along a line search over the whole training set; use lbfgs::iterate or the Trainer"),
        }
    }
}

/// Plain SGD's rule, the seed's W_new = W − α·∂E/∂W: w ← w − α·g. (Also taken inside the
/// backward pass, [`crate::Network::backward_descend`].)
#[inline(always)]
pub fn sgd<T: Float>(w: &mut [T], g: &[T], lr: T) {
    for (w, &g) in w.iter_mut().zip(g) {
        *w -= lr * g;
    }
}

/// A rule's update of each parameter reads only that parameter's values, so it can run in blocks.
const BLOCK: usize = 1 << 14;

/// Applies `rule` to `(W, g, m, v)` (a moment buffer the rule does not use is empty) in blocks of
/// at least [`BLOCK`] parameters, side by side on the current rayon pool; a buffer of fewer than two
/// blocks (the seed's 31 parameters) is updated in place, with no thread in sight. Every parameter
/// gets the same arithmetic either way, so the result does not depend on the thread count.
fn in_blocks<T: Float>(
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    rule: &(impl Fn(&mut [T], &[T], &mut [T], &mut [T]) + Sync),
) {
    if w.len() < 2 * BLOCK {
        return leaf(rule, w, g, m, v);
    }
    let mid = w.len() / 2;
    let (w0, w1) = w.split_at_mut(mid);
    let (g0, g1) = g.split_at(mid);
    let (m0, m1) = m.split_at_mut(mid.min(m.len()));
    let (v0, v1) = v.split_at_mut(mid.min(v.len()));
    rayon::join(
        || in_blocks(w0, g0, m0, v0, rule),
        || in_blocks(w1, g1, m1, v1, rule),
    );
}

/// One block: with AVX2 where the CPU has it (8 lanes instead of SSE2's 4; the build targets
/// plain x86-64, as users build it). The rule is inlined into either version and each lane does
/// the same IEEE operations (no fused multiply-add is formed), so the bits do not change.
fn leaf<T: Float>(
    rule: &impl Fn(&mut [T], &[T], &mut [T], &mut [T]),
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { leaf_avx2(rule, w, g, m, v) };
    }
    rule(w, g, m, v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn leaf_avx2<T: Float>(
    rule: &impl Fn(&mut [T], &[T], &mut [T], &mut [T]),
    w: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    rule(w, g, m, v)
}

/// Scales `grads` so that their global L2 norm is at most `max_norm`; returns the norm before.
/// The sum runs in order in f64, so the result is the same on any thread count.
pub fn clip_grad_norm<T: Float>(grads: &mut [T], max_norm: f64) -> f64 {
    let norm = grads.iter().map(|g| g.f64() * g.f64()).sum::<f64>().sqrt();
    if norm > max_norm {
        let s = T::of(max_norm / (norm + 1e-12));
        grads.iter_mut().for_each(|g| *g *= s);
    }
    norm
}

/// How the learning rate changes from epoch to epoch (α₀ the configured rate, e the epoch from 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum Schedule {
    /// α = α₀.
    #[default]
    Constant,
    /// α = α₀·γ^⌊e/every⌋.
    Step { every: usize, gamma: f64 },
    /// α = α₀·γ^k, k the number of milestones ≤ e (increasing epochs), as PyTorch's `MultiStepLR`.
    MultiStep { milestones: Vec<usize>, gamma: f64 },
    /// α = α₀·γ^e.
    Exponential { gamma: f64 },
    /// α = α_min + (α₀ − α_min)(1 + cos(π·e/E))/2 over the E epochs of the run.
    Cosine { min_lr: f64 },
    /// α ← max(α·factor, α_min) after `patience` epochs without improving the monitored loss
    /// (the validation loss when there is one, else the training loss).
    ReduceOnPlateau {
        factor: f64,
        patience: usize,
        min_lr: f64,
    },
}

/// `multistep`'s milestones: epochs ≥ 1, increasing, separated by commas.
fn milestones(s: &str, text: &str) -> Result<Vec<usize>, String> {
    let expected = "M1,M2,…: increasing whole numbers of epochs ≥ 1, e.g. multistep:30,80:0.1";
    let mut out: Vec<usize> = Vec::new();
    for m in text.split(',') {
        match m.trim().parse::<usize>() {
            Ok(v) if v >= 1 && out.last().is_none_or(|&last| v > last) => out.push(v),
            _ => {
                return Err(format!(
                    "schedule '{s}': milestone '{m}'; expected {expected}"
                ))
            }
        }
    }
    Ok(out)
}

/// Linear warm-up before a [`Schedule`], as PyTorch's
/// `SequentialLR([LinearLR(start_factor=1/3, total_iters=N), schedule], milestones=[N])`: epoch
/// e < N runs at α·(1/3 + (2/3)·e/N), rising from α/3; at epoch N the schedule starts afresh, as
/// if that were its epoch 0 of E − N (a plateau schedule watches the loss from there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Warmup {
    /// N; 0 is no warm-up.
    pub epochs: usize,
}

impl Warmup {
    /// The state at the start of training.
    pub fn start(&self, schedule: &Schedule, lr: f64) -> ScheduleState {
        let mut state = schedule.start(lr);
        if self.epochs > 0 {
            state.lr = lr / 3.0;
        }
        state
    }

    /// After epoch `epoch` (from 0) of `epochs`: the rate for the next one, from the warm-up or
    /// from the schedule.
    pub fn advance(
        &self,
        schedule: &Schedule,
        state: &mut ScheduleState,
        base_lr: f64,
        (epoch, epochs): (usize, usize),
        monitored: f64,
    ) {
        let (next, n) = (epoch + 1, self.epochs);
        if next < n {
            state.lr = base_lr * (1.0 / 3.0 + (2.0 / 3.0) * next as f64 / n as f64);
        } else if next == n {
            *state = schedule.start(base_lr);
        } else {
            schedule.advance(state, base_lr, epoch - n, epochs - n, monitored);
        }
    }
}

/// The schedule's memory (only reduce-on-plateau has any).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    pub lr: f64,
    /// The best monitored loss so far (none before the first epoch).
    pub best: Option<f64>,
    pub bad_epochs: usize,
}

impl Schedule {
    /// Parses `constant`, `step:EVERY:GAMMA`, `multistep:M1,M2,…:GAMMA`, `exponential:GAMMA`,
    /// `cosine[:MIN_LR]`, `plateau[:FACTOR:PATIENCE[:MIN_LR]]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        // Each value, or its default where the text stops short, within what it can mean: a
        // learning rate never turns negative or grows without bound by a typo.
        let num = |i: usize, default: f64, ok: fn(f64) -> bool, expected: &str| {
            let v = match parts.get(i) {
                Some(p) => p
                    .parse()
                    .map_err(|_| format!("schedule '{s}': '{p}' is not a number"))?,
                None => default,
            };
            match ok(v) {
                true => Ok(v),
                false => Err(format!("schedule '{s}': {v}; expected {expected}")),
            }
        };
        fn whole(v: f64) -> bool {
            v.fract() == 0.0
        }
        fn positive(v: f64) -> bool {
            v > 0.0 && v.is_finite()
        }
        fn non_negative(v: f64) -> bool {
            v >= 0.0 && v.is_finite()
        }
        Ok(match parts[0].to_ascii_lowercase().as_str() {
            "constant" => Schedule::Constant,
            "step" => Schedule::Step {
                every: num(1, 10.0, |v| v >= 1.0 && whole(v), "EVERY, a whole number of epochs ≥ 1")? as usize,
                gamma: num(2, 0.1, positive, "GAMMA > 0")?,
            },
            "multistep" => Schedule::MultiStep {
                milestones: milestones(s, parts.get(1).copied().unwrap_or(""))?,
                gamma: num(2, 0.1, positive, "GAMMA > 0")?,
            },
            "exponential" | "exp" => Schedule::Exponential {
                gamma: num(1, 0.95, positive, "GAMMA > 0")?,
            },
            "cosine" => Schedule::Cosine {
                min_lr: num(1, 0.0, non_negative, "MIN_LR ≥ 0")?,
            },
            "plateau" | "reduce_on_plateau" => Schedule::ReduceOnPlateau {
                factor: num(1, 0.1, |v| v > 0.0 && v < 1.0, "FACTOR in (0, 1), as PyTorch's ReduceLROnPlateau")?,
                patience: num(2, 5.0, |v| v >= 0.0 && whole(v), "PATIENCE, a whole number of epochs ≥ 0")? as usize,
                min_lr: num(3, 0.0, non_negative, "MIN_LR ≥ 0")?,
            },
            _ => {
                return Err(format!(
                "unknown schedule '{s}'; expected constant, step:EVERY:GAMMA, multistep:M1,M2,…:GAMMA, exponential:GAMMA, cosine[:MIN_LR], plateau[:FACTOR:PATIENCE[:MIN_LR]]"
            ))
            }
        })
    }

    /// The state at the start of training.
    pub fn start(&self, lr: f64) -> ScheduleState {
        ScheduleState {
            lr,
            best: None,
            bad_epochs: 0,
        }
    }

    /// After epoch `epoch` (from 0) of `epochs` ended with `monitored` loss: the rate for the next one.
    pub fn advance(
        &self,
        state: &mut ScheduleState,
        base_lr: f64,
        epoch: usize,
        epochs: usize,
        monitored: f64,
    ) {
        let next = epoch + 1;
        state.lr = match *self {
            Schedule::Constant => base_lr,
            Schedule::Step { every, gamma } => base_lr * gamma.powi((next / every.max(1)) as i32),
            Schedule::MultiStep {
                ref milestones,
                gamma,
            } => base_lr * gamma.powi(milestones.iter().filter(|&&m| m <= next).count() as i32),
            Schedule::Exponential { gamma } => base_lr * gamma.powi(next as i32),
            Schedule::Cosine { min_lr } => {
                let frac = next as f64 / epochs.max(1) as f64;
                min_lr
                    + (base_lr - min_lr) * (1.0 + (std::f64::consts::PI * frac.min(1.0)).cos())
                        / 2.0
            }
            Schedule::ReduceOnPlateau {
                factor,
                patience,
                min_lr,
            } => {
                if state.best.is_none_or(|b| monitored < b) {
                    state.best = Some(monitored);
                    state.bad_epochs = 0;
                    state.lr
                } else {
                    state.bad_epochs += 1;
                    if state.bad_epochs > patience {
                        state.bad_epochs = 0;
                        (state.lr * factor).max(min_lr)
                    } else {
                        state.lr
                    }
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three steps on E = Σw² (g = 2w) from w = (1, −2), lr 0.1. The oracle, `reference`, is a
    /// literal one-weight transcription of the update rules as PyTorch's documentation of `SGD`,
    /// `Adam`, `AdamW` and `RMSprop` states them; the engine runs them vectorised over the flat buffer.
    fn run(opt: Optimizer, wd: f64) -> Vec<f64> {
        let mut w = vec![1.0f64, -2.0];
        let mut st = opt.state::<f64>(2);
        for _ in 0..3 {
            let mut g: Vec<f64> = w.iter().map(|w| 2.0 * w).collect();
            let decay = if matches!(opt, Optimizer::AdamW(_)) {
                0..2
            } else {
                0..0
            };
            opt.step(&mut w, &mut g, &mut st, 0.1, wd, &[decay]);
        }
        w
    }

    fn reference(opt: &str, w0: f64) -> f64 {
        // Straight transcription of the update rules, one weight, three steps.
        let (mut w, mut m, mut v) = (w0, 0.0f64, 0.0f64);
        for t in 1..=3 {
            let g = 2.0 * w;
            match opt {
                "sgd" => w -= 0.1 * g,
                "momentum" => {
                    m = 0.9 * m + g;
                    w -= 0.1 * m
                }
                "nesterov" => {
                    m = 0.9 * m + g;
                    w -= 0.1 * (g + 0.9 * m)
                }
                "adam" | "adamw" => {
                    if opt == "adamw" {
                        w *= 1.0 - 0.1 * 0.5;
                    }
                    m = 0.9 * m + 0.1 * g;
                    v = 0.999 * v + 0.001 * g * g;
                    let mh = m / (1.0 - 0.9f64.powi(t));
                    let vh = v / (1.0 - 0.999f64.powi(t));
                    w -= 0.1 * mh / (vh.sqrt() + 1e-8);
                }
                "rmsprop" => {
                    v = 0.99 * v + 0.01 * g * g;
                    w -= 0.1 * g / (v.sqrt() + 1e-8);
                }
                _ => unreachable!(),
            }
        }
        w
    }

    #[test]
    fn every_rule_matches_its_formula() {
        for (name, opt, wd) in [
            ("sgd", Optimizer::Sgd, 0.0),
            ("momentum", Optimizer::Momentum(0.9), 0.0),
            ("nesterov", Optimizer::Nesterov(0.9), 0.0),
            ("adam", Optimizer::Adam(AdamParams::default()), 0.0),
            ("adamw", Optimizer::AdamW(AdamParams::default()), 0.5),
            ("rmsprop", Optimizer::RmsProp(RmsPropParams::default()), 0.0),
        ] {
            let got = run(opt, wd);
            for (g, w0) in got.iter().zip([1.0, -2.0]) {
                let want = reference(name, w0);
                assert!((g - want).abs() < 1e-12, "{name}: {g} vs {want}");
            }
        }
    }

    /// Constants other than the defaults reach the rules as PyTorch's keywords do: `betas`, `eps`
    /// and RMSprop's `alpha` (ρ here). The oracle, in f64, three steps on E = Σw² from (1, −2):
    ///
    /// ```python
    /// import torch
    /// for name, make in [
    ///     ("adam", lambda p: torch.optim.Adam([p], lr=0.1, betas=(0.5, 0.8), eps=1e-3)),
    ///     ("adamw", lambda p: torch.optim.AdamW([p], lr=0.1, betas=(0.5, 0.8), eps=1e-3, weight_decay=0.5)),
    ///     ("rmsprop", lambda p: torch.optim.RMSprop([p], lr=0.1, alpha=0.7, eps=1e-3)),
    /// ]:
    ///     p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    ///     opt = make(p)
    ///     for _ in range(3):
    ///         opt.zero_grad()
    ///         (p * p).sum().backward()
    ///         opt.step()
    ///     print(name, [repr(x) for x in p.detach().tolist()])
    /// ```
    #[test]
    fn constants_match_pytorch_keywords() {
        let adam = AdamParams {
            beta1: 0.5,
            beta2: 0.8,
            eps: 1e-3,
        };
        for (opt, wd, want) in [
            (
                Optimizer::Adam(adam),
                0.0,
                [0.7050083305479088, -1.7022545947019168],
            ),
            (
                Optimizer::AdamW(adam),
                0.5,
                [0.5801118570754286, -1.4342584601798347],
            ),
            (
                Optimizer::RmsProp(RmsPropParams {
                    rho: 0.7,
                    eps: 1e-3,
                }),
                0.0,
                [0.584961185296138, -1.5679927878325939],
            ),
        ] {
            let got = run(opt, wd);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-14, "{opt:?}: {g} vs PyTorch's {w}");
            }
        }
    }

    /// A large buffer is updated in blocks on the pool's threads, with AVX2 where the CPU has it;
    /// the oracle is the same step applied to each parameter alone (a one-element buffer is updated
    /// by the loop's scalar tail, never in vector lanes). Every bit must agree, on one thread and on
    /// three.
    #[test]
    fn blocks_and_lanes_change_no_bit() {
        let n = 3 * BLOCK + 5;
        let w0: Vec<f32> = (0..n)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let grad = |w: &[f32], s: usize| -> Vec<f32> {
            w.iter()
                .enumerate()
                .map(|(i, &w)| w * 0.3 + ((i * 13 + s) % 7) as f32 / 70.0)
                .collect()
        };
        for opt in [
            Optimizer::Sgd,
            Optimizer::Nesterov(0.9),
            Optimizer::Adam(AdamParams::default()),
            Optimizer::RmsProp(RmsPropParams::default()),
        ] {
            let mut want = w0.clone();
            for (i, w) in want.iter_mut().enumerate() {
                let mut st = opt.state::<f32>(1);
                for s in 0..3 {
                    let mut g = vec![*w * 0.3 + ((i * 13 + s) % 7) as f32 / 70.0];
                    opt.step(std::slice::from_mut(w), &mut g, &mut st, 0.01, 0.0, &[]);
                }
            }
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut w = w0.clone();
                let mut st = opt.state::<f32>(n);
                pool.install(|| {
                    for s in 0..3 {
                        let mut g = grad(&w, s);
                        opt.step(&mut w, &mut g, &mut st, 0.01, 0.0, &[]);
                    }
                });
                let same = w.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{opt:?} on {threads} threads");
            }
        }
    }

    #[test]
    fn l2_decay_adds_lambda_w_to_the_gradient_of_weights_only() {
        let mut w = vec![1.0f64, 1.0];
        let mut g = vec![0.0f64, 0.0];
        let mut st = Optimizer::Sgd.state::<f64>(2);
        let weights_only = [std::ops::Range { start: 0, end: 1 }];
        Optimizer::Sgd.step(&mut w, &mut g, &mut st, 0.5, 0.2, &weights_only);
        assert_eq!(w, vec![1.0 - 0.5 * 0.2, 1.0]);
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let mut g = vec![3.0f32, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn warmup_then_a_schedule_matches_pytorchs_sequential_lr() {
        // PyTorch 2.15, lr 0.1, 10 epochs, the rate each epoch trains at:
        //   warm = LinearLR(opt, start_factor=1/3, total_iters=3)
        //   sch = SequentialLR(opt, [warm, main], milestones=[3])
        //   for e in range(10): lrs.append(opt.param_groups[0]["lr"]); opt.step(); sch.step()
        // with main = CosineAnnealingLR(opt, T_max=7), StepLR(opt, step_size=2, gamma=0.5),
        // MultiStepLR(opt, milestones=[2, 5], gamma=0.1) and ExponentialLR(opt, gamma=0.9).
        let warm = [
            0.03333333333333333,
            0.05555555555555556,
            0.07777777777777778,
        ];
        for (schedule, after) in [
            (
                Schedule::Cosine { min_lr: 0.0 },
                vec![
                    0.1,
                    0.09504844339512096,
                    0.08117449009293669,
                    0.061126046697815725,
                    0.03887395330218429,
                    0.018825509907063328,
                    0.004951556604879048,
                ],
            ),
            (
                Schedule::Step {
                    every: 2,
                    gamma: 0.5,
                },
                vec![0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125],
            ),
            (
                Schedule::MultiStep {
                    milestones: vec![2, 5],
                    gamma: 0.1,
                },
                vec![
                    0.1,
                    0.1,
                    0.010000000000000002,
                    0.010000000000000002,
                    0.010000000000000002,
                    0.0010000000000000002,
                    0.0010000000000000002,
                ],
            ),
            (
                Schedule::Exponential { gamma: 0.9 },
                vec![
                    0.1,
                    0.09000000000000001,
                    0.08100000000000002,
                    0.07290000000000002,
                    0.06561000000000002,
                    0.05904900000000002,
                    0.05314410000000002,
                ],
            ),
        ] {
            let w = Warmup { epochs: 3 };
            let mut s = w.start(&schedule, 0.1);
            let mut got = vec![s.lr];
            for e in 0..9 {
                w.advance(&schedule, &mut s, 0.1, (e, 10), 0.0);
                got.push(s.lr);
            }
            let want: Vec<f64> = warm.iter().copied().chain(after).collect();
            for (e, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-12 * w,
                    "{schedule:?} epoch {e}: {g} against {w}"
                );
            }
        }
        // No warm-up: the schedule's own rates, to the bit.
        let cos = Schedule::Cosine { min_lr: 0.01 };
        let (mut a, mut b) = (cos.start(0.1), Warmup::default().start(&cos, 0.1));
        for e in 0..10 {
            cos.advance(&mut a, 0.1, e, 10, 0.0);
            Warmup::default().advance(&cos, &mut b, 0.1, (e, 10), 0.0);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn schedules() {
        let mut s = Schedule::Step {
            every: 2,
            gamma: 0.5,
        }
        .start(1.0);
        let sch = Schedule::Step {
            every: 2,
            gamma: 0.5,
        };
        let lrs: Vec<f64> = (0..4)
            .map(|e| {
                sch.advance(&mut s, 1.0, e, 4, 0.0);
                s.lr
            })
            .collect();
        assert_eq!(lrs, vec![1.0, 0.5, 0.5, 0.25]);
        let cos = Schedule::Cosine { min_lr: 0.0 };
        let mut s = cos.start(1.0);
        cos.advance(&mut s, 1.0, 1, 4, 0.0);
        assert!((s.lr - 0.5).abs() < 1e-12);
        let pl = Schedule::ReduceOnPlateau {
            factor: 0.1,
            patience: 1,
            min_lr: 0.0,
        };
        let mut s = pl.start(1.0);
        for loss in [1.0, 0.9, 0.95, 0.95] {
            pl.advance(&mut s, 1.0, 0, 10, loss);
        }
        assert!((s.lr - 0.1).abs() < 1e-12);
        assert_eq!(
            Schedule::parse("step:3:0.5").unwrap(),
            Schedule::Step {
                every: 3,
                gamma: 0.5
            }
        );
        assert_eq!(
            Schedule::parse("multistep:30,80:0.5").unwrap(),
            Schedule::MultiStep {
                milestones: vec![30, 80],
                gamma: 0.5
            }
        );
        // Values a rate cannot follow are refused, saying what was expected.
        for (bad, want) in [
            ("multistep", "milestone ''; expected M1,M2,…: increasing"),
            ("multistep:5,3:0.1", "milestone '3'; expected M1,M2"),
            ("multistep:0,3:0.1", "milestone '0'"),
            ("multistep:2,2", "milestone '2'"),
            ("multistep:2,x:0.1", "milestone 'x'"),
            ("multistep:2:0", "0; expected GAMMA > 0"),
            ("step:0:0.5", "expected EVERY, a whole number of epochs ≥ 1"),
            ("step:2.5:0.5", "expected EVERY"),
            ("step:2:-1", "-1; expected GAMMA > 0"),
            ("exponential:0", "expected GAMMA > 0"),
            ("cosine:-1", "expected MIN_LR ≥ 0"),
            ("plateau:2:3", "2; expected FACTOR in (0, 1)"),
            ("plateau:0.5:-1", "expected PATIENCE"),
            ("plateau:0.5:2:-0.1", "expected MIN_LR ≥ 0"),
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert!(Schedule::parse("plateau:0.5:0").is_ok());
    }
}
