//! `mlp explain` and `mlp gradcheck`: backpropagation made visible, and checked.

use std::process::ExitCode;

use mlp::attribution::integrated_gradients;
use mlp::data::{feature_groups, Columns, Targets, Task};
use mlp::explain::{seed_example, trace};
use mlp::model_file::Model;
use mlp::{
    gradient_check, gradient_check_with_dropout, Draw, Error, Loss, Matrix, Result, Rng, TargetsRef,
};
use serde_json::json;

use crate::inspect::{check_features, load_as, load_rows, missing_targets, target_names};
use crate::plot::{self, Figure, Picture};
use crate::train_cmd::{
    align_classes, categorical_flag, check_size, drop_flag, dropout_flag, image_flag, impute_flag,
    network_spec, preprocess, resolve, scale_flag, task_flag,
};
use crate::{source, ExplainArgs, GradcheckArgs};

pub fn explain(a: ExplainArgs) -> Result<ExitCode> {
    if a.attributions {
        return attributions(&a);
    }
    let t = match (&a.example, &a.model) {
        (Some(e), _) if e == "seed" => {
            let (net, x, d, alpha) = seed_example();
            let alpha = a.lr.unwrap_or(alpha);
            if a.format == "text" {
                println!("The seed's network: 2 inputs, 3 sigmoid hidden neurons, 1 linear output, no bias, E = (d − y)²/2.");
                println!(
                    "W¹ = {:?}, W² = {:?}, x = {x:?}, d = {d}, α = {alpha}\n",
                    &net.params[..6],
                    &net.params[6..]
                );
            }
            trace(
                &net,
                &x,
                TargetsRef::Values(&[d]),
                &Loss::HalfSquaredError,
                alpha,
            )
        }
        (Some(e), _) => {
            return Err(Error::config(format!(
                "--example {e}: the one example is 'seed'"
            )))
        }
        (None, Some(model_path)) => {
            let model = Model::<f64>::load(model_path)?;
            let m = &model.meta;
            let data = a
                .data
                .as_deref()
                .ok_or_else(|| Error::config("--model needs --data SOURCE and --row K"))?;
            if a.target.is_none() {
                missing_targets(
                    data,
                    m,
                    "explain traces a training step on the row, against its target, and needs",
                )?;
            }
            let pre = &m.preprocessing;
            let load = |target| load_as::<f64>(data, target, None, m);
            let loaded = load(a.target.as_deref().or(m.target_name.as_deref()))
                .or_else(|_| load(a.target.as_deref()))?;
            let mut d = loaded.held_out();
            check_features(&d, model.network.inputs, &model.meta, data)?;
            check_row(a.row, d.len(), data)?;
            align_classes(&mut d, &m.class_names, data)?;
            pre.prepare(&mut d.x);
            if let (Some(s), Targets::Values(v)) = (&m.preprocessing.target, &mut d.y) {
                s.apply(v);
            }
            let loss = Loss::parse(&m.loss).map_err(|e| Error::Model {
                path: model_path.clone(),
                message: e,
            })?;
            let alpha = a.lr.or_else(|| m.training["lr"].as_f64()).unwrap_or(0.01);
            if a.format == "text" {
                println!(
                    "{} on row {} of {}{}\n",
                    model_path.display(),
                    a.row,
                    source::shown(data),
                    if m.preprocessing.features.is_some() {
                        " (features standardised as in training)"
                    } else {
                        ""
                    }
                );
            }
            let x = d.x.row(a.row).to_vec();
            match &d.y {
                Targets::Classes(c) => trace(
                    &model.network,
                    &x,
                    TargetsRef::Classes(&c[a.row..a.row + 1]),
                    &loss,
                    alpha,
                ),
                Targets::Values(v) | Targets::Labels(v) => trace(
                    &model.network,
                    &x,
                    TargetsRef::Values(v.row(a.row)),
                    &loss,
                    alpha,
                ),
            }
        }
        (None, None) => {
            return Err(Error::config(
                "give --example seed, or --model M --data SOURCE --row K",
            ))
        }
    };
    match a.format.as_str() {
        "text" => print!("{}", t.to_text()),
        "markdown" => print!("{}", t.to_markdown()),
        "json" => println!(
            "{}",
            serde_json::to_string_pretty(&t).expect("serialisable")
        ),
        f => {
            return Err(Error::config(format!(
                "--format {f}: expected text, json or markdown"
            )))
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns `explain --attributions` lists in text, largest first.
const SHOWN: usize = 20;

/// `--row`: one of the `rows` rows of `data`.
fn check_row(row: usize, rows: usize, data: &str) -> Result<()> {
    if row >= rows {
        return Err(Error::config(format!(
            "--row {row}: {data} has {rows} rows (0 to {})",
            rows.saturating_sub(1)
        )));
    }
    Ok(())
}

/// The most points `--steps` may put on the integrated-gradients path.
const MAX_STEPS: usize = 100_000;

/// `mlp explain --attributions`: which input columns one row's prediction owes to. Integrated
/// gradients of the explained output (a class's probability, or each value or label) from the
/// all-zero network input — every standardised feature at its training mean, no category of a
/// one-hot column, pixels at 0 — summed over each column's features (exact: they add up), in the
/// output's own units.
fn attributions(a: &ExplainArgs) -> Result<ExitCode> {
    let (Some(path), Some(data)) = (&a.model, a.data.as_deref()) else {
        return Err(Error::config(
            "--attributions needs --model M --data SOURCE [--row K]",
        ));
    };
    if let Some(lr) = a.lr {
        return Err(Error::config(format!(
            "--lr {lr} is the traced training step's learning rate; --attributions takes no step"
        )));
    }
    // The path's points are one batch: 10⁵ of MNIST's 784 inputs are 0.6 GB.
    if !(1..=MAX_STEPS).contains(&a.steps) {
        return Err(Error::config(format!(
            "--steps {}: expected 1 to {MAX_STEPS} points of the path (the sum comes closer with more)",
            a.steps
        )));
    }
    let model = Model::<f64>::load(path)?;
    let m = &model.meta;
    let mut d = load_rows::<f64>(data, a.target.as_deref(), m)?;
    check_row(a.row, d.len(), data)?;
    let raw = d.x.row(a.row).to_vec();
    m.preprocessing.prepare(&mut d.x);
    let net = &model.network;
    let x = d.x.row(a.row).to_vec();
    let p = net.predict(&Matrix::from_vec(1, x.len(), x.clone()));
    let names = &m.class_names;
    // The outputs explained, with what each is called.
    let outputs: Vec<(usize, String)> = match (m.task, net.outputs()) {
        (Task::Classification, 1) => vec![(0, format!("p({})", names.get(1).map_or("1", |n| n)))],
        (Task::Classification, k) => {
            let c = match &a.class {
                Some(name) => names.iter().position(|n| n == name).ok_or_else(|| {
                    Error::config(format!(
                        "--class {name}: not one of the model's classes ({})",
                        names.join(", ")
                    ))
                })?,
                None => (0..k).fold(0, |b, j| if p[(0, j)] > p[(0, b)] { j } else { b }),
            };
            vec![(c, format!("p({})", names[c]))]
        }
        (Task::MultiLabel, k) => (0..k)
            .map(|j| {
                (
                    j,
                    format!("p({})", names.get(j).cloned().unwrap_or(j.to_string())),
                )
            })
            .collect(),
        (Task::Regression, k) => target_names(m, k).into_iter().enumerate().collect(),
    };
    if a.class.is_some() && !(m.task == Task::Classification && net.outputs() > 1) {
        return Err(Error::config(
            "--class applies to classifiers with a probability per class",
        ));
    }
    let groups = feature_groups(&m.feature_names, &m.preprocessing.categorical);
    // Each column's value as read: a number, or a one-hot column's category.
    let shown: Vec<String> = groups
        .iter()
        .map(|(column, range)| {
            match m
                .preprocessing
                .categorical
                .iter()
                .find(|c| &c.column == column)
            {
                Some(c) => range
                    .clone()
                    .position(|j| raw[j] == 1.0)
                    .map_or("(none)".to_string(), |i| c.categories[i].clone()),
                None => {
                    // As a reader writes it: 55.73, 0.9961, 5.
                    let v = format!("{:.4}", raw[range.start]);
                    v.trim_end_matches('0').trim_end_matches('.').to_string()
                }
            }
        })
        .collect();
    let baseline = vec![0.0; net.inputs];
    let mut report = Vec::new();
    for (o, name) in &outputs {
        let at = integrated_gradients(net, &x, &baseline, *o, a.steps);
        // Regression outputs are standardised targets: map them back to the target's units.
        let (scale, shift) = match &m.preprocessing.target {
            Some(s) => (s.std[*o], s.mean[*o]),
            None => (1.0, 0.0),
        };
        let columns: Vec<(String, String, f64)> = groups
            .iter()
            .zip(&shown)
            .map(|((column, range), v)| {
                let sum: f64 = at.inputs[range.clone()].iter().sum();
                (column.clone(), v.clone(), sum * scale)
            })
            .collect();
        report.push((
            name.clone(),
            at.value * scale + shift,
            at.baseline_value * scale + shift,
            at.gap() * scale,
            columns,
        ));
    }
    if let Some(file) = &a.plot {
        let explained: Vec<plot::Attributions> = report
            .iter()
            .map(|(name, value, _, _, columns)| plot::Attributions {
                title: format!("{name} = {value:.4}"),
                columns: columns.iter().map(|(c, _, at)| (c.clone(), *at)).collect(),
            })
            .collect();
        let figure = match m.preprocessing.image {
            Some(shape) => Figure::Heatmap(
                Picture {
                    shape,
                    pixels: &raw,
                },
                &explained,
            ),
            None => Figure::Bars(&explained),
        };
        plot::draw(figure, file)?;
    }
    match a.format.as_str() {
        "json" => {
            let items: Vec<serde_json::Value> = report
                .iter()
                .map(|(name, value, base, gap, columns)| {
                    json!({
                        "output": name,
                        "value": value,
                        "baseline_value": base,
                        "gap": gap,
                        "columns": columns
                            .iter()
                            .map(|(c, v, at)| json!({"column": c, "value": v, "attribution": at}))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!(
                "{}",
                json!({"model": path.display().to_string(), "data": data, "row": a.row, "steps": a.steps, "outputs": items})
            );
        }
        "text" => {
            println!(
                "why {} predicts as it does on row {} of {}: integrated gradients ({} steps) from the baseline input, {}{}",
                path.display(),
                a.row,
                source::shown(data),
                a.steps,
                match m.preprocessing.features {
                    Some(_) => "every feature at its training mean",
                    None => "every feature 0",
                },
                if m.preprocessing.categorical.is_empty() { "" } else { ", no category" }
            );
            for (name, value, base, gap, columns) in &report {
                println!("\n{name} = {value:.4} (baseline {base:.4})");
                let mut order: Vec<&(String, String, f64)> = columns.iter().collect();
                order.sort_by(|p, q| q.2.abs().total_cmp(&p.2.abs()));
                let w = columns
                    .iter()
                    .map(|c| c.0.chars().count())
                    .max()
                    .unwrap_or(6)
                    .max(6);
                let v = columns
                    .iter()
                    .map(|c| c.1.chars().count())
                    .max()
                    .unwrap_or(5)
                    .max(5);
                println!("  {:<w$}  {:>v$}  {:>11}", "column", "value", "attribution");
                // The largest 20; a picture's hundreds of pixels are in the JSON.
                for (c, val, at) in order.iter().take(SHOWN) {
                    println!("  {c:<w$}  {val:>v$}  {at:>+11.4}");
                }
                if order.len() > SHOWN {
                    let rest: f64 = order[SHOWN..].iter().map(|c| c.2).sum();
                    println!(
                        "  ({} more columns, adding up to {rest:+.4}; --format json lists them all)",
                        order.len() - SHOWN
                    );
                }
                println!(
                    "  {:<w$}  {:>v$}  {:>+11.4} = {value:.4} − {base:.4} to within {:.1e}",
                    "sum",
                    "",
                    columns.iter().map(|c| c.2).sum::<f64>(),
                    gap.abs()
                );
            }
        }
        f => {
            return Err(Error::config(format!(
                "--format {f}: attributions are text or json"
            )))
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The train flags a gradient check reads: the data and how it is prepared, the network and its
/// loss (these two only without --model, whose network meets inputs drawn at random), dropout
/// (its masks are fixed while the differences are taken), the seed and the output.
const GRADCHECK_READS: [&str; 18] = [
    "data",
    "target",
    "categorical",
    "drop",
    "impute",
    "image_size",
    "grayscale",
    "labels",
    "task",
    "hidden",
    "activation",
    "output",
    "loss",
    "init",
    "no_bias",
    "batch_norm",
    "layer_norm",
    "no_standardize",
];
const GRADCHECK_ALWAYS_READS: [&str; 5] = ["dropout", "seed", "config", "format", "quiet"];

/// That every flag given on the command line has a part in the check: the others (how to train,
/// where to write) are refused by name rather than ignored. A --config file's keys are not
/// checked: such a file may describe a training run the check borrows its network from.
fn gradcheck_flags(a: &GradcheckArgs) -> Result<()> {
    let given = serde_json::to_value(&a.train).expect("flags serialise");
    let given = given.as_object().expect("flags are an object");
    for key in given.keys() {
        if GRADCHECK_ALWAYS_READS.contains(&key.as_str()) {
            continue;
        }
        let flag = format!("--{}", key.replace('_', "-"));
        match (&a.model, GRADCHECK_READS.contains(&key.as_str())) {
            (None, true) => {}
            (Some(m), true) => {
                return Err(Error::config(format!(
                    "{flag} does not apply with --model {}: the check takes the model's network \
                     and loss, and draws its inputs at random (seeded)",
                    m.display()
                )))
            }
            (_, false) => {
                return Err(Error::config(format!(
                    "{flag} does not apply to mlp gradcheck: it checks the gradients of the \
                     network at its initial weights (or a model's), and trains nothing"
                )))
            }
        }
    }
    Ok(())
}

pub fn gradcheck(a: GradcheckArgs) -> Result<ExitCode> {
    gradcheck_flags(&a)?;
    let args = resolve(a.train.clone())?;
    if a.rows == 0 {
        return Err(Error::config("--rows 0: expected at least 1"));
    }
    let rows = a.rows;
    let (net, x, y, loss, what) = match &a.model {
        Some(path) => {
            let model = Model::<f64>::load(path)?;
            let loss = Loss::parse(&model.meta.loss).map_err(|e| Error::Model {
                path: path.clone(),
                message: e,
            })?;
            // Inputs and targets drawn at random (seeded): the check needs the network, not the data.
            let mut rng = Rng::new(args.seed.unwrap_or(0));
            let n = model.network.inputs;
            let x = Matrix::from_vec(rows, n, (0..rows * n).map(|_| rng.normal()).collect());
            let m = model.network.outputs();
            let y = match model.meta.task {
                mlp::Task::Classification => Targets::Classes(
                    (0..rows)
                        .map(|_| rng.below(model.meta.class_names.len().max(2)))
                        .collect(),
                ),
                mlp::Task::Regression => Targets::Values(Matrix::from_vec(
                    rows,
                    m,
                    (0..rows * m).map(|_| rng.normal()).collect(),
                )),
                mlp::Task::MultiLabel => Targets::Labels(Matrix::from_vec(
                    rows,
                    m,
                    (0..rows * m).map(|_| rng.below(2) as f64).collect(),
                )),
            };
            (model.network, x, y, loss, path.display().to_string())
        }
        None => {
            let data = args.data.clone().unwrap_or_else(|| "digits".into());
            let (impute, missing) = impute_flag(&args)?;
            let loaded = source::load::<f64>(
                &data,
                args.target.as_deref(),
                args.labels.as_deref(),
                task_flag(&args)?,
                Columns::Find {
                    categorical: &categorical_flag(&args),
                    drop: &drop_flag(&args),
                    weight: None,
                },
                missing,
                image_flag(&args, &data)?,
            )?;
            // The checked rows, preprocessed as training would: statistics of all the rows.
            let scale = scale_flag(&args, &loaded);
            let mut d = loaded.train;
            let take: Vec<usize> = (0..rows.min(d.len())).collect();
            let mut sub = d.subset(&take);
            preprocess((&mut d, &mut sub), impute, scale, &loaded.categorical);
            let spec = network_spec(&args, d.x.cols, d.task(), d.outputs())?;
            check_size::<f64>(&spec, sub.len())?;
            let net = spec.build::<f64>(args.seed.unwrap_or(0));
            let loss = match &args.loss {
                Some(l) => Loss::parse(l).map_err(|e| Error::config(format!("--loss: {e}")))?,
                None => Loss::for_output(net.output_activation()),
            };
            loss.check_output(net.output_activation())
                .map_err(Error::config)?;
            (
                net,
                sub.x,
                sub.y,
                loss,
                format!(
                    "a network on {} rows of {}",
                    take.len(),
                    source::shown(&data)
                ),
            )
        }
    };
    // With --dropout: the masks of the first training batch, fixed while the differences are taken.
    let dropout = dropout_flag(args.dropout.as_deref())?;
    dropout
        .check(net.layers.len() - 1)
        .map_err(|e| Error::config(format!("--dropout: {e}")))?;
    // With batch normalisation: a training pass, normalised with the checked rows' own statistics
    // (the harder case: every row's h' moves them).
    let (report, what) = if dropout.is_none() && !net.has_batch_norm() {
        (gradient_check(&net, &x, y.as_ref(), &loss), what)
    } else {
        let draw = Draw {
            seed: args.seed.unwrap_or(0),
            epoch: 1,
            batch: 0,
        };
        let report = gradient_check_with_dropout(&net, &x, y.as_ref(), &loss, &dropout, draw);
        let mut what = what;
        if !dropout.is_none() {
            what = format!(
                "{what} with dropout {} (the masks of the first training batch)",
                dropout.describe()
            );
        }
        if net.has_batch_norm() {
            what = format!(
                "{what}, batch-normalised with these rows' mean and variance, as in training"
            );
        }
        (report, what)
    };
    let what = if net.layer_norm().is_some() {
        format!("{what}, layer-normalised with each row's own mean and variance")
    } else {
        what
    };
    let worst = report.worst();
    let pass = worst < a.tolerance;
    if args.format.as_deref() == Some("json") {
        println!(
            "{}",
            json!({"layers": report.layers, "worst_relative_error": worst, "tolerance": a.tolerance, "pass": pass, "loss": report.loss})
        );
    } else if !args.quiet {
        println!(
            "gradient check of {what}, loss {loss}: backprop against finite differences (f64)"
        );
        println!(
            "{:>5}  {:>14}  {:<16}  {:>14}  {:>14}",
            "layer", "worst rel err", "at", "backprop", "numeric"
        );
        for l in &report.layers {
            println!(
                "{:>5}  {:>14.3e}  {:<16}  {:>14.6e}  {:>14.6e}",
                l.layer + 1,
                l.worst_relative_error,
                l.worst_parameter,
                l.analytic,
                l.numeric
            );
        }
        println!(
            "worst {:.3e} {} tolerance {:.1e}: {}",
            worst,
            if pass { "<" } else { "≥" },
            a.tolerance,
            if pass { "pass" } else { "FAIL" }
        );
    }
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
