//! The training loop: batches → forward → loss → backward → optimizer step → metrics → (checkpoint).
//!
//! Everything the loop needs is planned when the [`Trainer`] is made (the optimizer state, the
//! thread pool) or when it first sees the training rows (the workspace, the batch buffers, sized
//! for the batch, or for all the rows when they are fewer). A training step allocates nothing (an
//! L-BFGS iteration, a pass or more over the whole training set, allocates its few search
//! vectors).
//! Same data, configuration and seed give bit-identical weights on any number of threads.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::batches::{Augment, Batches};
use crate::data::{Dataset, Targets};
use crate::dense::Dense;
use crate::device::{Device, DeviceEpoch, Matmul, Run};
use crate::dropout::{Draw, Dropout};
use crate::error::{Error, Result};
use crate::init::Rng;
use crate::loss::{ClassWeight, Loss, TargetsRef};
use crate::network::{Network, Workspace};
use crate::optim::lbfgs::{self, Converged, LbfgsParams};
use crate::optim::{clip_grad_norm, Optimizer, OptimizerState, Schedule, ScheduleState, Warmup};
use crate::tensor::{with_threads_awake, Float, Par, AWAKE_MIN_MACS, AWAKE_MIN_STEPS};

/// The most threads [`TrainConfig::threads`] may ask for.
pub const MAX_THREADS: usize = 1024;

/// Everything about a training run; every field has a sensible default.
///
/// ```
/// let config = mlp::TrainConfig { epochs: 5, learning_rate: 0.01, ..Default::default() };
/// assert_eq!(config.batch_size, 32);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training data (L-BFGS: iterations, each a line search over all rows).
    /// Default 20.
    pub epochs: usize,
    /// Rows per update: 1 is the seed's online rule (L-BFGS takes all rows at once). Default 32.
    pub batch_size: usize,
    /// α (L-BFGS: the line search's first step, 1 its natural choice). Default 0.001.
    pub learning_rate: f64,
    /// Default Adam.
    pub optimizer: Optimizer,
    /// `None`: the natural loss of the output activation ([`Loss::for_output`]).
    pub loss: Option<Loss>,
    /// L2 penalty λ on the weights (decoupled for AdamW). Default 0.
    pub weight_decay: f64,
    /// Clip the gradient's global L2 norm to this. Default none.
    pub clip_grad_norm: Option<f64>,
    /// Dropout after the hidden layers, while training only. Default none.
    pub dropout: Dropout,
    /// How much each class's rows count in the training loss (not in validation or test
    /// figures). Default equal.
    pub class_weight: ClassWeight,
    /// Default constant.
    pub schedule: Schedule,
    /// Epochs of linear warm-up before the schedule ([`Warmup`]). Default none.
    pub warmup: Warmup,
    /// Fraction of the data held out for validation by [`fit`] (stratified). Default 0.
    pub validation_split: f64,
    /// Stop after this many epochs without a better monitored loss, and restore the best weights
    /// (whether or not it stopped early). Default none.
    pub early_stopping: Option<usize>,
    /// Early stopping: an epoch is better only when the monitored loss falls by more than this
    /// below the best so far (scikit-learn's `tol`, Keras' `min_delta`); the weights kept are
    /// still the lowest loss's. Default 0.
    pub min_improvement: f64,
    /// Seeds the shuffling (and, in [`fit`], the validation split). Default 0.
    pub seed: u64,
    /// Draw a new order of the training rows every epoch (PyTorch's `DataLoader(shuffle=True)`,
    /// scikit-learn's `shuffle=True`); `false`: the batches take the rows in the data's order,
    /// every epoch alike. Default true.
    pub shuffle: bool,
    /// Threads for matrix products; 0 = all cores, at most [`MAX_THREADS`]. Results do not depend
    /// on it. Default 0.
    pub threads: usize,
    /// Where to train. Default the CPU.
    pub device: crate::device::Device,
    /// How a GPU multiplies matrices: f32 (default), or TF32 or bf16 tensor cores.
    pub matmul: Matmul,
    /// Random shifts, turns, zooms and flips of each training image as its batch is gathered
    /// (CPU). Default
    /// none.
    pub augment: Option<Augment>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 32,
            learning_rate: 1e-3,
            optimizer: Optimizer::default(),
            loss: None,
            weight_decay: 0.0,
            clip_grad_norm: None,
            dropout: Dropout::none(),
            class_weight: ClassWeight::Equal,
            schedule: Schedule::Constant,
            warmup: Warmup::default(),
            validation_split: 0.0,
            early_stopping: None,
            min_improvement: 0.0,
            seed: 0,
            shuffle: true,
            threads: 0,
            device: crate::device::Device::Cpu,
            matmul: Matmul::F32,
            augment: None,
        }
    }
}

impl TrainConfig {
    /// Checks the values a user can get wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::config(m));
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        // Each thread is a pool worker kept for the run; far beyond the cores they only wait
        // their turn, and tens of thousands take minutes to start.
        if self.threads > MAX_THREADS {
            return bad(format!(
                "threads must be at most {MAX_THREADS} (0: one per core), not {}",
                self.threads
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!(
                "learning rate must be a positive number, not {}",
                self.learning_rate
            ));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(format!(
                "weight decay must be ≥ 0, not {}",
                self.weight_decay
            ));
        }
        if let Some(c) = self.clip_grad_norm {
            if c.is_nan() || c <= 0.0 {
                return bad(format!("gradient clipping norm must be > 0, not {c}"));
            }
        }
        if !(self.min_improvement >= 0.0 && self.min_improvement.is_finite()) {
            return bad(format!(
                "minimum improvement must be ≥ 0, not {}",
                self.min_improvement
            ));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return bad(format!(
                "validation split must be in [0, 1), not {}",
                self.validation_split
            ));
        }
        if self.matmul != Matmul::F32 && self.device == Device::Cpu {
            return bad(format!(
                "{} products are a GPU mode; the CPU computes in f32 or f64 (use --device cuda)",
                self.matmul.name()
            ));
        }
        self.dropout.check_rates()?;
        if let Optimizer::Momentum(m) | Optimizer::Nesterov(m) = self.optimizer {
            if !(0.0..1.0).contains(&m) {
                return bad(format!("momentum must be in [0, 1), not {m}"));
            }
        }
        if let Optimizer::Adam(p) | Optimizer::AdamW(p) = self.optimizer {
            if !((0.0..1.0).contains(&p.beta1) && (0.0..1.0).contains(&p.beta2)) {
                return bad(format!(
                    "betas must be in [0, 1), not {},{}",
                    p.beta1, p.beta2
                ));
            }
        }
        if let Optimizer::RmsProp(p) = self.optimizer {
            if !(0.0..1.0).contains(&p.rho) {
                return bad(format!("rho must be in [0, 1), not {}", p.rho));
            }
        }
        // ε keeps W − α·m̂/(√v̂ + ε) finite where a weight's gradient has always been 0 (a dead ReLU).
        if let Some(eps) = self
            .optimizer
            .eps()
            .filter(|e| !(*e > 0.0 && e.is_finite()))
        {
            return bad(format!("eps must be > 0 and finite, not {eps}"));
        }
        if self.warmup.epochs > 0 && self.warmup.epochs >= self.epochs {
            return bad(format!(
                "a warm-up of {} epochs in a run of {}: it must end before the run does",
                self.warmup.epochs, self.epochs
            ));
        }
        if let Optimizer::Lbfgs(_) = self.optimizer {
            if self.warmup.epochs > 0 {
                return bad("a learning-rate warm-up does not apply to L-BFGS, whose line search sets the step's length".into());
            }
            if !self.dropout.is_none() {
                return bad("dropout draws a new loss at every evaluation, and L-BFGS's line search needs the same loss at the same weights: leave out dropout or choose another optimizer".into());
            }
            if self.clip_grad_norm.is_some() {
                return bad("gradient clipping does not apply to L-BFGS, whose line search sets the step's length".into());
            }
            if self.augment.is_some() {
                return bad("augmentation draws new images at every evaluation, and L-BFGS's line search needs the same loss at the same weights: leave out augmentation or choose another optimizer".into());
            }
        }
        Ok(())
    }
}

/// One epoch's figures. The metric is accuracy for classification, R² for regression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// From 1.
    pub epoch: usize,
    /// Mean of the batch losses during the epoch.
    pub train_loss: f64,
    /// On the batches as they were trained.
    pub train_metric: f64,
    pub val_loss: Option<f64>,
    pub val_metric: Option<f64>,
    pub learning_rate: f64,
    pub seconds: f64,
}

/// What training produced, epoch by epoch.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
    /// `"accuracy"` or `"r2"`.
    pub metric: String,
    /// The epoch (from 1) whose weights were kept, with early stopping.
    pub best_epoch: Option<usize>,
    pub stopped_early: bool,
    /// Set when L-BFGS stopped before its last iteration, and why.
    #[serde(default)]
    pub converged: Option<Converged>,
}

/// What the loop reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// After each batch: epoch and batch from 1, the batch's loss, rows trained so far this epoch.
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
        rows_done: usize,
    },
    /// After each epoch.
    Epoch(&'a EpochRecord),
}

/// Whether to go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// Stop after this batch (e.g. on Ctrl-C); the state stays consistent and can be checkpointed.
    Stop,
}

/// Where an interrupted epoch stopped, so that a checkpoint taken there resumes exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochPosition {
    /// The generator's state before this epoch's shuffle.
    pub rng: Rng,
    /// Batches of this epoch already trained.
    pub batches_done: usize,
    /// The epoch's running sums so far.
    pub sum_loss: f64,
    pub rows_done: usize,
    pub tally: Tally,
    pub seconds: f64,
}

/// The best weights seen, for early stopping.
#[derive(Clone, Debug, PartialEq)]
pub struct Best<T> {
    pub loss: f64,
    pub epoch: usize,
    /// The network's [`state`](Network::state) then: parameters and running statistics.
    pub params: Vec<T>,
    pub bad_epochs: usize,
}

/// A training run in progress: the network and everything that changes as it trains.
pub struct Trainer<T> {
    pub config: TrainConfig,
    pub loss: Loss,
    pub net: Network<T>,
    pub optimizer: OptimizerState<T>,
    pub schedule: ScheduleState,
    pub rng: Rng,
    /// Epochs completed.
    pub epoch: usize,
    pub history: History,
    pub best: Option<Best<T>>,
    /// Set when the run ended (all epochs, or early stopping).
    pub finished: bool,
    /// Where the current epoch stopped, when a progress callback stopped it mid-way.
    pub position: Option<EpochPosition>,
    /// When the run finished and early stopping put the best weights into `net`: the weights the
    /// last epoch ended with. A checkpoint saves these, so a resumed run continues exactly.
    /// (The network's [`state`](Network::state): parameters and running statistics.)
    pub last_params: Option<Vec<T>>,
    ws: Workspace<T>,
    /// Planned on the first epoch, for the training set's shape.
    batches: Option<Batches<T>>,
    /// The weight ranges weight decay applies to.
    decayed: Vec<std::ops::Range<usize>>,
    /// One loss weight per class (from `config.class_weight` and the training set); empty: none.
    class_weights: Vec<T>,
    /// The training set's sample weights (empty: none), and a batch's scaled to average 1 (for
    /// L-BFGS, whose batch is the whole set, made once per training set).
    sample_weights: Vec<T>,
    batch_weights: Vec<T>,
    pool: rayon::ThreadPool,
    par: Par,
    /// On a GPU: the run there, made on the first epoch. It holds the weights during the run; the
    /// host's copy (`net.params`, `optimizer`) is brought up to date after every epoch.
    gpu: Option<Run>,
    /// L-BFGS: the objective at the current weights, kept from the last iteration's line search
    /// (`None`: evaluated when the next iteration starts, giving the same bits).
    lbfgs_at: Option<LbfgsAt>,
}

/// The whole training set's objective at L-BFGS's current weights, with the data loss and the
/// tally behind it.
#[derive(Clone)]
struct LbfgsAt {
    point: lbfgs::Point,
    loss: f64,
    tally: Tally,
}

impl<T: Float> Trainer<T> {
    /// Plans a run of `net` with `config`.
    pub fn new(net: Network<T>, config: &TrainConfig) -> Result<Self> {
        config.validate()?;
        config.device.check()?;
        let loss = config
            .loss
            .clone()
            .unwrap_or_else(|| Loss::for_output(net.output_activation()));
        loss.check_output(net.output_activation())
            .map_err(Error::config)?;
        config.dropout.check(net.layers.len() - 1)?;
        if net.has_batch_norm() {
            if let Optimizer::Lbfgs(_) = config.optimizer {
                return Err(Error::config("batch normalisation learns from mini-batches, and L-BFGS takes all rows at once (in chunks): choose another optimizer"));
            }
            if config.batch_size < 2 {
                return Err(Error::config(format!(
                    "batch size {} with batch normalisation: a batch of one row has no variance to normalise by; use 2 or more",
                    config.batch_size
                )));
            }
        }
        if let Some(a) = &config.augment {
            if a.shape.features() != net.inputs {
                return Err(Error::config(format!(
                    "augmentation of {} images ({} values each) for a network of {} inputs",
                    a.shape.describe(),
                    a.shape.features(),
                    net.inputs
                )));
            }
            if config.device != Device::Cpu {
                return Err(Error::Device {
                    device: config.device.to_string(),
                    message: "augmentation is done on the CPU only".into(),
                });
            }
        }
        if config.device != Device::Cpu {
            if T::NAME != "f32" {
                return Err(Error::config(format!(
                    "the GPU trains in f32, not {}; choose f32 precision",
                    T::NAME
                )));
            }
            let custom_activation = net
                .layers
                .iter()
                .find(|l| matches!(l.activation, crate::Activation::Custom(_)));
            if let Some(l) = custom_activation {
                return Err(Error::Device {
                    device: config.device.to_string(),
                    message: format!("the activation {} runs on the CPU only", l.activation),
                });
            }
            if let Loss::Custom(_) = loss {
                return Err(Error::Device {
                    device: config.device.to_string(),
                    message: format!("the loss {loss} runs on the CPU only"),
                });
            }
            if let Optimizer::Lbfgs(_) = config.optimizer {
                return Err(Error::Device {
                    device: config.device.to_string(),
                    message: "L-BFGS (--optimizer lbfgs) runs on the CPU only".into(),
                });
            }
        }
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::config(format!("cannot start {threads} threads: {e}")))?;
        Ok(Trainer {
            optimizer: config.optimizer.state(net.param_count()),
            schedule: config.warmup.start(&config.schedule, config.learning_rate),
            rng: Rng::new(config.seed),
            epoch: 0,
            history: History::default(),
            best: None,
            finished: false,
            position: None,
            last_params: None,
            // Until the training rows are known (`step_epoch` fits the buffers to the batches),
            // room for a chunk at most: a batch size beyond the data set must not allocate for it.
            ws: Workspace::new(&net, config.batch_size.min(crate::network::CHUNK_ROWS))
                .with_dropout(&net, &config.dropout),
            batches: None,
            class_weights: Vec::new(),
            sample_weights: Vec::new(),
            batch_weights: Vec::new(),
            decayed: net.layers.iter().map(Dense::weight_range).collect(),
            par: if threads > 1 {
                Par::Threads(threads)
            } else {
                Par::Seq
            },
            pool,
            gpu: None,
            lbfgs_at: None,
            loss,
            net,
            config: config.clone(),
        })
    }

    /// Trains until the configured epochs are done, early stopping triggers, or `progress` says stop.
    /// `val` is the held-out set early stopping and reduce-on-plateau monitor (else the training loss).
    pub fn fit(
        &mut self,
        train: &Dataset<T>,
        val: Option<&Dataset<T>>,
        progress: &mut (dyn FnMut(Progress<'_>) -> Control + Send),
    ) -> Result<&History> {
        while !self.finished {
            match self.step_epoch(train, val, progress)? {
                Control::Continue => {}
                Control::Stop => break,
            }
        }
        Ok(&self.history)
    }

    /// Whether a step is plain SGD (no momentum, weight decay or clipping), which reads each
    /// gradient once as it appears: then the backward pass takes the step itself
    /// ([`Network::backward_descend`]).
    fn sgd_in_backward(&self) -> bool {
        self.config.optimizer == Optimizer::Sgd
            && self.config.weight_decay == 0.0
            && self.config.clip_grad_norm.is_none()
    }

    /// Whether to keep the pool's threads awake through an epoch of `batches` steps on `rows`
    /// rows each ([`with_threads_awake`]): when a step's products are large enough to share
    /// ([`AWAKE_MIN_MACS`]; not seed-online's one-row steps, nor the default run's 64-128-10 at
    /// batch 32) and the epoch long enough to pay for waking them ([`AWAKE_MIN_STEPS`]).
    fn keep_awake(&self, rows: usize, batches: usize) -> bool {
        matches!(self.par, Par::Threads(t) if t > 1)
            && batches >= AWAKE_MIN_STEPS
            && self
                .net
                .layers
                .iter()
                .any(|l| rows * l.inputs * l.outputs >= AWAKE_MIN_MACS)
    }

    /// Trains one epoch (unless the run is finished), so that a caller can checkpoint between
    /// epochs. The training set must be the same on every call.
    pub fn step_epoch(
        &mut self,
        train: &Dataset<T>,
        val: Option<&Dataset<T>>,
        progress: &mut (dyn FnMut(Progress<'_>) -> Control + Send),
    ) -> Result<Control> {
        if self.finished {
            return Ok(Control::Stop);
        }
        let mut batches = match self.batches.take() {
            Some(b) if b.order.len() == train.len() => b,
            _ => {
                self.check_data(train, "training")?;
                let weights = self.config.class_weight.for_data(train, &self.loss);
                self.class_weights = weights
                    .map_err(Error::config)?
                    .into_iter()
                    .map(T::of)
                    .collect();
                // A new training set: a GPU run uploads it anew, L-BFGS evaluates it anew.
                self.gpu = None;
                self.lbfgs_at = None;
                self.sample_weights = train.sample_weight.clone().unwrap_or_default();
                if !self.sample_weights.is_empty() && self.config.device != Device::Cpu {
                    return Err(Error::Device {
                        device: self.config.device.to_string(),
                        message: "sample weights are taken on the CPU only".into(),
                    });
                }
                if let Some(v) = val {
                    self.check_data(v, "validation")?;
                }
                let batches = Batches::new(
                    train.len(),
                    train.x.cols,
                    target_cols(&train.y),
                    self.config.batch_size,
                );
                self.batch_weights = match (&self.sample_weights[..], self.config.optimizer) {
                    ([], _) => Vec::new(),
                    (w, Optimizer::Lbfgs(_)) => {
                        let mut all = vec![T::ZERO; w.len()];
                        scaled_weights(&mut all, w.iter().copied());
                        all
                    }
                    (_, _) => vec![T::ZERO; batches.batch_size],
                };
                // Buffers for the largest batch (a batch size beyond the rows is all of them, as
                // PyTorch's DataLoader gives one short batch); L-BFGS works in chunks.
                let capacity = match self.config.optimizer {
                    Optimizer::Lbfgs(_) => crate::network::CHUNK_ROWS,
                    _ => batches.batch_size,
                };
                if self.ws.capacity != capacity {
                    self.ws = Workspace::new(&self.net, capacity)
                        .with_dropout(&self.net, &self.config.dropout);
                }
                batches
            }
        };
        self.history.metric = match train.task() {
            // Multi-label: the fraction of rows with every label right (scikit-learn's score).
            crate::data::Task::Classification | crate::data::Task::MultiLabel => "accuracy".into(),
            crate::data::Task::Regression => "r2".into(),
        };
        let result = self.run_epoch(train, val, &mut batches, progress);
        self.batches = Some(batches);
        result
    }

    /// At the end of a run with early stopping: keep the last weights aside and put the best ones
    /// into the network, whether or not early stopping triggered.
    pub fn restore_best(&mut self) {
        if let Some(b) = &self.best {
            self.last_params = Some(self.net.state());
            self.net.set_state(&b.params);
            self.lbfgs_at = None;
            self.history.best_epoch = Some(b.epoch);
        }
    }

    /// The weights (and running statistics) training goes on from: the last epoch's, even after
    /// the best were restored.
    pub fn training_state(&self) -> Vec<T> {
        self.last_params.clone().unwrap_or_else(|| self.net.state())
    }

    /// Consumes the trainer, returning the trained network.
    pub fn into_network(self) -> Network<T> {
        self.net
    }

    /// That `d` fits the network; `what` names it in the errors ("training", "validation").
    fn check_data(&self, d: &Dataset<T>, what: &str) -> Result<()> {
        if d.x.cols != self.net.inputs {
            return Err(Error::config(format!(
                "the {what} data has {} features, the network takes {}",
                d.x.cols, self.net.inputs
            )));
        }
        if d.is_empty() {
            return Err(Error::config(format!("the {what} data has no rows")));
        }
        if d.weightless() {
            return Err(Error::config(format!(
                "every row of the {what} data has sample weight 0: none of them counts"
            )));
        }
        let out = self.net.outputs();
        match &d.y {
            Targets::Classes(c) => {
                let n = c.iter().max().map_or(0, |m| m + 1);
                if out > 1 && n > out {
                    return Err(Error::config(format!(
                        "the data has {n} classes, the network has {out} outputs"
                    )));
                }
                if out == 1 && n > 2 {
                    return Err(Error::config(format!(
                        "the data has {n} classes, the network has a single output (binary only)"
                    )));
                }
            }
            Targets::Values(v) if v.cols != out => {
                return Err(Error::config(format!(
                    "the data has {} target columns, the network has {out} outputs",
                    v.cols
                )))
            }
            Targets::Labels(v) if v.cols != out => {
                return Err(Error::config(format!(
                    "the data has {} labels, the network has {out} outputs",
                    v.cols
                )))
            }
            Targets::Values(_) | Targets::Labels(_) => {}
        }
        Ok(())
    }

    fn run_epoch(
        &mut self,
        train: &Dataset<T>,
        val: Option<&Dataset<T>>,
        batches: &mut Batches<T>,
        progress: &mut (dyn FnMut(Progress<'_>) -> Control + Send),
    ) -> Result<Control> {
        let started = Instant::now();
        let epoch = self.epoch + 1;
        let lr = self.schedule.lr;
        // A run stopped mid-epoch resumes there: the same shuffle (from the generator's state at
        // the epoch's start), the batches already trained skipped, the epoch's sums carried on.
        let resumed = self.position.take();
        if let Some(p) = &resumed {
            self.rng = p.rng.clone();
        }
        let rng_at_start = self.rng.clone();
        let lbfgs = match self.config.optimizer {
            Optimizer::Lbfgs(p) => Some(p),
            _ => None,
        };
        if lbfgs.is_none() && self.config.shuffle {
            batches.shuffle(&mut self.rng);
        }
        let n_batches = batches.count();
        let (first_batch, mut sum_loss, mut rows_done, mut tally, earlier_seconds) = match resumed {
            Some(p) => (p.batches_done, p.sum_loss, p.rows_done, p.tally, p.seconds),
            None => (0, 0.0, 0, Tally::new(&train.y), 0.0),
        };
        let mut stopped_after = None;
        let mut control = Control::Continue;
        if let Some(p) = lbfgs {
            let (loss, t, converged) = self.lbfgs_epoch(train, &p, epoch, lr)?;
            (sum_loss, rows_done, tally) = (loss * train.len() as f64, train.len(), t);
            if let Some(c) = converged {
                self.history.converged = Some(c);
                self.finished = true;
            }
            control = progress(Progress::Batch {
                epoch,
                batch: 1,
                batches: 1,
                loss,
                rows_done,
            });
        } else if self.config.device != Device::Cpu {
            control = self.device_batches(
                train,
                batches,
                first_batch,
                (epoch, lr),
                (&mut sum_loss, &mut rows_done, &mut tally),
                progress,
            )?;
        } else {
            let pool = &self.pool;
            let sgd_in_backward = self.sgd_in_backward();
            let awake = self.keep_awake(batches.batch_size, n_batches - first_batch);
            pool.install(|| -> Result<()> {
                let mut steps = || -> Result<()> {
                    for k in first_batch..n_batches {
                        let rows_weights = (!self.sample_weights.is_empty()).then(|| {
                            let idx = batches.indices(k);
                            let bw = &mut self.batch_weights[..idx.len()];
                            scaled_weights(bw, idx.iter().map(|&i| self.sample_weights[i]));
                            &*bw
                        });
                        let draw = Draw {
                            seed: self.config.seed,
                            epoch,
                            batch: k,
                        };
                        let (x, t) = match &self.config.augment {
                            None => batches.gather(k, &train.x, &train.y),
                            Some(a) => batches.gather_augmented(k, (&train.x, &train.y), a, draw),
                        };
                        let rows = x.rows;
                        self.net.forward_train(x, &mut self.ws, self.par, draw);
                        let weighted = t.weighted(&self.class_weights);
                        let loss = match rows_weights {
                            Some(w) => self
                                .ws
                                .evaluate_loss_with_rows(&self.net, &self.loss, weighted, w, true),
                            None => self.ws.evaluate_loss(&self.net, &self.loss, weighted, true),
                        };
                        if !loss.is_finite() {
                            return Err(Error::Diverged {
                                epoch,
                                batch: k + 1,
                                loss,
                                learning_rate: lr,
                            });
                        }
                        // Rows count their sample weights as the batch's loss does (scaled to
                        // average 1 over the batch), so the accuracy is averaged as the loss is.
                        tally.add(self.ws.output(), t, self.net.outputs(), rows_weights);
                        if sgd_in_backward {
                            self.net.backward_descend(x, &mut self.ws, self.par, lr);
                            self.optimizer.step += 1;
                        } else {
                            self.net.backward(x, &mut self.ws, self.par);
                            if let Some(c) = self.config.clip_grad_norm {
                                clip_grad_norm(&mut self.ws.grads, c);
                            }
                            self.config.optimizer.step(
                                &mut self.net.params,
                                &mut self.ws.grads,
                                &mut self.optimizer,
                                lr,
                                self.config.weight_decay,
                                &self.decayed,
                            );
                        }
                        if !self.net.buffers.is_empty() {
                            self.net.update_running_stats(&self.ws);
                        }
                        sum_loss += loss * rows as f64;
                        rows_done += rows;
                        control = progress(Progress::Batch {
                            epoch,
                            batch: k + 1,
                            batches: n_batches,
                            loss,
                            rows_done,
                        });
                        if control == Control::Stop && k + 1 < n_batches {
                            stopped_after = Some(k + 1);
                            return Ok(());
                        }
                    }
                    Ok(())
                };
                match awake {
                    true => with_threads_awake(steps),
                    false => steps(),
                }
            })?;
        }
        if let Some(batches_done) = stopped_after {
            // Stopped mid-epoch: the epoch is not complete; remember where, for a checkpoint.
            self.position = Some(EpochPosition {
                rng: rng_at_start,
                batches_done,
                sum_loss,
                rows_done,
                tally,
                seconds: earlier_seconds + started.elapsed().as_secs_f64(),
            });
            return Ok(Control::Stop);
        }
        let train_loss = sum_loss / rows_done as f64;
        let (val_loss, val_metric) = match val {
            Some(v) => {
                let (l, m) = self.evaluate(v);
                (Some(l), Some(m))
            }
            None => (None, None),
        };
        self.epoch = epoch;
        let monitored = val_loss.unwrap_or(train_loss);
        self.config.warmup.advance(
            &self.config.schedule,
            &mut self.schedule,
            self.config.learning_rate,
            (epoch - 1, self.config.epochs),
            monitored,
        );
        let record = EpochRecord {
            epoch,
            train_loss,
            train_metric: tally.metric(),
            val_loss,
            val_metric,
            learning_rate: lr,
            seconds: earlier_seconds + started.elapsed().as_secs_f64(),
        };
        if let Some(patience) = self.config.early_stopping {
            // As scikit-learn: the best weights are the lowest loss's, but only a fall of more
            // than `min_improvement` below the best so far resets the count of bad epochs.
            let enough = self.config.min_improvement;
            match &mut self.best {
                Some(b) => {
                    let counts = monitored < b.loss - enough;
                    if monitored < b.loss {
                        b.loss = monitored;
                        b.epoch = epoch;
                        b.params = self.net.state();
                    }
                    if counts {
                        b.bad_epochs = 0;
                    } else {
                        b.bad_epochs += 1;
                        if b.bad_epochs >= patience {
                            self.history.stopped_early = true;
                            self.finished = true;
                        }
                    }
                }
                None => {
                    self.best = Some(Best {
                        loss: monitored,
                        epoch,
                        params: self.net.state(),
                        bad_epochs: 0,
                    })
                }
            }
        }
        if epoch >= self.config.epochs {
            self.finished = true;
        }
        if self.finished {
            self.restore_best();
        }
        self.history.epochs.push(record);
        let c = progress(Progress::Epoch(
            self.history.epochs.last().expect("just pushed"),
        ));
        Ok(if c == Control::Stop {
            Control::Stop
        } else {
            control
        })
    }

    /// One L-BFGS iteration over the whole training set (an epoch): the data loss and tally at the
    /// weights it ends on, and whether it converged there.
    fn lbfgs_epoch(
        &mut self,
        train: &Dataset<T>,
        p: &LbfgsParams,
        epoch: usize,
        lr: f64,
    ) -> Result<(f64, Tally, Option<Converged>)> {
        let (net, ws, pool, par) = (&mut self.net, &mut self.ws, &self.pool, self.par);
        let (loss, class_weights) = (&self.loss, &self.class_weights[..]);
        // Scaled to average 1 over the whole set, so that its loss is Σ w·E / Σ w.
        let sample_weights = &self.batch_weights[..];
        let (decayed, lambda) = (&self.decayed, self.config.weight_decay);
        let mut w = net.params.clone();
        // Each evaluation's data loss and tally, to report the one the line search accepts.
        let mut seen: Vec<(f64, Tally)> = Vec::new();
        let mut objective = |w: &[T], g: &mut [f64]| -> Result<f64> {
            net.params.copy_from_slice(w);
            let (data_loss, tally) = pool.install(|| {
                full_batch(
                    net,
                    ws,
                    (loss, class_weights, sample_weights),
                    train,
                    par,
                    g,
                )
            });
            // The L2 penalty's part: λ/2·‖W‖² and λ·W, on the weights (not the biases).
            let mut penalty = 0.0;
            if lambda != 0.0 {
                for r in decayed {
                    for (g, w) in g[r.clone()].iter_mut().zip(&w[r.clone()]) {
                        penalty += 0.5 * lambda * w.f64() * w.f64();
                        *g += lambda * w.f64();
                    }
                }
            }
            seen.push((data_loss, tally));
            Ok(data_loss + penalty)
        };
        // The objective where this iteration starts: kept from the last one, or evaluated now.
        let (mut point, kept) = match self.lbfgs_at.take() {
            Some(at) => (at.point, Some((at.loss, at.tally))),
            None => {
                let mut g = vec![0.0; w.len()];
                let f = objective(&w, &mut g)?;
                (lbfgs::Point { f, g }, None)
            }
        };
        let diverged = |p: &lbfgs::Point| {
            let finite = p.f.is_finite() && p.g.iter().all(|g| g.is_finite());
            (!finite).then_some(Error::Diverged {
                epoch,
                batch: 1,
                loss: p.f,
                learning_rate: lr,
            })
        };
        if let Some(e) = diverged(&point) {
            return Err(e);
        }
        let state = &mut self.optimizer;
        let it = lbfgs::iterate(
            p,
            &mut w,
            &mut point,
            &mut state.history,
            (state.step, lr),
            &mut objective,
        )?;
        state.step += 1;
        net.params.copy_from_slice(&w);
        if let Some(e) = diverged(&point) {
            return Err(e);
        }
        let evaluated_start = usize::from(kept.is_none());
        let (loss, tally) = match (it.accepted, kept) {
            (Some(i), _) => seen.swap_remove(evaluated_start + i),
            (None, Some(k)) => k,
            (None, None) => seen.swap_remove(0),
        };
        self.lbfgs_at = Some(LbfgsAt {
            point,
            loss,
            tally: tally.clone(),
        });
        Ok((loss, tally, it.converged))
    }

    /// The batches of one epoch on the GPU: launched all at once, waited for once, then reported
    /// batch by batch. A stop asked for during the reports ends the run after this (complete) epoch.
    fn device_batches(
        &mut self,
        train: &Dataset<T>,
        batches: &Batches<T>,
        first_batch: usize,
        (epoch, lr): (usize, f64),
        (sum_loss, rows_done, tally): (&mut f64, &mut usize, &mut Tally),
        progress: &mut (dyn FnMut(Progress<'_>) -> Control + Send),
    ) -> Result<Control> {
        if self.gpu.is_none() {
            self.gpu = Some(Run::new(
                &self.net,
                (&self.loss, &self.class_weights),
                &self.config,
                &self.optimizer,
                train,
                batches.batch_size,
            )?);
        }
        let run = self.gpu.as_mut().expect("made above");
        let report = run.epoch(&batches.order, (epoch, first_batch), lr)?;
        // The CPU stops at the first non-finite loss; the GPU learns of it after the epoch. The
        // host then keeps the weights from before this epoch, and the device run is dropped.
        if let Some(i) = report.losses.iter().position(|l| !l.is_finite()) {
            self.gpu = None;
            return Err(Error::Diverged {
                epoch,
                batch: first_batch + i + 1,
                loss: report.losses[i],
                learning_rate: lr,
            });
        }
        run.download(&mut self.net, &mut self.optimizer)?;
        tally.add_device(&report);
        let n_batches = first_batch + report.losses.len();
        for (i, (&loss, &rows)) in report.losses.iter().zip(&report.rows).enumerate() {
            *sum_loss += loss * rows as f64;
            *rows_done += rows;
            let c = progress(Progress::Batch {
                epoch,
                batch: first_batch + i + 1,
                batches: n_batches,
                loss,
                rows_done: *rows_done,
            });
            if c == Control::Stop {
                return Ok(Control::Stop);
            }
        }
        Ok(Control::Continue)
    }

    /// Mean loss and metric (accuracy or R²) of the current network on `data`, forward only,
    /// in chunks through the training workspace. Rows with sample weights count theirs in both:
    /// the loss is Σ w·Eᵣ / Σ w, as scikit-learn scores its early-stopping validation rows.
    pub fn evaluate(&mut self, data: &Dataset<T>) -> (f64, f64) {
        let cap = self.ws.capacity;
        let mut tally = Tally::new(&data.y);
        let mut sum = 0.0;
        let weights = data.sample_weight.as_deref();
        let pool = &self.pool;
        pool.install(|| {
            for start in (0..data.len()).step_by(cap) {
                let end = (start + cap).min(data.len());
                let x = data.x.view_rows(start, end);
                let t = data.y.as_ref().rows(start, end, self.net.outputs());
                self.net.forward(x, &mut self.ws, self.par);
                // Each chunk's loss is a mean over its rows (weighted: (1/B)·Σ w·Eᵣ); back to a sum.
                sum += (end - start) as f64
                    * match weights {
                        None => self.ws.evaluate_loss(&self.net, &self.loss, t, false),
                        Some(w) => self.ws.evaluate_loss_with_rows(
                            &self.net,
                            &self.loss,
                            t,
                            &w[start..end],
                            false,
                        ),
                    };
                let rows_weights = weights.map(|w| &w[start..end]);
                tally.add(self.ws.output(), t, self.net.outputs(), rows_weights);
            }
        });
        let total = weights.map_or(data.len() as f64, |w| w.iter().map(|w| w.f64()).sum());
        (sum / total, tally.metric())
    }
}

/// The whole training set's mean loss and its gradient (into `g`) at the network's weights, a
/// workspace's worth of rows at a time: each chunk's mean gradient weighted by its share of the
/// rows, summed in f64 in row order (the same bits on any number of threads).
fn full_batch<T: Float>(
    net: &Network<T>,
    ws: &mut Workspace<T>,
    (loss, class_weights, sample_weights): (&Loss, &[T], &[T]),
    data: &Dataset<T>,
    par: Par,
    g: &mut [f64],
) -> (f64, Tally) {
    g.fill(0.0);
    let (n, cap) = (data.len(), ws.capacity);
    let mut tally = Tally::new(&data.y);
    let mut sum = 0.0;
    for start in (0..n).step_by(cap) {
        let end = (start + cap).min(n);
        let x = data.x.view_rows(start, end);
        let t = data.y.as_ref().rows(start, end, net.outputs());
        net.forward(x, ws, par);
        let share = (end - start) as f64 / n as f64;
        let targets = t.weighted(class_weights);
        sum += share
            * match sample_weights {
                [] => ws.evaluate_loss(net, loss, targets, true),
                w => ws.evaluate_loss_with_rows(net, loss, targets, &w[start..end], true),
            };
        let rows_weights = (!sample_weights.is_empty()).then(|| &sample_weights[start..end]);
        tally.add(ws.output(), t, net.outputs(), rows_weights);
        net.backward(x, ws, par);
        for (g, d) in g.iter_mut().zip(&ws.grads) {
            *g += share * d.f64();
        }
    }
    (sum, tally)
}

/// Writes `weights` into `dst` scaled to average 1 (all 0 stay 0: such a batch counts for nothing),
/// so that a batch's mean loss is its weighted mean Σ w·E / Σ w.
fn scaled_weights<T: Float>(dst: &mut [T], weights: impl Iterator<Item = T>) {
    let mut sum = 0.0;
    for (d, w) in dst.iter_mut().zip(weights) {
        *d = w;
        sum += w.f64();
    }
    let scale = if sum > 0.0 {
        T::of(dst.len() as f64 / sum)
    } else {
        T::ZERO
    };
    dst.iter_mut().for_each(|d| *d *= scale);
}

/// Target values per row: a batch's buffer for them (none for classes).
fn target_cols<T: Float>(y: &Targets<T>) -> usize {
    match y {
        Targets::Classes(_) => 0,
        Targets::Values(v) | Targets::Labels(v) => v.cols,
    }
}

/// Running accuracy (classes, labels) or the sums behind R² (values), with no allocation per
/// batch. Each row counts its sample weight (1 without), as [`crate::metrics`] weighs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Σ w over the rows seen (their number without weights).
    rows: f64,
    /// Σ w over the rows predicted right.
    correct: f64,
    /// Per output column: Σw(y−d)², Σwd, Σwd².
    sse: Vec<f64>,
    sd: Vec<f64>,
    sdd: Vec<f64>,
}

impl Tally {
    fn new<T: Float>(y: &Targets<T>) -> Self {
        let value_cols = match y {
            Targets::Values(v) => v.cols,
            Targets::Classes(_) | Targets::Labels(_) => 0,
        };
        Tally {
            rows: 0.0,
            correct: 0.0,
            sse: vec![0.0; value_cols],
            sd: vec![0.0; value_cols],
            sdd: vec![0.0; value_cols],
        }
    }

    /// Adds a batch's outputs `y` (`m` a row) against its targets `t`, row r counting
    /// `weights[r]` (1 without).
    fn add<T: Float>(&mut self, y: &[T], t: TargetsRef<'_, T>, m: usize, weights: Option<&[T]>) {
        let rows = y.len() / m;
        // Two copies of the loops, so that without weights each row adds a constant 1 (a batch
        // of one row is seed-online's whole step).
        match weights {
            None => {
                self.rows += rows as f64;
                self.add_rows(y, t, m, |_| 1.0)
            }
            Some(w) => {
                self.rows += w[..rows].iter().map(|w| w.f64()).sum::<f64>();
                self.add_rows(y, t, m, |r| w[r].f64())
            }
        }
    }

    fn add_rows<T: Float>(
        &mut self,
        y: &[T],
        t: TargetsRef<'_, T>,
        m: usize,
        weight: impl Fn(usize) -> f64,
    ) {
        let rows = y.len() / m;
        match t {
            TargetsRef::Classes(c) | TargetsRef::Weighted { classes: c, .. } => {
                for (r, &class) in c.iter().enumerate().take(rows) {
                    let row = &y[r * m..(r + 1) * m];
                    let pred = if m == 1 {
                        usize::from(row[0].f64() > 0.5)
                    } else {
                        let mut best = 0;
                        for j in 1..m {
                            if row[j] > row[best] {
                                best = j;
                            }
                        }
                        best
                    };
                    self.correct += if pred == class { weight(r) } else { 0.0 };
                }
            }
            TargetsRef::Labels(d) | TargetsRef::WeightedLabels { labels: d, .. } => {
                // Right when every label is (subset accuracy).
                for (r, (yr, dr)) in y.chunks_exact(m).zip(d.chunks_exact(m)).enumerate() {
                    if crate::metrics::labels_right(yr, dr) {
                        self.correct += weight(r);
                    }
                }
            }
            TargetsRef::Values(d) => {
                for (i, (&yv, &dv)) in y.iter().zip(d).enumerate() {
                    let (j, w) = (i % m, weight(i / m));
                    let (yv, dv) = (yv.f64(), dv.f64());
                    self.sse[j] += w * (yv - dv) * (yv - dv);
                    self.sd[j] += w * dv;
                    self.sdd[j] += w * dv * dv;
                }
            }
        }
    }

    /// Adds a device's tally of an epoch.
    fn add_device(&mut self, e: &DeviceEpoch) {
        self.rows += e.rows.iter().sum::<usize>() as f64;
        self.correct += e.correct.round();
        for (acc, add) in [
            (&mut self.sse, &e.sse),
            (&mut self.sd, &e.sd),
            (&mut self.sdd, &e.sdd),
        ] {
            for (a, v) in acc.iter_mut().zip(add) {
                *a += v;
            }
        }
    }

    fn metric(&self) -> f64 {
        if self.rows <= 0.0 {
            return 0.0;
        }
        if self.sse.is_empty() {
            return self.correct / self.rows;
        }
        let n = self.rows;
        // A constant column scores 1 where it is predicted exactly, as `metrics::r2`.
        let r2: f64 = (0..self.sse.len())
            .map(|j| {
                let sst = self.sdd[j] - self.sd[j] * self.sd[j] / n;
                match (sst > 0.0, self.sse[j] > 0.0) {
                    (true, _) => 1.0 - self.sse[j] / sst,
                    (false, false) => 1.0,
                    (false, true) => 0.0,
                }
            })
            .sum();
        r2 / self.sse.len() as f64
    }
}

/// Trains `net` on `data` with `config`, holding out `config.validation_split` of it (stratified)
/// for validation; returns the history. The everyday entry point.
pub fn fit<T: Float>(
    net: &mut Network<T>,
    data: &Dataset<T>,
    config: &TrainConfig,
) -> Result<History> {
    fit_with_progress(net, data, config, &mut |_| Control::Continue)
}

/// [`fit`], reporting progress after each batch and epoch.
pub fn fit_with_progress<T: Float>(
    net: &mut Network<T>,
    data: &Dataset<T>,
    config: &TrainConfig,
    progress: &mut (dyn FnMut(Progress<'_>) -> Control + Send),
) -> Result<History> {
    let split;
    let (train, val) = if config.validation_split > 0.0 {
        split = data.split(config.validation_split, config.seed ^ 0x5eed);
        (&split.0, Some(&split.1))
    } else {
        (data, None)
    };
    let mut trainer = Trainer::new(net.clone(), config)?;
    trainer.fit(train, val, progress)?;
    let history = trainer.history.clone();
    *net = trainer.into_network();
    Ok(history)
}
