//! The `mlp` command line: parse, call the library, print. Every error from user input ends here as
//! one or two lines on stderr and a non-zero exit code.

mod bench_cmd;
mod cv_cmd;
mod explain_cmd;
mod inspect;
mod plot;
mod progress;
mod search_cmd;
mod source;
mod train_args;
mod train_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use train_args::TrainArgs;

#[derive(Parser)]
#[command(
    name = "mlp",
    version,
    about = "Feedforward neural networks trained by backpropagation",
    long_about = "Feedforward neural networks trained by backpropagation: train, cross-validate, search, evaluate, predict and explain on CSV, NPY or MNIST's IDX files.\nWith no arguments, `mlp train` trains on the built-in digits data set."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network (default: the built-in digits data set) and write a model file.
    #[command(allow_negative_numbers = true)]
    Train(Box<TrainArgs>),
    /// Cross-validate: train on k−1 folds, test on the held-out one, each fold in turn; the figures
    /// per fold and their mean and standard deviation (writes no model).
    #[command(allow_negative_numbers = true)]
    Cv(Box<CvArgs>),
    /// Grid search: cross-validate every combination of the values of some training flags, ranked
    /// by the mean held-out score, as scikit-learn's GridSearchCV (writes no model).
    #[command(allow_negative_numbers = true)]
    Search(Box<SearchArgs>),
    /// Evaluate a model on labelled data: metrics and, for classification, the confusion matrix.
    Eval(EvalArgs),
    /// Predict with a model, in the original label names or target units.
    Predict(PredictArgs),
    /// Trace one training step in the seed's notation: h' = x·W, h = Φ(h'), δ, ∂E/∂W, ΔW; or, with --attributions, which input columns a prediction owes to.
    Explain(ExplainArgs),
    /// Check backpropagation against finite differences (f64), layer by layer.
    Gradcheck(Box<GradcheckArgs>),
    /// Describe a model file: architecture, preprocessing, labels, training configuration, metrics.
    Info(InfoArgs),
    /// Run one case of the benchmark protocol (../shared/bench/PROTOCOL.md); print one JSON line.
    Bench(BenchArgs),
}

/// `mlp bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// mnist-mlp-small, mnist-mlp-wide or seed-online
    #[arg(long)]
    pub case: String,
    /// The shared data root holding mnist/ and synthetic/ (or a folder holding the files)
    #[arg(long, default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// Threads
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Epochs
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Seed of initialisation and shuffling
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// On a GPU: time this many training steps on random data already on the GPU, as
    /// `torch_gpu_mlp.py` does (cases mnist-mlp-small, mnist-mlp-wide, mnist-mlp-wide-b4096,
    /// fused-64x4-b65536, wide-2048x4-b8192), instead of the protocol's epochs
    #[arg(long)]
    pub steps: Option<usize>,
    /// f32, or tf32 or bf16 products on a GPU
    #[arg(long, default_value = "f32")]
    pub precision: String,
    /// With --steps: batches of this many rows instead of the case's
    #[arg(long)]
    pub batch: Option<usize>,
    /// Hidden activation instead of the case's, e.g. sigmoid or tanh: off the protocol, a variant
    /// to set beside the peers' scripts built the same way (the record gains "activation")
    #[arg(long)]
    pub activation: Option<String>,
}

/// `mlp cv`.
#[derive(Args)]
pub struct CvArgs {
    /// Folds: each is held out once
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// The training flags, as for train (without --test, --test-split, --out, --checkpoint,
    /// --resume, --log and --plot)
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `mlp search`.
#[derive(Args)]
pub struct SearchArgs {
    /// The values to try: a TOML file, or an inline table such as '{hidden = ["32", "64,32"], lr = [0.01, 0.001]}'; keys are train's flags in snake_case
    #[arg(long)]
    pub grid: String,
    /// Folds: each is held out once, the same folds for every combination
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Try N combinations drawn at random (seeded by --seed) instead of every one, as scikit-learn's RandomizedSearchCV; needed when the grid holds ranges: lr = {loguniform = [1e-4, 1e-1]}, dropout = {uniform = [0, 0.5]}, hidden = {integer = [16, 256]}
    #[arg(long, value_name = "N")]
    pub n_iter: Option<usize>,
    /// The figure to rank by: accuracy, macro_f1, roc_auc, r2 (more is better), loss, mse, mae (less is better) [default: accuracy, or r2 for regression]
    #[arg(long)]
    pub scoring: Option<String>,
    /// The training flags every combination shares, as for cv
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `mlp eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// The model file
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled data: .csv (or .csv.gz; `-`: read from standard input), .npy, .npz (its x_test and y_test, or x and y), an MNIST folder (its t10k files), a folder of class folders of images, or a built-in name
    #[arg(long)]
    pub data: String,
    /// The target column [default: the one the model was trained on, else the last]
    #[arg(long)]
    pub target: Option<String>,
    /// For .npy data: the targets array (numbers, or class names as text)
    #[arg(long)]
    pub labels: Option<String>,
    /// Also measure each input column's permutation importance: how much accuracy (or R²) falls when its values are shuffled across rows
    #[arg(long)]
    pub importance: bool,
    /// Shuffles per column for --importance
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub repeats: usize,
    /// Seeds the shuffles of --importance
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Binary or multi-label models: predict the positive class (or a label) where its probability is above this [default: 0.5]
    #[arg(long, value_name = "P")]
    pub threshold: Option<f64>,
    /// Draw ROC curves (one per class, one-vs-rest; binary: the positive class; multi-label: one per label) beside the confusion matrix (classes), or for regression predicted against actual values, to this .svg or .png file
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Row weights for every figure, as scikit-learn's metrics' sample_weight=: a CSV column of the data, or a .npy file of one weight per row [default: every row alike]
    #[arg(long, value_name = "COLUMN|W.npy")]
    pub sample_weight: Option<String>,
    /// text or json
    #[arg(long, default_value = "text")]
    pub format: String,
}

/// `mlp predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// The model file
    #[arg(long)]
    pub model: PathBuf,
    /// Rows to predict: .csv or .csv.gz (with or without the target column; `-`: read from standard input), .npy (the model's features, with or without a target column after them, or images), .npz (its x_test, or x), an MNIST folder, a built-in name, or for a model of images an image file or a folder of them (a `file` column first)
    #[arg(long)]
    pub data: String,
    /// The target column to ignore, if the data has one [default: the model's target column]
    #[arg(long)]
    pub target: Option<String>,
    /// Write the predictions to this CSV file, or with a .npy name one numpy array (labels, or with --proba probabilities, as scikit-learn's predict and predict_proba) [default: CSV to stdout]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Add one probability column per class (.npy: the probabilities instead of the labels)
    #[arg(long)]
    pub proba: bool,
    /// Binary or multi-label models: predict the positive class (or a label) where its probability is above this [default: 0.5]
    #[arg(long, value_name = "P")]
    pub threshold: Option<f64>,
    /// CSV columns to copy beside the predictions, e.g. id
    #[arg(long, value_name = "COLUMNS")]
    pub keep: Option<String>,
}

/// `mlp explain`.
#[derive(Args)]
pub struct ExplainArgs {
    /// `seed`: the seed's own network and numbers
    #[arg(long, conflicts_with_all = ["model", "data", "row"])]
    pub example: Option<String>,
    /// Trace a model file on one row of data
    #[arg(long, requires = "data")]
    pub model: Option<PathBuf>,
    /// The data holding the row (`-`: a CSV read from standard input)
    #[arg(long)]
    pub data: Option<String>,
    /// The target column
    #[arg(long)]
    pub target: Option<String>,
    /// Which row (0-based)
    #[arg(long, default_value_t = 0)]
    pub row: usize,
    /// Learning rate α of the traced step [default: the example's 0.5, or the model's training rate]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Instead of a training step: which input columns the row's prediction owes to, by integrated gradients from the all-mean input (the data need no target column)
    #[arg(long, requires = "model")]
    pub attributions: bool,
    /// With --attributions: the class whose probability is explained [default: the predicted one]
    #[arg(long, requires = "attributions")]
    pub class: Option<String>,
    /// With --attributions: points of the path from the baseline to the row
    #[arg(long, default_value_t = 64, requires = "attributions")]
    pub steps: usize,
    /// With --attributions: draw them to this .svg or .png file: the largest as bars, or for a model of images a heatmap over the pixels beside the image
    #[arg(long, requires = "attributions")]
    pub plot: Option<PathBuf>,
    /// text, json or markdown
    #[arg(long, default_value = "text")]
    pub format: String,
}

/// `mlp gradcheck`.
#[derive(Args)]
pub struct GradcheckArgs {
    /// Check this model file instead of a network built from the flags
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Largest relative error accepted
    #[arg(long, default_value_t = 1e-6)]
    pub tolerance: f64,
    /// Rows of data to check on
    #[arg(long, default_value_t = 8)]
    pub rows: usize,
    /// The network flags, as for train (and --format text|json)
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `mlp info`.
#[derive(Args)]
pub struct InfoArgs {
    /// The model file
    #[arg(long)]
    pub model: PathBuf,
    /// text or json
    #[arg(long, default_value = "text")]
    pub format: String,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`mlp predict … | head`); Rust ignores SIGPIPE by default, which turns that into an error.
    // Not for the runs that train: their lines are a report, and they go on to save their model
    // (`train_cmd::report` lets a failed write go).
    #[cfg(unix)]
    let trains = matches!(
        cli.command,
        Command::Train(_) | Command::Cv(_) | Command::Search(_)
    );
    #[cfg(unix)]
    if !trains {
        // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match cli.command {
        Command::Train(a) => train_cmd::run(*a),
        Command::Cv(a) => cv_cmd::run(*a),
        Command::Search(a) => search_cmd::run(*a),
        Command::Eval(a) => inspect::eval(a),
        Command::Predict(a) => inspect::predict(a),
        Command::Info(a) => inspect::info(a),
        Command::Explain(a) => explain_cmd::explain(a),
        Command::Gradcheck(a) => explain_cmd::gradcheck(*a),
        Command::Bench(a) => bench_cmd::bench(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
