//! `mlp train`: data → split → standardise → network → train (progress, table, log, checkpoints)
//! → test metrics → model file (+ plot) → summary or JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mlp::data::images::{self, ImageRead, ImageShape};
use mlp::data::{
    feature_columns, idx, Categorical, Columns, Impute, Imputer, Missing, Standardizer, Targets,
    Task,
};
use mlp::model_file::{
    read_meta, Architecture, Checkpoint, Model, ModelMeta, Preprocessing, TrainState,
};
use mlp::train::Best;
use mlp::{
    metrics, Activation, Augment, BatchNorm, Bias, ClassWeight, Control, Dataset, Dropout, Error,
    Float, Init, LayerNorm, Loss, NetworkSpec, Optimizer, Progress, Result, Schedule, TrainConfig,
    Trainer,
};
use serde_json::json;

use crate::inspect::{load_labelled, target_for};
use crate::progress::Bar;
use crate::train_args::{merge, parse_config};
use crate::{plot, source, TrainArgs};

/// Set by Ctrl-C (SIGINT): training stops after the current batch and writes a checkpoint.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Reads `--config` (TOML) and lays the flags over it.
pub fn resolve(args: TrainArgs) -> Result<TrainArgs> {
    let Some(path) = args.config.clone() else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let file = parse_config(&text).map_err(|(line, column, message)| Error::Parse {
        path: path.clone(),
        line,
        column,
        message,
    })?;
    let mut out =
        merge(&file, &args).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
    out.config = Some(path);
    Ok(out)
}

pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let mut args = resolve(args)?;
    // A warm start trains in the model's precision unless told otherwise.
    if let (Some(path), None) = (&args.warm_start, &args.precision) {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        args.precision = Some(read_meta(&bytes, path)?.0.precision);
    }
    by_precision(&args, train::<f32>, train::<f64>)
}

/// The model `--warm-start` names. Its network, preprocessing, classes and task are what training
/// goes on from, so the flags that would choose them are refused rather than quietly overruled.
fn warm_start<T: Float>(args: &TrainArgs, path: &Path) -> Result<Model<T>> {
    for (flag, given) in [
        ("--hidden", args.hidden.is_some()),
        ("--activation", args.activation.is_some()),
        ("--output", args.output.is_some()),
        ("--no-bias", args.no_bias),
        ("--batch-norm", args.batch_norm),
        ("--layer-norm", args.layer_norm),
        ("--init", args.init.is_some()),
        ("--categorical", args.categorical.is_some()),
        ("--drop", args.drop.is_some()),
        ("--impute", args.impute.is_some()),
        ("--no-standardize", args.no_standardize),
        ("--task", args.task.is_some()),
        ("--image-size", args.image_size.is_some()),
        ("--grayscale", args.grayscale),
    ] {
        if given {
            return Err(Error::config(format!(
                "{flag} does not apply with --warm-start {}: the network, its preprocessing and \
                 its task are the model's",
                path.display()
            )));
        }
    }
    Model::<T>::load(path)
}

/// Runs `f32` or `f64` as `--precision` says: f64, or an f32 network (whose GPU products may use
/// tensor cores: tf32, bf16).
pub fn by_precision(
    args: &TrainArgs,
    f32: impl FnOnce(&TrainArgs) -> Result<ExitCode>,
    f64: impl FnOnce(&TrainArgs) -> Result<ExitCode>,
) -> Result<ExitCode> {
    match args.precision.as_deref().unwrap_or("f32") {
        "f64" => f64(args),
        p if mlp::Matmul::parse(p).is_some() => f32(args),
        p => Err(Error::config(format!(
            "--precision {p}: expected f32, f64 or (on a GPU) tf32 or bf16"
        ))),
    }
}

/// The fraction `--val-split` holds out (0.1 by default with early stopping, else none; none with
/// `--val`'s own rows), checked.
pub fn val_split_flag(args: &TrainArgs) -> Result<f64> {
    if let Some(v) = &args.val {
        return match args.val_split {
            Some(f) => Err(Error::config(format!(
                "--val-split {f} and --val {v}: give the validation rows one way"
            ))),
            None => Ok(0.0),
        };
    }
    match args.val_split {
        Some(f) if !(0.0..1.0).contains(&f) => Err(Error::config(format!(
            "--val-split {f}: expected a fraction in (0, 1)"
        ))),
        Some(f) => Ok(f),
        None if args.early_stopping.is_some() => Ok(0.1),
        None => Ok(0.0),
    }
}

/// Whether the features of `loaded` are standardised: unless `--no-standardize`, or MNIST pixels
/// (already scaled to [0, 1]).
pub fn scale_flag<T>(args: &TrainArgs, loaded: &source::Loaded<T>) -> Scale {
    match args.no_standardize || loaded.image.is_some() {
        true => Scale::AsGiven,
        false => Scale::Standardise,
    }
}

/// How a folder of class folders' images are read: `--image-size`, `--grayscale`. Refused for any
/// other data.
pub fn image_flag(args: &TrainArgs, data_name: &str) -> Result<ImageRead> {
    let read = ImageRead {
        size: args
            .image_size
            .as_deref()
            .map(images::parse_size)
            .transpose()
            .map_err(Error::config)?,
        channels: args.grayscale.then_some(1),
    };
    let flag = match (&args.image_size, args.grayscale) {
        (Some(_), _) => "--image-size",
        (None, true) => "--grayscale",
        (None, false) => return Ok(read),
    };
    let path = Path::new(data_name);
    if idx::is_mnist_dir(path) || !images::is_class_folder(path) {
        return Err(Error::config(format!(
            "{flag}: {data_name} is not a folder of class folders of images; the flag reads such a folder"
        )));
    }
    Ok(read)
}

/// `--augment shift:N,rotate:D,zoom:P,flip` for images of `shape` (MNIST's, an image folder's); refused for other data.
pub fn augment_flag(args: &TrainArgs, shape: Option<ImageShape>) -> Result<Option<Augment>> {
    let Some(text) = &args.augment else {
        return Ok(None);
    };
    let Some(shape) = shape else {
        return Err(Error::config(format!(
            "--augment {text}: the data are not images (an MNIST folder or a folder of class folders)"
        )));
    };
    Augment::parse(text, shape)
        .map(Some)
        .map_err(|e| Error::config(format!("--augment {e}")))
}

/// The task, from `--task` if given.
pub fn task_flag(args: &TrainArgs) -> Result<Option<Task>> {
    args.task.as_deref().map(Task::parse).transpose()
}

/// The strategy `--impute` names, and so how missing values are read: kept for it, else refused.
pub fn impute_flag(args: &TrainArgs) -> Result<(Option<Impute>, Missing)> {
    let impute = args.impute.as_deref().map(Impute::parse).transpose()?;
    Ok((impute, Missing::unless_filled(impute)))
}

/// The columns a list flag (`--categorical a,b`) names.
pub fn column_list(flag: Option<&str>) -> Vec<String> {
    flag.map(|s| {
        s.split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// The columns `--categorical a,b` names.
pub fn categorical_flag(args: &TrainArgs) -> Vec<String> {
    column_list(args.categorical.as_deref())
}

/// The columns `--drop id,name` leaves out.
pub fn drop_flag(args: &TrainArgs) -> Vec<String> {
    column_list(args.drop.as_deref())
}

/// The training data the flags name, with `--sample-weight`'s CSV column (left out of the
/// features) or `.npy` file as the rows' weights. With a warm start's model, its columns are read as it reads
/// them (its target column unless `--target` names another), its classes numbered as its outputs.
pub fn load_training<T: Float>(
    args: &TrainArgs,
    data_name: &str,
    task: Option<Task>,
    missing: Missing,
    model: Option<&ModelMeta>,
) -> Result<source::Loaded<T>> {
    let drop = drop_flag(args);
    let weights = (args.sample_weight.as_deref())
        .map(|w| source::WeightSource::of(w, data_name))
        .transpose()?;
    let weight = match weights {
        Some(source::WeightSource::Column(w)) => Some(w),
        _ => None,
    };
    let categorical = categorical_flag(args);
    let mut loaded = match model {
        None => source::load::<T>(
            data_name,
            args.target.as_deref(),
            args.labels.as_deref(),
            task,
            Columns::Find {
                categorical: &categorical,
                drop: &drop,
                weight,
            },
            missing,
            image_flag(args, data_name)?,
        )?,
        Some(m) => {
            let target = target_for(data_name, args.target.clone(), m);
            load_labelled::<T>(data_name, target.as_deref(), args.labels.as_deref(), m)?
        }
    };
    if let (Some(w), Some(from)) = (&args.sample_weight, &weights) {
        let rows = loaded.train.len();
        let values = from.read(data_name, rows, "the training data")?;
        loaded.train = loaded
            .train
            .with_sample_weight(values)
            .map_err(|e| Error::config(format!("--sample-weight {w}: {e}")))?;
        loaded.description += &format!("; {}", from.describe());
    }
    Ok(loaded)
}

/// Parses `--hidden 128,64` (`none` or empty: no hidden layer).
fn hidden(args: &TrainArgs) -> Result<Vec<usize>> {
    let s = args.hidden.as_deref().unwrap_or("128").trim();
    if s.is_empty() || s == "none" {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|w| match w.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Error::config(format!(
                "--hidden {s}: '{w}' is not a positive width; expected e.g. 128,64"
            ))),
        })
        .collect()
}

fn parse_init(s: &str) -> Result<Init> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "he_uniform" | "kaiming_uniform" => Init::HeUniform,
        "he_normal" | "kaiming_normal" => Init::HeNormal,
        "glorot_uniform" | "xavier_uniform" => Init::GlorotUniform,
        "glorot_normal" | "xavier_normal" => Init::GlorotNormal,
        "lecun_normal" => Init::LecunNormal,
        "lecun_uniform" => Init::LecunUniform,
        "torch" | "pytorch" => Init::Torch,
        _ => {
            return Err(Error::config(format!(
            "--init {s}: expected he_uniform, he_normal, glorot_uniform, glorot_normal, lecun_normal, lecun_uniform or torch"
        )))
        }
    })
}

/// The network the flags describe, for `inputs` features and a task with `classes` classes or
/// `values` target columns.
pub fn network_spec(
    args: &TrainArgs,
    inputs: usize,
    task: Task,
    outputs: usize,
) -> Result<NetworkSpec> {
    let widths = hidden(args)?;
    let acts: Vec<Activation> = args
        .activation
        .as_deref()
        .unwrap_or("relu")
        .split(',')
        .map(|a| Activation::parse(a).map_err(|e| Error::config(format!("--activation: {e}"))))
        .collect::<Result<_>>()?;
    if acts.len() != 1 && acts.len() != widths.len() {
        return Err(Error::config(format!(
            "--activation gives {} activations for {} hidden layers; give one, or one per layer",
            acts.len(),
            widths.len()
        )));
    }
    if acts.contains(&Activation::Softmax) {
        return Err(Error::config(
            "--activation softmax: softmax is for the output layer (--output softmax)",
        ));
    }
    let output = match &args.output {
        Some(o) => Activation::parse(o).map_err(|e| Error::config(format!("--output: {e}")))?,
        None if task == Task::Classification => Activation::Softmax,
        // One independent probability per label (then binary cross-entropy, its natural loss).
        None if task == Task::MultiLabel => Activation::Sigmoid,
        None => Activation::Identity,
    };
    let outputs = match (task, &output) {
        (Task::Classification, Activation::Sigmoid) if outputs == 2 => 1,
        _ => outputs,
    };
    let mut spec = NetworkSpec::new(inputs)
        .bias(if args.no_bias { Bias::None } else { Bias::Zero })
        .init(
            args.init
                .as_deref()
                .map(parse_init)
                .transpose()?
                .unwrap_or_default(),
        );
    for (k, w) in widths.iter().enumerate() {
        spec = spec.dense(*w, acts[if acts.len() == 1 { 0 } else { k }].clone());
    }
    match (args.batch_norm, args.layer_norm) {
        (true, true) => {
            return Err(Error::config(
                "--batch-norm and --layer-norm: a hidden layer is normalised one way or the other; choose one",
            ))
        }
        (true, false) => spec = spec.batch_norm(BatchNorm::default()),
        (false, true) => spec = spec.layer_norm(LayerNorm::default()),
        (false, false) => {}
    }
    Ok(spec.dense(outputs, output))
}

/// That this machine can hold the network `spec` while it trains on batches of `rows` rows: its
/// parameters, their gradients and two optimizer slots (Adam's m and v), and per layer three
/// buffers of a batch (h', h and δ), in `T`. Rust aborts the process when an allocation fails, so
/// a request beyond what the system grants is refused here, with the sizes. (Linux may grant
/// more than it can back; this catches the requests that cannot be met at all.)
pub fn check_size<T: Float>(spec: &NetworkSpec, rows: usize) -> Result<()> {
    let units = spec
        .layers
        .iter()
        .try_fold(0usize, |n, l| n.checked_add(l.units));
    let params = spec.param_count();
    let bytes = (|| {
        let batch = units?.checked_mul(rows)?.checked_mul(3)?;
        params?
            .checked_mul(4)?
            .checked_add(batch)?
            .checked_mul(std::mem::size_of::<T>())
    })();
    if bytes.is_some_and(|b| Vec::<u8>::new().try_reserve_exact(b).is_ok()) {
        return Ok(());
    }
    let params = params.map_or("more than 2⁶⁴".into(), |p| p.to_string());
    let needs = bytes.map_or("more than 2⁶⁴ bytes".into(), |b| {
        format!("{:.1} GB", b as f64 / 1e9)
    });
    Err(Error::config(format!(
        "the network ({params} parameters) needs {needs} to train on batches of {rows} rows, more than \
         this machine can allocate: choose narrower --hidden layers or a smaller --batch-size"
    )))
}

/// `--optimizer` with its constants: `--momentum`, `--betas`, `--rho`, `--eps`. A constant the
/// rule does not have is refused, as PyTorch's constructors refuse an unknown keyword.
fn optimizer_flag(args: &TrainArgs) -> Result<Optimizer> {
    let momentum = args.momentum.unwrap_or(0.0);
    if !(0.0..1.0).contains(&momentum) {
        return Err(Error::config(format!(
            "--momentum {momentum}: expected a value in [0, 1)"
        )));
    }
    let mut optimizer = Optimizer::parse(args.optimizer.as_deref().unwrap_or("adam"), momentum)
        .map_err(|e| Error::config(format!("--optimizer: {e}")))?;
    let refuse = |flag: &str, rules: &str, o: &Optimizer| {
        Err(Error::config(format!(
            "{flag} applies to {rules}, not to {}",
            o.name()
        )))
    };
    if args.momentum.is_some()
        && !matches!(
            optimizer,
            Optimizer::Sgd | Optimizer::Momentum(_) | Optimizer::Nesterov(_)
        )
    {
        return refuse("--momentum", "sgd, momentum and nesterov", &optimizer);
    }
    if let Some(b) = args.betas.as_deref() {
        let betas = b
            .split(',')
            .map(|v| v.trim().parse::<f64>().ok())
            .collect::<Option<Vec<f64>>>()
            .filter(|v| v.len() == 2 && v.iter().all(|x| (0.0..1.0).contains(x)))
            .ok_or_else(|| {
                Error::config(format!(
                    "--betas {b}: expected two numbers in [0, 1), e.g. 0.9,0.999"
                ))
            })?;
        match &mut optimizer {
            Optimizer::Adam(p) | Optimizer::AdamW(p) => (p.beta1, p.beta2) = (betas[0], betas[1]),
            o => return refuse("--betas", "adam and adamw", o),
        }
    }
    if let Some(rho) = args.rho {
        if !(0.0..1.0).contains(&rho) {
            return Err(Error::config(format!(
                "--rho {rho}: expected a value in [0, 1)"
            )));
        }
        match &mut optimizer {
            Optimizer::RmsProp(p) => p.rho = rho,
            o => return refuse("--rho", "rmsprop", o),
        }
    }
    if let Some(eps) = args.eps {
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(Error::config(format!(
                "--eps {eps}: expected a positive number"
            )));
        }
        match &mut optimizer {
            Optimizer::Adam(p) | Optimizer::AdamW(p) => p.eps = eps,
            Optimizer::RmsProp(p) => p.eps = eps,
            o => return refuse("--eps", "adam, adamw and rmsprop", o),
        }
    }
    Ok(optimizer)
}

/// The training configuration the flags describe.
pub fn train_config(args: &TrainArgs, val_split: f64) -> Result<TrainConfig> {
    let loss = args
        .loss
        .as_deref()
        .map(|l| Loss::parse(l).map_err(|e| Error::config(format!("--loss: {e}"))))
        .transpose()?;
    let mut optimizer = optimizer_flag(args)?;
    match (args.checkpoint_every, &args.checkpoint) {
        (Some(0), _) => {
            return Err(Error::config(
                "--checkpoint-every 0: expected a whole number of epochs ≥ 1",
            ))
        }
        (Some(n), None) => {
            return Err(Error::config(format!(
                "--checkpoint-every {n}: says how often to write --checkpoint FILE; give it too"
            )))
        }
        _ => {}
    }
    // --tol is scikit-learn's tol: with lbfgs the gradient's tolerance, with early stopping the
    // improvement that counts.
    let mut min_improvement = 0.0;
    if let Some(tol) = args.tol {
        if !(tol > 0.0 && tol.is_finite()) {
            return Err(Error::config(format!(
                "--tol {tol}: expected a positive number"
            )));
        }
        match &mut optimizer {
            Optimizer::Lbfgs(p) => p.tolerance_grad = tol,
            _ if args.early_stopping.is_some() => min_improvement = tol,
            other => {
                return Err(Error::config(format!(
                    "--tol applies to --optimizer lbfgs (its gradient tolerance) or to --early-stopping (the improvement that counts), not to {} alone",
                    other.name()
                )))
            }
        }
    }
    let schedule = args
        .schedule
        .as_deref()
        .map(|s| Schedule::parse(s).map_err(|e| Error::config(format!("--schedule: {e}"))))
        .transpose()?
        .unwrap_or_default();
    // L-BFGS counts iterations and steps by line search: scikit-learn's max_iter (200) and
    // PyTorch's lr (1, the quasi-Newton step) are its defaults.
    let lbfgs = matches!(optimizer, Optimizer::Lbfgs(_));
    if lbfgs && args.no_shuffle {
        return Err(Error::config(
            "--no-shuffle: lbfgs takes all the rows at once, in no order; leave it out",
        ));
    }
    let config = TrainConfig {
        epochs: args.epochs.unwrap_or(if lbfgs { 200 } else { 20 }),
        batch_size: args.batch_size.unwrap_or(32),
        learning_rate: args.lr.unwrap_or(if lbfgs { 1.0 } else { 1e-3 }),
        optimizer,
        loss,
        weight_decay: args.weight_decay.unwrap_or(0.0),
        clip_grad_norm: args.clip_grad_norm,
        dropout: dropout_flag(args.dropout.as_deref())?,
        class_weight: class_weight_flag(args.class_weight.as_deref())?,
        schedule,
        warmup: mlp::Warmup {
            epochs: args.warmup.unwrap_or(0),
        },
        validation_split: val_split,
        early_stopping: args.early_stopping,
        min_improvement,
        seed: args.seed.unwrap_or(0),
        shuffle: !args.no_shuffle,
        threads: args.threads.unwrap_or(0),
        device: args
            .device
            .as_deref()
            .map(mlp::Device::parse)
            .transpose()?
            .unwrap_or_default(),
        matmul: args
            .precision
            .as_deref()
            .and_then(mlp::Matmul::parse)
            .unwrap_or_default(),
        augment: None, // set by augment_flag once the images' shape is known
    };
    config.device.check()?;
    config
        .validate()
        .and_then(|()| config.dropout.check(hidden(args)?.len()))
        .map_err(|e| Error::config(flag_names(&e.to_string())))?;
    Ok(config)
}

/// `--dropout 0.5` or `0.5,0.2`: the rates (checked against the network when training starts).
pub fn dropout_flag(flag: Option<&str>) -> Result<Dropout> {
    let Some(list) = flag else {
        return Ok(Dropout::none());
    };
    let rates = list
        .split(',')
        .map(|p| {
            p.trim().parse::<f64>().map_err(|_| {
                Error::config(format!(
                    "--dropout: '{p}' is not a number; give a rate in [0, 1), or one per hidden layer: 0.5,0.2"
                ))
            })
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(Dropout::per_layer(rates))
}

/// `--class-weight balanced` or `yes=5,no=1` (the names checked against the classes when training starts).
fn class_weight_flag(flag: Option<&str>) -> Result<ClassWeight> {
    let Some(text) = flag else {
        return Ok(ClassWeight::Equal);
    };
    if text.trim() == "balanced" {
        return Ok(ClassWeight::Balanced);
    }
    let named = text
        .split(',')
        .map(|item| {
            let bad = || {
                Error::config(format!(
                    "--class-weight: '{item}' is not CLASS=WEIGHT; give balanced, or weights by class name: yes=5,no=1"
                ))
            };
            let (name, weight) = item.rsplit_once('=').ok_or_else(bad)?;
            let weight: f64 = weight.trim().parse().map_err(|_| bad())?;
            Ok((name.trim().to_string(), weight))
        })
        .collect::<Result<Vec<(String, f64)>>>()?;
    for (k, (name, _)) in named.iter().enumerate() {
        if named[..k].iter().any(|(n, _)| n == name) {
            return Err(Error::config(format!(
                "--class-weight {text}: class '{name}' is weighted twice; give each class once"
            )));
        }
    }
    Ok(ClassWeight::Named(named))
}

/// `--class-weight` against the training rows: the targets are classes and the names exist.
/// Returns "class weights no 0.54, yes 6.76" for the output, or nothing without them.
pub fn class_weight_line<T: Float>(
    config: &TrainConfig,
    spec: &NetworkSpec,
    d: &Dataset<T>,
) -> Result<Option<String>> {
    let output = &spec.layers.last().expect("an output layer").activation;
    let loss = config
        .loss
        .clone()
        .unwrap_or_else(|| mlp::Loss::for_output(output));
    let weights = config
        .class_weight
        .for_data(d, &loss)
        .map_err(|m| Error::config(format!("--class-weight: {m}")))?;
    if weights.is_empty() {
        return Ok(None);
    }
    let items: Vec<String> = d
        .class_names
        .iter()
        .zip(&weights)
        .map(|(name, w)| format!("{name} {w:.3}"))
        .collect();
    Ok(Some(match d.y {
        Targets::Labels(_) => format!("label weights of the positive rows {}", items.join(", ")),
        _ => format!("class weights {}", items.join(", ")),
    }))
}

/// The validation rows `--val-split` holds out of `train` (stratified, seeded), if any.
pub fn validation_split<T: Float>(
    train: Dataset<T>,
    val_split: f64,
    seed: u64,
) -> Result<(Dataset<T>, Option<Dataset<T>>)> {
    if val_split > 0.0 {
        let rows = train.len();
        let (t, v) = train.split_off(val_split, seed ^ 0x5eed);
        both_sides(
            ("--val-split", val_split),
            rows,
            [&t, &v],
            ("validation", "--val"),
        )?;
        Ok((t, Some(v)))
    } else {
        Ok((train, None))
    }
}

/// That a split of `rows` rows by `flag` left rows on both sides, as scikit-learn's
/// `train_test_split` refuses an empty side; `held_out` names the other side and the flag that
/// gives it as a file instead. Stratified, each class holds out its own share rounded, so a
/// small fraction of a few rows may round to none.
pub fn both_sides<T: Float>(
    (flag, fraction): (&str, f64),
    rows: usize,
    [kept, taken]: [&Dataset<T>; 2],
    (held_out, file_flag): (&str, &str),
) -> Result<()> {
    if taken.is_empty() {
        return Err(Error::config(format!(
            "{flag} {fraction} of {rows} rows holds out no {held_out} rows (each class's share rounds to none): give a larger one, or {file_flag} FILE"
        )));
    }
    if kept.is_empty() {
        return Err(Error::config(format!(
            "{flag} {fraction} of {rows} rows leaves none to train on; lower it"
        )));
    }
    if taken.weightless() {
        return Err(Error::config(format!(
            "{flag} {fraction} of {rows} rows holds out {} {held_out} rows, every one of sample weight 0: none would count; give another, or {file_flag} FILE",
            taken.len()
        )));
    }
    Ok(())
}

/// `--test-labels` and `--val-labels`: the targets of `.npy` test and validation data, each only
/// with its data.
fn beside_labels(args: &TrainArgs) -> Result<[Option<&str>; 2]> {
    fn check<'a>(
        (flag, labels): (&str, &'a Option<String>),
        data: &Option<String>,
    ) -> Result<Option<&'a str>> {
        let Some(labels) = labels else {
            return Ok(None);
        };
        let data_flag = flag.trim_end_matches("-labels");
        match data {
            None => Err(Error::config(format!(
                "{flag} {labels}: the targets of {data_flag} data; give {data_flag} too"
            ))),
            Some(d) if !source::is_npy(Path::new(d)) => Err(Error::config(format!(
                "{flag} {labels}: {data_flag} {d} holds its own targets; only .npy data takes them from an array of their own"
            ))),
            Some(_) => Ok(Some(labels.as_str())),
        }
    }
    Ok([
        check(("--test-labels", &args.test_labels), &args.test)?,
        check(("--val-labels", &args.val_labels), &args.val)?,
    ])
}

/// Data given beside the training data (`--test`, `--val`): its columns found as the training
/// data's (their names, categories, missing values and image shape), its classes numbered as the
/// training data's; of a source with a test set of its own (an NPZ archive's x_test and y_test,
/// MNIST's t10k files), that set, as `eval` reads it.
fn load_beside<T: Float>(
    (flag, source, labels): (&str, &str, Option<&str>),
    args: &TrainArgs,
    loaded: &source::Loaded<T>,
    missing: Missing,
) -> Result<Dataset<T>> {
    let beside = source::load::<T>(
        source,
        args.target.as_deref(),
        labels,
        Some(loaded.train.task()),
        Columns::Model {
            names: &feature_columns(&loaded.train.feature_names, &loaded.categorical),
            categorical: &loaded.categorical,
        },
        missing,
        loaded
            .image
            .map_or_else(ImageRead::default, ImageRead::as_shape),
    )?;
    let mut held_out = beside.held_out();
    if held_out.x.cols != loaded.train.x.cols {
        return Err(Error::config(format!(
            "{flag} {source}: {} features, the training data has {}",
            held_out.x.cols, loaded.train.x.cols
        )));
    }
    let what = format!("{flag} {source}");
    align_classes(&mut held_out, &loaded.train.class_names, &what)?;
    // The column that weighs the training rows weighs this file's rows too, where it has it: its
    // figures are then weighted as scikit-learn's score(X, y, sample_weight=…) weighs them.
    // (A .npy weight file is the training rows' alone; a file that is no CSV has no column.)
    let from =
        (args.sample_weight.as_deref()).and_then(|w| source::WeightSource::of(w, source).ok());
    if let Some(from @ source::WeightSource::Column(w)) = from {
        if mlp::data::csv_headers(Path::new(source))?
            .iter()
            .any(|h| h == w)
        {
            let values = from.read(source, held_out.len(), &what)?;
            held_out = held_out
                .with_sample_weight(values)
                .map_err(|e| Error::config(format!("{what}: --sample-weight {w}: {e}")))?;
        }
    }
    Ok(held_out)
}

/// `, weighted by column W` where a `--test` or `--val` file's rows carry the `--sample-weight`
/// column's weights.
fn weighted_by<T: Float>(args: &TrainArgs, held_out: &Dataset<T>) -> String {
    match (&args.sample_weight, &held_out.sample_weight) {
        (Some(w), Some(_)) => format!(", weighted by column {w}"),
        _ => String::new(),
    }
}

/// Whether the features are standardised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Standardise,
    AsGiven,
}

/// Fits the preprocessing on `train`'s rows and applies it to `train` and `test`: missing values
/// filled (`impute`), features standardised (`scale`; one-hot indicators stay 0 or 1), a
/// regression target standardised. Returns it, to be stored with the model.
pub fn preprocess<T: Float>(
    (train, test): (&mut Dataset<T>, &mut Dataset<T>),
    impute: Option<Impute>,
    scale: Scale,
    categorical: &[Categorical],
) -> Preprocessing {
    let impute = impute.map(|strategy| Imputer::fit(&train.x, strategy));
    if let Some(i) = &impute {
        i.apply(&mut train.x);
        i.apply(&mut test.x);
    }
    let features = (scale == Scale::Standardise)
        .then(|| Standardizer::fit(&train.x).skip_categorical(categorical));
    if let Some(s) = &features {
        s.apply(&mut train.x);
        s.apply(&mut test.x);
    }
    let target = match &train.y {
        Targets::Values(v) => Some(Standardizer::fit(v)),
        Targets::Classes(_) | Targets::Labels(_) => None,
    };
    for d in [train, test] {
        if let (Some(s), Targets::Values(v)) = (&target, &mut d.y) {
            s.apply(v);
        }
    }
    Preprocessing {
        features,
        target,
        categorical: categorical.to_vec(),
        impute,
        image: None,
    }
}

/// Applies a model's preprocessing, fitted on its own training rows, to `train` and `test`: a warm
/// start goes on from weights that expect inputs (and regression targets) scaled that way.
fn preprocess_as<T: Float, const N: usize>(
    p: &Preprocessing,
    sets: [&mut Dataset<T>; N],
) -> Preprocessing {
    for d in sets {
        p.prepare(&mut d.x);
        if let (Some(s), Targets::Values(v)) = (&p.target, &mut d.y) {
            s.apply(v);
        }
    }
    p.clone()
}

/// The figures of `net` on held-out rows `test`, whose targets in their own units are `truth`:
/// accuracy, macro F1 and ROC AUC (NaN where it is not defined: one class only) of classes or
/// labels (multi-label: subset accuracy, and the means over the labels), or MSE, MAE and R² of
/// the predictions mapped back by `target`; weighted by the rows' sample weights where they have
/// them (held out of weighted training data).
pub fn held_out_figures<T: Float>(
    net: &mlp::Network<T>,
    test: &Dataset<T>,
    truth: &Targets<T>,
    target: Option<&Standardizer>,
) -> Vec<(&'static str, f64)> {
    let weights = test.weights();
    let w = weights.as_deref();
    match truth {
        Targets::Classes(truth) => {
            let probs = net.predict(&test.x);
            let predicted = mlp::network::classes(&probs);
            let classes = test.class_names.len().max(2);
            let cm = metrics::ConfusionMatrix::new(&predicted, truth, classes, w);
            let auc = metrics::roc_auc_per_class(&probs, truth, classes, w);
            vec![
                ("accuracy", metrics::accuracy(&predicted, truth, w)),
                ("macro_f1", cm.macro_average().f1),
                (
                    "roc_auc",
                    metrics::roc_auc_summary(&auc).unwrap_or(f64::NAN),
                ),
            ]
        }
        Targets::Values(truth) => {
            let mut p = net.predict(&test.x);
            if let Some(s) = target {
                s.invert(&mut p);
            }
            vec![
                ("mse", metrics::mse(&p, truth, w)),
                ("mae", metrics::mae(&p, truth, w)),
                ("r2", metrics::r2(&p, truth, w)),
            ]
        }
        Targets::Labels(truth) => {
            let probs = net.predict(&test.x);
            let labels = metrics::label_scores(&probs, truth, w);
            let auc = metrics::roc_auc_per_label(&probs, truth, w);
            vec![
                ("accuracy", metrics::subset_accuracy(&probs, truth, w)),
                ("macro_f1", metrics::macro_average(&labels).f1),
                ("roc_auc", metrics::mean_defined(&auc).unwrap_or(f64::NAN)),
            ]
        }
    }
}

/// "30 rows", or "30 rows, weighted" where they carry sample weights and every figure counts them.
fn rows_shown<T: Float>(d: &Dataset<T>) -> String {
    match d.sample_weight {
        Some(_) => format!("{} rows, weighted", d.len()),
        None => format!("{} rows", d.len()),
    }
}

/// Names the flag behind a library message ("learning rate must be …" → "--lr: learning rate must be …").
pub fn flag_names(msg: &str) -> String {
    let msg = msg.trim_start_matches("invalid configuration: ");
    for (word, flag) in [
        ("epochs", "--epochs"),
        ("batch size", "--batch-size"),
        ("threads", "--threads"),
        ("learning rate", "--lr"),
        ("weight decay", "--weight-decay"),
        ("gradient clipping", "--clip-grad-norm"),
        ("validation split", "--val-split"),
        ("momentum", "--momentum"),
        ("betas", "--betas"),
        ("rho", "--rho"),
        ("eps", "--eps"),
        ("dropout", "--dropout"),
    ] {
        if msg.starts_with(word) {
            return format!("{flag}: {msg}");
        }
    }
    msg.to_string()
}

/// Maps `d`'s class labels onto `names` (the training classes), by name.
pub fn align_classes<T: Float>(d: &mut Dataset<T>, names: &[String], what: &str) -> Result<()> {
    if let Targets::Classes(ids) = &mut d.y {
        let map: Vec<usize> = d
            .class_names
            .iter()
            .map(|n| {
                names.iter().position(|m| m == n).ok_or_else(|| {
                    Error::config(format!(
                        "{what}: class '{n}' is not one of the training classes ({})",
                        names.join(", ")
                    ))
                })
            })
            .collect::<Result<_>>()?;
        for c in ids.iter_mut() {
            *c = map[*c];
        }
        d.class_names = names.to_vec();
    }
    Ok(())
}

/// A 64-bit fingerprint of a data set's values (to refuse `--resume` on other data).
pub fn fingerprint<T: Float>(d: &Dataset<T>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (d.x.rows as u64) ^ ((d.x.cols as u64) << 32);
    let mut mix = |v: u64| {
        h = (h ^ v).wrapping_mul(0x1000_0000_01b3).rotate_left(29);
    };
    d.x.data.iter().for_each(|v| mix(v.f64().to_bits()));
    d.sample_weight
        .iter()
        .flatten()
        .for_each(|w| mix(w.f64().to_bits()));
    match &d.y {
        Targets::Classes(c) => c.iter().for_each(|&c| mix(c as u64)),
        Targets::Values(v) | Targets::Labels(v) => {
            v.data.iter().for_each(|x| mix(x.f64().to_bits()))
        }
    }
    format!("{h:016x}")
}

fn describe(spec: &NetworkSpec) -> String {
    let mut widths = vec![spec.inputs.to_string()];
    widths.extend(spec.layers.iter().map(|l| l.units.to_string()));
    let acts: Vec<String> = spec
        .layers
        .iter()
        .map(|l| l.activation.to_string())
        .collect();
    format!(
        "{} ({}){}",
        widths.join("-"),
        acts.join(", "),
        if spec.bias == Bias::None {
            ", no bias"
        } else {
            ""
        }
    )
}

/// Where a command's output goes, from `--format` and `--quiet`: lines of text (not with --quiet or
/// JSON), and for `--format json` one final JSON object.
pub struct Out {
    pub text: bool,
    pub json: bool,
}

impl Out {
    pub fn of(args: &TrainArgs) -> Result<Self> {
        match args.format.as_deref().unwrap_or("text") {
            "text" => Ok(Out {
                text: !args.quiet,
                json: false,
            }),
            "json" => Ok(Out {
                text: false,
                json: true,
            }),
            f => Err(Error::config(format!(
                "--format {f}: expected text or json"
            ))),
        }
    }

    pub fn line(&self, s: impl AsRef<str>) {
        if self.text {
            report(s.as_ref());
        }
    }
}

/// Writes a line of a run's report to stdout. A reader that went away (`mlp train … | head`) is
/// no reason to stop: the run goes on to save its model, so a failed write is let go.
pub fn report(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// `--log PATH`: a line per epoch, appended (a resumed run goes on with the same file): one JSON
/// object, or with a `.csv` name a CSV row under a header written once, as Keras' `CSVLogger`.
enum EpochLog {
    Json(std::io::BufWriter<std::fs::File>),
    Csv(Box<csv::Writer<std::fs::File>>),
}

impl EpochLog {
    fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        if !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            return Ok(EpochLog::Json(std::io::BufWriter::new(file)));
        }
        let fresh = file.metadata().map_err(|e| Error::io(path, e))?.len() == 0;
        Ok(EpochLog::Csv(Box::new(
            csv::WriterBuilder::new()
                .has_headers(fresh)
                .from_writer(file),
        )))
    }

    fn write(&mut self, r: &mlp::train::EpochRecord) -> std::io::Result<()> {
        match self {
            EpochLog::Json(w) => {
                let line = serde_json::to_string(r).map_err(std::io::Error::other)?;
                writeln!(w, "{line}")?;
                w.flush()
            }
            EpochLog::Csv(w) => {
                w.serialize(r).map_err(std::io::Error::other)?;
                w.flush()
            }
        }
    }
}

pub fn train<T: Float>(args: &TrainArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let out = Out::of(args)?;
    let data_name = args.data.clone().unwrap_or_else(|| "digits".into());
    let task_given = task_flag(args)?;
    if let Some(f) = args
        .test_split
        .filter(|f| !(0.0..1.0).contains(f) || *f == 0.0)
    {
        return Err(Error::config(format!(
            "--test-split {f}: expected a fraction in (0, 1)"
        )));
    }
    // Everything that can be checked without the data is checked before it is read.
    let val_split = val_split_flag(args)?;
    let mut config = train_config(args, val_split)?;
    let warm = match &args.warm_start {
        Some(path) => Some(warm_start::<T>(args, path)?),
        None => None,
    };
    if let (Some(m), None) = (&warm, &config.loss) {
        let loss = Loss::parse(&m.meta.loss).map_err(|e| Error::Model {
            path: args.warm_start.clone().expect("set"),
            message: e,
        })?;
        config.loss = Some(loss);
    }
    let (warm_meta, warm_net) = match warm {
        Some(Model { meta, network }) => (Some(meta), Some(network)),
        None => (None, None),
    };
    let warm_meta = warm_meta.as_ref();
    let out_path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("model.safetensors"));
    check_writable(&out_path)?;
    if let Some(c) = &args.checkpoint {
        check_writable(c)?;
    }

    // Data, and the test set.
    let from_stdin: Vec<&str> = [
        ("--data", Some(data_name.as_str())),
        ("--test", args.test.as_deref()),
        ("--val", args.val.as_deref()),
    ]
    .into_iter()
    .filter(|(_, source)| *source == Some(mlp::data::STDIN))
    .map(|(flag, _)| flag)
    .collect();
    if from_stdin.len() > 1 {
        return Err(Error::config(format!(
            "{} -: standard input holds one file; name the others' paths",
            from_stdin.join(" - and ")
        )));
    }
    if let Some(estimate) = source::estimate(&data_name, std::mem::size_of::<T>()) {
        out.line(format!("reading  {estimate}"));
    }
    let [test_labels, val_labels] = beside_labels(args)?;
    let (impute, missing) = impute_flag(args)?;
    let loaded = load_training::<T>(args, &data_name, task_given, missing, warm_meta)?;
    let task = loaded.train.task();
    let scale = scale_flag(args, &loaded);
    config.augment = augment_flag(args, loaded.image)?;
    out.line(format!("data     {}", loaded.description));
    match warm_meta {
        Some(_) => out.line(format!("task     {}, the model's", task.name())),
        None => out.line(format!("task     {}", loaded.task_reason)),
    }
    let seed = args.seed.unwrap_or(0);
    let mut val = match &args.val {
        Some(v) => Some(load_beside(
            ("--val", v, val_labels),
            args,
            &loaded,
            missing,
        )?),
        None => None,
    };
    let (mut train, mut test, test_how) = if let Some(t) = &args.test {
        let test = load_beside(("--test", t, test_labels), args, &loaded, missing)?;
        let how = format!("--test {t}{}", weighted_by(args, &test));
        (loaded.train, test, how)
    } else if let (Some(t), None) = (loaded.test, args.test_split) {
        (loaded.train, t.data, t.what)
    } else {
        let f = args.test_split.unwrap_or(0.2);
        let rows = loaded.train.len();
        let (tr, te) = loaded.train.split_off(f, seed);
        let flag = match args.test_split {
            Some(_) => "--test-split",
            None => "the default --test-split",
        };
        both_sides((flag, f), rows, [&tr, &te], ("test", "--test"))?;
        (
            tr,
            te,
            format!(
                "{:.0} % held out{}",
                f * 100.0,
                if task == Task::Classification {
                    ", stratified"
                } else {
                    ""
                }
            ),
        )
    };

    // Preprocessing with training statistics.
    let missing = |x: &mlp::Matrix<T>| x.data.iter().filter(|v| v.f64().is_nan()).count();
    let (missing_in_train, missing_in_test) = (missing(&train.x), missing(&test.x));
    let test_truth = test.y.clone(); // the targets in their own units, for the test figures
    let preprocessing = match warm_meta {
        Some(m) => preprocess_as(&m.preprocessing, [&mut train, &mut test]),
        None => Preprocessing {
            image: loaded.image,
            ..preprocess((&mut train, &mut test), impute, scale, &loaded.categorical)
        },
    };
    if let Some(v) = &mut val {
        preprocess_as(&preprocessing, [v]);
    }
    if let Some(i) = &preprocessing.impute {
        out.line(format!(
            "missing  {missing_in_train} training and {missing_in_test} test values filled with the {}' {}",
            match warm_meta {
                Some(_) => "model's training rows",
                None => "training rows",
            },
            i.strategy.name()
        ));
    }
    let (train, val) = match val {
        Some(v) => (train, Some(v)),
        None => validation_split(train, val_split, seed)?,
    };
    out.line(format!(
        "split    {} training, {} validation{}, {} test rows ({test_how}); features {}",
        train.len(),
        val.as_ref().map_or(0, |v| v.len()),
        match (&args.val, &val) {
            (Some(v), Some(rows)) => format!(" (--val {v}{})", weighted_by(args, rows)),
            _ => String::new(),
        },
        test.len(),
        if preprocessing.features.is_some() {
            match warm_meta {
                Some(_) => "standardised with the model's training statistics",
                None => "standardised with training statistics",
            }
        } else if loaded.image.is_some() {
            "scaled to [0, 1]"
        } else {
            "as given"
        }
    ));

    // The network and the trainer.
    let (spec, net) = match warm_net {
        Some(network) => {
            let path = args.warm_start.as_ref().expect("set");
            if train.outputs() != network.outputs() {
                return Err(Error::config(format!(
                    "{data_name}: {} targets or classes, but the model {} has {} outputs",
                    train.outputs(),
                    path.display(),
                    network.outputs()
                )));
            }
            let spec = Architecture::of(&network)
                .spec()
                .map_err(|message| Error::Model {
                    path: path.clone(),
                    message,
                })?;
            out.line(format!("start    from the weights of {}", path.display()));
            (spec, network)
        }
        None => {
            let spec = network_spec(args, train.x.cols, task, train.outputs())?;
            check_size::<T>(&spec, config.batch_size.min(train.len()))?;
            let net = spec.build::<T>(seed);
            (spec, net)
        }
    };
    let class_weights = class_weight_line(&config, &spec, &train)?;
    let mut trainer = Trainer::new(net, &config)?;
    // Only a resume or a checkpoint needs it: on MNIST it is 47 M values hashed one after
    // another (a tenth of a second), so it is not paid by runs that write neither.
    let data_fingerprint = std::cell::OnceCell::new();
    let fp = || {
        data_fingerprint
            .get_or_init(|| fingerprint(&train))
            .as_str()
    };
    if let Some(path) = &args.resume {
        let training = effective_config(args, &config, &data_name, T::NAME, warm_meta);
        resume(&mut trainer, path, fp(), &training)?;
        if trainer.epoch > config.epochs {
            return Err(Error::config(format!(
                "--epochs {}: {} is at epoch {} already; give more epochs to go on (or --epochs {} \
                 to write its model as it is)",
                config.epochs,
                path.display(),
                trainer.epoch,
                trainer.epoch
            )));
        }
        out.line(format!(
            "resume   {} at epoch {}{}",
            path.display(),
            trainer.epoch,
            match trainer.finished {
                true => ": its run is over; the model is written as it is",
                false => "",
            }
        ));
    }
    out.line(format!(
        "network  {}, {} parameters, {} precision",
        describe(&spec),
        trainer.net.param_count(),
        T::NAME
    ));
    let how = match config.optimizer {
        Optimizer::Lbfgs(p) => format!(
            "up to {} iterations (epochs) of lbfgs on all {} rows at once{}, memory {}, first step {}, gradient tolerance {:e}",
            config.epochs,
            train.len(),
            match args.batch_size {
                Some(_) => " (--batch-size does not apply)",
                None => "",
            },
            p.history,
            short(config.learning_rate),
            p.tolerance_grad
        ),
        _ => format!(
            "{} epochs, batch {}, {} lr {}",
            config.epochs,
            match config.batch_size {
                b if b >= train.len() && b > 1 => {
                    format!("{b} (all {} rows at once)", train.len())
                }
                b => b.to_string(),
            },
            config.optimizer.name(),
            short(config.learning_rate)
        ),
    };
    out.line(format!(
        "training {how}, loss {}{}{}{}",
        trainer.loss,
        if trainer.net.has_batch_norm() {
            // As in PyTorch's train mode: the train columns are measured with the batch's
            // statistics, val and test with the running ones.
            ", batch-normalised (the batch's statistics in the train columns, the running ones in val and test)"
        } else if trainer.net.layer_norm().is_some() {
            ", layer-normalised"
        } else {
            ""
        },
        if config.dropout.is_none() {
            String::new()
        } else {
            // As in PyTorch's train mode: the train columns are measured through the masks.
            format!(
                ", dropout {} (in the train columns, not val or test)",
                config.dropout.describe()
            )
        },
        match &config.augment {
            None => String::new(),
            Some(a) => format!(
                ", images augmented {} (in the train columns, not val or test)",
                a.describe()
            ),
        }
    ));
    if let Some(line) = class_weights {
        out.line(format!(
            "         {line} (in the train loss, not val or test)"
        ));
    }
    let metric = match task {
        Task::Classification | Task::MultiLabel => "acc",
        Task::Regression => "r2",
    };
    out.line(format!(
        "\n{:>5}  {:>10}  {:>8}  {:>10}  {:>8}  {:>9}  {:>7}",
        "epoch",
        "train loss",
        format!("train {metric}"),
        "val loss",
        format!("val {metric}"),
        "lr",
        "seconds"
    ));

    let mut log = args.log.as_deref().map(EpochLog::open).transpose()?;
    let meta = |trainer: &Trainer<T>, metrics: serde_json::Value| ModelMeta {
        format_version: preprocessing
            .format_version()
            .max(Architecture::of(&trainer.net).format_version()),
        mlp_version: env!("CARGO_PKG_VERSION").into(),
        precision: T::NAME.into(),
        architecture: Architecture::of(&trainer.net),
        task,
        loss: trainer.loss.to_string(),
        feature_names: train.feature_names.clone(),
        target_name: loaded.target_name.clone(),
        class_names: train.class_names.clone(),
        preprocessing: preprocessing.clone(),
        training: effective_config(args, &config, &data_name, T::NAME, warm_meta),
        metrics,
    };
    let every = args.checkpoint_every.unwrap_or(1);
    let mut bar = Bar::new(out.text);
    // Ctrl-C stops after the current batch; the state is then saved in a checkpoint.
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    while !trainer.finished {
        let result = trainer.step_epoch(&train, val.as_ref(), &mut |p| {
            if let Progress::Batch {
                epoch,
                batch,
                batches,
                loss,
                rows_done,
            } = p
            {
                bar.batch(epoch, batch, batches, loss, rows_done);
            }
            if INTERRUPTED.load(Ordering::SeqCst) {
                Control::Stop
            } else {
                Control::Continue
            }
        });
        bar.epoch_done();
        if matches!(result, Ok(Control::Stop)) && !trainer.finished {
            let path = args
                .checkpoint
                .clone()
                .unwrap_or_else(|| out_path.with_extension("checkpoint.safetensors"));
            checkpoint(&trainer, meta(&trainer, json!({})), fp()).save(&path)?;
            let at = match &trainer.position {
                Some(p) => format!(
                    "in epoch {}, after batch {}",
                    trainer.epoch + 1,
                    p.batches_done
                ),
                None => format!("after epoch {}", trainer.epoch),
            };
            eprintln!(
                "interrupted {at}: checkpoint written to {}; continue with --resume {}",
                path.display(),
                path.display()
            );
            return Ok(ExitCode::from(130));
        }
        if let Err(e) = result {
            if let (Error::Diverged { .. }, Some(c)) = (&e, &args.checkpoint) {
                if c.exists() {
                    eprintln!("the last good checkpoint is {}", c.display());
                }
            }
            return Err(e);
        }
        let r = trainer.history.epochs.last().expect("an epoch ran").clone();
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        out.line(format!(
            "{:>5}  {:>10.4}  {:>8.4}  {:>10}  {:>8}  {:>9.2e}  {:>7.3}",
            r.epoch,
            r.train_loss,
            r.train_metric,
            opt(r.val_loss),
            opt(r.val_metric),
            r.learning_rate,
            r.seconds
        ));
        if let Some(l) = &mut log {
            l.write(&r)
                .map_err(|e| Error::io(args.log.as_ref().expect("set"), e))?;
        }
        if let Some(c) = &args.checkpoint {
            if trainer.epoch % every == 0 || trainer.finished {
                checkpoint(&trainer, meta(&trainer, json!({})), fp()).save(c)?;
            }
        }
    }

    // Test figures with the final (or best) weights.
    let (test_loss, _) = trainer.evaluate(&test);
    let h = &trainer.history;
    let last = h.epochs.last().expect("at least one epoch");
    let mut summary = json!({
        "task": task,
        "epochs": h.epochs.len(),
        "best_epoch": h.best_epoch,
        "stopped_early": h.stopped_early,
        "converged": h.converged.map(|c| c.to_string()),
        "train_loss": last.train_loss,
        "val_loss": last.val_loss,
        "test_loss": test_loss,
    });
    let target = preprocessing.target.as_ref();
    for (name, v) in held_out_figures(&trainer.net, &test, &test_truth, target) {
        summary[format!("test_{name}")] = json!(v);
    }
    let model = Model {
        meta: meta(&trainer, summary.clone()),
        network: trainer.net.clone(),
    };
    model.save(&out_path)?;
    if let Some(p) = &args.plot {
        plot::draw(plot::Figure::History(&trainer.history), p)?;
    }
    summary["model"] = json!(out_path.display().to_string());
    summary["seconds"] = json!(started.elapsed().as_secs_f64());
    if out.json {
        report(summary);
    } else {
        out.line("");
        if let Some(c) = h.converged {
            out.line(format!(
                "converged after {} iterations: {c}",
                h.epochs.len()
            ));
        }
        if let Some(b) = h.best_epoch {
            out.line(format!(
                "kept the weights of epoch {b} (best validation loss){}",
                if h.stopped_early {
                    "; stopped early"
                } else {
                    ""
                }
            ));
        }
        match task {
            Task::Classification | Task::MultiLabel => out.line(format!(
                "test     {}accuracy {:.4}, macro F1 {:.4}, ROC AUC {:.4}, loss {:.4} on {}",
                match task {
                    Task::MultiLabel => "subset ",
                    _ => "",
                },
                summary["test_accuracy"].as_f64().unwrap_or(f64::NAN),
                summary["test_macro_f1"].as_f64().unwrap_or(f64::NAN),
                summary["test_roc_auc"].as_f64().unwrap_or(f64::NAN),
                test_loss,
                rows_shown(&test)
            )),
            Task::Regression => out.line(format!(
                "test     MSE {:.6}, MAE {:.6}, R² {:.4} on {} (in the target's units{})",
                summary["test_mse"].as_f64().unwrap_or(f64::NAN),
                summary["test_mae"].as_f64().unwrap_or(f64::NAN),
                summary["test_r2"].as_f64().unwrap_or(f64::NAN),
                rows_shown(&test),
                match trainer.net.outputs() {
                    1 => String::new(),
                    n => format!("; averaged over the {n} targets"),
                }
            )),
        }
        out.line(format!(
            "model    {} ({:.1} s)",
            out_path.display(),
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// A rate as the user would write it: 0.001, but 1e-30 rather than thirty zeros.
fn short(x: f64) -> String {
    match x.abs() {
        a if a != 0.0 && !(1e-4..1e6).contains(&a) => format!("{x:e}"),
        _ => format!("{x}"),
    }
}

/// The configuration actually used, named like the flags, for the model file.
fn effective_config(
    args: &TrainArgs,
    c: &TrainConfig,
    data: &str,
    precision: &str,
    warm: Option<&ModelMeta>,
) -> serde_json::Value {
    let mut v = json!({
        "data": data,
        "target": args.target,
        "categorical": args.categorical,
        "drop": args.drop,
        "impute": args.impute,
        "hidden": args.hidden.clone().unwrap_or_else(|| "128".into()),
        "activation": args.activation.clone().unwrap_or_else(|| "relu".into()),
        "output": args.output,
        "loss": c.loss.as_ref().map(|l| l.to_string()),
        "optimizer": c.optimizer.name(),
        "lr": c.learning_rate,
        "momentum": args.momentum,
        "betas": match c.optimizer {
            Optimizer::Adam(p) | Optimizer::AdamW(p) => Some(format!("{},{}", p.beta1, p.beta2)),
            _ => None,
        },
        "rho": match c.optimizer {
            Optimizer::RmsProp(p) => Some(p.rho),
            _ => None,
        },
        "eps": c.optimizer.eps(),
        "weight_decay": c.weight_decay,
        "schedule": args.schedule.clone().unwrap_or_else(|| "constant".into()),
        "warmup": args.warmup,
        "clip_grad_norm": c.clip_grad_norm,
        "dropout": (!c.dropout.is_none()).then(|| c.dropout.describe()),
        "class_weight": args.class_weight,
        "init": args.init.clone().unwrap_or_else(|| "he_uniform".into()),
        "epochs": c.epochs,
        "batch_size": c.batch_size,
        "no_shuffle": !c.shuffle,
        "seed": c.seed,
        "precision": precision,
        "no_bias": args.no_bias,
        "batch_norm": args.batch_norm,
        "layer_norm": args.layer_norm,
        "no_standardize": args.no_standardize,
        "test_split": args.test_split,
        "val": args.val,
        "val_labels": args.val_labels,
        "val_split": c.validation_split,
        "early_stopping": c.early_stopping,
        "tol": args.tol,
        "sample_weight": args.sample_weight,
        "augment": c.augment.map(|a| a.describe()),
        "image_size": args.image_size,
        "grayscale": args.grayscale.then_some(true),
    });
    // A warm start's network and preprocessing are the model's: so are the keys that chose them.
    if let Some(m) = warm {
        for key in [
            "hidden",
            "activation",
            "output",
            "init",
            "no_bias",
            "batch_norm",
            "layer_norm",
            "categorical",
            "drop",
            "impute",
            "no_standardize",
            "image_size",
            "grayscale",
        ] {
            v[key] = m.training.get(key).cloned().unwrap_or_default();
        }
        v["warm_start"] = json!(args.warm_start);
    }
    v
}

fn checkpoint<T: Float>(t: &Trainer<T>, meta: ModelMeta, fp: &str) -> Checkpoint<T> {
    // The weights training goes on from, not early stopping's best (those are saved apart).
    let mut network = t.net.clone();
    network.set_state(&t.training_state());
    Checkpoint {
        model: Model { meta, network },
        state: TrainState {
            epoch: t.epoch,
            optimizer_step: t.optimizer.step,
            rng: t.rng.clone(),
            schedule: t.schedule.clone(),
            history: t.history.clone(),
            best: t.best.as_ref().map(|b| (b.loss, b.epoch, b.bad_epochs)),
            finished: t.finished,
            data_fingerprint: fp.to_string(),
            position: t.position.clone(),
        },
        optimizer: t.optimizer.clone(),
        best_params: t.best.as_ref().map(|b| b.params.clone()),
    }
}

/// The settings of the training step that a resumed run must share with its checkpoint (the data
/// and the network are checked apart): the run goes on exactly as if it had not stopped, so only
/// `--epochs` and where the output goes may change.
const RESUMED_AS_CHECKPOINTED: [&str; 19] = [
    "loss",
    "optimizer",
    "lr",
    "momentum",
    "betas",
    "rho",
    "eps",
    "weight_decay",
    "schedule",
    "warmup",
    "clip_grad_norm",
    "dropout",
    "class_weight",
    "batch_size",
    "no_shuffle",
    "early_stopping",
    "tol",
    "augment",
    "sample_weight",
];

/// Puts the trainer where the checkpoint at `path` left off, after checking that it was written
/// by the same run: the network, the data (`fp`, its fingerprint) and the training settings
/// (`training`, this run's effective configuration).
fn resume<T: Float>(
    trainer: &mut Trainer<T>,
    path: &Path,
    fp: &str,
    training: &serde_json::Value,
) -> Result<()> {
    let ck = Checkpoint::<T>::load(path)?;
    let bad = |m: String| Error::Model {
        path: path.into(),
        message: m,
    };
    let (theirs, ours) = (
        Architecture::of(&ck.model.network),
        Architecture::of(&trainer.net),
    );
    if theirs != ours {
        return Err(bad(format!(
            "the checkpoint's network, {theirs}, differs from the one the flags describe, {ours}"
        )));
    }
    if ck.state.data_fingerprint != fp {
        return Err(bad(
            "the checkpoint was trained on other data (or another split or seed); resume with the same --data, --seed and splits".into(),
        ));
    }
    let theirs = ck
        .model
        .meta
        .training
        .get("optimizer")
        .and_then(|o| o.as_str());
    if theirs.is_some_and(|o| o != trainer.config.optimizer.name())
        || ck.optimizer.m.len() != trainer.optimizer.m.len()
        || ck.optimizer.v.len() != trainer.optimizer.v.len()
    {
        return Err(bad("the checkpoint's optimizer state belongs to another optimizer; resume with the same --optimizer".into()));
    }
    let shown = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "none".to_string(),
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    // A key the checkpoint lacks was not recorded by the mlp that wrote it: not compared.
    for key in RESUMED_AS_CHECKPOINTED {
        let Some(then) = ck.model.meta.training.get(key) else {
            continue;
        };
        let now = training.get(key).unwrap_or(&serde_json::Value::Null);
        if then != now {
            return Err(bad(format!(
                "the checkpoint was trained with --{} {}, the flags say {}: a resumed run goes \
                 on as it was checkpointed (only --epochs and the outputs may change)",
                key.replace('_', "-"),
                shown(then),
                shown(now)
            )));
        }
    }
    let s = ck.state;
    trainer.net = ck.model.network;
    trainer.optimizer = ck.optimizer;
    trainer.schedule = s.schedule;
    trainer.rng = s.rng;
    trainer.epoch = s.epoch;
    trainer.history = s.history;
    trainer.position = s.position;
    trainer.best = match (s.best, ck.best_params) {
        (Some((loss, epoch, bad_epochs)), Some(params)) => Some(Best {
            loss,
            epoch,
            params,
            bad_epochs,
        }),
        _ => None,
    };
    trainer.finished = trainer.history.stopped_early
        || trainer.history.converged.is_some()
        || trainer.epoch >= trainer.config.epochs;
    if trainer.finished {
        trainer.restore_best();
    }
    Ok(())
}

/// Fails early, before any training, when an output cannot be written there.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the folder {} does not exist", dir.display()),
            ),
        ));
    }
    let probe = dir.join(format!(".mlp-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| Error::io(path, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
