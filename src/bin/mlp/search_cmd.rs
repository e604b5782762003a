//! `mlp search`: a grid search over training flags by k-fold cross-validation, as scikit-learn's
//! `GridSearchCV`. Every combination of the grid's values is laid over the other flags and
//! cross-validated as `mlp cv` does it (the same folds for every combination: they follow from the
//! data and the seed); the combinations are ranked by their mean held-out score. With `--out`, the
//! best combination is then trained as `mlp train` trains (its test split and all) and written
//! there, as `GridSearchCV(refit=True)` keeps its `best_estimator_`.

use std::process::ExitCode;
use std::time::Instant;

use mlp::{Error, Float, Result};
use serde_json::{json, Map, Value};

use crate::cv_cmd::cross_validate;
use crate::train_args::{line_col, merge};
use crate::train_cmd::{by_precision, resolve, train, Out};
use crate::{SearchArgs, TrainArgs};

/// Keys a grid may not vary: where the data and the output are, and how the run is carried out
/// rather than what is learnt.
const NOT_SEARCHED: [&str; 17] = [
    "data",
    "target",
    "labels",
    "test",
    "test_split",
    "sample_weight",
    "out",
    "config",
    "checkpoint",
    "checkpoint_every",
    "resume",
    "warm_start",
    "log",
    "plot",
    "format",
    "quiet",
    "precision",
];

/// The figures a score may be, and whether more is better.
const SCORES: [(&str, bool); 7] = [
    ("accuracy", true),
    ("macro_f1", true),
    ("roc_auc", true),
    ("r2", true),
    ("loss", false),
    ("mse", false),
    ("mae", false),
];

/// One flag the grid varies, and its values.
struct Axis {
    key: String,
    values: Vec<Value>,
}

pub fn run(a: SearchArgs) -> Result<ExitCode> {
    let SearchArgs {
        grid,
        folds,
        scoring,
        train,
    } = a;
    let base = resolve(train)?;
    let axes = parse_grid(&grid, &base)?;
    if folds < 2 {
        return Err(Error::config(format!(
            "--folds {folds}: expected at least 2"
        )));
    }
    if let Some(s) = &scoring {
        if !SCORES.iter().any(|(n, _)| n == s) {
            return Err(Error::config(format!(
                "--scoring {s}: expected one of {}",
                SCORES.map(|(n, _)| n).join(", ")
            )));
        }
    }
    by_precision(
        &base,
        |b| grid_search::<f32>(b, &axes, folds, scoring.as_deref()),
        |b| grid_search::<f64>(b, &axes, folds, scoring.as_deref()),
    )
}

/// Reads `--grid`: a TOML file, or an inline TOML table (`{lr = [0.001, 0.01], hidden = ["32",
/// "64,32"]}`), whose keys are `mlp train`'s flags in snake_case and whose values are lists (or a
/// single value). A number given for a flag that takes text (`hidden = [32, 64]`) is read as its
/// text. Each key is checked against the flags before anything is trained.
fn parse_grid(spec: &str, base: &TrainArgs) -> Result<Vec<Axis>> {
    let (table, name) = if spec.trim_start().starts_with('{') {
        let text = format!("grid = {spec}");
        let mut doc: toml::Table = toml::from_str(&text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start.saturating_sub(6));
            Error::config(format!("--grid, character {at}: {}", e.message().trim()))
        })?;
        match doc.remove("grid") {
            Some(toml::Value::Table(t)) => (t, "--grid".to_string()),
            _ => unreachable!("the text is `grid = {{…}}`"),
        }
    } else {
        let text = std::fs::read_to_string(spec).map_err(|e| Error::io(spec, e))?;
        let t = toml::from_str(&text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(&text, s.start));
            Error::Parse {
                path: spec.into(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        (t, spec.to_string())
    };
    let given = serde_json::to_value(base).map_err(|e| Error::config(e.to_string()))?;
    let mut axes = Vec::new();
    for (key, value) in table {
        let bad = |m: String| Error::config(format!("{name}: {key}: {m}"));
        if NOT_SEARCHED.contains(&key.as_str()) {
            return Err(bad("not searched over: it says where the data or the output is, or how the run is shown".into()));
        }
        if given.get(&key).is_some() {
            return Err(bad(format!(
                "also given as --{}; give it in one place",
                key.replace('_', "-")
            )));
        }
        let values: Vec<Value> = match value {
            toml::Value::Array(v) => v,
            v => vec![v],
        }
        .into_iter()
        .map(|v| serde_json::to_value(v).map_err(|e| bad(e.to_string())))
        .collect::<Result<_>>()?;
        if values.is_empty() {
            return Err(bad("an empty list; expected at least one value".into()));
        }
        let values = values
            .into_iter()
            .map(|v| flag_value(&key, v).map_err(bad))
            .collect::<Result<_>>()?;
        axes.push(Axis { key, values });
    }
    if axes.is_empty() {
        return Err(Error::config(format!("{name}: no flags to search over")));
    }
    Ok(axes)
}

/// `v` as flag `key` takes it: as given, or as text where the flag takes text.
fn flag_value(key: &str, v: Value) -> std::result::Result<Value, String> {
    let fits = |v: &Value| {
        let mut one = Map::new();
        one.insert(key.to_string(), v.clone());
        serde_json::from_value::<TrainArgs>(Value::Object(one))
    };
    match fits(&v) {
        Ok(_) => Ok(v),
        Err(e) => match &v {
            Value::Number(n) if fits(&json!(n.to_string())).is_ok() => Ok(json!(n.to_string())),
            _ => Err(e.to_string()),
        },
    }
}

/// Every combination, the first axis varying slowest (scikit-learn's `ParameterGrid` order).
fn combinations(axes: &[Axis]) -> Vec<Map<String, Value>> {
    axes.iter().fold(vec![Map::new()], |done, axis| {
        done.iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(axis.key.clone(), v.clone());
                    c
                })
            })
            .collect()
    })
}

/// The combination as flags for `mlp train`: `--hidden 64,32 --lr 0.01` (`--no-bias` for true).
fn as_flags(c: &Map<String, Value>) -> String {
    c.iter()
        .filter_map(|(k, v)| {
            let flag = format!("--{}", k.replace('_', "-"));
            match v {
                Value::Bool(true) => Some(flag),
                Value::Bool(false) => None,
                Value::String(s) if s.contains([' ', '(', ')']) => Some(format!("{flag} '{s}'")),
                Value::String(s) => Some(format!("{flag} {s}")),
                v => Some(format!("{flag} {v}")),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The combination as one line: `hidden=64,32 lr=0.01`.
fn describe(c: &Map<String, Value>) -> String {
    c.iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn grid_search<T: Float>(
    base: &TrainArgs,
    axes: &[Axis],
    folds: usize,
    wanted: Option<&str>,
) -> Result<ExitCode> {
    let out = Out::of(base)?;
    let combos = combinations(axes);
    out.line(format!(
        "grid     {} combination{} of {}; {} folds each",
        combos.len(),
        if combos.len() == 1 { "" } else { "s" },
        axes.iter()
            .map(|x| format!("{} ({})", x.key, x.values.len()))
            .collect::<Vec<_>>()
            .join(", "),
        folds
    ));
    let silent = Out {
        text: false,
        json: false,
    };
    // The folds write nothing; `--out` (with `--test` or `--test-split`) is for the best
    // combination's model, trained at the end.
    if base.out.is_none() {
        for (flag, given) in [
            ("--test", base.test.is_some()),
            ("--test-split", base.test_split.is_some()),
        ] {
            if given {
                return Err(Error::config(format!(
                    "{flag} applies to the best combination's model: give --out too"
                )));
            }
        }
    }
    let folds_base = TrainArgs {
        out: None,
        test: None,
        test_split: None,
        ..base.clone()
    };
    let mut results: Vec<(Map<String, Value>, Value, f64)> = Vec::new();
    let mut scoring: Option<(String, bool)> = None;
    for (i, combo) in combos.iter().enumerate() {
        let started = Instant::now();
        let flags: TrainArgs = serde_json::from_value(Value::Object(combo.clone()))
            .map_err(|e| Error::config(format!("--grid: {e}")))?;
        let args = merge(&folds_base, &flags).map_err(Error::config)?;
        let figures = cross_validate::<T>(&args, folds, &silent)
            .map_err(|e| Error::config(format!("{}: {e}", describe(combo))))?;
        let (name, _) = scoring.get_or_insert_with(|| {
            let name = wanted
                .unwrap_or(match figures["task"].as_str() {
                    Some("regression") => "r2",
                    _ => "accuracy",
                })
                .to_string();
            let more = SCORES.iter().any(|&(n, more)| n == name && more);
            (name, more)
        });
        if figures["mean"].get(name.as_str()).is_none() {
            return Err(Error::config(format!(
                "--scoring {name}: not a figure of this task; it has {}",
                figures["mean"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            )));
        }
        let seconds = started.elapsed().as_secs_f64();
        out.line(format!(
            "{:>4}/{}  {name} {:.4} ± {:.4}  {:>7.2} s  {}",
            i + 1,
            combos.len(),
            figures["mean"][name.as_str()].as_f64().unwrap_or(f64::NAN),
            figures["std"][name.as_str()].as_f64().unwrap_or(f64::NAN),
            seconds,
            describe(combo)
        ));
        results.push((combo.clone(), figures, seconds));
    }
    let (name, more_is_better) = scoring.expect("at least one combination");
    let score = |f: &Value| {
        let v = f["mean"][name.as_str()].as_f64().unwrap_or(f64::NAN);
        // NaN (a figure undefined on some fold) ranks last either way.
        match (v.is_nan(), more_is_better) {
            (true, _) => f64::NEG_INFINITY,
            (false, true) => v,
            (false, false) => -v,
        }
    };
    // Ranked best first; equal scores keep the grid's order and share a rank, as scikit-learn's
    // `rank_test_score` (method "min").
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&i, &j| score(&results[j].1).total_cmp(&score(&results[i].1)));
    let mut ranks = vec![0usize; results.len()];
    for (place, &i) in order.iter().enumerate() {
        ranks[i] = match place {
            0 => 1,
            _ if score(&results[order[place - 1]].1) == score(&results[i].1) => {
                ranks[order[place - 1]]
            }
            _ => place + 1,
        };
    }
    let best = order[0];
    let header = format!("{name} (mean ± std)");
    let w = header.chars().count().max(17);
    out.line(format!("\nrank  {header:<w$}  flags"));
    for &i in &order {
        let f = &results[i].1;
        out.line(format!(
            "{:>4}  {:<w$}  {}",
            ranks[i],
            format!(
                "{:.4} ± {:.4}",
                f["mean"][name.as_str()].as_f64().unwrap_or(f64::NAN),
                f["std"][name.as_str()].as_f64().unwrap_or(f64::NAN)
            ),
            describe(&results[i].0)
        ));
    }
    out.line(format!(
        "\nbest     {}: for the model, mlp train with the same flags and {}",
        describe(&results[best].0),
        as_flags(&results[best].0)
    ));
    if base.out.is_some() {
        out.line("\nthe best combination, trained by mlp train:\n");
        let flags: TrainArgs = serde_json::from_value(Value::Object(results[best].0.clone()))
            .map_err(|e| Error::config(format!("--grid: {e}")))?;
        // With --format json, train's summary line is printed first, the search's after it.
        train::<T>(&merge(base, &flags).map_err(Error::config)?)?;
    }
    if out.json {
        let rows: Vec<Value> = results
            .iter()
            .zip(&ranks)
            .map(|((c, f, s), r)| {
                json!({"params": c, "rank": r, "mean": f["mean"], "std": f["std"], "seconds": s})
            })
            .collect();
        println!(
            "{}",
            json!({
                "task": results[best].1["task"],
                "scoring": name,
                "folds": folds,
                "results": rows,
                "best": {"params": results[best].0, "flags": as_flags(&results[best].0)},
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_vary_the_last_axis_fastest() {
        let axes = [
            Axis {
                key: "hidden".into(),
                values: vec![json!("8"), json!("16,8")],
            },
            Axis {
                key: "lr".into(),
                values: vec![json!(0.1), json!(0.01), json!(0.001)],
            },
        ];
        let c = combinations(&axes);
        assert_eq!(c.len(), 6);
        assert_eq!(describe(&c[0]), "hidden=8 lr=0.1");
        assert_eq!(describe(&c[2]), "hidden=8 lr=0.001");
        assert_eq!(describe(&c[3]), "hidden=16,8 lr=0.1");
        assert_eq!(as_flags(&c[5]), "--hidden 16,8 --lr 0.001");
    }
}
