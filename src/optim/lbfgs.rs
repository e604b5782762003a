//! L-BFGS: the quasi-Newton method of scikit-learn's `solver="lbfgs"` and PyTorch's
//! `torch.optim.LBFGS(line_search_fn="strong_wolfe")`, on the whole training set's loss.
//!
//! Each iteration (one epoch of the trainer) takes the loss f and its gradient g = ∂E/∂W at the
//! weights W, picks a direction d = −H·g, where H approximates the inverse Hessian from the last m
//! steps s = W_{k+1} − W_k and gradient changes y = g_{k+1} − g_k (the two-loop recursion,
//! Nocedal & Wright, *Numerical Optimization*, Algorithm 7.4), then a step length t along d that
//! satisfies the strong Wolfe conditions (Algorithms 3.5 and 3.6, with cubic interpolation):
//!
//! f(W + t·d) ≤ f(W) + c₁·t·gᵀd  and  |g(W + t·d)ᵀd| ≤ c₂·|gᵀd|,  c₁ = 10⁻⁴, c₂ = 0.9.
//!
//! The first keeps every iteration's loss below the last one; the second keeps yᵀs > 0, so H stays
//! positive definite and d a descent direction.
//!
//! Written here rather than taken from a crate (argmin has an L-BFGS): a crate's solver owns its
//! loop, while here the trainer owns it — one iteration is one epoch, with its progress line,
//! validation, early stopping, log, checkpoint and Ctrl-C — and the method is the recursion and
//! the line search below. The vectors (g, d, s, y) are kept in f64 whatever the network's
//! precision, so that the curvature pairs of an f32 network are not rounded twice.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::tensor::Float;

/// L-BFGS's constants.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LbfgsParams {
    /// m, the pairs (s, y) remembered: SciPy's (and so scikit-learn's) 10.
    pub history: usize,
    /// Most loss evaluations in one line search: PyTorch's 25.
    pub max_evals: usize,
    /// Converged when the largest |∂E/∂W| is at most this: PyTorch's 10⁻⁷.
    pub tolerance_grad: f64,
    /// Converged when the loss or the weights change by less than this: PyTorch's 10⁻⁹.
    pub tolerance_change: f64,
}

impl Default for LbfgsParams {
    fn default() -> Self {
        LbfgsParams {
            history: 10,
            max_evals: 25,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
        }
    }
}

/// One remembered step: s = W_{k+1} − W_k and y = g_{k+1} − g_k.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Pair {
    pub s: Vec<f64>,
    pub y: Vec<f64>,
}

/// The objective at the current weights: f (loss plus any L2 penalty) and g = ∂f/∂W.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub f: f64,
    pub g: Vec<f64>,
}

/// Why L-BFGS stopped before its last iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Converged {
    /// The largest |∂E/∂W| fell to the gradient tolerance.
    Gradient,
    /// The loss changed by less than the change tolerance.
    Loss,
    /// The weights moved by less than the change tolerance.
    Step,
    /// No lower loss along the direction (the minimum as far as the arithmetic can tell).
    NoDescent,
}

impl std::fmt::Display for Converged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Converged::Gradient => "the gradient is within its tolerance",
            Converged::Loss => "the loss stopped changing",
            Converged::Step => "the weights stopped moving",
            Converged::NoDescent => "no lower loss along the search direction",
        })
    }
}

/// What one iteration did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Iteration {
    /// The step length t taken along d (0 when none was).
    pub t: f64,
    /// Objective evaluations made (each a forward and backward pass over the training set).
    pub evals: usize,
    /// Which evaluation (from 0) gave the new weights; `None` when they did not move.
    pub accepted: Option<usize>,
    /// Set when the run should stop here.
    pub converged: Option<Converged>,
}

/// The objective: `eval(w, g)` returns f(w) and writes ∂f/∂w into `g`.
pub type Objective<'a, T> = dyn FnMut(&[T], &mut [f64]) -> Result<f64> + 'a;

/// d = −H·g by the two-loop recursion over `history` (oldest first), with H₀ = γ·I,
/// γ = sᵀy / yᵀy of the newest pair; d = −g when the history is empty.
pub fn direction(g: &[f64], history: &[Pair]) -> Vec<f64> {
    let mut q: Vec<f64> = g.to_vec();
    let mut alpha = vec![0.0; history.len()];
    for (i, p) in history.iter().enumerate().rev() {
        let rho = 1.0 / dot(&p.y, &p.s);
        alpha[i] = rho * dot(&p.s, &q);
        axpy(-alpha[i], &p.y, &mut q);
    }
    if let Some(p) = history.last() {
        let gamma = dot(&p.s, &p.y) / dot(&p.y, &p.y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for (i, p) in history.iter().enumerate() {
        let rho = 1.0 / dot(&p.y, &p.s);
        let beta = rho * dot(&p.y, &q);
        axpy(alpha[i] - beta, &p.s, &mut q);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

/// One L-BFGS iteration from the weights `w`, where the objective is `at`: a direction, a strong
/// Wolfe line search along it, then `w`, `at` and `history` moved to the new point. `lr` scales
/// the first trial step (PyTorch's `lr`: 1 is the natural step of a quasi-Newton method; the very
/// first iteration, with no curvature known, tries min(1, 1/‖g‖₁)·lr). `iterations` counts the
/// iterations done before this one.
pub fn iterate<T: Float>(
    p: &LbfgsParams,
    w: &mut [T],
    at: &mut Point,
    history: &mut Vec<Pair>,
    (iterations, lr): (u64, f64),
    eval: &mut Objective<'_, T>,
) -> Result<Iteration> {
    let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let stay = |converged| Iteration {
        t: 0.0,
        evals: 0,
        accepted: None,
        converged: Some(converged),
    };
    if max_abs(&at.g) <= p.tolerance_grad {
        return Ok(stay(Converged::Gradient));
    }
    let mut d = direction(&at.g, history);
    let mut gtd = dot(&at.g, &d);
    let descends = gtd < 0.0; // false for NaN too
    if !descends && !history.is_empty() {
        // Rounding has cost the remembered curvature its meaning (d is no descent direction):
        // forget it and go down the gradient.
        history.clear();
        d = direction(&at.g, history);
        gtd = dot(&at.g, &d);
    }
    let worth_it = gtd < -p.tolerance_change;
    if !worth_it {
        // Along d the loss would fall by less than the tolerance per unit step (PyTorch's test).
        return Ok(stay(Converged::Loss));
    }
    let t0 = if iterations == 0 {
        lr * (1.0 / at.g.iter().map(|x| x.abs()).sum::<f64>()).min(1.0)
    } else {
        lr
    };
    let x0: Vec<T> = w.to_vec();
    let found = strong_wolfe(p, (&x0, at, &d, gtd), t0, w, eval)?;
    let Some((t, f, g)) = found.point else {
        // Even the shortest step raised the loss: `w` is back at x0.
        return Ok(Iteration {
            t: 0.0,
            evals: found.evals,
            accepted: None,
            converged: Some(Converged::NoDescent),
        });
    };
    let s: Vec<f64> = w.iter().zip(&x0).map(|(a, b)| a.f64() - b.f64()).collect();
    let y: Vec<f64> = g.iter().zip(&at.g).map(|(a, b)| a - b).collect();
    if dot(&y, &s) > 1e-10 && p.history > 0 {
        while history.len() >= p.history {
            history.remove(0);
        }
        history.push(Pair { s, y });
    }
    let f_before = at.f;
    *at = Point { f, g };
    let converged = if max_abs(&at.g) <= p.tolerance_grad {
        Some(Converged::Gradient)
    } else if t * max_abs(&d) <= p.tolerance_change {
        Some(Converged::Step)
    } else if (f - f_before).abs() < p.tolerance_change {
        Some(Converged::Loss)
    } else {
        None
    };
    Ok(Iteration {
        t,
        evals: found.evals,
        accepted: found.accepted,
        converged,
    })
}

/// A trial point on the line: t, φ(t) = f(x₀ + t·d), φ'(t) = g(x₀ + t·d)ᵀd.
#[derive(Clone, Copy, Debug)]
struct Trial {
    t: f64,
    f: f64,
    slope: f64,
    /// Which evaluation it was (None: t = 0, the starting point).
    eval: Option<usize>,
}

/// A line search's result: the accepted point (t, f, g) unless none lowered the loss.
struct Found {
    point: Option<(f64, f64, Vec<f64>)>,
    evals: usize,
    accepted: Option<usize>,
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// Nocedal & Wright's Algorithm 3.5 (bracketing, extrapolating by cubic interpolation up to 10×
/// the step) and 3.6 (zoom). Leaves `w` at the accepted point (x₀ when there is none).
fn strong_wolfe<T: Float>(
    p: &LbfgsParams,
    (x0, at, d, slope0): (&[T], &Point, &[f64], f64),
    t_init: f64,
    w: &mut [T],
    eval: &mut Objective<'_, T>,
) -> Result<Found> {
    let n = d.len();
    let f0 = at.f;
    let start = Trial {
        t: 0.0,
        f: f0,
        slope: slope0,
        eval: None,
    };
    let d_max = d.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    // The gradient at `lo` (the best point with sufficient decrease so far) and at the newest trial.
    let mut g_lo = at.g.clone();
    let mut g_new = vec![0.0; n];
    let mut evals = 0;
    let mut try_at = |t: f64, g: &mut [f64], evals: &mut usize| -> Result<Trial> {
        for ((w, &x), &d) in w.iter_mut().zip(x0).zip(d) {
            *w = T::of(x.f64() + t * d);
        }
        let f = eval(w, g)?;
        *evals += 1;
        Ok(Trial {
            t,
            f,
            slope: dot(g, d),
            eval: Some(*evals - 1),
        })
    };
    let armijo = |tr: &Trial| tr.f <= f0 + C1 * tr.t * slope0;
    let curvature = |tr: &Trial| tr.slope.abs() <= -C2 * slope0;

    // Bracketing: lengthen the step until it passes a minimum of φ.
    let (mut lo, mut hi);
    let mut prev = start;
    let mut t = t_init;
    loop {
        let cur = try_at(t, &mut g_new, &mut evals)?;
        if !cur.f.is_finite() || !armijo(&cur) || (prev.eval.is_some() && cur.f >= prev.f) {
            (lo, hi) = (prev, cur);
            break;
        }
        if curvature(&cur) {
            return Ok(accept(cur, g_new, evals));
        }
        if cur.slope >= 0.0 {
            std::mem::swap(&mut g_lo, &mut g_new);
            (lo, hi) = (cur, prev);
            break;
        }
        if evals >= p.max_evals {
            // Out of evaluations, still going down: keep the last (lowest) point.
            return Ok(accept(cur, g_new, evals));
        }
        let next = cubic_min(&prev, &cur, (t + 0.01 * (t - prev.t), 10.0 * t));
        std::mem::swap(&mut g_lo, &mut g_new);
        prev = cur;
        t = next;
    }

    // Zoom: shrink [lo, hi] around a point that satisfies both conditions. `lo` always has
    // sufficient decrease and the lowest loss seen; `hi` lies beyond a minimum.
    while evals < p.max_evals && (hi.t - lo.t).abs() * d_max >= p.tolerance_change {
        let (a, b) = (lo.t.min(hi.t), lo.t.max(hi.t));
        let margin = 0.1 * (b - a);
        let mut t = if hi.f.is_finite() {
            cubic_min(&lo, &hi, (a, b))
        } else {
            (a + b) / 2.0
        };
        if t < a + margin || t > b - margin {
            // Too near an end to shrink the bracket much: bisect instead.
            t = (a + b) / 2.0;
        }
        let cur = try_at(t, &mut g_new, &mut evals)?;
        if !cur.f.is_finite() || !armijo(&cur) || cur.f >= lo.f {
            hi = cur;
        } else {
            if curvature(&cur) {
                return Ok(accept(cur, g_new, evals));
            }
            if cur.slope * (hi.t - lo.t) >= 0.0 {
                hi = lo;
            }
            std::mem::swap(&mut g_lo, &mut g_new);
            lo = cur;
        }
    }
    // No point met both conditions within the budget: the best one with sufficient decrease.
    for ((w, &x), &d) in w.iter_mut().zip(x0).zip(d) {
        *w = T::of(x.f64() + lo.t * d);
    }
    Ok(match lo.eval {
        Some(_) => accept(lo, g_lo, evals),
        None => Found {
            point: None,
            evals,
            accepted: None,
        },
    })
}

fn accept(tr: Trial, g: Vec<f64>, evals: usize) -> Found {
    Found {
        point: Some((tr.t, tr.f, g)),
        evals,
        accepted: tr.eval,
    }
}

/// The minimiser of the cubic through (t, φ, φ') at `a` and `b`, clamped to `bounds`; their
/// middle when the cubic has none (N&W equation 3.59).
fn cubic_min(a: &Trial, b: &Trial, (lo, hi): (f64, f64)) -> f64 {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    let d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.t - b.t);
    let disc = d1 * d1 - a.slope * b.slope;
    if disc >= 0.0 {
        let d2 = disc.sqrt().copysign(b.t - a.t);
        let t = b.t - (b.t - a.t) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
        if t.is_finite() {
            return t.clamp(lo, hi);
        }
    }
    (lo + hi) / 2.0
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's function, the classic test of a quasi-Newton method: the minimum f = 0 at
    /// (1, …, 1) lies at the end of a long curved valley.
    fn rosenbrock(w: &[f64], g: &mut [f64]) -> f64 {
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..w.len() - 1 {
            let (a, b) = (w[i], w[i + 1]);
            f += 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
            g[i] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a);
            g[i + 1] += 200.0 * (b - a * a);
        }
        f
    }

    /// f = ½wᵀAw − bᵀw with A = diag(1..8) + 0.5·11ᵀ and b = 1.
    fn quadratic(w: &[f64], g: &mut [f64]) -> f64 {
        let sum: f64 = w.iter().sum();
        let mut f = 0.25 * sum * sum;
        for (i, (&w, g)) in w.iter().zip(g.iter_mut()).enumerate() {
            *g = (i as f64 + 1.0) * w + 0.5 * sum - 1.0;
            f += 0.5 * (i as f64 + 1.0) * w * w - w;
        }
        f
    }

    /// Tolerances tight enough for the tests to see the minimum, not the defaults' early stop.
    fn tight() -> LbfgsParams {
        LbfgsParams {
            tolerance_grad: 1e-10,
            tolerance_change: 1e-16,
            ..LbfgsParams::default()
        }
    }

    /// Runs L-BFGS from `w` until it converges, checking the strong Wolfe conditions at every
    /// step; returns the objective evaluations made (the first included) and the point reached.
    fn minimise(f: fn(&[f64], &mut [f64]) -> f64, mut w: Vec<f64>) -> (usize, Vec<f64>) {
        let p = tight();
        let mut g = vec![0.0; w.len()];
        let mut at = Point {
            f: f(&w, &mut g),
            g,
        };
        let (mut history, mut evals) = (Vec::new(), 1);
        for iterations in 0..500 {
            let (f0, x0) = (at.f, w.clone());
            let d = direction(&at.g, &history);
            let slope0 = dot(&at.g, &d);
            let it = iterate(
                &p,
                &mut w,
                &mut at,
                &mut history,
                (iterations, 1.0),
                &mut |w, g| Ok(f(w, g)),
            )
            .unwrap();
            evals += it.evals;
            if it.accepted.is_some() {
                // The step went along d, with sufficient decrease, and (unless the search ran
                // out of evaluations) a flattened slope.
                let t = it.t;
                for ((a, b), d) in w.iter().zip(&x0).zip(&d) {
                    assert!((a - b - t * d).abs() <= 1e-15 * (1.0 + a.abs()));
                }
                assert!(at.f <= f0 + C1 * t * slope0, "iteration {iterations}");
                if it.evals < p.max_evals {
                    let slope = dot(&at.g, &d);
                    assert!(slope.abs() <= -C2 * slope0, "iteration {iterations}");
                }
            }
            if it.converged.is_some() {
                return (evals, w);
            }
        }
        panic!("no convergence in 500 iterations");
    }

    #[test]
    fn cubic_interpolation_finds_a_quadratic_minimum_exactly() {
        let trial = |t, f, slope| Trial {
            t,
            f,
            slope,
            eval: None,
        };
        // φ(t) = (t − 0.3)²: φ(0) = 0.09, φ'(0) = −0.6; φ(1) = 0.49, φ'(1) = 1.4.
        let (a, b) = (trial(0.0, 0.09, -0.6), trial(1.0, 0.49, 1.4));
        assert!((cubic_min(&a, &b, (0.0, 1.0)) - 0.3).abs() < 1e-15);
        assert!((cubic_min(&b, &a, (0.0, 1.0)) - 0.3).abs() < 1e-15);
        // φ(t) = t³ − 3t (minimum at t = 1), from t = 0 and t = 2.
        let (c, e) = (trial(0.0, 0.0, -3.0), trial(2.0, 2.0, 9.0));
        assert!((cubic_min(&c, &e, (0.0, 2.0)) - 1.0).abs() < 1e-15);
        // Clamped to the bounds given.
        assert_eq!(cubic_min(&c, &e, (0.0, 0.5)), 0.5);
    }

    #[test]
    fn two_loop_recursion_equals_the_bfgs_inverse_hessian_it_stands_for() {
        // The oracle: H built densely by the BFGS update H ← VᵀHV + ρssᵀ, V = I − ρysᵀ, from
        // H₀ = γI (Nocedal & Wright, equation 7.19), then d = −H·g.
        let n = 4;
        let mut rng = crate::init::Rng::new(3);
        let mut v = || (0..n).map(|_| rng.uniform() - 0.5).collect::<Vec<f64>>();
        let mut history = Vec::new();
        for _ in 0..3 {
            let s = v();
            // y = A·s for a positive definite A, so that yᵀs > 0.
            let y: Vec<f64> = (0..n)
                .map(|i| (i as f64 + 1.0) * s[i] + 0.1 * s[0])
                .collect();
            history.push(Pair { s, y });
        }
        let g = v();
        let last = history.last().unwrap();
        let gamma = dot(&last.s, &last.y) / dot(&last.y, &last.y);
        let eye = |i: usize, j: usize| f64::from(u8::from(i == j));
        let mut h: Vec<Vec<f64>> = (0..n)
            .map(|i| (0..n).map(|j| gamma * eye(i, j)).collect())
            .collect();
        for p in &history {
            let rho = 1.0 / dot(&p.y, &p.s);
            let v = |i: usize, j: usize| eye(i, j) - rho * p.y[i] * p.s[j];
            h = (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| {
                            let mut sum = rho * p.s[i] * p.s[j];
                            for (a, row) in h.iter().enumerate() {
                                for (b, h_ab) in row.iter().enumerate() {
                                    sum += v(a, i) * h_ab * v(b, j);
                                }
                            }
                            sum
                        })
                        .collect()
                })
                .collect();
        }
        let want: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| h[i][j] * g[j]).sum::<f64>())
            .collect();
        let got = direction(&g, &history);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{got:?} vs {want:?}");
        }
        assert_eq!(direction(&g, &[]), g.iter().map(|x| -x).collect::<Vec<_>>());
    }

    // The oracle: PyTorch 2.15's LBFGS, in f64 with the same constants, run to convergence:
    //
    // import torch
    // torch.set_default_dtype(torch.float64)
    // n = 8
    // A = torch.diag(torch.arange(1.0, n + 1)) + 0.5 * torch.ones(n, n)
    // b = torch.ones(n)
    // cases = [
    //     ("quadratic", torch.zeros(n), lambda w: 0.5 * w @ A @ w - b @ w),
    //     ("rosenbrock", torch.tensor([-1.2, 1.0, -1.2, 1.0]),
    //      lambda w: sum(100 * (w[i + 1] - w[i] ** 2) ** 2 + (1 - w[i]) ** 2 for i in range(3))),
    // ]
    // for name, w0, fn in cases:
    //     w = w0.clone().requires_grad_(True)
    //     opt = torch.optim.LBFGS([w], lr=1, max_iter=500, max_eval=5000, history_size=10,
    //                             line_search_fn="strong_wolfe", tolerance_grad=1e-10,
    //                             tolerance_change=1e-16)
    //     def closure():
    //         opt.zero_grad()
    //         f = fn(w)
    //         f.backward()
    //         return f
    //     opt.step(closure)
    //     st = opt.state[opt._params[0]]
    //     print(name, st["n_iter"], st["func_evals"], [repr(x) for x in w.detach().tolist()])
    //
    // quadratic 18 19 ['0.42392127182726486', '0.21196063687987118', '0.1413070907525776',
    //   '0.10598031662679024', '0.0847842541479592', '0.07065354549531307', '0.06056018211674054',
    //   '0.052990158681376395']
    // rosenbrock 44 54 ['1.0000000000443834', '1.0000000001155054', '1.0000000000739904',
    //   '1.0000000001638238']
    // (func_evals counts the first evaluation; n_iter also counts the last iteration's check.)

    #[test]
    fn minimises_rosenbrock_along_pytorchs_path() {
        let (evals, w) = minimise(rosenbrock, vec![-1.2, 1.0, -1.2, 1.0]);
        let torch = [
            1.0000000000443834,
            1.0000000001155054,
            1.0000000000739904,
            1.0000000001638238,
        ];
        assert_eq!(evals, 54);
        for (a, b) in w.iter().zip(torch) {
            assert!((a - b).abs() < 1e-14, "{w:?}");
        }
    }

    #[test]
    fn solves_a_convex_quadratic_as_pytorch_does() {
        let (evals, w) = minimise(quadratic, vec![0.0; 8]);
        let torch = [
            0.42392127182726486,
            0.21196063687987118,
            0.1413070907525776,
            0.10598031662679024,
            0.0847842541479592,
            0.07065354549531307,
            0.06056018211674054,
            0.052990158681376395,
        ];
        assert_eq!(evals, 19);
        for (a, b) in w.iter().zip(torch) {
            assert!((a - b).abs() < 1e-14, "{w:?}");
        }
        // And it is the minimum, as far as f64 can see: it stopped when f (≈ −0.576, whose last
        // digit is 1.1e-16) no longer changed, which leaves a gradient A·w − b of order
        // √(2·1e-16·λ_max) ≈ 5e-8 at most.
        let mut g = vec![0.0; 8];
        quadratic(&w, &mut g);
        assert!(g.iter().all(|g| g.abs() < 5e-8), "{g:?}");
    }

    #[test]
    fn a_point_of_no_descent_stops_without_moving() {
        // At the minimum of f = w², the gradient is 0: converged before any evaluation.
        let mut w = vec![0.0f64];
        let sq = |w: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * w[0];
            w[0] * w[0]
        };
        let mut at = Point {
            f: 0.0,
            g: vec![0.0],
        };
        at.f = sq(&w, &mut at.g);
        let it = iterate(
            &LbfgsParams::default(),
            &mut w,
            &mut at,
            &mut Vec::new(),
            (0, 1.0),
            &mut |w, g| Ok(sq(w, g)),
        )
        .unwrap();
        assert_eq!(it.converged, Some(Converged::Gradient));
        assert_eq!((it.evals, w[0]), (0, 0.0));
    }
}
