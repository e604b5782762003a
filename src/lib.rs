//! # mlp — feedforward networks trained by backpropagation
//!
//! The system of the seed derivation made real: a network is a stack of dense layers
//! h = Φ(x·W + b), the error E is measured at the output, and each weight moves by
//! W_new = W_prev + α·(−∂E/∂W), the gradient found by the chain rule, summed over every path.
//!
//! The everyday path — describe the layers, fit, predict:
//!
//! ```
//! use mlp::{data, metrics, Activation, NetworkSpec, TrainConfig};
//!
//! let iris = data::builtin::load::<f32>("iris")?;
//! let (train, test) = iris.split(0.2, 7);                 // stratified, seeded
//! let mut net = NetworkSpec::new(4)
//!     .dense(16, Activation::Relu)
//!     .dense(3, Activation::Softmax)                       // cross-entropy is implied
//!     .build::<f32>(7);
//! let config = TrainConfig { epochs: 100, learning_rate: 0.01, ..Default::default() };
//! mlp::fit(&mut net, &train, &config)?;
//! let acc = metrics::accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
//! assert!(acc > 0.9, "accuracy {acc}");
//! # Ok::<(), mlp::Error>(())
//! ```
//!
//! Modules follow the data path: [`data`] → [`batches`] → [`activation`], [`dense`], [`batch_norm`],
//! [`layer_norm`] and [`dropout`] (forward and backward of each piece) → [`network`] → [`loss`] → [`optim`] → [`train`] → [`metrics`], with
//! [`gradcheck`] to verify the backward pass against finite differences, [`explain`] to trace one
//! step, and [`attribution`] to say which inputs a prediction owes to.

pub mod activation;
pub mod attribution;
pub mod batch_norm;
pub mod batches;
#[cfg(feature = "cuda")]
mod cuda;
pub mod data;
pub mod dense;
pub mod device;
pub mod dropout;
pub mod error;
pub mod explain;
pub mod gradcheck;
pub mod init;
pub mod layer_norm;
pub mod loss;
pub mod metrics;
pub mod model_file;
pub mod network;
pub mod optim;
pub mod tensor;
pub mod train;

pub use activation::{Activation, CustomActivation};
pub use batch_norm::BatchNorm;
pub use batches::Augment;
pub use data::{Dataset, Targets, Task};
pub use dense::{Dense, Normalization};
pub use device::{Device, Matmul};
pub use dropout::{Draw, Dropout};
pub use error::{Error, Result};
pub use gradcheck::{gradient_check, gradient_check_with_dropout, GradCheckReport};
pub use init::{Bias, Init, Rng};
pub use layer_norm::LayerNorm;
pub use loss::{ClassWeight, CustomLoss, Loss, TargetsRef};
pub use network::{Layer, Network, NetworkSpec, Workspace};
pub use optim::{AdamParams, Optimizer, OptimizerState, RmsPropParams, Schedule, Warmup};
pub use tensor::{Float, Matrix, Par, View};
pub use train::{
    fit, fit_with_progress, Control, EpochRecord, History, Progress, TrainConfig, Trainer,
};
