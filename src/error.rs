//! One error enum for the outside world: files, parsing, configuration, model files, devices.
//!
//! Programmer errors (a shape mismatch inside the library's own calls) panic with a message instead;
//! everything a user can get wrong — a file, a flag, a model — comes back as an [`Error`] that names
//! the file, the line and column or the tensor, and what was expected.

use std::path::PathBuf;

/// Everything that can go wrong because of input from outside the program.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file holds something other than what was expected at a given place.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    /// A data file as a whole is unusable (wrong size, wrong magic number, no rows, …).
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    /// A configuration value or combination is invalid.
    #[error("{0}")]
    Config(String),
    /// A model or checkpoint file is corrupt, truncated or from an unknown version.
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },
    /// Training produced a non-finite loss.
    #[error("training diverged at epoch {epoch}, batch {batch}: the loss is {loss}; try a lower learning rate (now {learning_rate})")]
    Diverged {
        epoch: usize,
        batch: usize,
        loss: f64,
        learning_rate: f64,
    },
    /// The requested device is not available in this build or on this machine.
    #[error("device {device}: {message}")]
    Device { device: String, message: String },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    /// A data error on `path` as a whole.
    pub fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            message: message.into(),
        }
    }
    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
}
