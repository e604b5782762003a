//! Lesson 8 — beyond the gradient step: L-BFGS, which also learns the loss's curvature.
//!
//! The seed's rule W_new = W_prev + α·(−∂E/∂W) walks downhill with a fixed stride α. Where the
//! loss is a long narrow valley, a stride short enough for its steep walls crawls along its flat
//! floor. Newton's method would divide by the curvature instead — W_new = W_prev − H⁻¹·∂E/∂W, H the
//! matrix of second derivatives — but H has (parameters)² entries. L-BFGS estimates H⁻¹ from what
//! the last few steps taught: each step s = ΔW and the change it caused in the gradient,
//! y = Δ(∂E/∂W), say how steeply the slope turns along s (y ≈ H·s). From ten such pairs the
//! two-loop recursion builds d = −H⁻¹·∂E/∂W without ever forming H, and a line search chooses how
//! far to go along d: far enough that the slope has flattened, never so far that E rises.
//!
//! Here both methods see the whole training set each iteration (E and ∂E/∂W by the same forward
//! and backward passes), in f64, on a loss with a single bottom, so that they race to the same
//! point: the iris flowers, a softmax layer with no hidden layer (multinomial logistic
//! regression) and an L2 penalty, E + λ/2·‖W‖² with λ = 0.01. (A hidden layer's loss has many
//! bottoms, and which one a method reaches depends on its path.) The L-BFGS below is the
//! library's [`lbfgs::iterate`], called by hand to show each iteration's step; `mlp train
//! --optimizer lbfgs --weight-decay 0.01` runs the same thing one iteration per epoch.
//!
//! Run: `cargo run --release --example 08_curvature`

use mlp::data::{builtin, Standardizer};
use mlp::optim::lbfgs::{self, LbfgsParams, Point};
use mlp::{Activation, Loss, NetworkSpec, Par, Workspace};

fn main() -> mlp::Result<()> {
    let mut iris = builtin::load::<f64>("iris")?;
    Standardizer::fit(&iris.x).apply(&mut iris.x);
    let n = iris.len();
    let x = iris.x.view();
    let targets = iris.y.as_ref();
    let spec = NetworkSpec::new(4).dense(3, Activation::Softmax);
    const LAMBDA: f64 = 0.01;

    // E(W) + λ/2·‖W‖² and its gradient over all 150 rows: one forward and one backward pass.
    let mut net = spec.build::<f64>(8);
    let weights = net.layers[0].weight_offset..net.layers[0].weight_offset + 12;
    let mut ws = Workspace::new(&net, n);
    let mut evaluate = |w: &[f64], g: &mut [f64]| -> mlp::Result<f64> {
        net.params.copy_from_slice(w);
        net.forward(x, &mut ws, Par::Seq);
        let e = ws.evaluate_loss(&net, &Loss::CrossEntropy, targets, true);
        net.backward(x, &mut ws, Par::Seq);
        g.copy_from_slice(&ws.grads);
        let mut penalty = 0.0;
        for i in weights.clone() {
            penalty += 0.5 * LAMBDA * w[i] * w[i];
            g[i] += LAMBDA * w[i];
        }
        Ok(e + penalty)
    };
    let start = spec.build::<f64>(8).params;
    let mut g = vec![0.0; start.len()];

    println!("The seed's rule on the whole set, W ← W − α·∂E/∂W, at four fixed strides:");
    let strides = [0.1, 1.0, 3.0, 10.0];
    print!("{:>10}", "iteration");
    strides
        .iter()
        .for_each(|a| print!(" {:>12}", format!("α = {a}")));
    println!();
    let mut runs: Vec<Vec<f64>> = vec![start.clone(); strides.len()];
    for it in 1..=1000 {
        let mut losses = Vec::new();
        for (w, alpha) in runs.iter_mut().zip(strides) {
            let e = evaluate(w, &mut g)?;
            for (w, g) in w.iter_mut().zip(&g) {
                *w -= alpha * g;
            }
            losses.push(e);
        }
        if [1, 10, 30, 100, 300, 1000].contains(&it) {
            print!("{it:>10}");
            losses.iter().for_each(|e| print!(" {e:>12.6}"));
            println!();
        }
    }

    println!("\nL-BFGS: a direction from the last ten steps' curvature, a line search along it:");
    println!(
        "{:>10} {:>12} {:>12} {:>12} {:>14}",
        "iteration", "loss", "step t", "evaluations", "largest |∂E/∂W|"
    );
    let params = LbfgsParams::default();
    let mut w = start;
    let mut at = Point {
        f: evaluate(&w, &mut g)?,
        g: g.clone(),
    };
    let mut history = Vec::new();
    let mut evaluations = 1;
    for iteration in 0..1000 {
        let step = lbfgs::iterate(
            &params,
            &mut w,
            &mut at,
            &mut history,
            (iteration, 1.0),
            &mut evaluate,
        )?;
        evaluations += step.evals;
        let largest = at.g.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        if iteration < 10 || iteration % 10 == 9 || step.converged.is_some() {
            println!(
                "{:>10} {:>12.6} {:>12.4} {:>12} {:>14.2e}",
                iteration + 1,
                at.f,
                step.t,
                step.evals,
                largest
            );
        }
        if let Some(why) = step.converged {
            println!(
                "\nconverged after {} iterations and {evaluations} evaluations: {why}.",
                iteration + 1
            );
            break;
        }
    }
    println!(
        "Both end at the same bottom. Gradient descent needs about 300 evaluations at its best"
    );
    println!(
        "stride, 1000 at α = 1, more at α = 0.1, and at α = 10 it bounces from wall to wall for"
    );
    println!(
        "ever. L-BFGS finds its stride itself: t = 1, the curvature's own estimate of how far"
    );
    println!("to go, is kept most of the time, one evaluation an iteration.");
    Ok(())
}
