//! Where training runs: the CPU, or an NVIDIA GPU with the `cuda` feature.
//!
//! One dispatch point, so callers never write `#[cfg]`: [`Device::check`] answers whether the
//! device can train in this build on this machine, with a message that says what to do when not.
//! Without the `cuda` feature a stub answers for CUDA (as candle's `dummy_cuda_backend.rs` does);
//! with it, `crate::cuda` trains on the GPU through the same [`Run`] interface.

use std::fmt;

use crate::error::{Error, Result};

/// A place to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// The GPU with this ordinal.
    Cuda(usize),
}

impl Device {
    /// Parses `cpu`, `cuda` (GPU 0) or `cuda:N`.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Device::Cuda(n)),
                _ => Err(Error::config(format!(
                    "--device {s}: expected cpu, cuda or cuda:N"
                ))),
            },
        }
    }

    /// Whether training can run on this device here.
    pub fn check(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda(n) => backend::check(*n),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// How the GPU multiplies f32 matrices. The CPU always computes in full f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Matmul {
    /// Full f32 products (PyTorch's default, `allow_tf32 = False`).
    #[default]
    F32,
    /// TF32 tensor cores: f32 inputs rounded to a 10-bit mantissa, f32 accumulation and master
    /// weights. Faster on large layers, relative error near 3e-4 per product.
    Tf32,
    /// bf16 tensor cores (cuBLAS's `CUBLAS_COMPUTE_32F_FAST_16BF`): each product's inputs rounded
    /// to bf16's 8-bit mantissa inside the product, f32 accumulation; activations, gradients and
    /// master weights stay in f32 (PyTorch's autocast would also store activations in bf16).
    /// Relative error near 3e-3 per product.
    Bf16,
}

impl Matmul {
    /// Parses `--precision`'s GPU modes: `f32`, `tf32` or `bf16`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "f32" => Some(Matmul::F32),
            "tf32" => Some(Matmul::Tf32),
            "bf16" => Some(Matmul::Bf16),
            _ => None,
        }
    }

    /// The name `parse` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Matmul::F32 => "f32",
            Matmul::Tf32 => "tf32",
            Matmul::Bf16 => "bf16",
        }
    }
}

/// What a device reports after an epoch: the batches' losses and the epoch's tally.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceEpoch {
    /// Mean loss of each batch trained, in order.
    pub losses: Vec<f64>,
    /// Rows of each of those batches.
    pub rows: Vec<usize>,
    /// Rows whose class was predicted (class targets).
    pub correct: f64,
    /// Per output, with target values: Σ(y−d)², Σd, Σd².
    pub sse: Vec<f64>,
    pub sd: Vec<f64>,
    pub sdd: Vec<f64>,
}

pub use backend::Run;

#[cfg(not(feature = "cuda"))]
mod backend {
    use super::*;
    use crate::data::Dataset;
    use crate::loss::Loss;
    use crate::network::Network;
    use crate::optim::OptimizerState;
    use crate::tensor::Float;
    use crate::train::TrainConfig;

    /// The stub: this build has no CUDA code.
    pub fn check(n: usize) -> Result<()> {
        Err(Error::Device {
            device: format!("cuda:{n}"),
            message: "this mlp was built without CUDA support; build it with `cargo build --release --features cuda`".into(),
        })
    }

    /// A training run on a GPU; in this build none can be made (see `check`).
    pub struct Run(Never);

    enum Never {}

    impl Run {
        pub fn new<T: Float>(
            _net: &Network<T>,
            _loss: (&Loss, &[T]),
            config: &TrainConfig,
            _state: &OptimizerState<T>,
            _train: &Dataset<T>,
            _batch: usize,
        ) -> Result<Self> {
            match config.device {
                Device::Cuda(n) => check(n).map(|()| unreachable!("the stub never succeeds")),
                Device::Cpu => Err(Error::config("a GPU run on the CPU device")),
            }
        }

        pub fn device_name(&self) -> String {
            match self.0 {}
        }

        pub fn uses_graphs(&self) -> bool {
            match self.0 {}
        }

        pub fn kernels(&self) -> &'static str {
            match self.0 {}
        }

        pub fn epoch(
            &mut self,
            _order: &[usize],
            _at: (usize, usize),
            _lr: f64,
        ) -> Result<DeviceEpoch> {
            match self.0 {}
        }

        pub fn download<T: Float>(
            &self,
            _net: &mut Network<T>,
            _state: &mut OptimizerState<T>,
        ) -> Result<()> {
            match self.0 {}
        }

        pub fn time_steps(&mut self, _warmup: usize, _steps: usize) -> Result<f64> {
            match self.0 {}
        }
    }
}

#[cfg(feature = "cuda")]
mod backend {
    pub use crate::cuda::{check, Run};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_check() {
        assert_eq!(Device::parse("cuda:1").unwrap(), Device::Cuda(1));
        assert_eq!(Device::parse("CPU").unwrap(), Device::Cpu);
        assert!(Device::parse("tpu").is_err());
        assert!(Device::Cpu.check().is_ok());
        let e = Device::Cuda(0).check().unwrap_err().to_string();
        assert!(e.starts_with("device cuda:0: "), "{e}");
    }
}
