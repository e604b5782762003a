//! `mlp train`'s flags, which are also the keys of its `--config` TOML files, and the reading of
//! such a file. Kept apart from the rest of the command line (it needs only clap, serde, toml and
//! serde_json) so that the fuzz target `config` can compile it as it is.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// A list flag's text from a config file: as the flag takes it, `hidden = "128,64"`, or as TOML
/// writes it naturally, `hidden = [128, 64]`, `dropout = 0.5`, `target = 4` (numbers written as
/// text, list items joined with commas).
fn text_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::{DeserializeSeed, Error, SeqAccess, Unexpected, Visitor};
    /// A value as text; `item`: one inside a list, which may not be a list again.
    struct Text {
        item: bool,
    }
    impl<'de> Visitor<'de> for Text {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(match self.item {
                true => "text or a number",
                false => "text, a number, or a list of them, e.g. \"128,64\" or [128, 64]",
            })
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
            if self.item {
                return Err(A::Error::invalid_type(Unexpected::Seq, &self));
            }
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Text { item: true })? {
                items.push(item);
            }
            Ok(items.join(","))
        }
    }
    impl<'de> DeserializeSeed<'de> for Text {
        type Value = String;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_any(self)
        }
    }
    Text { item: false }.deserialize(d).map(Some)
}

/// `mlp train`. Every flag also has a key in `--config` files, named like the flag in snake_case
/// (`--batch-size` is `batch_size`); flags override the file.
#[derive(Args, Serialize, Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct TrainArgs {
    /// A .csv (or gzip'd .csv.gz; `-`: a CSV read from standard input; a first line of numbers is a data row, the columns then named 0, 1, …) or .npy file (rows × features, or images: rows × height × width [× channels]), an .npz archive (x_train, y_train [, x_test, y_test], as keras' mnist.npz; or x, y), a folder of MNIST IDX files, a folder of class folders of images (PNG, JPEG, BMP, GIF), or a built-in data set: iris, digits [default: digits]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The target column: a header name or a 0-based index; several, a,b: one output each (values, or labels when they hold only 0 and 1) [default: the last column]
    #[arg(long)]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// CSV feature columns to one-hot encode, e.g. color,size [default: every column whose first value is text]
    #[arg(long, value_name = "COLUMNS")]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub categorical: Option<String>,
    /// CSV columns to leave out, e.g. id,name [default: none]
    #[arg(long, value_name = "COLUMNS")]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub drop: Option<String>,
    /// Fill missing values (empty, NA, NaN, null, ? in a CSV; NaN in NPY features): mean or median of the training rows [default: missing values are an error]
    #[arg(long, value_name = "STRATEGY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impute: Option<String>,
    /// A folder of class folders of images: resize every image to WIDTHxHEIGHT pixels, e.g. 28x28 (bilinear) [default: every image must be the size of the first]
    #[arg(long, value_name = "WxH")]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_size: Option<String>,
    /// A folder of class folders of images: read colour images as gray, one value a pixel [default: gray where every image is gray, else red, green, blue]
    #[arg(long)]
    #[serde(default, skip_serializing_if = "is_false")]
    pub grayscale: bool,
    /// Images: change each training image anew every epoch (data augmentation): shift:N (pixels each way), rotate:DEGREES (each way), zoom:PERCENT (larger or smaller), flip (left to right), or several: shift:2,rotate:10 [default: none]
    #[arg(long, value_name = "SPEC")]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub augment: Option<String>,
    /// Row weights: how much each row counts in the training loss, Σ w·E / Σ w per batch, as scikit-learn's fit(sample_weight=…): a CSV column (left out of the features), or a .npy file of one weight per row. Rows held out by --val-split and --test-split keep theirs, and their figures count them, as do the rows of a --val or --test CSV file that has the same column [default: every row alike]
    #[arg(long, value_name = "COLUMN|W.npy")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_weight: Option<String>,
    /// For .npy data: a second .npy array holding the targets (numbers, or class names as text)
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// Test data (same format as --data) instead of a split; of an MNIST folder, its t10k files, of an .npz archive, its x_test and y_test
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// For .npy --test data: its targets array, as --labels is for --data
    #[arg(long, value_name = "Y.npy")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_labels: Option<String>,
    /// Validation data (same format as --data) instead of --val-split: what early stopping, the plateau schedule and the val columns watch, as Keras' validation_data
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val: Option<String>,
    /// For .npy --val data: its targets array, as --labels is for --data
    #[arg(long, value_name = "Y.npy")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_labels: Option<String>,
    /// Fraction held out for testing when there is no --test (and no MNIST t10k files) [default: 0.2]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_split: Option<f64>,
    /// Fraction of the training rows held out for validation [default: 0, or 0.1 with --early-stopping]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_split: Option<f64>,
    /// classification, regression or multilabel (several 0/1 label columns) [default: inferred from the target, and the reason printed]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Hidden layer widths, e.g. 128,64 [default: 128]
    #[arg(long)]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub hidden: Option<String>,
    /// Hidden activation, or one per layer: relu,tanh [default: relu]
    #[arg(long)]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub activation: Option<String>,
    /// Output activation [default: softmax for classification, identity for regression]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// mse, half_mse, mae, huber(δ), bce, cross_entropy, cross_entropy(ε) with label smoothing ε [default: from the output activation]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<String>,
    /// sgd, momentum, nesterov, adam, adamw, rmsprop, or lbfgs (full batch, as scikit-learn's solver="lbfgs": for small data sets) [default: adam]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<String>,
    /// Learning rate α; with lbfgs, the line search's first step [default: 0.001; lbfgs 1]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Momentum μ for sgd/momentum/nesterov [default: 0.9 for momentum and nesterov, 0 for sgd]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Adam's and AdamW's β₁,β₂: the decay rates of the gradient's running mean and of its square, as PyTorch's betas (scikit-learn's beta_1, beta_2) [default: 0.9,0.999]
    #[arg(long, value_name = "B1,B2")]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub betas: Option<String>,
    /// RMSprop's ρ: the decay rate of the squared gradient's running mean (PyTorch's alpha) [default: 0.99]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// Adam's, AdamW's and RMSprop's ε, added to √v in the step's denominator [default: 1e-8]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    /// L2 weight decay λ on the weights (decoupled with adamw) [default: 0]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule: constant, step:EVERY:GAMMA, multistep:M1,M2,…:GAMMA (γ at each milestone epoch, as PyTorch's MultiStepLR), exponential:GAMMA, cosine[:MIN], plateau[:FACTOR:PATIENCE[:MIN]] [default: constant]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Epochs of linear learning-rate warm-up before the schedule: α/3 rising to α, then the schedule from its start, as PyTorch's LinearLR(start_factor=1/3, total_iters=N) chained by SequentialLR [default: none]
    #[arg(long, value_name = "EPOCHS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<usize>,
    /// Clip the gradient's global L2 norm to this value [default: no clipping]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
    /// Dropout rate p after every hidden layer, or one per layer: 0.5,0.2 (training only, as torch.nn.Dropout) [default: none]
    #[arg(long, value_name = "P")]
    #[serde(
        default,
        deserialize_with = "text_or_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub dropout: Option<String>,
    /// How much each class's rows count in the training loss: balanced (n/(k·n_c), as scikit-learn), or by class name: yes=5,no=1 (others 1); multi-label: each label's positive rows (PyTorch's pos_weight; balanced: negatives/positives) [default: equal]
    #[arg(long, value_name = "WEIGHTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_weight: Option<String>,
    /// Weight initialiser: he_uniform, he_normal, glorot_uniform, glorot_normal, lecun_normal (for selu), lecun_uniform, torch [default: he_uniform]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
    /// Passes over the training data; with lbfgs, iterations (each a line search over all rows) [default: 20; lbfgs 200]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Rows per update; 1 is the seed's online rule; lbfgs takes all rows at once [default: 32]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Take the training rows in the data's order every epoch instead of a new shuffle each (PyTorch's DataLoader(shuffle=False), scikit-learn's shuffle=False)
    #[arg(long)]
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_shuffle: bool,
    /// Seeds initialisation, shuffling and splits [default: 0]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Threads (0: one per core; at most 1024); results are bit-identical for any number [default: all cores]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// cpu, cuda or cuda:N [default: cpu]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// f32, f64, tf32 or bf16 (f32 with TF32 or bf16 tensor-core products, --device cuda only) [default: f32]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    /// No bias terms: y = Φ(x·W), exactly the seed's network
    #[arg(long)]
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_bias: bool,
    /// Batch normalisation after every hidden layer's product, before its activation (Linear → BatchNorm1d → activation, PyTorch's momentum 0.1 and eps 1e-5): training normalises with each batch's mean and variance, prediction with their running averages
    #[arg(long)]
    #[serde(default, skip_serializing_if = "is_false")]
    pub batch_norm: bool,
    /// Layer normalisation after every hidden layer's product, before its activation (Linear → LayerNorm → activation, PyTorch's eps 1e-5): each row normalised with its own mean and variance over the layer's units, the same in training and prediction; works with any batch size and with lbfgs
    #[arg(long)]
    #[serde(default, skip_serializing_if = "is_false")]
    pub layer_norm: bool,
    /// Do not standardise the features (default: standardised with training statistics; MNIST pixels are only scaled to [0, 1])
    #[arg(long)]
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_standardize: bool,
    /// Stop after this many epochs without a better validation loss; the best weights are kept
    #[arg(long, value_name = "PATIENCE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
    /// scikit-learn's tol: with lbfgs, converged when the largest |∂E/∂W| is at most this [default: 1e-7, PyTorch's]; with --early-stopping, the fall in validation loss that counts as better [default: 0]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
    /// Where to write the model [default: model.safetensors]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// Write a checkpoint (model + optimizer state) here during training
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
    /// Checkpoint every N epochs [default: 1]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<usize>,
    /// Continue exactly from a checkpoint written by --checkpoint (same data and flags)
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<PathBuf>,
    /// Start from a model file's weights instead of random ones, as scikit-learn's warm_start or PyTorch's load_state_dict: the network, the preprocessing, the classes and the loss are the model's; the optimizer starts afresh
    #[arg(long, value_name = "MODEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_start: Option<PathBuf>,
    /// Append one JSON object per epoch to this file, or with a .csv name one CSV row (a header first in a new file)
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    /// Draw loss and metric curves to this .svg or .png file
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot: Option<PathBuf>,
    /// Read settings from a TOML file (keys named like the flags, in snake_case)
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// text or json (one final JSON object on stdout) [default: text]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Print nothing but errors (and the final JSON with --format json)
    #[arg(long)]
    #[serde(default, skip_serializing_if = "is_false")]
    pub quiet: bool,
}

/// Reads a `--config` file's text. Errors give the 1-based line and column where TOML or the
/// schema (an unknown key: the message lists the known ones) went wrong.
pub fn parse_config(text: &str) -> Result<TrainArgs, (u64, u64, String)> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        (line, column, e.message().to_string())
    })
}

/// The file's settings with the flags given on the command line laid over them.
pub fn merge(file: &TrainArgs, flags: &TrainArgs) -> Result<TrainArgs, String> {
    let mut merged = serde_json::to_value(file).map_err(|e| e.to_string())?;
    let flags = serde_json::to_value(flags).map_err(|e| e.to_string())?;
    if let (Some(m), Some(f)) = (merged.as_object_mut(), flags.as_object()) {
        for (k, v) in f {
            m.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(merged).map_err(|e| e.to_string())
}

/// The 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (u64, u64) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u64 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    (line, column)
}
