//! `mlp search`: a grid search over training flags by k-fold cross-validation, as scikit-learn's
//! `GridSearchCV`. Every combination of the grid's values is laid over the other flags and
//! cross-validated as `mlp cv` does it (the same folds for every combination: they follow from the
//! data and the seed); the combinations are ranked by their mean held-out score. With `--out`, the
//! best combination is then trained as `mlp train` trains (its test split and all) and written
//! there, as `GridSearchCV(refit=True)` keeps its `best_estimator_`.

use std::process::ExitCode;
use std::time::Instant;

use mlp::{Error, Float, Result, Rng};
use serde_json::{json, Map, Value};

use crate::cv_cmd::cross_validate;
use crate::train_args::{line_col, merge};
use crate::train_cmd::{
    by_precision, impute_flag, load_training, resolve, task_flag, train, train_config,
    val_split_flag, Out,
};
use crate::{SearchArgs, TrainArgs};

/// Keys a grid may not vary: where the data and the output are, and how the run is carried out
/// rather than what is learnt.
const NOT_SEARCHED: [&str; 20] = [
    "data",
    "target",
    "labels",
    "test",
    "test_labels",
    "val",
    "val_labels",
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
    values: Values,
}

/// What a flag's values are: a list to take each of, or a range to draw from (with `--n-iter`).
#[derive(Clone, Debug, PartialEq)]
enum Values {
    List(Vec<Value>),
    /// `uniform = [a, b]`: a number drawn evenly from [a, b].
    Uniform(f64, f64),
    /// `loguniform = [a, b]`: a number whose logarithm is drawn evenly (rates, decays), 0 < a.
    LogUniform(f64, f64),
    /// `integer = [a, b]`: an integer from a to b, both included.
    Integer(i64, i64),
}

impl Values {
    /// Reads a grid entry: a list, one value, or a one-key table naming a range.
    fn parse(v: toml::Value) -> std::result::Result<Self, String> {
        let range = |t: &toml::Table| -> Option<(String, toml::Value, toml::Value)> {
            let (kind, bounds) = t.iter().next().filter(|_| t.len() == 1)?;
            match bounds.as_array()?.as_slice() {
                [a, b] => Some((kind.clone(), a.clone(), b.clone())),
                _ => None,
            }
        };
        let number = |v: &toml::Value| v.as_float().or(v.as_integer().map(|i| i as f64));
        let values = match v {
            toml::Value::Array(v) => {
                let list = v
                    .into_iter()
                    .map(|v| serde_json::to_value(v).map_err(|e| e.to_string()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if list.is_empty() {
                    return Err("an empty list; expected at least one value".into());
                }
                Values::List(list)
            }
            toml::Value::Table(t) => {
                let shape = "expected a list, or a range: {uniform = [0, 0.5]}, {loguniform = [1e-4, 1e-1]} or {integer = [16, 256]}";
                let (kind, a, b) = range(&t).ok_or(shape)?;
                let finite = |v: &toml::Value| number(v).filter(|x| x.is_finite());
                match (kind.as_str(), finite(&a), finite(&b)) {
                    ("integer", _, _) => match (a.as_integer(), b.as_integer()) {
                        // At most 2³² values: the span fits the draw's arithmetic.
                        (Some(a), Some(b)) if a <= b && (b as i128 - a as i128) < 1 << 32 => {
                            Values::Integer(a, b)
                        }
                        _ => {
                            return Err(format!(
                            "integer = [{a}, {b}]: expected two integers, the first ≤ the second, at most 2³² apart"
                        ))
                        }
                    },
                    ("uniform", Some(a), Some(b)) if a <= b => Values::Uniform(a, b),
                    ("loguniform", Some(a), Some(b)) if 0.0 < a && a <= b => {
                        Values::LogUniform(a, b)
                    }
                    ("uniform" | "loguniform", _, _) => {
                        return Err(format!(
                            "{kind} = [{a}, {b}]: expected two finite numbers, the first ≤ the second{}",
                            if kind == "loguniform" { " and > 0" } else { "" }
                        ))
                    }
                    _ => return Err(shape.into()),
                }
            }
            v => Values::List(vec![serde_json::to_value(v).map_err(|e| e.to_string())?]),
        };
        Ok(values)
    }

    /// How many values a list has; a range's are without number.
    fn count(&self) -> Option<usize> {
        match self {
            Values::List(v) => Some(v.len()),
            _ => None,
        }
    }

    /// One value drawn from these: a list's at random, a range's to 4 significant digits (so that
    /// the flags printed are the flags used).
    fn draw(&self, rng: &mut Rng) -> Value {
        let round = |x: f64| format!("{x:.3e}").parse::<f64>().unwrap_or(x);
        match self {
            Values::List(v) => v[rng.below(v.len())].clone(),
            Values::Uniform(a, b) => json!(round(rng.uniform_in(*a, *b))),
            Values::LogUniform(a, b) => json!(round(rng.uniform_in(a.ln(), b.ln()).exp())),
            Values::Integer(a, b) => json!(a + rng.below((b - a) as usize + 1) as i64),
        }
    }

    /// As the grid line shows it: `3` values, or the range.
    fn describe(&self) -> String {
        match self {
            Values::List(v) => v.len().to_string(),
            Values::Uniform(a, b) => format!("uniform {a}..{b}"),
            Values::LogUniform(a, b) => format!("loguniform {a:e}..{b:e}"),
            Values::Integer(a, b) => format!("integer {a}..={b}"),
        }
    }
}

pub fn run(a: SearchArgs) -> Result<ExitCode> {
    let SearchArgs {
        grid,
        folds,
        n_iter,
        scoring,
        train,
    } = a;
    if n_iter == Some(0) {
        return Err(Error::config("--n-iter 0: expected at least 1"));
    }
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
        |b| grid_search::<f32>(b, &axes, folds, n_iter, scoring.as_deref()),
        |b| grid_search::<f64>(b, &axes, folds, n_iter, scoring.as_deref()),
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
        if key == "seed" {
            return Err(bad(
                "the seed draws the folds every combination shares; search once per seed instead"
                    .into(),
            ));
        }
        if NOT_SEARCHED.contains(&key.as_str()) {
            return Err(bad("not searched over: it says where the data or the output is, or how the run is shown".into()));
        }
        if given.get(&key).is_some() {
            return Err(bad(format!(
                "also given as --{}; give it in one place",
                key.replace('_', "-")
            )));
        }
        let values = match Values::parse(value).map_err(bad)? {
            Values::List(list) => Values::List(
                list.into_iter()
                    .map(|v| flag_value(&key, v).map_err(bad))
                    .collect::<Result<_>>()?,
            ),
            range => {
                // The flag must take what the range gives (a number, or its text).
                flag_value(&key, range.draw(&mut Rng::new(0))).map_err(bad)?;
                range
            }
        };
        axes.push(Axis { key, values });
    }
    if axes.is_empty() {
        return Err(Error::config(format!("{name}: no flags to search over")));
    }
    Ok(axes)
}

/// `v` as flag `key` takes it, as `mlp train` would read it from a config file: a number or a
/// list where the flag takes text is that text (`32` → `"32"`, `[32, 16]` → `"32,16"`).
fn flag_value(key: &str, v: Value) -> std::result::Result<Value, String> {
    let read = |v: &Value| {
        let mut one = Map::new();
        one.insert(key.to_string(), v.clone());
        serde_json::from_value::<TrainArgs>(Value::Object(one))
    };
    let args = match (read(&v), &v) {
        (Ok(args), _) => args,
        (Err(e), Value::Number(n)) => read(&json!(n.to_string())).map_err(|_| e.to_string())?,
        (Err(e), _) => return Err(e.to_string()),
    };
    // A flag at its default (false) is left out of the serialised flags: then `v` as given.
    let back = serde_json::to_value(args).map_err(|e| e.to_string())?;
    Ok(back.get(key).cloned().unwrap_or(v))
}

/// Every combination of lists, the first axis varying slowest (scikit-learn's `ParameterGrid`
/// order); `None` where an axis is a range.
fn combinations(axes: &[Axis]) -> Option<Vec<Map<String, Value>>> {
    axes.iter().try_fold(vec![Map::new()], |done, axis| {
        let Values::List(values) = &axis.values else {
            return None;
        };
        Some(
            done.iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.insert(axis.key.clone(), v.clone());
                        c
                    })
                })
                .collect(),
        )
    })
}

/// The combinations to try: every one, or with `n_iter` that many drawn with `seed`, as
/// scikit-learn's `ParameterSampler`: from lists alone, distinct combinations (all of them, in
/// the grid's order, when there are no more than `n_iter`); with a range, each value drawn anew.
fn candidates(
    axes: &[Axis],
    n_iter: Option<usize>,
    seed: u64,
) -> std::result::Result<Vec<Map<String, Value>>, String> {
    let mut rng = Rng::new(seed);
    match (combinations(axes), n_iter) {
        (Some(all), None) => Ok(all),
        (Some(all), Some(n)) if n >= all.len() => Ok(all),
        (Some(all), Some(n)) => {
            let mut order: Vec<usize> = (0..all.len()).collect();
            rng.shuffle(&mut order);
            let mut chosen = order[..n].to_vec();
            chosen.sort_unstable();
            Ok(chosen.into_iter().map(|i| all[i].clone()).collect())
        }
        (None, None) => {
            let range = axes.iter().find(|x| x.values.count().is_none());
            Err(format!(
                "{}: a range to draw from; give --n-iter N, the number of combinations to draw",
                range.map_or("", |x| x.key.as_str())
            ))
        }
        (None, Some(n)) => Ok((0..n)
            .map(|_| {
                axes.iter()
                    .map(|x| {
                        let v = x.values.draw(&mut rng);
                        let v = flag_value(&x.key, v.clone()).unwrap_or(v);
                        (x.key.clone(), v)
                    })
                    .collect()
            })
            .collect()),
    }
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

/// Of a cross-validation's folds, how many have figure `name`, and how many there are: ROC AUC
/// lacks a fold whose test rows hold one class, and its mean over the others is no score (as
/// scikit-learn's mean with a NaN fold).
fn fold_counts(figures: &Value, name: &str) -> (usize, usize) {
    let folds = figures["folds"].as_array().map_or(0, Vec::len);
    let counted = figures["counted"][name].as_u64().unwrap_or(0) as usize;
    (counted, folds)
}

/// Figure `name`'s mean ± std over the folds, saying over how many where some lack it.
fn mean_std(figures: &Value, name: &str) -> String {
    let mean = figures["mean"][name].as_f64().unwrap_or(f64::NAN);
    let std = figures["std"][name].as_f64().unwrap_or(f64::NAN);
    match fold_counts(figures, name) {
        (counted, folds) if counted < folds => {
            format!("{mean:.4} ± {std:.4} ({counted} of {folds} folds)")
        }
        _ => format!("{mean:.4} ± {std:.4}"),
    }
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
    n_iter: Option<usize>,
    wanted: Option<&str>,
) -> Result<ExitCode> {
    let out = Out::of(base)?;
    let combos = candidates(axes, n_iter, base.seed.unwrap_or(0))
        .map_err(|e| Error::config(format!("--grid: {e}")))?;
    if out.text {
        // What the combinations are trained on, as mlp cv says it (one more read of the data).
        let data = base.data.clone().unwrap_or_else(|| "digits".into());
        let missing = impute_flag(base)?.1;
        let loaded = load_training::<T>(base, &data, task_flag(base)?, missing, None)?;
        out.line(format!("data     {}", loaded.description));
        out.line(format!("task     {}", loaded.task_reason));
    }
    out.line(format!(
        "grid     {} combination{} {} {}; {} folds each",
        combos.len(),
        if combos.len() == 1 { "" } else { "s" },
        if n_iter.is_some() { "drawn from" } else { "of" },
        axes.iter()
            .map(|x| format!("{} ({})", x.key, x.values.describe()))
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
            ("--val", base.val.is_some()),
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
        test_labels: None,
        test_split: None,
        val: None,
        val_labels: None,
        ..base.clone()
    };
    // Each combination's flags, checked as train checks them before any is cross-validated: a
    // learning rate of -1 in the last one fails now, not after the others have run.
    let runs = combos
        .iter()
        .map(|combo| {
            let flags: TrainArgs = serde_json::from_value(Value::Object(combo.clone()))
                .map_err(|e| Error::config(format!("--grid: {e}")))?;
            let args = merge(&folds_base, &flags).map_err(Error::config)?;
            val_split_flag(&args)
                .and_then(|v| train_config(&args, v))
                .map_err(|e| Error::config(format!("{}: {e}", describe(combo))))?;
            Ok(args)
        })
        .collect::<Result<Vec<TrainArgs>>>()?;
    let mut results: Vec<(Map<String, Value>, Value, f64)> = Vec::new();
    let mut scoring: Option<(String, bool)> = None;
    for (i, (combo, args)) in combos.iter().zip(&runs).enumerate() {
        let started = Instant::now();
        let figures = cross_validate::<T>(args, folds, &silent)
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
            "{:>4}/{}  {name} {}  {:>7.2} s  {}",
            i + 1,
            combos.len(),
            mean_std(&figures, name),
            seconds,
            describe(combo)
        ));
        results.push((combo.clone(), figures, seconds));
    }
    let (name, more_is_better) = scoring.expect("at least one combination");
    let score = |f: &Value| {
        let v = match fold_counts(f, &name) {
            (counted, folds) if counted < folds => f64::NAN,
            _ => f["mean"][name.as_str()].as_f64().unwrap_or(f64::NAN),
        };
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
            mean_std(f, &name),
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
        crate::train_cmd::report(json!({
            "task": results[best].1["task"],
            "scoring": name,
            "folds": folds,
            "n_iter": n_iter,
            "results": rows,
            "best": {"params": results[best].0, "flags": as_flags(&results[best].0)},
        }));
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
                values: Values::List(vec![json!("8"), json!("16,8")]),
            },
            Axis {
                key: "lr".into(),
                values: Values::List(vec![json!(0.1), json!(0.01), json!(0.001)]),
            },
        ];
        let c = combinations(&axes).unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(describe(&c[0]), "hidden=8 lr=0.1");
        assert_eq!(describe(&c[2]), "hidden=8 lr=0.001");
        assert_eq!(describe(&c[3]), "hidden=16,8 lr=0.1");
        assert_eq!(as_flags(&c[5]), "--hidden 16,8 --lr 0.001");

        // Drawn from lists: distinct combinations, in the grid's order; all of them when asked
        // for as many or more.
        let four = candidates(&axes, Some(4), 7).unwrap();
        assert_eq!(four.len(), 4);
        let at: Vec<usize> = four
            .iter()
            .map(|f| c.iter().position(|g| g == f).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        assert_eq!(candidates(&axes, Some(9), 7).unwrap(), c);
    }

    /// Ranges give values within their bounds, to 4 significant digits; integers reach both ends;
    /// a flag that takes text gets the number's text.
    #[test]
    fn ranges_draw_within_their_bounds() {
        let parse = |s: &str| {
            let t: toml::Table = toml::from_str(&format!("x = {s}")).unwrap();
            Values::parse(t["x"].clone())
        };
        assert_eq!(
            parse("{loguniform = [1e-4, 0.1]}"),
            Ok(Values::LogUniform(1e-4, 0.1))
        );
        assert_eq!(parse("{integer = [2, 4]}"), Ok(Values::Integer(2, 4)));
        assert_eq!(parse("3"), Ok(Values::List(vec![json!(3)])));
        assert!(parse("{loguniform = [0, 1]}").unwrap_err().contains("> 0"));
        assert!(parse("{integer = [2.5, 4]}")
            .unwrap_err()
            .contains("two integers"));
        assert!(parse("{uniform = [0, inf]}")
            .unwrap_err()
            .contains("two finite numbers"));
        let huge = format!("{{integer = [{}, {}]}}", i64::MIN, i64::MAX);
        assert!(parse(&huge).unwrap_err().contains("at most 2³² apart"));
        assert!(parse("{normal = [0, 1]}")
            .unwrap_err()
            .contains("expected a list, or a range"));
        assert!(parse("[]").unwrap_err().contains("an empty list"));
        let axes = [
            Axis {
                key: "lr".into(),
                values: Values::LogUniform(1e-4, 0.1),
            },
            Axis {
                key: "hidden".into(),
                values: Values::Integer(2, 4),
            },
        ];
        let drawn = candidates(&axes, Some(200), 1).unwrap();
        assert_eq!(drawn.len(), 200);
        let mut widths = std::collections::BTreeSet::new();
        for c in &drawn {
            let lr = c["lr"].as_f64().unwrap();
            assert!((1e-4..=0.1).contains(&lr), "{lr}");
            assert_eq!(format!("{lr:.3e}").parse::<f64>().unwrap(), lr);
            widths.insert(
                c["hidden"]
                    .as_str()
                    .expect("text, as --hidden takes")
                    .to_string(),
            );
        }
        assert_eq!(widths.into_iter().collect::<Vec<_>>(), ["2", "3", "4"]);
        // Below 1e-3 as often as above 1e-2: even in the logarithm, not in the value.
        let low = drawn
            .iter()
            .filter(|c| c["lr"].as_f64().unwrap() < 1e-3)
            .count();
        let high = drawn
            .iter()
            .filter(|c| c["lr"].as_f64().unwrap() > 1e-2)
            .count();
        assert!(low > 40 && high > 40, "{low} below 1e-3, {high} above 1e-2");
        assert!(candidates(&axes, None, 1)
            .unwrap_err()
            .contains("lr: a range to draw from; give --n-iter N"));
    }
}
