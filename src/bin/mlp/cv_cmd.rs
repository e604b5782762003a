//! `mlp cv`: k-fold cross-validation with the flags of `mlp train`. Each fold is held out in turn;
//! the preprocessing (missing values, standardisation) is fitted on the other folds only, and a
//! network trained on them from the same seed; the held-out fold gives the figures. Prints each
//! fold and the mean and standard deviation of each figure, as scikit-learn's `cross_validate`
//! does; writes no model (`mlp train` makes the one to keep).

use std::process::ExitCode;
use std::time::Instant;

use mlp::data::{fold_indices, Targets};
use mlp::{metrics, Control, Error, Float, Progress, Result, Trainer};
use serde_json::{json, Value};

use crate::progress::Bar;
use crate::train_cmd::{
    augment_flag, by_precision, check_size, class_weight_line, held_out_figures, impute_flag,
    load_training, network_spec, preprocess, resolve, scale_flag, task_flag, train_config,
    val_split_flag, validation_split, Out,
};
use crate::CvArgs;

pub fn run(a: CvArgs) -> Result<ExitCode> {
    let args = resolve(a.train)?;
    let folds = a.folds;
    by_precision(&args, |a| cv::<f32>(a, folds), |a| cv::<f64>(a, folds))
}

fn cv<T: Float>(args: &crate::TrainArgs, folds: usize) -> Result<ExitCode> {
    let out = Out::of(args)?;
    let figures = cross_validate::<T>(args, folds, &out)?;
    if out.json {
        crate::train_cmd::report(figures);
    }
    Ok(ExitCode::SUCCESS)
}

/// Cross-validates the network and training `args` describe over `folds` folds, printing through
/// `out` as it goes; returns `{"task", "folds": [per fold], "mean", "std", "counted"}` (the
/// folds each mean was taken over).
pub fn cross_validate<T: Float>(args: &crate::TrainArgs, folds: usize, out: &Out) -> Result<Value> {
    for (flag, given) in [
        ("--test", args.test.is_some()),
        ("--test-labels", args.test_labels.is_some()),
        ("--test-split", args.test_split.is_some()),
        ("--val", args.val.is_some()),
        ("--val-labels", args.val_labels.is_some()),
        ("--out", args.out.is_some()),
        ("--checkpoint", args.checkpoint.is_some()),
        ("--resume", args.resume.is_some()),
        ("--log", args.log.is_some()),
        ("--plot", args.plot.is_some()),
    ] {
        if given {
            return Err(Error::config(format!(
                "{flag} does not apply to mlp cv: each fold is held out in turn and no model is \
                 written (mlp train makes the model to keep)"
            )));
        }
    }
    if let Some(m) = &args.warm_start {
        return Err(Error::config(format!(
            "--warm-start {} does not apply to mlp cv: each fold trains from fresh weights, as \
             scikit-learn's cross-validation clones the estimator",
            m.display()
        )));
    }
    if folds < 2 {
        return Err(Error::config(format!(
            "--folds {folds}: expected at least 2"
        )));
    }
    let val_split = val_split_flag(args)?;
    let mut config = train_config(args, val_split)?;
    let (impute, missing) = impute_flag(args)?;
    let data_name = args.data.clone().unwrap_or_else(|| "digits".into());
    let loaded = load_training::<T>(args, &data_name, task_flag(args)?, missing, None)?;
    config.augment = augment_flag(args, loaded.image)?;
    let data = &loaded.train;
    let task = data.task();
    let seed = args.seed.unwrap_or(0);
    let parts = fold_indices(data, folds, seed);
    if parts.iter().any(Vec::is_empty) {
        return Err(Error::config(format!(
            "--folds {folds}: {data_name} has only {} rows",
            data.len()
        )));
    }
    let scale = scale_flag(args, &loaded);
    out.line(format!("data     {}", loaded.description));
    out.line(format!("task     {}", loaded.task_reason));
    if let Some(t) = &loaded.test {
        out.line(format!(
            "folds    of the training rows only ({} left out)",
            t.what
        ));
    }
    let spec = network_spec(args, data.x.cols, task, data.outputs())?;
    check_size::<T>(&spec, config.batch_size.min(data.len()))?;
    // Checked once here; each fold's trainer weighs the classes of its own training rows.
    class_weight_line(&config, &spec, data)?;
    out.line(format!(
        "folds    {folds}{}, seed {seed}; preprocessing fitted on the training folds",
        if data.classes().is_some() {
            ", stratified"
        } else {
            ""
        }
    ));
    let names: &[&str] = match &data.y {
        Targets::Classes(_) | Targets::Labels(_) => &["loss", "accuracy", "macro_f1", "roc_auc"],
        Targets::Values(_) => &["loss", "mse", "mae", "r2"],
    };
    out.line(format!(
        "\n{:>4}  {:>6}  {:>6}  {}  {:>7}",
        "fold",
        "train",
        "test",
        names
            .iter()
            .map(|n| format!("{n:>9}"))
            .collect::<Vec<_>>()
            .join("  "),
        "seconds"
    ));
    let mut rows: Vec<Value> = Vec::new();
    for (i, held_out) in parts.iter().enumerate() {
        let started = Instant::now();
        let rest: Vec<usize> = (0..folds)
            .filter(|&j| j != i)
            .flat_map(|j| parts[j].iter().copied())
            .collect();
        let (mut train, mut test) = (data.subset(&rest), data.subset(held_out));
        let truth = test.y.clone(); // the targets in their own units
        let pre = preprocess((&mut train, &mut test), impute, scale, &loaded.categorical);
        let (train, val) = validation_split(train, val_split, seed)?;
        let mut trainer = Trainer::new(spec.build::<T>(seed), &config)?;
        let mut bar = Bar::new(out.text);
        trainer.fit(&train, val.as_ref(), &mut |p| {
            match p {
                Progress::Batch {
                    epoch,
                    batch,
                    batches,
                    loss,
                    rows_done,
                } => bar.batch(epoch, batch, batches, loss, rows_done),
                Progress::Epoch(_) => bar.epoch_done(),
            }
            Control::Continue
        })?;
        let (loss, _) = trainer.evaluate(&test);
        let mut row = json!({"fold": i + 1, "train_rows": train.len(), "test_rows": test.len(), "loss": loss});
        for (name, v) in held_out_figures(&trainer.net, &test, &truth, pre.target.as_ref()) {
            row[name] = json!(v);
        }
        row["seconds"] = json!(started.elapsed().as_secs_f64());
        out.line(format!(
            "{:>4}  {:>6}  {:>6}  {}  {:>7.2}",
            i + 1,
            train.len(),
            test.len(),
            names
                .iter()
                .map(|n| format!("{:>9.4}", row[*n].as_f64().unwrap_or(f64::NAN)))
                .collect::<Vec<_>>()
                .join("  "),
            row["seconds"].as_f64().unwrap_or(0.0)
        ));
        rows.push(row);
    }
    // A figure a fold cannot have (ROC AUC where its test rows hold one class) is left out of
    // the mean, and the line says over how many folds it was taken.
    let (mut mean, mut std, mut counted) = (json!({}), json!({}), json!({}));
    let mut shown = Vec::new();
    for n in names {
        let v: Vec<f64> = rows.iter().filter_map(|r| r[*n].as_f64()).collect();
        let (m, s) = metrics::mean_std(&v);
        mean[*n] = json!(m);
        std[*n] = json!(s);
        counted[*n] = json!(v.len());
        shown.push(match v.len() {
            0 => format!("{n} n/a (no fold has it)"),
            k if k < rows.len() => format!("{n} {m:.4} ± {s:.4} ({k} of {folds} folds)"),
            _ => format!("{n} {m:.4} ± {s:.4}"),
        });
    }
    out.line(format!(
        "\nmean ± std over {folds} folds: {}",
        shown.join(", ")
    ));
    Ok(json!({"task": task, "folds": rows, "mean": mean, "std": std, "counted": counted}))
}
