//! Where training runs: the CPU, or an NVIDIA GPU with the `cuda` feature.
//!
//! One dispatch point, so callers never write `#[cfg]`: [`Device::check`] answers whether the
//! device can train in this build on this machine, with a message that says what to do when not.
//! Without the `cuda` feature a stub answers for CUDA (as candle's `dummy_cuda_backend.rs` does).

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

#[cfg(not(feature = "cuda"))]
mod backend {
    use super::*;

    /// The stub: this build has no CUDA code.
    pub fn check(n: usize) -> Result<()> {
        Err(Error::Device {
            device: format!("cuda:{n}"),
            message: "this mlp was built without CUDA support; build it with `cargo build --release --features cuda`".into(),
        })
    }
}

#[cfg(feature = "cuda")]
mod backend {
    use super::*;

    /// The CUDA backend is not written yet (issue 6): say so plainly rather than train on the CPU.
    pub fn check(n: usize) -> Result<()> {
        Err(Error::Device {
            device: format!("cuda:{n}"),
            message:
                "training on CUDA is not implemented in this version of mlp yet; use --device cpu"
                    .into(),
        })
    }
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
