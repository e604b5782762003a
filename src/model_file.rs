//! Model and checkpoint files: safetensors, loadable by PyTorch, written atomically.
//!
//! # Layout
//! Tensors are named as `torch.nn.Sequential` names a stack of `nn.Linear` and activation modules:
//! layer k is `nn.Linear` at index 2k followed by its activation module at 2k+1, so its tensors are
//! `"{2k}.weight"`, shape `[outputs, inputs]` (PyTorch's layout, the transpose of the W of the seed
//! and of this crate), and `"{2k}.bias"`, shape `[outputs]`. A batch-normalised network (format 3)
//! has an `nn.BatchNorm1d` between each hidden Linear and its activation, so the indices step by 3
//! there: `"{i+1}.weight"` (γ), `"{i+1}.bias"` (β), `"{i+1}.running_mean"`, `"{i+1}.running_var"`
//! and the int64 scalar `"{i+1}.num_batches_tracked"` after Linear i ([`Network::parameters`],
//! [`Network::running_stats`]). A layer-normalised network (format 4) has an `nn.LayerNorm` there
//! instead, with `"{i+1}.weight"` (γ) and `"{i+1}.bias"` (β) only. `load_state_dict` takes them unchanged;
//! `scripts/load_in_pytorch.py` builds the module from the metadata.
//!
//! The safetensors header's `__metadata__` holds one string, `mlp`: a JSON document ([`ModelMeta`])
//! with the format version, architecture, preprocessing, label names, training configuration and
//! metrics. (One key, because the header's metadata map has no fixed order: with one key the same
//! model always gives the same bytes.) A checkpoint is a model file with more: tensors
//! `checkpoint.optimizer.m`, `checkpoint.optimizer.v`, `checkpoint.best` (flat, in this crate's
//! parameter order), with L-BFGS `checkpoint.optimizer.lbfgs_s` and `…lbfgs_y` (`[pairs × params]`,
//! f64), and a `checkpoint` member ([`TrainState`]) in the JSON document; its weights
//! are the ones training goes on from (the last epoch's, not early stopping's best).
//!
//! Every file is written to a temporary file in the same folder, flushed to disk, and renamed over
//! the target, so a crash leaves either the old file or the new one, never half of one.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::batch_norm::BatchNorm;
use crate::data::images::ImageShape;
use crate::data::{feature_columns, Categorical, Imputer, Missing, Standardizer, Task};
use crate::error::{Error, Result};
use crate::init::{Bias, Rng};
use crate::layer_norm::LayerNorm;
use crate::network::{Network, NetworkSpec};
use crate::optim::{OptimizerState, ScheduleState};
use crate::tensor::{Float, Matrix};
use crate::train::History;

/// The newest file format this build reads. Version 2 added one-hot encoded text columns
/// ([`Preprocessing::categorical`]), version 3 batch normalisation ([`Architecture::batch_norm`]),
/// version 4 layer normalisation ([`Architecture::layer_norm`]); a file is written in the oldest
/// version that holds it ([`Preprocessing::format_version`], [`Architecture::format_version`]).
pub const FORMAT_VERSION: u32 = 4;

/// One layer as recorded in a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerMeta {
    pub units: usize,
    /// As [`Activation`]'s `Display` writes it (`relu`, `leaky_relu(0.01)`, …).
    pub activation: String,
}

/// The network's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub inputs: usize,
    pub layers: Vec<LayerMeta>,
    pub bias: bool,
    /// Batch normalisation of every hidden layer (format version 3): its tensors are those of
    /// an `nn.BatchNorm1d` after each hidden `nn.Linear` (see [`Network::parameters`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_norm: Option<BatchNorm>,
    /// Layer normalisation of every hidden layer (format version 4): its tensors are those of an
    /// `nn.LayerNorm` after each hidden `nn.Linear`, γ and β (no running statistics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_norm: Option<LayerNorm>,
}

/// What is done to data before the network sees it, and to its outputs after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Preprocessing {
    /// z = (x − mean)/std per feature, with training statistics.
    pub features: Option<Standardizer>,
    /// Regression: the network predicts standardised targets; predictions are mapped back.
    pub target: Option<Standardizer>,
    /// Text columns of the data, one-hot encoded (format version 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<Categorical>,
    /// Missing values filled with training statistics, before standardising (format version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impute: Option<Imputer>,
    /// A model of images (an image folder, MNIST): the shape new images are read to, so that
    /// `predict` takes image files. Older builds ignore it and read such a model's rows as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageShape>,
}

impl Preprocessing {
    /// The oldest file format that holds this: 2 with one-hot encoded columns or missing values
    /// filled, else 1 (so that such a model stays readable by builds that read only version 1).
    pub fn format_version(&self) -> u32 {
        if self.categorical.is_empty() && self.impute.is_none() {
            1
        } else {
            2
        }
    }

    /// How this model's data is read: with missing values where it fills them, else refusing them.
    pub fn missing(&self) -> Missing {
        Missing::unless_filled(self.impute.as_ref())
    }

    /// The network's inputs from features as read: missing values filled, then standardised.
    pub fn prepare<T: Float>(&self, x: &mut Matrix<T>) {
        if let Some(i) = &self.impute {
            i.apply(x);
        }
        if let Some(s) = &self.features {
            s.apply(x);
        }
    }
}

/// Everything about a model except its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub format_version: u32,
    /// The mlp version that wrote the file.
    pub mlp_version: String,
    /// `f32` or `f64`: the training precision and the stored dtype.
    pub precision: String,
    pub architecture: Architecture,
    pub task: Task,
    /// The loss it was trained with.
    pub loss: String,
    pub feature_names: Vec<String>,
    /// The target column's name in the training data, when it had one; several, a multi-output
    /// regression's, are joined by commas (`price,rent`), as `--target` takes them.
    pub target_name: Option<String>,
    /// Classification: the label of each output, in order.
    pub class_names: Vec<String>,
    pub preprocessing: Preprocessing,
    /// The training configuration, as the flags and config keys name it.
    pub training: serde_json::Value,
    /// Metrics at save time (test and validation figures).
    pub metrics: serde_json::Value,
}

impl ModelMeta {
    /// The data columns behind the network's inputs, in order (a one-hot encoded column once).
    pub fn columns(&self) -> Vec<String> {
        feature_columns(&self.feature_names, &self.preprocessing.categorical)
    }

    /// The target columns' names (several for a multi-output regression); none when unknown.
    pub fn target_columns(&self) -> Vec<&str> {
        self.target_name
            .as_deref()
            .map_or(Vec::new(), |t| t.split(',').collect())
    }
}

impl Architecture {
    /// The architecture of `net`.
    pub fn of<T: Float>(net: &Network<T>) -> Self {
        Architecture {
            inputs: net.inputs,
            layers: net
                .layers
                .iter()
                .map(|l| LayerMeta {
                    units: l.outputs,
                    activation: l.activation.to_string(),
                })
                .collect(),
            bias: net.has_bias(),
            batch_norm: net.batch_norm(),
            layer_norm: net.layer_norm(),
        }
    }

    /// The oldest file format that holds this: 4 with layer normalisation, 3 with batch
    /// normalisation, else 1.
    pub fn format_version(&self) -> u32 {
        if self.layer_norm.is_some() {
            4
        } else if self.batch_norm.is_some() {
            3
        } else {
            1
        }
    }

    /// The spec to rebuild the network from.
    pub fn spec(&self) -> std::result::Result<NetworkSpec, String> {
        let mut spec =
            NetworkSpec::new(self.inputs).bias(if self.bias { Bias::Zero } else { Bias::None });
        if self.inputs == 0 || self.layers.is_empty() {
            return Err("the architecture has no inputs or no layers".into());
        }
        for (k, l) in self.layers.iter().enumerate() {
            let act = Activation::parse(&l.activation)?;
            if l.units == 0 {
                return Err(format!("layer {k} has zero units"));
            }
            if act == Activation::Softmax && k + 1 != self.layers.len() {
                return Err(format!("layer {k}: softmax on a hidden layer"));
            }
            spec = spec.dense(l.units, act);
        }
        if let Some(bn) = self.batch_norm {
            if !(bn.eps > 0.0 && bn.eps.is_finite() && (0.0..=1.0).contains(&bn.momentum)) {
                return Err(format!(
                    "batch normalisation with eps {} and momentum {}; expected eps > 0 and momentum in [0, 1]",
                    bn.eps, bn.momentum
                ));
            }
            spec = spec.batch_norm(bn);
        }
        if let Some(ln) = self.layer_norm {
            if self.batch_norm.is_some() {
                return Err(
                    "both batch and layer normalisation; a layer has one or the other".into(),
                );
            }
            if !(ln.eps > 0.0 && ln.eps.is_finite()) {
                return Err(format!(
                    "layer normalisation with eps {}; expected eps > 0",
                    ln.eps
                ));
            }
            spec = spec.layer_norm(ln);
        }
        Ok(spec)
    }

    /// Number of parameters, without building the network (checked arithmetic: the metadata may lie).
    pub fn param_count(&self) -> Option<usize> {
        let mut inputs = self.inputs;
        let mut total = 0usize;
        for (k, l) in self.layers.iter().enumerate() {
            let w = inputs.checked_mul(l.units)?;
            let normalised = (self.batch_norm.is_some() || self.layer_norm.is_some())
                && k + 1 < self.layers.len();
            total = total
                .checked_add(w)?
                .checked_add(if self.bias { l.units } else { 0 })?
                .checked_add(if normalised { 2 * l.units } else { 0 })?;
            inputs = l.units;
        }
        Some(total)
    }
}

impl std::fmt::Display for Architecture {
    /// `4-128-3 (relu, softmax)`, with `, no bias` when there is none.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut widths = vec![self.inputs.to_string()];
        widths.extend(self.layers.iter().map(|l| l.units.to_string()));
        let acts: Vec<&str> = self.layers.iter().map(|l| l.activation.as_str()).collect();
        write!(f, "{} ({})", widths.join("-"), acts.join(", "))?;
        if !self.bias {
            write!(f, ", no bias")?;
        }
        if self.batch_norm.is_some() {
            write!(f, ", batch-normalised")?;
        }
        if self.layer_norm.is_some() {
            write!(f, ", layer-normalised")?;
        }
        Ok(())
    }
}

/// A trained network with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Model<T> {
    pub meta: ModelMeta,
    pub network: Network<T>,
}

/// The trainer's state a checkpoint holds besides the weights, so that `--resume` continues exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: usize,
    pub optimizer_step: u64,
    pub rng: Rng,
    pub schedule: ScheduleState,
    pub history: History,
    /// Early stopping: the best monitored loss, its epoch and the epochs since (the weights are
    /// the `checkpoint.best` tensor).
    pub best: Option<(f64, usize, usize)>,
    pub finished: bool,
    /// A fingerprint of the training data, to refuse resuming on other data.
    pub data_fingerprint: String,
    /// Where an interrupted epoch stopped (a checkpoint written on Ctrl-C).
    #[serde(default)]
    pub position: Option<crate::train::EpochPosition>,
}

/// A checkpoint: the model, the trainer's state, the optimizer's moments and the best weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<T> {
    pub model: Model<T>,
    pub state: TrainState,
    pub optimizer: OptimizerState<T>,
    pub best_params: Option<Vec<T>>,
}

fn dtype_of<T: Float>() -> Dtype {
    if T::NAME == "f64" {
        Dtype::F64
    } else {
        Dtype::F32
    }
}

fn to_bytes<T: Float>(values: impl IntoIterator<Item = T>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        if T::NAME == "f64" {
            out.extend_from_slice(&v.f64().to_le_bytes());
        } else {
            out.extend_from_slice(&(v.f64() as f32).to_le_bytes());
        }
    }
    out
}

/// Named tensors of the network, weights transposed to `[outputs, inputs]`.
/// A tensor to write: name, shape and little-endian bytes of the dtype.
struct Tensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Tensor {
    fn of<T: Float>(name: String, shape: Vec<usize>, values: impl IntoIterator<Item = T>) -> Self {
        Tensor {
            name,
            dtype: dtype_of::<T>(),
            shape,
            bytes: to_bytes(values),
        }
    }
}

fn network_tensors<T: Float>(net: &Network<T>) -> Vec<Tensor> {
    let mut out = Vec::new();
    for p in net.running_stats() {
        if p.name.ends_with("running_mean") {
            // PyTorch's count of training batches, an int64 scalar beside the statistics.
            out.push(Tensor {
                name: p.name.replace("running_mean", "num_batches_tracked"),
                dtype: Dtype::I64,
                shape: vec![],
                bytes: (net.batches_tracked as i64).to_le_bytes().to_vec(),
            });
        }
        let v = net.buffers[p.offset..p.offset + p.shape[0]].iter().copied();
        out.push(Tensor::of(p.name, p.shape, v));
    }
    for p in net.parameters() {
        if p.shape.len() == 2 {
            let (i, o) = (p.shape[0], p.shape[1]);
            let w = &net.params[p.offset..p.offset + i * o];
            let t = (0..o).flat_map(|r| (0..i).map(move |c| w[c * o + r]));
            out.push(Tensor::of(p.name, vec![o, i], t));
        } else {
            let n = p.shape[0];
            out.push(Tensor::of(
                p.name,
                vec![n],
                net.params[p.offset..p.offset + n].iter().copied(),
            ));
        }
    }
    out
}

fn serialize(tensors: Vec<Tensor>, metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|t| {
            TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| Error::config(format!("tensor {}: {e}", t.name)))
        })
        .collect::<Result<_>>()?;
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::config(format!("cannot serialise the model: {e}")))
}

fn model_metadata(meta: &ModelMeta, checkpoint: Option<&TrainState>) -> HashMap<String, String> {
    let mut doc = serde_json::to_value(meta).expect("metadata serialises");
    if let Some(state) = checkpoint {
        doc["checkpoint"] = serde_json::to_value(state).expect("state serialises");
    }
    HashMap::from([("mlp".to_string(), doc.to_string())])
}

impl<T: Float> Model<T> {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serialize(
            network_tensors(&self.network),
            model_metadata(&self.meta, None),
        )
    }

    /// Writes the model to `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a model file, converting its weights to `T`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses a model file's bytes; `path` names it in messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let st = parse(bytes, path)?;
        let (meta, _) = read_meta(bytes, path)?;
        let network = read_network::<T>(&st, &meta, path)?;
        Ok(Model { meta, network })
    }
}

impl<T: Float> Checkpoint<T> {
    /// Writes the checkpoint to `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = network_tensors(&self.model.network);
        let flat = |name: &str, v: &[T]| Tensor::of(name.into(), vec![v.len()], v.iter().copied());
        tensors.push(flat("checkpoint.optimizer.m", &self.optimizer.m));
        tensors.push(flat("checkpoint.optimizer.v", &self.optimizer.v));
        if let Some(b) = &self.best_params {
            tensors.push(flat("checkpoint.best", b));
        }
        let history = &self.optimizer.history;
        if !history.is_empty() {
            // L-BFGS's pairs, one row each, in f64 as they are kept.
            let shape = vec![history.len(), self.model.network.param_count()];
            let s = history.iter().flat_map(|p| p.s.iter().copied());
            let y = history.iter().flat_map(|p| p.y.iter().copied());
            tensors.push(Tensor::of(
                "checkpoint.optimizer.lbfgs_s".into(),
                shape.clone(),
                s,
            ));
            tensors.push(Tensor::of("checkpoint.optimizer.lbfgs_y".into(), shape, y));
        }
        let md = model_metadata(&self.model.meta, Some(&self.state));
        write_atomic(path, &serialize(tensors, md)?)
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses a checkpoint's bytes; `path` names it in messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let st = parse(bytes, path)?;
        let (meta, md) = read_meta(bytes, path)?;
        let network = read_network::<T>(&st, &meta, path)?;
        let bad = |m: String| Error::Model {
            path: path.into(),
            message: m,
        };
        let state: TrainState = md
            .get("checkpoint")
            .ok_or_else(|| {
                bad(
                    "a model file, not a checkpoint; --resume takes a file written by --checkpoint"
                        .into(),
                )
            })
            .and_then(|s| {
                serde_json::from_value(s.clone())
                    .map_err(|e| bad(format!("checkpoint metadata: {e}")))
            })?;
        let n = network.param_count();
        let flat = |name: &str, n: usize, optional: bool| -> Result<Option<Vec<T>>> {
            match st.tensor(name) {
                Ok(t) => {
                    let v = tensor_values::<T>(&t, name, path)?;
                    if !v.is_empty() && v.len() != n {
                        return Err(bad(format!(
                            "tensor {name} holds {} values; expected 0 or {n}",
                            v.len()
                        )));
                    }
                    Ok(Some(v))
                }
                Err(_) if optional => Ok(None),
                Err(_) => Err(bad(format!("tensor {name} is missing"))),
            }
        };
        let m = flat("checkpoint.optimizer.m", n, false)?.unwrap_or_default();
        let v = flat("checkpoint.optimizer.v", n, false)?.unwrap_or_default();
        // The best network's state: its parameters, then its running statistics.
        let best_params = flat("checkpoint.best", n + network.buffers.len(), true)?;
        let pairs = |name: &str| -> Result<Vec<Vec<f64>>> {
            let Ok(t) = st.tensor(name) else {
                return Ok(Vec::new());
            };
            if t.shape().len() != 2 || t.shape()[1] != n {
                return Err(bad(format!(
                    "tensor {name} has shape {:?}; expected [pairs, {n}]",
                    t.shape()
                )));
            }
            let v = tensor_values::<f64>(&t, name, path)?;
            Ok(v.chunks(n).map(<[f64]>::to_vec).collect())
        };
        let (s, y) = (
            pairs("checkpoint.optimizer.lbfgs_s")?,
            pairs("checkpoint.optimizer.lbfgs_y")?,
        );
        if s.len() != y.len() {
            return Err(bad(format!(
                "L-BFGS's memory holds {} steps and {} gradient changes; expected as many of each",
                s.len(),
                y.len()
            )));
        }
        let history = s
            .into_iter()
            .zip(y)
            .map(|(s, y)| crate::optim::lbfgs::Pair { s, y })
            .collect();
        Ok(Checkpoint {
            optimizer: OptimizerState {
                step: state.optimizer_step,
                m,
                v,
                history,
            },
            model: Model { meta, network },
            state,
            best_params,
        })
    }
}

fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| Error::Model {
        path: path.into(),
        message: format!("not a valid safetensors file ({e}); it may be truncated or corrupt"),
    })
}

/// The metadata of a model file: the parsed document and its raw JSON.
pub fn read_meta(bytes: &[u8], path: &Path) -> Result<(ModelMeta, serde_json::Value)> {
    let bad = |m: String| Error::Model {
        path: path.into(),
        message: m,
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| {
        bad(format!(
            "not a valid safetensors file ({e}); it may be truncated or corrupt"
        ))
    })?;
    let doc = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("mlp"))
        .ok_or_else(|| bad("no 'mlp' metadata: not a model written by mlp".into()))?;
    let doc: serde_json::Value =
        serde_json::from_str(doc).map_err(|e| bad(format!("metadata 'mlp' is not JSON: {e}")))?;
    let version = doc
        .get("format_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| {
            bad("no format_version in the metadata: not a model written by mlp".into())
        })?;
    if version > FORMAT_VERSION as u64 {
        return Err(bad(format!(
            "written in format version {version} by a newer mlp; this mlp ({}) reads format {FORMAT_VERSION} and older",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let meta: ModelMeta =
        serde_json::from_value(doc.clone()).map_err(|e| bad(format!("metadata 'mlp': {e}")))?;
    // The one-hot columns' indicators: in order, apart, among the network's inputs.
    let mut next = 0;
    for c in &meta.preprocessing.categorical {
        let end = c.first_feature.saturating_add(c.categories.len());
        if c.categories.is_empty() || c.first_feature < next || end > meta.architecture.inputs {
            return Err(bad(format!(
                "metadata 'mlp': the one-hot column '{}' claims features {} to {}, but the \
                 network has {} inputs and the columns before it end at {next}",
                c.column,
                c.first_feature,
                end as i128 - 1,
                meta.architecture.inputs
            )));
        }
        next = end;
    }
    // A multi-label model names each output (its label columns).
    let outputs = meta.architecture.layers.last().map_or(0, |l| l.units);
    if meta.task == Task::MultiLabel && meta.class_names.len() != outputs {
        return Err(bad(format!(
            "metadata 'mlp': a multi-label model names {} labels for {outputs} outputs",
            meta.class_names.len()
        )));
    }
    Ok((meta, doc))
}

fn tensor_values<T: Float>(t: &TensorView<'_>, name: &str, path: &Path) -> Result<Vec<T>> {
    let d = t.data();
    match t.dtype() {
        Dtype::F32 => Ok(d
            .chunks_exact(4)
            .map(|c| T::of(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64))
            .collect()),
        Dtype::F64 => Ok(d
            .chunks_exact(8)
            .map(|c| T::of(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect()),
        other => Err(Error::Model {
            path: path.into(),
            message: format!("tensor {name} has dtype {other:?}; expected F32 or F64"),
        }),
    }
}

fn read_network<T: Float>(
    st: &SafeTensors<'_>,
    meta: &ModelMeta,
    path: &Path,
) -> Result<Network<T>> {
    let bad = |m: String| Error::Model {
        path: path.into(),
        message: m,
    };
    let arch = &meta.architecture;
    let count = arch
        .param_count()
        .ok_or_else(|| bad("the architecture's parameter count overflows".into()))?;
    // The tensors must hold the parameters: a header that claims more than the file carries is
    // refused before anything is built from it.
    let held: usize = st.tensors().iter().map(|(_, t)| t.data().len()).sum();
    if count.saturating_mul(4) > held {
        return Err(bad(format!(
            "the architecture needs {count} parameters but the file holds {held} bytes of tensors"
        )));
    }
    let spec = arch.spec().map_err(|e| bad(format!("architecture: {e}")))?;
    let mut net = spec.build::<T>(0);
    for p in net.parameters() {
        let t = st
            .tensor(&p.name)
            .map_err(|_| bad(format!("tensor {} is missing", p.name)))?;
        let want: Vec<usize> = if p.shape.len() == 2 {
            vec![p.shape[1], p.shape[0]]
        } else {
            p.shape.clone()
        };
        if t.shape() != want.as_slice() {
            return Err(bad(format!(
                "tensor {} has shape {:?}; expected {:?}",
                p.name,
                t.shape(),
                want
            )));
        }
        let v = tensor_values::<T>(&t, &p.name, path)?;
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "tensor {} holds a non-finite value at index {i}",
                p.name
            )));
        }
        if p.shape.len() == 2 {
            let (i, o) = (p.shape[0], p.shape[1]);
            for r in 0..o {
                for c in 0..i {
                    net.params[p.offset + c * o + r] = v[r * i + c];
                }
            }
        } else {
            net.params[p.offset..p.offset + v.len()].copy_from_slice(&v);
        }
    }
    for p in net.running_stats() {
        let t = st
            .tensor(&p.name)
            .map_err(|_| bad(format!("tensor {} is missing", p.name)))?;
        if t.shape() != p.shape.as_slice() {
            return Err(bad(format!(
                "tensor {} has shape {:?}; expected {:?}",
                p.name,
                t.shape(),
                p.shape
            )));
        }
        let v = tensor_values::<T>(&t, &p.name, path)?;
        let variance = p.name.ends_with("running_var");
        if let Some(i) = v
            .iter()
            .position(|x| !x.is_finite() || (variance && x.f64() < 0.0))
        {
            return Err(bad(format!(
                "tensor {} holds {} at index {i}; expected a finite{} number",
                p.name,
                v[i],
                if variance { ", non-negative" } else { "" }
            )));
        }
        net.buffers[p.offset..p.offset + v.len()].copy_from_slice(&v);
        let count = p.name.replace("running_mean", "num_batches_tracked");
        if let (false, Ok(t)) = (variance, st.tensor(&count)) {
            match (t.dtype(), t.data()) {
                (Dtype::I64, &[a, b, c, d, e, f, g, h]) => {
                    net.batches_tracked = i64::from_le_bytes([a, b, c, d, e, f, g, h]).max(0) as u64
                }
                _ => return Err(bad(format!("tensor {count}: expected one int64"))),
            }
        }
    }
    Ok(net)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename, and
/// fsync of the folder. A crash at any moment leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::config(format!("{}: not a file path", path.display())))?;
    // One temporary name per target: a write killed half-way leaves `.NAME.tmp`, which the next
    // write to the same file overwrites and renames away, so killed runs never pile up debris.
    // (Two processes writing the same file at once are not supported.)
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NetworkSpec;

    fn model() -> Model<f32> {
        let net = NetworkSpec::new(3)
            .dense(4, Activation::Relu)
            .dense(2, Activation::Softmax)
            .build::<f32>(1);
        Model {
            meta: ModelMeta {
                format_version: Preprocessing::default().format_version(),
                mlp_version: "test".into(),
                precision: "f32".into(),
                architecture: Architecture::of(&net),
                task: Task::Classification,
                loss: "cross_entropy".into(),
                feature_names: vec!["a".into(), "b".into(), "c".into()],
                target_name: Some("y".into()),
                class_names: vec!["no".into(), "yes".into()],
                preprocessing: Preprocessing::default(),
                training: serde_json::json!({}),
                metrics: serde_json::json!({}),
            },
            network: net,
        }
    }

    #[test]
    fn round_trip_and_pytorch_layout() {
        let m = model();
        let bytes = m.to_bytes().unwrap();
        let back = Model::<f32>::from_bytes(&bytes, Path::new("m")).unwrap();
        assert_eq!(back, m);
        // "0.weight" is [out, in]: element [r][c] is W[c][r].
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let t = st.tensor("0.weight").unwrap();
        assert_eq!(t.shape(), &[4, 3]);
        let v = tensor_values::<f32>(&t, "0.weight", Path::new("m")).unwrap();
        assert_eq!(v[3 + 2], m.network.params[2 * 4 + 1]); // row 1, column 2
    }

    /// A layer-normalised model: format version 4, γ and β as `nn.LayerNorm`'s weight and bias,
    /// no running statistics, and all of it back to the bit; an architecture that claims both
    /// normalisations is refused.
    #[test]
    fn layer_normalisation_round_trip() {
        let mut m = model();
        let mut net = NetworkSpec::new(3)
            .layer_norm(LayerNorm { eps: 1e-3 })
            .dense(4, Activation::Relu)
            .dense(2, Activation::Softmax)
            .build::<f32>(1);
        let g = net.layers[0].norm.as_ref().unwrap().gamma_offset;
        net.params[g..g + 8].copy_from_slice(&[0.5, -1.0, 0.25, 2.0, 1.5, 0.75, 3.0, 0.125]);
        m.meta.architecture = Architecture::of(&net);
        m.meta.format_version = m.meta.architecture.format_version();
        assert_eq!(m.meta.format_version, 4);
        m.network = net;
        let bytes = m.to_bytes().unwrap();
        let back = Model::<f32>::from_bytes(&bytes, Path::new("m")).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.network.layer_norm(), Some(LayerNorm { eps: 1e-3 }));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
        names.sort();
        assert_eq!(
            names,
            ["0.bias", "0.weight", "1.bias", "1.weight", "3.bias", "3.weight"]
        );
        let beta = st.tensor("1.bias").unwrap();
        let v = tensor_values::<f32>(&beta, "1.bias", Path::new("m")).unwrap();
        assert_eq!(v, [1.5, 0.75, 3.0, 0.125]);

        let mut both = m.meta.architecture.clone();
        both.batch_norm = Some(BatchNorm::default());
        let e = both.spec().unwrap_err();
        assert!(e.contains("both batch and layer normalisation"), "{e}");
        let mut bad = m.meta.architecture.clone();
        bad.layer_norm = Some(LayerNorm { eps: 0.0 });
        let e = bad.spec().unwrap_err();
        assert!(
            e.contains("layer normalisation with eps 0; expected eps > 0"),
            "{e}"
        );
    }

    /// A batch-normalised model: format version 3, the statistics as PyTorch's `BatchNorm1d`
    /// keeps them (`running_mean`, `running_var`, an int64 `num_batches_tracked`), and all of it
    /// back to the bit; a negative variance in a file is refused.
    #[test]
    fn batch_normalisation_round_trip() {
        let mut m = model();
        let mut net = NetworkSpec::new(3)
            .batch_norm(BatchNorm::default())
            .dense(4, Activation::Relu)
            .dense(2, Activation::Softmax)
            .build::<f32>(1);
        net.buffers = vec![0.5, -1.0, 0.25, 2.0, 1.5, 0.75, 3.0, 0.125];
        net.batches_tracked = 1234;
        m.meta.architecture = Architecture::of(&net);
        m.meta.format_version = m.meta.architecture.format_version();
        assert_eq!(m.meta.format_version, 3);
        m.network = net;
        let bytes = m.to_bytes().unwrap();
        let back = Model::<f32>::from_bytes(&bytes, Path::new("m")).unwrap();
        assert_eq!(back, m);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "0.bias",
                "0.weight",
                "1.bias",
                "1.num_batches_tracked",
                "1.running_mean",
                "1.running_var",
                "1.weight",
                "3.bias",
                "3.weight"
            ]
        );
        let count = st.tensor("1.num_batches_tracked").unwrap();
        assert_eq!((count.dtype(), count.shape()), (Dtype::I64, &[][..]));
        assert_eq!(count.data(), 1234i64.to_le_bytes());
        let var = st.tensor("1.running_var").unwrap();
        let v = tensor_values::<f32>(&var, "1.running_var", Path::new("m")).unwrap();
        assert_eq!(v, [1.5, 0.75, 3.0, 0.125]);

        m.network.buffers[5] = -0.75;
        let e = Model::<f32>::from_bytes(&m.to_bytes().unwrap(), Path::new("m"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tensor 1.running_var holds -0.75 at index 1; expected a finite, non-negative number"),
            "{e}"
        );
    }

    /// The preprocessing's statistics come back to the bit: they are f64 in a JSON document, and
    /// serde_json's default number parser rounds about one value in nine a step off (measured:
    /// 114 174 of a million uniform values), which the `float_roundtrip` feature corrects. A
    /// model read back would otherwise standardise its inputs a little differently from the run
    /// that trained it (and a checkpoint's learning rate would come back changed).
    #[test]
    fn statistics_round_trip_to_the_bit() {
        let mut m = model();
        let mut rng = crate::init::Rng::new(9);
        let mut values =
            |n: usize| -> Vec<f64> { (0..n).map(|_| rng.uniform_in(-500.0, 500.0)).collect() };
        let (mean, std) = (values(300), values(300));
        m.meta.preprocessing.target = Some(Standardizer { mean, std });
        let back = Model::<f32>::from_bytes(&m.to_bytes().unwrap(), Path::new("m")).unwrap();
        let (want, got) = (m.meta.preprocessing.target, back.meta.preprocessing.target);
        let (want, got) = (want.unwrap(), got.unwrap());
        let pairs = want
            .mean
            .iter()
            .zip(&got.mean)
            .chain(want.std.iter().zip(&got.std));
        let changed = pairs.filter(|(a, b)| a != b).count();
        assert_eq!(changed, 0, "values of 600 changed on the way");
    }

    /// A model with a one-hot column is written as format 2 (older builds refuse it: they could not
    /// encode its data), one without as format 1; indicators that do not fit the network are refused.
    #[test]
    fn one_hot_columns_round_trip_as_format_2() {
        let mut m = model();
        assert_eq!(m.meta.format_version, 1);
        let color = Categorical {
            column: "color".into(),
            first_feature: 1,
            categories: vec!["blue".into(), "red".into()],
        };
        m.meta.preprocessing.categorical = vec![color];
        m.meta.format_version = m.meta.preprocessing.format_version();
        assert_eq!(m.meta.format_version, 2);
        let back = Model::<f32>::from_bytes(&m.to_bytes().unwrap(), Path::new("m")).unwrap();
        assert_eq!(back, m);
        m.meta.preprocessing.categorical[0].first_feature = 2; // features 2 and 3 of 3
        let e = Model::<f32>::from_bytes(&m.to_bytes().unwrap(), Path::new("m"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "the one-hot column 'color' claims features 2 to 3, but the network has 3 inputs"
            ),
            "{e}"
        );
    }

    /// A multi-label model round-trips; one whose labels do not name its outputs is refused.
    #[test]
    fn multi_label_models_name_every_output() {
        let mut m = model();
        m.meta.task = Task::MultiLabel;
        m.meta.loss = "bce".into();
        let back = Model::<f32>::from_bytes(&m.to_bytes().unwrap(), Path::new("m")).unwrap();
        assert_eq!(back.meta.task, Task::MultiLabel);
        m.meta.class_names.push("maybe".into());
        let e = Model::<f32>::from_bytes(&m.to_bytes().unwrap(), Path::new("m"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a multi-label model names 3 labels for 2 outputs"),
            "{e}"
        );
    }

    #[test]
    fn truncated_corrupt_and_newer_files_are_refused() {
        let bytes = model().to_bytes().unwrap();
        let p = Path::new("m.safetensors");
        let e = Model::<f32>::from_bytes(&bytes[..bytes.len() - 3], p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated or corrupt"), "{e}");
        let mut bad_len = bytes.clone();
        bad_len[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let e = Model::<f32>::from_bytes(&bad_len, p)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.safetensors: not a valid safetensors file"),
            "{e}"
        );
        // Same length, so the header stays valid: format_version 1 → 9 inside the JSON string.
        let key = b"\\\"format_version\\\":1";
        let at = bytes.windows(key.len()).position(|w| w == key).unwrap();
        let mut newer = bytes.clone();
        newer[at + key.len() - 1] = b'9';
        let e = Model::<f32>::from_bytes(&newer, p).unwrap_err().to_string();
        assert!(e.contains("format version 9 by a newer mlp"), "{e}");
    }
}
