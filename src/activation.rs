//! Activation functions Φ: value and derivative side by side.
//!
//! A layer computes h' = x·W + b (the pre-activation, `z` in code) and h = Φ(h') (`a` in code). The
//! backward pass needs Φ'(h'); each arm below gives Φ and Φ' together, with Φ' written in terms of
//! whichever of h' and h is cheaper (σ' = σ(1 − σ) reuses the value).
//!
//! Softmax is the one activation that mixes a row: pᵢ = e^{zᵢ} / Σⱼ e^{zⱼ}, whose backward pass is
//! the Jacobian-vector product ∂E/∂zᵢ = pᵢ (∂E/∂pᵢ − Σⱼ pⱼ ∂E/∂pⱼ). Used as the output with
//! [`Loss::CrossEntropy`](crate::Loss::CrossEntropy), the loss fuses both and never forms the Jacobian.

use std::fmt;
use std::sync::Arc;

use crate::tensor::Float;

/// An activation of the user's own, given by its value and derivative (in f64; f32 networks convert).
///
/// ```
/// use mlp::{Activation, CustomActivation};
/// #[derive(Debug)]
/// struct Square;
/// impl CustomActivation for Square {
///     fn name(&self) -> &str { "square" }
///     fn value(&self, z: f64) -> f64 { z * z }
///     fn derivative(&self, z: f64) -> f64 { 2.0 * z }
/// }
/// let phi = Activation::custom(Square);
/// assert_eq!(phi.value(3.0), 9.0);
/// assert_eq!(phi.derivative(3.0), 6.0);
/// ```
pub trait CustomActivation: Send + Sync + fmt::Debug {
    /// A short name, used in model files and messages.
    fn name(&self) -> &str;
    /// Φ(z).
    fn value(&self, z: f64) -> f64;
    /// Φ'(z).
    fn derivative(&self, z: f64) -> f64;
}

/// Φ, applied element-wise (softmax: row-wise).
#[derive(Clone, Debug)]
pub enum Activation {
    /// Φ(z) = z; Φ' = 1. The seed's linear output.
    Identity,
    /// Φ(z) = 1/(1 + e^{−z}); Φ' = Φ(1 − Φ). The seed's logistic sigmoid.
    Sigmoid,
    /// Φ(z) = tanh z; Φ' = 1 − Φ².
    Tanh,
    /// Φ(z) = max(0, z); Φ' = 1 if z > 0 else 0.
    Relu,
    /// Φ(z) = z if z > 0 else α·z; Φ' = 1 or α.
    LeakyRelu(f64),
    /// Φ(z) = z if z > 0 else α(e^z − 1); Φ' = 1 or Φ + α.
    Elu(f64),
    /// Φ(z) = z·Ψ(z), Ψ the standard normal CDF (exact, as PyTorch's default, through erfc);
    /// Φ' = Ψ(z) + z·ψ(z), ψ its density.
    Gelu,
    /// Φ(z) = ln(1 + e^z); Φ' = σ(z).
    Softplus,
    /// Φ(z) = z·σ(z) (PyTorch's SiLU, Keras' swish); Φ' = σ(z) + Φ·(1 − σ(z)).
    Silu,
    /// Φ(z) = λz if z > 0 else λα(e^z − 1), with PyTorch's λ ≈ 1.0507 and α ≈ 1.6733 (Klambauer
    /// et al.'s self-normalising networks, with [`Init::LecunNormal`](crate::Init::LecunNormal));
    /// Φ' = λ or Φ + λα.
    Selu,
    /// Row-wise pᵢ = e^{zᵢ}/Σⱼe^{zⱼ}; output layers only.
    Softmax,
    /// The user's own.
    Custom(Arc<dyn CustomActivation>),
}

impl PartialEq for Activation {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Activation {
    /// Wraps a user-defined activation.
    pub fn custom(f: impl CustomActivation + 'static) -> Self {
        Activation::Custom(Arc::new(f))
    }

    /// The built-in activations with their default parameters (for sweeps and help text).
    pub fn builtin() -> Vec<Activation> {
        vec![
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
            Activation::LeakyRelu(0.01),
            Activation::Elu(1.0),
            Activation::Gelu,
            Activation::Softplus,
            Activation::Silu,
            Activation::Selu,
            Activation::Softmax,
        ]
    }

    /// Parses `identity`, `sigmoid`, `tanh`, `relu`, `leaky_relu` or `leaky_relu(0.1)`, `elu` or
    /// `elu(0.5)`, `gelu`, `softplus`, `silu`, `selu`, `softmax` (case-insensitive; `linear`,
    /// `logistic` and `swish` too).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        let (name, arg) = match s.split_once('(') {
            Some((n, rest)) => {
                let inner = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("activation '{s}': missing ')'"))?;
                let v: f64 = inner
                    .trim()
                    .parse()
                    .map_err(|_| format!("activation '{s}': '{inner}' is not a number"))?;
                (n.trim().to_string(), Some(v))
            }
            None => (s.clone(), None),
        };
        Ok(match (name.as_str(), arg) {
            ("identity" | "linear" | "none", None) => Activation::Identity,
            ("sigmoid" | "logistic", None) => Activation::Sigmoid,
            ("tanh", None) => Activation::Tanh,
            ("relu", None) => Activation::Relu,
            ("leaky_relu" | "leakyrelu", a) => Activation::LeakyRelu(a.unwrap_or(0.01)),
            ("elu", a) => Activation::Elu(a.unwrap_or(1.0)),
            ("gelu", None) => Activation::Gelu,
            ("softplus", None) => Activation::Softplus,
            ("silu" | "swish", None) => Activation::Silu,
            ("selu", None) => Activation::Selu,
            ("softmax", None) => Activation::Softmax,
            _ => {
                return Err(format!(
                "unknown activation '{s}'; expected one of identity, sigmoid, tanh, relu, leaky_relu(α), elu(α), gelu, softplus, silu, selu, softmax"
            ))
            }
        })
    }

    /// Φ(z) for one value (softmax: not element-wise, see [`Activation::forward`]).
    pub fn value(&self, z: f64) -> f64 {
        scalar(self, z).0
    }

    /// Φ'(z) for one value.
    pub fn derivative(&self, z: f64) -> f64 {
        scalar(self, z).1
    }

    /// Forward pass over a batch, fused with the bias: h' ← h' + b (row-wise broadcast), h = Φ(h').
    ///
    /// # Shapes
    /// `z`, `a`: `[batch × cols]` row-major; `bias`: `[cols]`.
    // Inlined into each caller (the plain and the dropout forward passes): left to itself LLVM
    // calls it out of line once it has two callers, +5 % instructions on seed-online's batch-1
    // steps (callgrind).
    #[inline(always)]
    pub fn forward<T: Float>(&self, z: &mut [T], bias: Option<&[T]>, a: &mut [T], cols: usize) {
        debug_assert_eq!(z.len(), a.len());
        // One pass over memory: add the bias and apply Φ in the same loop, one arm per activation
        // so that each loop is monomorphised and vectorisable.
        fn map<T: Float>(
            z: &mut [T],
            bias: Option<&[T]>,
            a: &mut [T],
            cols: usize,
            f: impl Fn(T) -> T,
        ) {
            match bias {
                Some(b) => {
                    for (zr, ar) in z.chunks_exact_mut(cols).zip(a.chunks_exact_mut(cols)) {
                        for ((z, a), &b) in zr.iter_mut().zip(ar.iter_mut()).zip(b) {
                            *z += b;
                            *a = f(*z);
                        }
                    }
                }
                None => {
                    for (z, a) in z.iter().zip(a.iter_mut()) {
                        *a = f(*z);
                    }
                }
            }
        }
        // ELU and SELU: λ·h' where h' > 0, else λα·(e^{h'} − 1) (ELU's λ is 1, exact). e^{h'} of
        // every value in SIMD, then the select: where h' > 0 the (possibly infinite) exponential
        // is not used; a NaN stays NaN.
        fn exp_linear<T: Float>(
            z: &mut [T],
            bias: Option<&[T]>,
            a: &mut [T],
            cols: usize,
            (l, la): (T, T),
        ) {
            map(z, bias, a, cols, |z| z);
            T::exp_in_place(a);
            for (a, &z) in a.iter_mut().zip(z.iter()) {
                *a = if z > T::ZERO {
                    l * z
                } else {
                    la * (*a - T::ONE)
                };
            }
        }
        // Out of line: inlined, its three passes made every other activation's forward pass
        // cost more (callgrind, seed-online's sigmoid: +11 instructions a step).
        #[inline(never)]
        fn gelu<T: Float>(z: &mut [T], bias: Option<&[T]>, a: &mut [T], cols: usize) {
            map(z, bias, a, cols, |z| z);
            T::normal_cdf_in_place(a);
            a.iter_mut().zip(z.iter()).for_each(|(a, &z)| *a *= z)
        }
        match self {
            Activation::Identity => map(z, bias, a, cols, |z| z),
            // The bias added and h' copied in one pass, then Φ over the whole slice (in SIMD for f32).
            Activation::Sigmoid => {
                map(z, bias, a, cols, |z| z);
                T::sigmoid_in_place(a)
            }
            Activation::Tanh => {
                map(z, bias, a, cols, |z| z);
                T::tanh_in_place(a)
            }
            // NaN stays NaN, as in PyTorch (max(NaN, 0) would be 0 and hide a diverged layer).
            Activation::Relu => map(z, bias, a, cols, |z| if z < T::ZERO { T::ZERO } else { z }),
            Activation::LeakyRelu(alpha) => {
                let al = T::of(*alpha);
                map(z, bias, a, cols, |z| if z > T::ZERO { z } else { al * z })
            }
            Activation::Elu(alpha) => exp_linear(z, bias, a, cols, (T::ONE, T::of(*alpha))),
            Activation::Gelu => gelu(z, bias, a, cols),
            // max(h', 0) + ln(1 + e^{−|h'|}): the exponential in SIMD, ln(1 + ·) per value.
            Activation::Softplus => {
                map(z, bias, a, cols, |z| -z.abs());
                T::exp_in_place(a);
                for (a, &z) in a.iter_mut().zip(z.iter()) {
                    *a = z.max(T::ZERO) + a.ln_1p();
                }
            }
            Activation::Silu => {
                map(z, bias, a, cols, |z| z);
                T::sigmoid_in_place(a);
                a.iter_mut().zip(z.iter()).for_each(|(a, &z)| *a *= z)
            }
            Activation::Selu => {
                let scales = (T::of(SELU_SCALE), T::of(SELU_SCALE * SELU_ALPHA));
                exp_linear(z, bias, a, cols, scales)
            }
            Activation::Custom(f) => map(z, bias, a, cols, |z| T::of(f.value(z.f64()))),
            Activation::Softmax => {
                map(z, bias, a, cols, |z| z);
                for row in a.chunks_exact_mut(cols) {
                    softmax_in_place(row);
                }
            }
        }
    }

    /// Backward pass over a batch: turns ∂E/∂h (in `grad`) into ∂E/∂h' = ∂E/∂h ⊙ Φ'(h'), in place.
    ///
    /// # Shapes
    /// `z` (h'), `a` (h), `grad`: `[batch × cols]` row-major.
    pub fn backward<T: Float>(&self, z: &[T], a: &[T], grad: &mut [T], cols: usize) {
        fn zip<T: Float>(z: &[T], a: &[T], g: &mut [T], df: impl Fn(T, T) -> T) {
            for ((g, &z), &a) in g.iter_mut().zip(z).zip(a) {
                *g *= df(z, a);
            }
        }
        // As `zip`, with k = kernel(pre(h')) beside h' and h: the whole-slice kernels (σ, exp) run
        // in SIMD but write in place, so they fill a buffer on the stack a chunk at a time.
        fn zip_with<T: Float>(
            z: &[T],
            a: &[T],
            g: &mut [T],
            (pre, kernel): (impl Fn(T) -> T, fn(&mut [T])),
            df: impl Fn(T, T, T) -> T,
        ) {
            const CHUNK: usize = 256;
            let mut buf = [T::ZERO; CHUNK];
            for ((z, a), g) in z
                .chunks(CHUNK)
                .zip(a.chunks(CHUNK))
                .zip(g.chunks_mut(CHUNK))
            {
                let k = &mut buf[..z.len()];
                k.iter_mut().zip(z).for_each(|(k, &z)| *k = pre(z));
                kernel(k);
                for (((g, &z), &a), &k) in g.iter_mut().zip(z).zip(a).zip(k.iter()) {
                    *g *= df(z, a, k);
                }
            }
        }
        let sigma = (|z| z, T::sigmoid_in_place as fn(&mut [T]));
        match self {
            Activation::Identity => {}
            Activation::Sigmoid => zip(z, a, grad, |_, a| a * (T::ONE - a)),
            Activation::Tanh => zip(z, a, grad, |_, a| T::ONE - a * a),
            Activation::Relu => {
                // A select, not a conditional store: no branch to mispredict on random signs, and
                // the loop vectorises (a branchy version measured 4.5 ns per element, `cargo bench`).
                for (g, &z) in grad.iter_mut().zip(z) {
                    *g = if z > T::ZERO { *g } else { T::ZERO };
                }
            }
            Activation::LeakyRelu(alpha) => {
                let al = T::of(*alpha);
                zip(z, a, grad, |z, _| if z > T::ZERO { T::ONE } else { al })
            }
            Activation::Elu(alpha) => {
                let al = T::of(*alpha);
                zip(z, a, grad, |z, a| if z > T::ZERO { T::ONE } else { a + al })
            }
            // Φ'(h') = Ψ(h') + h'·φ(h'), φ(h') = e^{−h'²/2}/√(2π): Ψ and the exponential over
            // whole chunks (SIMD for f32).
            Activation::Gelu => {
                const CHUNK: usize = 256;
                let (mut cdf, mut pdf) = ([T::ZERO; CHUNK], [T::ZERO; CHUNK]);
                let c = T::of(FRAC_1_SQRT_2PI);
                for (z, g) in z.chunks(CHUNK).zip(grad.chunks_mut(CHUNK)) {
                    let (p, e) = (&mut cdf[..z.len()], &mut pdf[..z.len()]);
                    p.copy_from_slice(z);
                    T::normal_cdf_in_place(p);
                    e.iter_mut()
                        .zip(z)
                        .for_each(|(e, &z)| *e = T::of(-0.5) * z * z);
                    T::exp_in_place(e);
                    for (((g, &z), &p), &e) in g.iter_mut().zip(z).zip(p.iter()).zip(e.iter()) {
                        *g *= p + z * (c * e);
                    }
                }
            }
            Activation::Softplus => zip_with(z, a, grad, sigma, |_, _, s| s),
            Activation::Silu => zip_with(z, a, grad, sigma, |_, a, s| s + a * (T::ONE - s)),
            Activation::Selu => {
                let (l, la) = (T::of(SELU_SCALE), T::of(SELU_SCALE * SELU_ALPHA));
                zip(z, a, grad, |z, a| if z > T::ZERO { l } else { a + la })
            }
            Activation::Custom(f) => zip(z, a, grad, |z, _| T::of(f.derivative(z.f64()))),
            Activation::Softmax => {
                for (g, p) in grad.chunks_exact_mut(cols).zip(a.chunks_exact(cols)) {
                    let dot = g.iter().zip(p).fold(T::ZERO, |s, (&g, &p)| s + g * p);
                    for (g, &p) in g.iter_mut().zip(p) {
                        *g = p * (*g - dot);
                    }
                }
            }
        }
    }
}

/// SELU's λ and α, PyTorch's (`torch.nn.SELU`) to f64's precision.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// Φ and Φ' of one value, through the batch code so there is one definition of each.
fn scalar(act: &Activation, z: f64) -> (f64, f64) {
    let mut zz = [z];
    let mut a = [0.0];
    act.forward(&mut zz, None, &mut a, 1);
    let mut g = [1.0];
    act.backward(&zz, &a, &mut g, 1);
    (a[0], g[0])
}

/// σ(z) = 1/(1 + e^{−z}), computed without overflow for either sign.
#[inline(always)]
pub(crate) fn sigmoid<T: Float>(z: T) -> T {
    if z >= T::ZERO {
        T::ONE / (T::ONE + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::ONE + e)
    }
}

/// ln(1 + e^z) = max(z, 0) + ln(1 + e^{−|z|}), stable for large |z|.
#[inline(always)]
pub(crate) fn softplus<T: Float>(z: T) -> T {
    z.max(T::ZERO) + (-z.abs()).exp().ln_1p()
}

/// 1/√(2π), the standard normal density's height at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// pᵢ = e^{zᵢ − max z} / Σⱼ e^{zⱼ − max z}: shifting by the maximum keeps every exponent ≤ 0.
pub(crate) fn softmax_in_place<T: Float>(row: &mut [T]) {
    let max = row.iter().fold(row[0], |m, &v| m.max(v));
    let mut sum = T::ZERO;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = T::ONE / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Identity => write!(f, "identity"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu(a) => write!(f, "leaky_relu({a})"),
            Activation::Elu(a) => write!(f, "elu({a})"),
            Activation::Gelu => write!(f, "gelu"),
            Activation::Softplus => write!(f, "softplus"),
            Activation::Silu => write!(f, "silu"),
            Activation::Selu => write!(f, "selu"),
            Activation::Softmax => write!(f, "softmax"),
            Activation::Custom(c) => write!(f, "custom:{}", c.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for act in Activation::builtin() {
            assert_eq!(Activation::parse(&act.to_string()).unwrap(), act);
        }
        assert_eq!(Activation::parse("ReLU").unwrap(), Activation::Relu);
        assert_eq!(Activation::parse("Swish").unwrap(), Activation::Silu);
        assert!(Activation::parse("mish")
            .unwrap_err()
            .contains("unknown activation"));
    }

    #[test]
    fn derivatives_match_central_differences() {
        let h = 1e-6;
        for act in Activation::builtin() {
            if act == Activation::Softmax {
                continue; // not element-wise: covered by the gradient checks of whole networks
            }
            for &z in &[-3.1, -0.7, -0.2, 0.3, 0.9, 2.5] {
                let fd = (act.value(z + h) - act.value(z - h)) / (2.0 * h);
                let d = act.derivative(z);
                assert!(
                    (fd - d).abs() < 1e-8,
                    "{act}: Φ'({z}) = {d}, finite difference {fd}"
                );
            }
        }
    }

    #[test]
    fn stable_at_extremes() {
        for z in [-1000.0f64, 1000.0] {
            for act in [
                Activation::Sigmoid,
                Activation::Softplus,
                Activation::Tanh,
                Activation::Silu,
                Activation::Selu,
            ] {
                assert!(
                    act.value(z).is_finite() && act.derivative(z).is_finite(),
                    "{act} at {z}"
                );
            }
        }
        let mut row = [1000.0f32, 0.0, -1000.0];
        softmax_in_place(&mut row);
        assert_eq!(row, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn f32_batches_agree_with_f64_values() {
        // The f32 batch passes (SIMD kernels for tanh, σ, exp) against the f64 per-value path,
        // over [−12, 12] and far past it: forward and backward within 1e-6 relative where |Φ| ≥ 1,
        // 1e-6 absolute below (σ' = a(1 − a) and tanh' = 1 − a² cancel where a nears 1, in f32 as
        // in PyTorch: relative errors of 1e-6 there come from the formula, not the kernels);
        // finite where f64 is, and NaN in, NaN out.
        let mut zs: Vec<f64> = (-1200..=1200).map(|i| i as f64 / 100.0).collect();
        zs.extend([-1000.0, -90.0, 90.0, 1000.0]);
        for act in Activation::builtin() {
            if act == Activation::Softmax {
                continue; // a row function; softmax_in_place is tested above
            }
            let mut z32: Vec<f32> = zs.iter().map(|&z| z as f32).collect();
            let mut a32 = vec![0f32; z32.len()];
            act.forward(&mut z32, None, &mut a32, zs.len());
            let mut g32 = vec![1f32; zs.len()];
            act.backward(&z32, &a32, &mut g32, zs.len());
            for (i, &z) in zs.iter().enumerate() {
                let (a, d) = scalar(&act, z32[i] as f64);
                for (what, got, want) in [("Φ", a32[i], a), ("Φ'", g32[i], d)] {
                    let err = (got as f64 - want).abs();
                    assert!(
                        err <= 1e-6 * want.abs().max(1.0),
                        "{act} {what}({z}): f32 {got:e}, f64 {want:e}"
                    );
                }
            }
            let (mut z, mut a) = ([f32::NAN; 3], [0f32; 3]);
            act.forward(&mut z, None, &mut a, 3);
            assert!(a.iter().all(|v| v.is_nan()), "{act}: NaN in, {a:?} out");
        }
    }
}
