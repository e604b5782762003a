//! `mlp eval`, `mlp predict`, `mlp info`: using a model file.

use std::path::Path;
use std::process::ExitCode;

use mlp::data::images::ImageRead;
use mlp::data::npy::{npy_bytes, Values};
use mlp::data::{csv_columns, csv_headers, feature_groups, first_names, Columns, Targets, Task};
use mlp::metrics::{self, ClassScores, ConfusionMatrix};
use mlp::model_file::{read_meta, write_atomic, Checkpoint, Model, ModelMeta};
use mlp::{Dataset, Error, Float, Loss, Matrix, Result};
use serde_json::json;

use crate::plot::{self, Confusion, Curve, Figure, Scatter};
use crate::train_cmd::{align_classes, column_list};
use crate::{source, EvalArgs, InfoArgs, PredictArgs};

/// The target column to read: `--target`, else the model's own target columns when the CSV has
/// them.
pub(crate) fn target_for(data: &str, given: Option<String>, m: &ModelMeta) -> Option<String> {
    given.or_else(|| {
        let p = Path::new(data);
        let headers = csv_headers(p).ok().filter(|_| source::is_csv(p))?;
        let own = m.target_columns();
        (!own.is_empty() && own.iter().all(|n| headers.iter().any(|h| h == n)))
            .then(|| own.join(","))
    })
}

/// `--threshold`: a probability in (0, 1), for a model whose positive class or labels it can
/// decide — a binary classifier (one sigmoid output, or two classes) or a multi-label one.
fn check_threshold(threshold: Option<f64>, m: &ModelMeta, outputs: usize) -> Result<Option<f64>> {
    let Some(t) = threshold else {
        return Ok(None);
    };
    if !(t > 0.0 && t < 1.0) {
        return Err(Error::config(format!(
            "--threshold {t}: expected a probability between 0 and 1"
        )));
    }
    let binary = m.task == Task::Classification && outputs <= 2;
    if !binary && m.task != Task::MultiLabel {
        return Err(Error::config(format!(
            "--threshold: the model is a {} model with {outputs} outputs; a threshold decides a binary or multi-label model",
            m.task.name()
        )));
    }
    Ok(Some(t))
}

/// The class of each row: the most probable; with a threshold (binary models), the second class
/// where its probability is above it.
fn decide_classes<T: Float>(probs: &Matrix<T>, threshold: Option<f64>) -> Vec<usize> {
    match threshold {
        None => mlp::network::classes(probs),
        Some(t) => (0..probs.rows)
            .map(|r| usize::from(probs[(r, probs.cols - 1)].f64() > t))
            .collect(),
    }
}

/// ", predicted above probability t" where a threshold was given.
fn at_threshold(threshold: Option<f64>) -> String {
    threshold.map_or(String::new(), |t| {
        format!(", predicted above probability {t}")
    })
}

/// Multi-label: 1 where a label's probability is above the threshold (0.5), else 0.
fn decide_labels<T: Float>(probs: &Matrix<T>, threshold: Option<f64>) -> Matrix<T> {
    let t = threshold.unwrap_or(0.5);
    let data = probs
        .data
        .iter()
        .map(|&p| if p.f64() > t { T::ONE } else { T::ZERO });
    Matrix::from_vec(probs.rows, probs.cols, data.collect())
}

/// A figure to 4 places, or `n/a` where it is not defined.
fn or_na(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

/// The table of each class's (or label's) precision, recall, F1, support and ROC AUC.
fn print_scores(kind: &str, names: &[String], scores: &[ClassScores], auc: &[Option<f64>]) {
    println!(
        "\n{kind:<12} {:>9} {:>9} {:>9} {:>8} {:>9}",
        "precision", "recall", "f1", "support", "roc_auc"
    );
    for ((name, s), auc) in names.iter().zip(scores).zip(auc) {
        println!(
            "{name:<12} {:>9.4} {:>9.4} {:>9.4} {:>8} {:>9}",
            s.precision,
            s.recall,
            s.f1,
            plot::shown_count(s.support),
            or_na(*auc)
        );
    }
}

/// A count in the JSON report: a whole number as an integer, as it is without sample weights.
fn count_json(v: f64) -> serde_json::Value {
    match v.fract() == 0.0 && v.abs() < 2f64.powi(53) {
        true => json!(v as i64),
        false => json!(v),
    }
}

/// A CSV without the model's target columns cannot be evaluated (nor a training step traced on
/// it): say which is missing, and that `needs` them (rather than read its last column as the
/// target).
pub(crate) fn missing_targets(data: &str, m: &ModelMeta, needs: &str) -> Result<()> {
    let p = Path::new(data);
    let Some(headers) = csv_headers(p).ok().filter(|_| source::is_csv(p)) else {
        return Ok(());
    };
    let own = m.target_columns();
    match own.iter().find(|n| !headers.iter().any(|h| h == *n)) {
        Some(name) if !own.is_empty() => Err(Error::data(
            p,
            format!(
                "no column '{name}': {needs} the model's target column{} ({}), or --target",
                if own.len() == 1 { "" } else { "s" },
                own.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// The names of a regression's `cols` targets: the model's target columns, else 1, 2, ….
pub(crate) fn target_names(m: &ModelMeta, cols: usize) -> Vec<String> {
    match m.target_columns() {
        names if names.len() == cols => names.iter().map(|n| n.to_string()).collect(),
        _ => (1..=cols).map(|j| j.to_string()).collect(),
    }
}

pub(crate) fn check_features<T: Float>(
    d: &Dataset<T>,
    want: usize,
    m: &ModelMeta,
    data: &str,
) -> Result<()> {
    if d.x.cols != want {
        return Err(Error::config(format!(
            "{data}: {} features, but the model takes {want} ({})",
            d.x.cols,
            first_names(&m.feature_names, 8)
        )));
    }
    Ok(())
}

/// Labelled data read as model `m` reads it: its columns found by name (its text columns encoded
/// with its categories, missing values read where it fills them), its number of features checked,
/// classes numbered as its outputs. Not yet preprocessed.
pub(crate) fn load_labelled<T: Float>(
    data: &str,
    target: Option<&str>,
    labels: Option<&str>,
    m: &ModelMeta,
) -> Result<source::Loaded<T>> {
    let mut loaded = load_as::<T>(data, target, labels, m)?;
    check_features(&loaded.train, m.architecture.inputs, m, data)?;
    align_classes(&mut loaded.train, &m.class_names, data)?;
    if let Some(t) = &mut loaded.test {
        align_classes(&mut t.data, &m.class_names, data)?;
    }
    Ok(loaded)
}

/// Data read with model `m`'s columns (found by name, its text columns encoded with its
/// categories), task and handling of missing values; nothing checked yet.
pub(crate) fn load_as<T: Float>(
    data: &str,
    target: Option<&str>,
    labels: Option<&str>,
    m: &ModelMeta,
) -> Result<source::Loaded<T>> {
    source::load::<T>(
        data,
        target,
        labels,
        Some(m.task),
        Columns::Model {
            names: &m.columns(),
            categorical: &m.preprocessing.categorical,
        },
        m.preprocessing.missing(),
        m.preprocessing
            .image
            .map_or_else(ImageRead::default, ImageRead::as_shape),
    )
}

/// Rows to predict, read as model `m` reads them (see [`source::load_features`]), their number of
/// features checked. Not yet preprocessed.
pub(crate) fn load_rows<T: Float>(
    data: &str,
    target: Option<&str>,
    m: &ModelMeta,
) -> Result<Dataset<T>> {
    let d = source::load_features::<T>(
        data,
        target,
        m.target_name.as_deref(),
        &m.columns(),
        &m.preprocessing.categorical,
        m.preprocessing.missing(),
        m.preprocessing.image,
    )?;
    check_features(&d, m.architecture.inputs, m, data)?;
    Ok(d)
}

/// Reads the model file once and hands its bytes to the f32 or f64 path, by its stored precision.
fn with_precision(
    path: &Path,
    f32: impl FnOnce(&[u8]) -> Result<ExitCode>,
    f64: impl FnOnce(&[u8]) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    match read_meta(&bytes, path)?.0.precision.as_str() {
        "f64" => f64(&bytes),
        _ => f32(&bytes),
    }
}

pub fn eval(a: EvalArgs) -> Result<ExitCode> {
    if a.format != "text" && a.format != "json" {
        return Err(Error::config(format!(
            "--format {}: expected text or json",
            a.format
        )));
    }
    let path = a.model.clone();
    with_precision(&path, |b| eval_t::<f32>(&a, b), |b| eval_t::<f64>(&a, b))
}

fn eval_t<T: Float>(a: &EvalArgs, bytes: &[u8]) -> Result<ExitCode> {
    let model = Model::<T>::from_bytes(bytes, &a.model)?;
    let m = &model.meta;
    let target = target_for(&a.data, a.target.clone(), m);
    if target.is_none() {
        missing_targets(&a.data, m, "eval needs")?;
    }
    let weighted_by = (a.sample_weight.as_deref())
        .map(|w| source::WeightSource::of(w, &a.data))
        .transpose()?;
    let loaded = load_labelled::<T>(&a.data, target.as_deref(), a.labels.as_deref(), m)?;
    let mut d = loaded.held_out();
    if let (Some(spec), Some(from)) = (&a.sample_weight, &weighted_by) {
        let values = from.read(&a.data, d.len(), "the data")?;
        d = d
            .with_sample_weight(values)
            .map_err(|e| Error::config(format!("--sample-weight {spec}: {e}")))?;
    }
    // Every figure is weighted by them (scikit-learn's `sample_weight=` of its metrics).
    let rows_w = d.sample_weight.as_deref();
    let weights = d.weights();
    let w = weights.as_deref();
    m.preprocessing.prepare(&mut d.x);
    let loss = Loss::parse(&m.loss).map_err(|e| Error::Model {
        path: a.model.clone(),
        message: e,
    })?;
    let net = &model.network;
    let threshold = check_threshold(a.threshold, m, net.outputs())?;
    let mut report =
        json!({"model": a.model.display().to_string(), "data": a.data, "rows": d.len()});
    if let Some(t) = threshold {
        report["threshold"] = json!(t);
    }
    // What the header line says of the rows: how many, of what, and how they are weighed.
    let mut rows_of = format!("{} rows of {}", d.len(), source::shown(&a.data));
    if let (Some(spec), Some(from), Some(w)) = (&a.sample_weight, &weighted_by, w) {
        let sum: f64 = w.iter().sum();
        report["sample_weight"] = json!(spec);
        report["weight_sum"] = count_json(sum);
        rows_of += &format!(", {} (Σ w = {})", from.describe(), plot::shown_count(sum));
    }
    match &d.y {
        Targets::Classes(truth) => {
            let probs = net.predict(&d.x);
            let predicted = decide_classes(&probs, threshold);
            let n = m.class_names.len().max(2);
            let cm = ConfusionMatrix::new(&predicted, truth, n, w);
            let avg = cm.macro_average();
            report["loss"] = json!(net.mean_loss(&d.x, d.y.as_ref(), &loss, rows_w));
            report["accuracy"] = json!(metrics::accuracy(&predicted, truth, w));
            report["log_loss"] = json!(metrics::log_loss(&probs, truth, w));
            report["macro_precision"] = json!(avg.precision);
            report["macro_recall"] = json!(avg.recall);
            report["macro_f1"] = json!(avg.f1);
            let auc = metrics::roc_auc_per_class(&probs, truth, n, w);
            let auc_summary = metrics::roc_auc_summary(&auc);
            if let Some(path) = &a.plot {
                // Binary: the positive class's curve (the other's is its mirror image).
                let shown = if n == 2 { 1..2 } else { 0..n };
                let curves = metrics::roc_curve_per_class(&probs, truth, n, w);
                let names: Vec<String> = (0..n).map(|c| class_name(&m.class_names, c)).collect();
                let confusion = Confusion {
                    names: &names,
                    counts: &cm.counts,
                };
                roc_plot(&names, &curves, &auc, shown, Some(confusion), path)?;
            }
            report["roc_auc"] = json!(auc_summary);
            report["per_class"] = json!(m
                .class_names
                .iter()
                .zip(cm.per_class())
                .zip(&auc)
                .map(|((name, s), auc)| json!({"class": name, "precision": s.precision, "recall": s.recall, "f1": s.f1, "support": count_json(s.support), "roc_auc": auc}))
                .collect::<Vec<_>>());
            report["confusion_matrix"] = json!(cm
                .counts
                .iter()
                .map(|row| row.iter().map(|&c| count_json(c)).collect::<Vec<_>>())
                .collect::<Vec<_>>());
            report["class_names"] = json!(m.class_names);
            if a.format == "text" {
                println!("{rows_of}{}", at_threshold(threshold));
                println!(
                    "accuracy {:.4}   loss {:.4}   log-loss {:.4}   macro precision {:.4} recall {:.4} F1 {:.4}",
                    report["accuracy"].as_f64().unwrap_or(0.0),
                    report["loss"].as_f64().unwrap_or(0.0),
                    report["log_loss"].as_f64().unwrap_or(0.0),
                    avg.precision,
                    avg.recall,
                    avg.f1
                );
                match n {
                    2 => println!("ROC AUC {}", or_na(auc_summary)),
                    _ => println!("ROC AUC {} (one-vs-rest, macro)", or_na(auc_summary)),
                }
                print_scores("class", &m.class_names, &cm.per_class(), &auc);
                println!("\nconfusion matrix (rows: true class, columns: predicted)");
                // As wide as the longest class name or count (a sum of weights: 1234.50).
                let counts = cm.counts.iter().flatten();
                let w = (m.class_names.iter().map(|c| c.len()))
                    .chain(counts.map(|&v| plot::shown_count(v).len()))
                    .max()
                    .unwrap_or(1)
                    .max(5);
                print!("{:>w$}", "");
                for c in &m.class_names {
                    print!(" {c:>w$}");
                }
                println!();
                for (c, row) in m.class_names.iter().zip(&cm.counts) {
                    print!("{c:>w$}");
                    for &v in row {
                        print!(" {:>w$}", plot::shown_count(v));
                    }
                    println!();
                }
            }
        }
        Targets::Labels(truth) => {
            // As scikit-learn scores an indicator matrix: subset accuracy, Hamming loss, and
            // precision/recall/F1 and ROC AUC per label with their macro and micro means.
            let probs = net.predict(&d.x);
            // The metrics of decisions read them at 0.5: give them the 0/1 decisions at the
            // threshold (the same as the probabilities without one); the AUC ranks the probabilities.
            let decided = decide_labels(&probs, threshold);
            let per_label = metrics::label_scores(&decided, truth, w);
            let (avg, micro) = (
                metrics::macro_average(&per_label),
                metrics::micro_scores(&decided, truth, w),
            );
            let auc = metrics::roc_auc_per_label(&probs, truth, w);
            if let Some(path) = &a.plot {
                let curves = metrics::roc_curve_per_label(&probs, truth, w);
                roc_plot(&m.class_names, &curves, &auc, 0..truth.cols, None, path)?;
            }
            report["loss"] = json!(net.mean_loss(&d.x, d.y.as_ref(), &loss, rows_w));
            report["accuracy"] = json!(metrics::subset_accuracy(&decided, truth, w));
            report["hamming_loss"] = json!(metrics::hamming_loss(&decided, truth, w));
            report["macro_precision"] = json!(avg.precision);
            report["macro_recall"] = json!(avg.recall);
            report["macro_f1"] = json!(avg.f1);
            report["micro_f1"] = json!(micro.f1);
            report["roc_auc"] = json!(metrics::mean_defined(&auc));
            report["per_label"] = json!(m
                .class_names
                .iter()
                .zip(&per_label)
                .zip(&auc)
                .map(|((name, s), auc)| json!({"label": name, "precision": s.precision, "recall": s.recall, "f1": s.f1, "support": count_json(s.support), "roc_auc": auc}))
                .collect::<Vec<_>>());
            if a.format == "text" {
                println!(
                    "{rows_of}; {} labels{}",
                    truth.cols,
                    at_threshold(threshold)
                );
                println!(
                    "subset accuracy {:.4}   Hamming loss {:.4}   loss {:.4}   ROC AUC {} (macro)",
                    report["accuracy"].as_f64().unwrap_or(0.0),
                    report["hamming_loss"].as_f64().unwrap_or(0.0),
                    report["loss"].as_f64().unwrap_or(0.0),
                    or_na(metrics::mean_defined(&auc)),
                );
                println!(
                    "macro precision {:.4} recall {:.4} F1 {:.4}   micro precision {:.4} recall {:.4} F1 {:.4}",
                    avg.precision, avg.recall, avg.f1, micro.precision, micro.recall, micro.f1
                );
                print_scores("label", &m.class_names, &per_label, &auc);
            }
        }
        Targets::Values(truth) => {
            let mut p = net.predict(&d.x);
            if let Some(s) = &m.preprocessing.target {
                s.invert(&mut p);
            }
            report["mse"] = json!(metrics::mse(&p, truth, w));
            report["rmse"] = json!(metrics::rmse(&p, truth, w));
            report["mae"] = json!(metrics::mae(&p, truth, w));
            report["r2"] = json!(metrics::r2(&p, truth, w));
            if let Some(path) = &a.plot {
                let targets: Vec<Scatter> = target_names(m, p.cols)
                    .into_iter()
                    .enumerate()
                    .map(|(j, name)| {
                        let points = (0..p.rows)
                            .map(|r| (truth[(r, j)].f64(), p[(r, j)].f64()))
                            .collect();
                        Scatter { name, points }
                    })
                    .collect();
                plot::draw(Figure::Fit(&targets), path)?;
            }
            if a.format == "text" {
                println!("{rows_of}");
                println!(
                    "MSE {:.6}   RMSE {:.6}   MAE {:.6}   R² {:.4}   (in the target's units{})",
                    report["mse"].as_f64().unwrap_or(0.0),
                    report["rmse"].as_f64().unwrap_or(0.0),
                    report["mae"].as_f64().unwrap_or(0.0),
                    report["r2"].as_f64().unwrap_or(0.0),
                    if p.cols > 1 {
                        "; averaged over the targets"
                    } else {
                        ""
                    }
                );
            }
            if p.cols > 1 {
                // Each target alone, as scikit-learn's `multioutput="raw_values"`.
                let names = target_names(m, p.cols);
                let per_target: Vec<serde_json::Value> = names
                    .iter()
                    .enumerate()
                    .map(|(j, name)| {
                        let (pj, tj) = (p.column(j), truth.column(j));
                        json!({"target": name, "mse": metrics::mse(&pj, &tj, w), "mae": metrics::mae(&pj, &tj, w), "r2": metrics::r2(&pj, &tj, w)})
                    })
                    .collect();
                if a.format == "text" {
                    for t in &per_target {
                        println!(
                            "  {:<16} MSE {:.6}   MAE {:.6}   R² {:.4}",
                            t["target"].as_str().unwrap_or(""),
                            t["mse"].as_f64().unwrap_or(0.0),
                            t["mae"].as_f64().unwrap_or(0.0),
                            t["r2"].as_f64().unwrap_or(0.0)
                        );
                    }
                }
                report["per_target"] = json!(per_target);
            }
        }
    }
    if a.importance {
        report["importance"] = importance(a, &model, &d);
    }
    if a.format == "json" {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `eval --plot` for classes or labels: the ROC curves of those `shown` where they are defined
/// (a class with no row, or only its rows, has none), beside the confusion matrix if given.
fn roc_plot(
    names: &[String],
    curves: &[Option<Vec<(f64, f64)>>],
    auc: &[Option<f64>],
    shown: std::ops::Range<usize>,
    confusion: Option<Confusion<'_>>,
    path: &Path,
) -> Result<()> {
    let drawn: Vec<Curve> = shown
        .filter_map(|c| {
            let name = class_name(names, c);
            Some(Curve {
                name,
                points: curves[c].clone()?,
                auc: auc[c]?,
            })
        })
        .collect();
    plot::draw(Figure::Roc(&drawn, confusion), path)
}

/// `eval --importance`: each input column's permutation importance on the prepared rows `d`,
/// printed (text) and returned for the JSON report.
fn importance<T: Float>(a: &EvalArgs, model: &Model<T>, d: &Dataset<T>) -> serde_json::Value {
    let m = &model.meta;
    // The network predicts a regression target standardised; R² is the same in either scale
    // once the truth is standardised too.
    let standardised;
    let scored = match (&m.preprocessing.target, &d.y) {
        (Some(s), Targets::Values(_)) => {
            let mut c = d.clone();
            if let Targets::Values(v) = &mut c.y {
                s.apply(v);
            }
            standardised = c;
            &standardised
        }
        _ => d,
    };
    let columns = feature_groups(&m.feature_names, &m.preprocessing.categorical);
    let (score, found) =
        metrics::permutation_importance(&model.network, scored, &columns, a.repeats, a.seed);
    let metric = match d.y {
        Targets::Classes(_) | Targets::Labels(_) => "accuracy",
        Targets::Values(_) => "r2",
    };
    if a.format == "text" {
        let shown = match (metric, &d.sample_weight) {
            ("r2", None) => "R²",
            ("r2", Some(_)) => "weighted R²",
            (_, None) => metric,
            (_, Some(_)) => "weighted accuracy",
        };
        println!(
            "\npermutation importance: the fall in {shown} ({score:.4} as the rows are) when one column's values are shuffled across rows; mean ± std of {} shuffles, seed {}",
            a.repeats.max(1),
            a.seed
        );
        let w = found
            .iter()
            .map(|i| i.column.len())
            .max()
            .unwrap_or(6)
            .clamp(6, 40);
        println!("{:<w$} {:>9} {:>9}", "column", "fall", "± std");
        const SHOWN: usize = 30;
        for i in found.iter().take(SHOWN) {
            println!("{:<w$} {:>9.4} {:>9.4}", i.column, i.mean, i.std);
        }
        if found.len() > SHOWN {
            println!(
                "… and {} more columns (all of them: --format json)",
                found.len() - SHOWN
            );
        }
    }
    json!({"metric": metric, "score": score, "repeats": a.repeats.max(1), "seed": a.seed, "columns": found})
}

pub fn predict(a: PredictArgs) -> Result<ExitCode> {
    let path = a.model.clone();
    with_precision(
        &path,
        |b| predict_t::<f32>(&a, b),
        |b| predict_t::<f64>(&a, b),
    )
}

fn predict_t<T: Float>(a: &PredictArgs, bytes: &[u8]) -> Result<ExitCode> {
    let model = Model::<T>::from_bytes(bytes, &a.model)?;
    let m = &model.meta;
    if a.proba && m.task == Task::Regression {
        return Err(Error::config(
            "--proba: the model is a regression model; it predicts values, not probabilities",
        ));
    }
    if let Some(path) = &a.out {
        crate::train_cmd::check_writable(path)?;
    }
    let npy = a.out.as_deref().filter(|p| source::is_npy(p));
    if let (Some(path), Some(keep)) = (npy, &a.keep) {
        return Err(Error::config(format!(
            "--keep {keep}: {} is one numpy array of predictions; write a CSV to keep columns beside them",
            path.display()
        )));
    }
    let mut d = load_rows::<T>(&a.data, a.target.as_deref(), m)?;
    // Columns copied beside the predictions (`--keep id`): their header, then each row's text.
    // Images: each row's file, as found under the folder given, comes first.
    let mut keep = column_list(a.keep.as_deref());
    let files = source::image_files(&a.data, m.preprocessing.image)?;
    let kept = if let (Some(files), true) = (&files, keep.is_empty()) {
        keep.push("file".to_string());
        let under = |f: &Path| f.strip_prefix(&a.data).unwrap_or(f).display().to_string();
        files
            .iter()
            .map(|f| {
                vec![match under(f) {
                    s if s.is_empty() => f.display().to_string(),
                    s => s,
                }]
            })
            .collect()
    } else if keep.is_empty() {
        vec![Vec::new(); d.len()]
    } else if !source::is_csv(Path::new(&a.data)) {
        return Err(Error::config(format!(
            "--keep: {} is not a CSV file; only a CSV's columns can be kept",
            a.data
        )));
    } else {
        csv_columns(Path::new(&a.data), &keep)?
    };
    if kept.len() != d.len() {
        return Err(Error::data(
            Path::new(&a.data),
            format!("{} rows to keep for {} predictions", kept.len(), d.len()),
        ));
    }
    m.preprocessing.prepare(&mut d.x);
    let threshold = check_threshold(a.threshold, m, model.network.outputs())?;
    let mut p = model.network.predict(&d.x);
    if let Some(path) = npy {
        let bytes = npy_predictions(a, m, p, threshold).map_err(|e| Error::io(path, e))?;
        write_atomic(path, &bytes)?;
        eprintln!("{} predictions written to {}", d.len(), path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Error::config(format!("writing predictions: {e}"));
    match m.task {
        Task::Classification => {
            let names = &m.class_names;
            let mut header = keep.clone();
            header.push("prediction".to_string());
            if a.proba {
                header.extend(names.iter().map(|c| format!("p_{c}")));
            }
            w.write_record(&header).map_err(io)?;
            let classes = decide_classes(&p, threshold);
            for (r, &c) in classes.iter().enumerate() {
                let mut rec = kept[r].clone();
                rec.push(class_name(names, c));
                if a.proba {
                    if p.cols == 1 {
                        let p1 = p[(r, 0)];
                        rec.push(number(T::ONE - p1));
                        rec.push(number(p1));
                    } else {
                        rec.extend(p.row(r).iter().map(|&v| number(v)));
                    }
                }
                w.write_record(&rec).map_err(io)?;
            }
        }
        Task::MultiLabel => {
            // One column per label, 1 where its output is above the threshold (0.5); with
            // --proba, its probability.
            let names = &m.class_names;
            let mut header = keep.clone();
            header.extend(names.iter().map(|l| format!("prediction_{l}")));
            if a.proba {
                header.extend(names.iter().map(|l| format!("p_{l}")));
            }
            w.write_record(&header).map_err(io)?;
            let decided = decide_labels(&p, threshold);
            for (r, kept) in kept.iter().enumerate() {
                let row = p.row(r);
                let labels = decided.row(r).iter().map(|v| v.f64().to_string());
                let probs = row.iter().map(|&v| number(v));
                let probs = probs.take(if a.proba { row.len() } else { 0 });
                w.write_record(kept.iter().cloned().chain(labels).chain(probs))
                    .map_err(io)?;
            }
        }
        Task::Regression => {
            if let Some(s) = &m.preprocessing.target {
                s.invert(&mut p);
            }
            let mut header = keep.clone();
            let targets = target_names(m, p.cols);
            if p.cols == 1 {
                header.push("prediction".into());
            } else {
                header.extend(targets.iter().map(|t| format!("prediction_{t}")));
            }
            w.write_record(&header).map_err(io)?;
            for (r, kept) in kept.iter().enumerate() {
                let values = p.row(r).iter().map(|&v| number(v));
                w.write_record(kept.iter().cloned().chain(values))
                    .map_err(io)?;
            }
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::config(format!("writing predictions: {e}")))?;
    match &a.out {
        Some(path) => {
            write_atomic(path, &bytes)?;
            eprintln!("{} predictions written to {}", d.len(), path.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| Error::io("stdout", e))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A prediction as a CSV field: the shortest decimal that reads back as the same value in the
/// model's precision (0.1 from an f32 model, not 0.10000000149011612), with an exponent where
/// Python's `repr` would write one (below 1e-4 or from 1e16: 1.6178714e-19, not 0.000…00016).
fn number<T: Float>(v: T) -> String {
    let e = format!("{v:e}");
    // The exponent of the shortest decimal (1e-4 for an f32 0.0001, whose value lies below 1e-4).
    let exponent = e.rsplit_once('e').and_then(|(_, x)| x.parse::<i32>().ok());
    match exponent {
        Some(x) if v != T::ZERO && !(-4..16).contains(&x) => e,
        _ => format!("{v}"),
    }
}

/// Class c's name, or its number where the model names none.
fn class_name(names: &[String], c: usize) -> String {
    names.get(c).cloned().unwrap_or_else(|| c.to_string())
}

/// `predict --out P.npy`: the predictions as one numpy array, shaped as scikit-learn's `predict`
/// and `predict_proba` return them. Classes: one label a row, as numbers where every class name
/// is an integer (MNIST's digits, −1/1) and else as text (`<U`); with `--proba`, rows × classes
/// probabilities (a binary model's two columns too). Labels: rows × labels of 0/1, or their
/// probabilities. Values: one a row, or rows × targets, in the target's units. Probabilities
/// and values are in the model's precision (`<f4` or `<f8`). The error is the writer's: it writes
/// to memory, so it has none to give in practice.
fn npy_predictions<T: Float>(
    a: &PredictArgs,
    m: &ModelMeta,
    mut p: Matrix<T>,
    threshold: Option<f64>,
) -> std::io::Result<Vec<u8>> {
    /// Probabilities or values in the model's precision.
    fn floats<T: Float>(shape: &[usize], p: &Matrix<T>) -> std::io::Result<Vec<u8>> {
        match T::NAME {
            "f32" => {
                let v: Vec<f32> = p.data.iter().map(|v| v.f64() as f32).collect();
                npy_bytes(shape, Values::F32(&v))
            }
            _ => npy_bytes(
                shape,
                Values::F64(&p.data.iter().map(|v| v.f64()).collect::<Vec<_>>()),
            ),
        }
    }
    let rows = p.rows;
    match m.task {
        Task::Classification if a.proba => match p.cols {
            // A binary model's one output is p(class 1): both classes' columns, as the CSV's.
            1 => {
                let both = p.data.iter().flat_map(|&v| [T::ONE - v, v]).collect();
                floats(&[rows, 2], &Matrix::from_vec(rows, 2, both))
            }
            k => floats(&[rows, k], &p),
        },
        Task::Classification => {
            let names: Vec<String> = decide_classes(&p, threshold)
                .into_iter()
                .map(|c| class_name(&m.class_names, c))
                .collect();
            let numbers: Option<Vec<i64>> = names.iter().map(|n| n.parse().ok()).collect();
            match numbers {
                Some(v) => npy_bytes(&[rows], Values::I64(&v)),
                None => npy_bytes(&[rows], Values::Text(&names)),
            }
        }
        Task::MultiLabel if a.proba => floats(&[rows, p.cols], &p),
        Task::MultiLabel => {
            let decided = decide_labels(&p, threshold);
            let v: Vec<i64> = decided.data.iter().map(|v| v.f64() as i64).collect();
            npy_bytes(&[rows, p.cols], Values::I64(&v))
        }
        Task::Regression => {
            if let Some(s) = &m.preprocessing.target {
                s.invert(&mut p);
            }
            match p.cols {
                1 => floats(&[rows], &p),
                k => floats(&[rows, k], &p),
            }
        }
    }
}

/// Where `bytes` are a safetensors file that mlp cannot read as its model (one written by
/// PyTorch's `save_file`, say), its tensors, listed before the error says why: what the file
/// holds is the first thing to know about it.
fn foreign(bytes: &[u8], a: &InfoArgs) {
    let Ok(file) = safetensors::SafeTensors::deserialize(bytes) else {
        return;
    };
    // In the file's order (of their data), as the writer laid them out.
    let mut tensors: Vec<(usize, String, String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(name, t)| {
            let at = t.data().as_ptr() as usize;
            (at, name, format!("{:?}", t.dtype()), t.shape().to_vec())
        })
        .collect();
    tensors.sort();
    if a.format == "json" {
        let items: Vec<serde_json::Value> = tensors
            .iter()
            .map(|(_, name, dtype, shape)| json!({"name": name, "dtype": dtype, "shape": shape}))
            .collect();
        println!(
            "{}",
            json!({"model": a.model.display().to_string(), "tensors": items})
        );
        return;
    }
    println!(
        "file           {}: safetensors, {} tensors",
        a.model.display(),
        tensors.len()
    );
    for (_, name, dtype, shape) in &tensors {
        println!("  tensor       {name:<10} {dtype} {shape:?}");
    }
}

pub fn info(a: InfoArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&a.model).map_err(|e| Error::io(&a.model, e))?;
    let model = Model::<f64>::from_bytes(&bytes, &a.model).inspect_err(|_| foreign(&bytes, &a))?;
    let m = &model.meta;
    // A checkpoint (written by --checkpoint) also says where its run stands.
    let checkpoint = Checkpoint::<f64>::from_bytes(&bytes, &a.model)
        .ok()
        .map(|ck| {
            let s = &ck.state;
            let o = &ck.optimizer;
            json!({
                "epochs_done": s.epoch,
                "optimizer_step": s.optimizer_step,
                "finished": s.finished,
                "best_epoch": s.best.map(|b| b.1),
                "interrupted_after_batch": s.position.as_ref().map(|p| p.batches_done),
                "optimizer_state": if !o.history.is_empty() {
                    format!("L-BFGS memory, {} pairs (s, y)", o.history.len())
                } else if !o.v.is_empty() && !o.m.is_empty() {
                    "first and second moments".to_string()
                } else if !o.v.is_empty() {
                    "second moments".to_string()
                } else if !o.m.is_empty() {
                    "velocity".to_string()
                } else {
                    "none".to_string()
                },
            })
        });
    if a.format == "json" {
        let mut v = serde_json::to_value(m).expect("serialisable");
        v["parameters"] = json!(model.network.param_count());
        if let Some(c) = &checkpoint {
            v["checkpoint"] = c.clone();
        }
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    let arch = &m.architecture;
    let mut widths = vec![arch.inputs.to_string()];
    widths.extend(arch.layers.iter().map(|l| l.units.to_string()));
    println!("model          {}", a.model.display());
    println!(
        "format         version {} (written by mlp {}), {} weights",
        m.format_version, m.mlp_version, m.precision
    );
    println!(
        "architecture   {} ({}), {}",
        widths.join("-"),
        arch.layers
            .iter()
            .map(|l| l.activation.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if arch.bias { "with bias" } else { "no bias" }
    );
    if let Some(c) = &checkpoint {
        println!(
            "checkpoint     {} epochs done{}{}, optimizer step {}, state: {}{}",
            c["epochs_done"],
            match c["interrupted_after_batch"].as_u64() {
                Some(b) => format!(" and {b} batches of the next"),
                None => String::new(),
            },
            if c["finished"] == json!(true) {
                " (finished)"
            } else {
                ""
            },
            c["optimizer_step"],
            c["optimizer_state"].as_str().unwrap_or("none"),
            match c["best_epoch"].as_u64() {
                Some(b) => format!("; best epoch so far {b}"),
                None => String::new(),
            }
        );
    }
    println!("parameters     {}", model.network.param_count());
    for p in model.network.parameters() {
        let shape = if p.shape.len() == 2 {
            format!("[{}, {}]", p.shape[1], p.shape[0])
        } else {
            format!("{:?}", p.shape)
        };
        println!("  tensor       {:<10} {shape}", p.name);
    }
    if let Some(ln) = &arch.layer_norm {
        println!(
            "layer norm     after every hidden layer's product, each row over the layer's units (eps {}); no running statistics",
            ln.eps
        );
    }
    if let Some(bn) = &arch.batch_norm {
        println!(
            "batch norm     after every hidden layer's product (momentum {}, eps {}); running statistics of {} training batches:",
            bn.momentum, bn.eps, model.network.batches_tracked
        );
        for p in model.network.running_stats() {
            println!("  buffer       {:<16} {:?}", p.name, p.shape);
        }
    }
    println!("task           {}, loss {}", m.task.name(), m.loss);
    match m.task {
        // The labels are the target columns, named below.
        Task::MultiLabel => {}
        _ if !m.class_names.is_empty() => {
            println!("classes        {}", m.class_names.join(", "))
        }
        _ => {}
    }
    match m.target_columns()[..] {
        [] => {}
        [one] => println!("target         {one}"),
        ref several if m.task == Task::MultiLabel => {
            println!("labels         {} (one output each)", several.join(", "))
        }
        ref several => println!("targets        {} (one output each)", several.join(", ")),
    }
    println!(
        "features       {} ({})",
        m.feature_names.len(),
        first_names(&m.feature_names, 6)
    );
    for c in &m.preprocessing.categorical {
        println!(
            "one-hot        column {} → features {} to {} ({})",
            c.column,
            c.first_feature,
            c.first_feature + c.categories.len() - 1,
            first_names(&c.categories, 10)
        );
    }
    if let Some(shape) = &m.preprocessing.image {
        println!(
            "images         {}, pixels scaled to [0, 1], row by row{}: predict reads image files, resized to it",
            shape.describe(),
            if shape.channels == 1 { "" } else { ", channels last" }
        );
    }
    if let Some(i) = &m.preprocessing.impute {
        println!(
            "missing        filled with the training rows' {} per feature",
            i.strategy.name()
        );
    }
    println!(
        "preprocessing  features {}; target {}",
        if m.preprocessing.features.is_some() {
            if m.preprocessing.categorical.is_empty() {
                "standardised (training mean and std stored)"
            } else {
                "standardised (training mean and std stored), one-hot indicators left 0 or 1"
            }
        } else {
            "as given"
        },
        if m.preprocessing.target.is_some() {
            "standardised, predictions mapped back"
        } else {
            "as given"
        }
    );
    if let Some(obj) = m.training.as_object() {
        let items: Vec<String> = obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("training       {}", items.join(" "));
    }
    if let Some(obj) = m.metrics.as_object() {
        let items: Vec<String> = obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v.as_f64() {
                Some(f) if v.is_f64() => format!("{k}={f:.4}"),
                _ => format!("{k}={v}"),
            })
            .collect();
        println!("metrics        {}", items.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::number;

    /// The shortest decimal of the model's own precision, with Python's choice of exponents; and
    /// every value reads back to the same bits.
    #[test]
    fn predictions_print_as_python_reprs_them() {
        assert_eq!(number(0.1f32), "0.1");
        assert_eq!(number(0.1f64), "0.1");
        assert_eq!(number(0.0f32), "0");
        assert_eq!(number(12345.5f32), "12345.5");
        assert_eq!(number(1.6178714e-19f32), "1.6178714e-19");
        assert_eq!(number(-3e-5f64), "-3e-5");
        assert_eq!(number(1e-4f32), "0.0001");
        assert_eq!(number(2.5e16f64), "2.5e16");
        let mut x = 0x9E37_79B9u32;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = f32::from_bits(x);
            if v.is_finite() {
                assert_eq!(number(v).parse::<f32>().unwrap().to_bits(), v.to_bits());
            }
        }
    }
}
