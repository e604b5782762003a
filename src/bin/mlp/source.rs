//! Where data comes from: `--data SOURCE` is a .csv or .npy file, a folder of MNIST IDX files, or a
//! built-in name.

use std::path::Path;

use mlp::data::{
    builtin, csv_headers, idx, npy, read_csv, read_csv_from, Dataset, TargetColumn, Targets, Task,
};
use mlp::{Error, Float, Result};

/// Data as loaded, before splitting and preprocessing.
pub struct Loaded<T> {
    pub train: Dataset<T>,
    /// MNIST folders bring their own test set (the t10k files).
    pub test: Option<Dataset<T>>,
    /// What was loaded, for the user.
    pub description: String,
    /// The task, and why.
    pub task_reason: String,
    /// MNIST pixels, already scaled to [0, 1].
    pub images: bool,
    pub target_name: Option<String>,
}

fn target_column(target: Option<&str>) -> TargetColumn {
    target.map_or(TargetColumn::Last, TargetColumn::parse)
}

/// Loads `source` with its targets.
pub fn load<T: Float>(
    source: &str,
    target: Option<&str>,
    labels: Option<&str>,
    task: Option<Task>,
) -> Result<Loaded<T>> {
    let path = Path::new(source);
    if let Some(text) = builtin::text(source) {
        let tc = target_column(target);
        let d = read_csv_from::<T>(
            text.as_bytes(),
            source,
            &tc,
            task.or(Some(Task::Classification)),
        )?;
        let target_name = csv_target_name(&d, text.lines().next().unwrap_or(""), &tc);
        return Ok(Loaded {
            description: format!(
                "{source} (built-in): {} rows, {} features",
                d.len(),
                d.x.cols
            ),
            task_reason: if task.is_some() {
                "given".into()
            } else {
                "classification: the built-in sets are labelled digits and species".into()
            },
            train: d,
            test: None,
            images: false,
            target_name,
        });
    }
    if path.is_dir() {
        if !idx::is_mnist_dir(path) {
            return Err(Error::data(path, "a folder, but not of MNIST IDX files (expected train-images-idx3-ubyte[.gz] and the other three)"));
        }
        let (train, test) = idx::read_mnist::<T>(path)?;
        return Ok(Loaded {
            description: format!(
                "{source} (MNIST IDX): {} training and {} test images of {} pixels, scaled to [0, 1]",
                train.len(),
                test.len(),
                train.x.cols
            ),
            task_reason: "classification: IDX labels are digits".into(),
            train,
            test: Some(test),
            images: true,
            target_name: Some("label".into()),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => {
            let tc = target_column(target);
            let (d, reason) = read_csv::<T>(path, &tc, task)?;
            let headers = csv_headers(path)?;
            let target_name = match &tc {
                TargetColumn::Name(n) => Some(n.clone()),
                TargetColumn::Index(i) => headers.get(*i).cloned(),
                TargetColumn::Last => headers.last().cloned(),
                TargetColumn::Absent => None,
            };
            Ok(Loaded {
                description: format!("{source}: {} rows, {} features", d.len(), d.x.cols),
                task_reason: reason,
                train: d,
                test: None,
                images: false,
                target_name,
            })
        }
        Some("npy") => {
            let column = match target {
                Some(t) => Some(t.parse::<usize>().map_err(|_| {
                    Error::config(format!("--target {t}: for .npy data the target is a 0-based column index"))
                })?),
                None => None,
            };
            let (d, reason) = npy::read_npy_dataset::<T>(path, labels.map(Path::new), column, task)?;
            Ok(Loaded {
                description: format!("{source}: {} rows, {} features", d.len(), d.x.cols),
                task_reason: reason,
                train: d,
                test: None,
                images: false,
                target_name: labels.map(|_| "target".to_string()),
            })
        }
        _ if !path.exists() => Err(Error::config(format!(
            "--data {source}: no such file or folder, and not a built-in data set ({})",
            builtin::NAMES.join(", ")
        ))),
        _ => Err(Error::data(path, "not a .csv or .npy file, a folder of MNIST IDX files, or a built-in name (iris, digits)")),
    }
}

fn csv_target_name<T: Float>(
    _d: &Dataset<T>,
    header_line: &str,
    tc: &TargetColumn,
) -> Option<String> {
    let headers: Vec<&str> = header_line.split(',').collect();
    match tc {
        TargetColumn::Name(n) => Some(n.clone()),
        TargetColumn::Index(i) => headers.get(*i).map(|s| s.to_string()),
        TargetColumn::Last => headers.last().map(|s| s.to_string()),
        TargetColumn::Absent => None,
    }
}

/// Loads rows to predict: features only. A CSV's target column, when present (the model's target
/// name, `--target`, or one column more than the model's features), is dropped.
pub fn load_features<T: Float>(
    source: &str,
    target: Option<&str>,
    model_target: Option<&str>,
    features: usize,
) -> Result<Dataset<T>> {
    let path = Path::new(source);
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_csv {
        // Built-in, IDX and NPY sources carry their targets separately (or in a column given by --target).
        let loaded = load::<T>(source, target, None, Some(Task::Regression))
            .or_else(|_| load::<T>(source, target, None, None))?;
        return Ok(loaded.test.unwrap_or(loaded.train));
    }
    let headers = csv_headers(path)?;
    let tc = if let Some(t) = target {
        TargetColumn::parse(t)
    } else if let Some(name) = model_target.filter(|n| headers.iter().any(|h| h == *n)) {
        TargetColumn::Name(name.to_string())
    } else if headers.len() == features + 1 {
        TargetColumn::Last
    } else {
        TargetColumn::Absent
    };
    if tc == TargetColumn::Absent {
        return Ok(read_csv::<T>(path, &tc, None)?.0);
    }
    // Read the target column as text labels or numbers, whatever it holds, and drop it.
    let (d, _) = read_csv::<T>(path, &tc, Some(Task::Classification))
        .or_else(|_| read_csv::<T>(path, &tc, Some(Task::Regression)))?;
    Ok(Dataset {
        y: Targets::Values(mlp::Matrix::zeros(d.len(), 0)),
        ..d
    })
}
