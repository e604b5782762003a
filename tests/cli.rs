//! The `mlp` binary on small fixtures, good and bad: what a user types, what they get back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// A fresh folder for one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("mlp-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
    fn write(&self, file: &str, text: &str) -> PathBuf {
        let p = self.path(file);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mlp(dir: &Dir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(args)
        .current_dir(&dir.0)
        .output()
        .expect("the mlp binary runs")
}

fn ok(dir: &Dir, args: &[&str]) -> String {
    let out = mlp(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mlp {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail, and returns its stderr after checking the failure is clean.
fn fails(dir: &Dir, args: &[&str]) -> String {
    let out = mlp(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "mlp {args:?} should fail");
    assert!(
        !stderr.contains("panicked"),
        "mlp {args:?} panicked: {stderr}"
    );
    assert!(
        stderr.lines().count() <= 6,
        "mlp {args:?}: a long error: {stderr}"
    );
    stderr
}

/// Runs a command that must fail with a message holding `want`.
fn fails_with(dir: &Dir, args: &[&str], want: &str) {
    let err = fails(dir, args);
    assert!(
        err.starts_with("error: ") && err.contains(want),
        "mlp {args:?}: expected «{want}», got «{err}»"
    );
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// A JSON array of numbers.
fn numbers(v: &Value) -> Vec<f64> {
    let items = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    items.iter().map(|x| x.as_f64().unwrap()).collect()
}

/// `mlp info --format json` of a model file in `dir`.
fn info_json(dir: &Dir, model: &str) -> Value {
    json(&ok(dir, &["info", "--model", model, "--format", "json"]))
}

/// 200 rows of a two-feature, three-class problem with text labels.
fn animals_csv(dir: &Dir) -> PathBuf {
    let mut s = String::from("weight,height,animal\n");
    let mut rng = mlp::Rng::new(1);
    for i in 0..200 {
        let (label, cx, cy) = [
            ("cat", 4.0, 25.0),
            ("dog", 20.0, 55.0),
            ("horse", 500.0, 160.0),
        ][i % 3];
        s += &format!(
            "{:.2},{:.2},{label}\n",
            cx * (1.0 + 0.1 * rng.normal()),
            cy * (1.0 + 0.1 * rng.normal())
        );
    }
    dir.write("animals.csv", &s)
}

/// 240 rows where the class depends on a text column (`color`) and a number: a tabular set as it
/// comes, with a column of categories.
fn colors_csv(dir: &Dir) -> PathBuf {
    let mut s = String::from("age,color,income,buys\n");
    let mut rng = mlp::Rng::new(2);
    for i in 0..240 {
        let color = ["red", "green", "blue"][i % 3];
        let age = 20.0 + 50.0 * rng.uniform();
        let buys = (color == "red") != (age > 45.0);
        s += &format!(
            "{age:.1},{color},{:.1},{}\n",
            40.0 + 10.0 * rng.normal(),
            if buys { "yes" } else { "no" }
        );
    }
    dir.write("colors.csv", &s)
}

/// [`colors_csv`] with values missing: `NA` ages, empty incomes, `?` colours.
fn colors_with_gaps_csv(dir: &Dir) -> PathBuf {
    let full = std::fs::read_to_string(colors_csv(dir)).unwrap();
    let mut s = String::new();
    for (i, line) in full.lines().enumerate() {
        let mut f: Vec<&str> = line.split(',').collect();
        if i > 0 && i % 7 == 0 {
            f[0] = "NA";
        }
        if i > 0 && i % 11 == 0 {
            f[2] = "";
        }
        if i > 0 && i % 13 == 0 {
            f[1] = "?";
        }
        s += &f.join(",");
        s.push('\n');
    }
    dir.write("gaps.csv", &s)
}

/// [`animals_csv`] without its horses: the rows of two of its three classes.
fn pets_csv(dir: &Dir) -> PathBuf {
    let pets: String = std::fs::read_to_string(animals_csv(dir))
        .unwrap()
        .lines()
        .filter(|l| !l.ends_with("horse"))
        .map(|l| format!("{l}\n"))
        .collect();
    dir.write("pets.csv", &pets)
}

/// Two targets of the same rows, in their own units: a price in the thousands, a monthly rent in
/// the hundreds, and an id column to leave out.
fn homes_csv(dir: &Dir) -> PathBuf {
    let mut s = String::from("id,rooms,area,price,rent\n");
    let mut rng = mlp::Rng::new(3);
    for i in 0..400 {
        let rooms = 1.0 + (rng.uniform() * 5.0).floor();
        let area = 30.0 + 150.0 * rng.uniform();
        let price = 20_000.0 * rooms + 1_500.0 * area;
        let rent = 300.0 + 4.0 * area - 20.0 * rooms;
        s += &format!("h{i},{rooms},{area:.1},{price:.0},{rent:.0}\n");
    }
    dir.write("homes.csv", &s)
}

/// 300 rows of two features and three 0/1 label columns (none, one or several per row).
fn tags_csv(dir: &Dir) -> PathBuf {
    let mut text = String::from("id,x1,x2,small,wide,tall\n");
    let mut rng = mlp::Rng::new(4);
    for i in 0..300 {
        let (a, b) = (rng.normal(), rng.normal());
        let labels = [a < 0.0, b > 0.0, a + b > 0.5].map(|l| u8::from(l).to_string());
        text += &format!("{i},{a:.4},{b:.4},{}\n", labels.join(","));
    }
    dir.write("tags.csv", &text)
}

/// A smooth regression with a target in the thousands (dollars).
fn prices_csv(dir: &Dir) -> PathBuf {
    let mut s = String::from("rooms,area,price\n");
    let mut rng = mlp::Rng::new(2);
    for _ in 0..400 {
        let rooms = 1.0 + (rng.uniform() * 5.0).floor();
        let area = 30.0 + 150.0 * rng.uniform();
        let price = 20_000.0 * rooms + 1_500.0 * area + 30.0 * area * area / 10.0;
        s += &format!("{rooms},{area:.1},{price:.0}\n");
    }
    dir.write("prices.csv", &s)
}

#[test]
fn train_with_no_arguments_trains_on_digits() {
    let d = Dir::new("default");
    let out = ok(&d, &["train"]);
    assert!(
        out.contains("digits (built-in): 1797 rows, 64 features"),
        "{out}"
    );
    assert!(out.contains("epoch  train loss"), "the epoch table: {out}");
    let acc_line = out
        .lines()
        .find(|l| l.starts_with("test     accuracy"))
        .expect("a test accuracy line");
    let acc: f64 = acc_line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(',')
        .parse()
        .unwrap();
    assert!(acc > 0.9, "{acc_line}");
    assert!(d.path("model.safetensors").exists());
}

/// Multi-label: three 0/1 columns read as labels (none, one or several per row), trained with
/// sigmoid outputs and binary cross-entropy, scored as scikit-learn scores an indicator matrix,
/// predicted as one 0/1 column per label.
#[test]
fn several_label_columns_train_a_multi_label_classifier() {
    let d = Dir::new("multilabel");
    let csv = tags_csv(&d);
    let csv = csv.to_str().unwrap();
    let train = [
        "train",
        "--data",
        csv,
        "--target",
        "small,wide,tall",
        "--drop",
        "id",
        "--hidden",
        "16",
        "--epochs",
        "60",
        "--out",
        "m.safetensors",
    ];
    let s = json(&ok(&d, &[&train[..], &["--format", "json"]].concat()));
    assert_eq!(s["task"], "multilabel", "{s}");
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.85, "{s}");
    let text = ok(&d, &train);
    assert!(
        text.contains("task     multi-label classification: 3 target columns")
            && text.contains("relu, sigmoid")
            && text.contains("loss bce")
            && text.contains("test     subset accuracy"),
        "{text}"
    );
    let e = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "m.safetensors",
            "--data",
            csv,
            "--format",
            "json",
        ],
    ));
    let labels: Vec<&str> = e["per_label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["small", "wide", "tall"], "{e}");
    // A row is right when all three are: subset accuracy ≤ 1 − Hamming loss.
    let (subset, hamming) = (
        e["accuracy"].as_f64().unwrap(),
        e["hamming_loss"].as_f64().unwrap(),
    );
    assert!(
        subset > 0.85 && hamming < 0.05 && subset <= 1.0 - hamming,
        "{e}"
    );
    assert!(e["roc_auc"].as_f64().unwrap() > 0.95, "{e}");
    let p = ok(
        &d,
        &[
            "predict",
            "--model",
            "m.safetensors",
            "--data",
            csv,
            "--proba",
            "--keep",
            "id",
        ],
    );
    let mut lines = p.lines();
    assert_eq!(
        lines.next(),
        Some("id,prediction_small,prediction_wide,prediction_tall,p_small,p_wide,p_tall")
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    for (label, p) in first[1..4].iter().zip(&first[4..]) {
        let p: f64 = p.parse().unwrap();
        assert_eq!(*label, if p > 0.5 { "1" } else { "0" }, "{first:?}");
    }
    // --threshold 0.8: a label where its probability is above 0.8, on every row.
    let p = ok(
        &d,
        &[
            "predict",
            "--model",
            "m.safetensors",
            "--data",
            csv,
            "--proba",
            "--threshold",
            "0.8",
        ],
    );
    for line in p.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        for (label, p) in f[0..3].iter().zip(&f[3..]) {
            let p: f64 = p.parse().unwrap();
            assert_eq!(*label, if p > 0.8 { "1" } else { "0" }, "{line}");
        }
    }
    let info = ok(&d, &["info", "--model", "m.safetensors"]);
    assert!(info.contains("labels         small, wide, tall"), "{info}");
    // Without the label columns there is nothing to score against: say which is missing.
    let features = d.write("features.csv", "id,x1,x2\n0,0.5,-0.2\n");
    let e = fails(
        &d,
        &[
            "eval",
            "--model",
            "m.safetensors",
            "--data",
            features.to_str().unwrap(),
        ],
    );
    assert!(
        e.contains("no column 'small': eval needs the model's target columns (small, wide, tall)"),
        "{e}"
    );
    // Told to classify, a label that is neither 0 nor 1 is an error at its place.
    let bad = d.write("bad.csv", "x,a,b\n1,0,1\n2,1,3\n");
    let e = fails(
        &d,
        &[
            "train",
            "--data",
            bad.to_str().unwrap(),
            "--target",
            "a,b",
            "--task",
            "classification",
        ],
    );
    assert!(
        e.contains("bad.csv:3:3: target column 'b': a label is 0 or 1, not '3'"),
        "{e}"
    );
    // Label weights weigh each label's positive rows (PyTorch's pos_weight), in the binary
    // cross-entropy only: balanced, each label's negatives over its positives.
    let text = ok(&d, &[&train[..], &["--class-weight", "balanced"]].concat());
    let line = text
        .lines()
        .find(|l| l.contains("label weights of the positive rows"))
        .unwrap_or_else(|| panic!("{text}"));
    // (Their values: ClassWeight::label_weights's doc test.) One positive weight per label.
    let weights: Vec<f64> = ["small ", "wide ", "tall "]
        .iter()
        .map(|l| line.split(l).nth(1).unwrap()[..5].parse().unwrap())
        .collect();
    assert!(weights.iter().all(|&w| w > 0.0), "{line}");
    let e = fails(
        &d,
        &[&train[..], &["--class-weight", "balanced", "--loss", "mse"]].concat(),
    );
    assert!(
        e.contains("--class-weight: label weights weigh each label's positive rows"),
        "{e}"
    );
}

#[test]
fn json_summary_eval_predict_and_info_for_classification() {
    let d = Dir::new("classify");
    let csv = animals_csv(&d);
    let csv = csv.to_str().unwrap();
    let s = json(&ok(
        &d,
        &[
            "train",
            "--data",
            csv,
            "--hidden",
            "16",
            "--epochs",
            "30",
            "--lr",
            "0.01",
            "--val-split",
            "0.2",
            "--format",
            "json",
            "--out",
            "a.safetensors",
        ],
    ));
    for key in [
        "train_loss",
        "val_loss",
        "test_loss",
        "test_accuracy",
        "epochs",
        "seconds",
        "model",
    ] {
        assert!(!s[key].is_null(), "missing {key}: {s}");
    }
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.9, "{s}");

    let e = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "a.safetensors",
            "--data",
            csv,
            "--format",
            "json",
        ],
    ));
    assert!(
        e["loss"].is_number() && e["accuracy"].as_f64().unwrap() > 0.9,
        "{e}"
    );
    assert_eq!(e["class_names"], serde_json::json!(["cat", "dog", "horse"]));
    // Three classes: the ROC AUC is the mean of the classes' one-vs-rest AUCs.
    let per_class: Vec<f64> = e["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["roc_auc"].as_f64().unwrap())
        .collect();
    let auc = e["roc_auc"].as_f64().unwrap();
    assert!(
        per_class.len() == 3 && (auc - per_class.iter().sum::<f64>() / 3.0).abs() < 1e-12,
        "{e}"
    );
    assert!(auc > 0.9 && auc <= 1.0, "{e}");
    let text = ok(&d, &["eval", "--model", "a.safetensors", "--data", csv]);
    assert!(text.contains("confusion matrix"), "{text}");
    assert!(
        text.contains("ROC AUC") && text.contains("one-vs-rest"),
        "{text}"
    );

    // Predictions in the label names, with and without the target column in the input.
    let p = ok(
        &d,
        &[
            "predict",
            "--model",
            "a.safetensors",
            "--data",
            csv,
            "--proba",
        ],
    );
    let mut lines = p.lines();
    assert_eq!(lines.next(), Some("prediction,p_cat,p_dog,p_horse"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(["cat", "dog", "horse"].contains(&first[0]), "{first:?}");
    let probs: f64 = first[1..].iter().map(|v| v.parse::<f64>().unwrap()).sum();
    assert!((probs - 1.0).abs() < 1e-5);
    let features_only = d.write("new.csv", "weight,height\n4.1,24.0\n480,150\n");
    ok(
        &d,
        &[
            "predict",
            "--model",
            "a.safetensors",
            "--data",
            features_only.to_str().unwrap(),
            "--out",
            "p.csv",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(d.path("p.csv")).unwrap(),
        "prediction\ncat\nhorse\n"
    );

    let info = ok(&d, &["info", "--model", "a.safetensors"]);
    assert!(
        info.contains("2-16-3 (relu, softmax)") && info.contains("parameters     99"),
        "{info}"
    );
    assert!(info.contains("classes        cat, dog, horse"), "{info}");
}

#[test]
fn regression_in_the_targets_units() {
    let d = Dir::new("regress");
    let csv = prices_csv(&d);
    let csv = csv.to_str().unwrap();
    let s = json(&ok(
        &d,
        &[
            "train",
            "--data",
            csv,
            "--hidden",
            "32",
            "--activation",
            "tanh",
            "--epochs",
            "60",
            "--lr",
            "0.01",
            "--format",
            "json",
            "--out",
            "r.safetensors",
        ],
    ));
    assert_eq!(s["task"], "regression");
    assert!(
        s["test_r2"].as_f64().unwrap() > 0.95,
        "a target in dollars trains: {s}"
    );
    let e = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "r.safetensors",
            "--data",
            csv,
            "--format",
            "json",
        ],
    ));
    for key in ["mse", "mae", "r2"] {
        assert!(e[key].is_number(), "{e}");
    }
    let p = ok(&d, &["predict", "--model", "r.safetensors", "--data", csv]);
    let first: f64 = p.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        first > 10_000.0,
        "predictions are mapped back to dollars: {first}"
    );
    let out = ok(
        &d,
        &[
            "train",
            "--data",
            csv,
            "--epochs",
            "1",
            "--out",
            "r2.safetensors",
        ],
    );
    assert!(
        out.contains("task     regression: 'price' holds"),
        "the inferred task and why: {out}"
    );
}

#[test]
fn explain_the_seed_example_in_three_formats() {
    let d = Dir::new("explain");
    let text = ok(&d, &["explain", "--example", "seed"]);
    assert!(
        text.contains("W2[1][1]       0.700000       0.137333      -0.068666     0.631334"),
        "{text}"
    );
    let j = json(&ok(
        &d,
        &["explain", "--example", "seed", "--format", "json"],
    ));
    // ΔW²₁ = α(d − y)h₁ with α = 0.5, d = 0.25
    let (y, h1) = (
        j["output"][0].as_f64().unwrap(),
        j["layers"][0]["activation"][0].as_f64().unwrap(),
    );
    let dw = j["layers"][1]["delta_weight"][0][0].as_f64().unwrap();
    assert!((dw - 0.5 * (0.25 - y) * h1).abs() < 1e-12);
    for key in ["loss", "output", "target", "learning_rate"] {
        assert!(!j[key].is_null(), "{key}");
    }
    for key in [
        "input",
        "pre_activation",
        "activation",
        "derivative",
        "delta",
        "weight",
        "grad_weight",
        "delta_weight",
    ] {
        assert!(!j["layers"][0][key].is_null(), "{key}");
    }
    let md = ok(
        &d,
        &["explain", "--example", "seed", "--format", "markdown"],
    );
    assert!(md.contains("$$h = \\Phi(h')"), "{md}");

    ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--hidden",
            "5",
            "--epochs",
            "3",
            "--out",
            "i.safetensors",
        ],
    );
    let t = json(&ok(
        &d,
        &[
            "explain",
            "--model",
            "i.safetensors",
            "--data",
            "iris",
            "--row",
            "7",
            "--format",
            "json",
        ],
    ));
    assert_eq!(t["layers"][0]["weight"].as_array().unwrap().len(), 4);
    assert!(t["layers"][0]["bias"].is_array());
    // Rows without the target: the trace needs it, and says so (rather than reading the last
    // feature as the target and then missing that feature).
    let rows = d.write(
        "rows.csv",
        "sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm\n5.1,3.5,1.4,0.2\n",
    );
    fails_with(
        &d,
        &[
            "explain",
            "--model",
            "i.safetensors",
            "--data",
            rows.to_str().unwrap(),
        ],
        "no column 'target': explain traces a training step on the row, against its target, and needs the model's target column (target), or --target",
    );
}

#[test]
fn gradcheck_passes_and_fails_with_the_right_exit_code() {
    let d = Dir::new("gradcheck");
    let out = ok(
        &d,
        &[
            "gradcheck",
            "--data",
            "iris",
            "--hidden",
            "7,3",
            "--activation",
            "tanh,sigmoid",
        ],
    );
    assert!(out.contains("pass"), "{out}");
    let e = mlp(
        &d,
        &[
            "gradcheck",
            "--data",
            "iris",
            "--hidden",
            "5",
            "--tolerance",
            "1e-30",
        ],
    );
    assert!(!e.status.success(), "a tolerance no check meets must fail");
    let out = ok(
        &d,
        &[
            "gradcheck",
            "--data",
            "iris",
            "--hidden",
            "7,3",
            "--dropout",
            "0.5,0.2",
        ],
    );
    assert!(
        out.contains("with dropout 0.5,0.2") && out.contains("pass"),
        "{out}"
    );
    let err = fails(
        &d,
        &[
            "gradcheck",
            "--data",
            "iris",
            "--hidden",
            "7",
            "--dropout",
            "0.5,0.2",
        ],
    );
    assert!(
        err.contains("--dropout") && err.contains("2 rates for 1 hidden layer;"),
        "{err}"
    );
    let err = fails(
        &d,
        &[
            "gradcheck",
            "--data",
            "iris",
            "--hidden",
            "7",
            "--dropout",
            "1.5",
        ],
    );
    assert!(
        err.contains("dropout rate must be in [0, 1), not 1.5"),
        "{err}"
    );
    // --quiet: the exit code alone says pass or fail.
    let out = ok(&d, &["gradcheck", "--data", "iris", "--quiet"]);
    assert_eq!(out, "");
    // A flag the check has no use for is refused by name, not ignored.
    fails_with(
        &d,
        &["gradcheck", "--lr", "0.1"],
        "--lr does not apply to mlp gradcheck: it checks the gradients of the network at its initial weights",
    );
    fails_with(
        &d,
        &["gradcheck", "--rows", "0"],
        "--rows 0: expected at least 1",
    );
    ok(&d, &["train", "--data", "iris", "--epochs", "1", "--quiet"]);
    fails_with(
        &d,
        &["gradcheck", "--model", "model.safetensors", "--hidden", "5"],
        "--hidden does not apply with --model model.safetensors: the check takes the model's network",
    );
    let out = ok(
        &d,
        &["gradcheck", "--model", "model.safetensors", "--seed", "2"],
    );
    assert!(out.contains("pass"), "{out}");
}

#[test]
fn config_file_keys_flags_override_and_unknown_keys_list_the_valid_ones() {
    let d = Dir::new("config");
    d.write(
        "run.toml",
        "data = \"iris\"\nhidden = \"8\"\nepochs = 50\nbatch_size = 16\nlr = 0.02\n",
    );
    let s = json(&ok(
        &d,
        &[
            "train", "--config", "run.toml", "--epochs", "2", "--format", "json",
        ],
    ));
    assert_eq!(s["epochs"], 2, "the flag overrides the file");
    let info = ok(&d, &["info", "--model", "model.safetensors"]);
    assert!(
        info.contains("4-8-3") && info.contains("batch_size=16"),
        "{info}"
    );
    // Lists and numbers as TOML writes them are the flags' text: [8, 4] is --hidden 8,4.
    d.write(
        "natural.toml",
        "data = \"iris\"\nhidden = [8, 4]\nactivation = [\"relu\", \"tanh\"]\ndropout = 0.1\nbetas = [0.8, 0.99]\ntarget = 4\nepochs = 1\n",
    );
    let flags = [
        "--data",
        "iris",
        "--hidden",
        "8,4",
        "--activation",
        "relu,tanh",
        "--dropout",
        "0.1",
        "--betas",
        "0.8,0.99",
        "--target",
        "4",
        "--epochs",
        "1",
    ];
    let by_flags = json(&ok(
        &d,
        &[&["train", "--format", "json"], &flags[..]].concat(),
    ));
    let by_file = json(&ok(
        &d,
        &["train", "--config", "natural.toml", "--format", "json"],
    ));
    assert_eq!(by_file["test_loss"], by_flags["test_loss"]);
    let info = ok(&d, &["info", "--model", "model.safetensors"]);
    assert!(info.contains("4-8-4-3"), "{info}");
    d.write("nested.toml", "hidden = [[8], 4]\n");
    let err = fails(&d, &["train", "--config", "nested.toml"]);
    assert!(
        err.contains("nested.toml:1:11") && err.contains("expected text or a number"),
        "{err}"
    );
    d.write("bad.toml", "epochs = 2\nbatchsize = 16\n");
    let err = fails(&d, &["train", "--config", "bad.toml"]);
    assert!(
        err.contains("bad.toml:2:1")
            && err.contains("unknown field `batchsize`")
            && err.contains("`batch_size`"),
        "{err}"
    );
}

/// Trains `train common…` for `epochs` in one run, and for half of them with a checkpoint
/// (`ck.safetensors`) then resumed from it to `epochs`: the two model files must be the same bytes.
fn resumed_equals_uninterrupted(d: &Dir, common: &[&str], epochs: usize) {
    let (all, half) = (epochs.to_string(), (epochs / 2).to_string());
    let run = |epochs: &str, extra: &[&str]| {
        ok(
            d,
            &[&["train", "--epochs", epochs][..], common, extra].concat(),
        )
    };
    run(&all, &["--out", "full.safetensors"]);
    run(
        &half,
        &[
            "--checkpoint",
            "ck.safetensors",
            "--out",
            "part.safetensors",
        ],
    );
    run(
        &all,
        &["--resume", "ck.safetensors", "--out", "resumed.safetensors"],
    );
    assert!(
        std::fs::read(d.path("full.safetensors")).unwrap()
            == std::fs::read(d.path("resumed.safetensors")).unwrap(),
        "the resumed model differs from the uninterrupted one ({common:?})"
    );
}

#[test]
fn resume_from_a_checkpoint_ends_bit_identical_to_an_uninterrupted_run() {
    let d = Dir::new("resume");
    let common = [
        "--data",
        "iris",
        "--batch-size",
        "8",
        "--lr",
        "0.01",
        "--early-stopping",
        "40",
        "--quiet",
    ];
    resumed_equals_uninterrupted(&d, &common, 8);
    let err = fails(
        &d,
        &[
            &["train"][..],
            &common[..],
            &["--epochs", "8", "--seed", "3", "--resume", "ck.safetensors"],
        ]
        .concat(),
    );
    assert!(err.contains("trained on other data"), "{err}");
    let err = fails(
        &d,
        &["train", "--data", "iris", "--resume", "full.safetensors"],
    );
    assert!(err.contains("not a checkpoint"), "{err}");
    // The checkpoint (written at epoch 4) goes on only as it was trained: another rate or
    // patience is refused, fewer epochs than it has done too; as many writes its model.
    let resume = |extra: &[&'static str]| -> Vec<&'static str> {
        let ck = [
            "train",
            "--resume",
            "ck.safetensors",
            "--out",
            "again.safetensors",
        ];
        [&ck[..], &common[..], extra].concat()
    };
    let with = |flag: &str, value: &'static str| {
        let mut args = resume(&["--epochs", "8"]);
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
        fails(&d, &args)
    };
    let err = with("--lr", "0.1");
    assert!(
        err.contains("the checkpoint was trained with --lr 0.01, the flags say 0.1"),
        "{err}"
    );
    let err = with("--early-stopping", "3");
    assert!(
        err.contains("--early-stopping 40, the flags say 3"),
        "{err}"
    );
    fails_with(
        &d,
        &resume(&["--epochs", "3"]),
        "--epochs 3: ck.safetensors is at epoch 4 already",
    );
    ok(&d, &resume(&["--epochs", "4"]));
    assert!(
        std::fs::read(d.path("part.safetensors")).unwrap()
            == std::fs::read(d.path("again.safetensors")).unwrap(),
        "a checkpoint resumed with its own epochs writes the model it was saved beside"
    );
}

#[test]
fn lbfgs_trains_full_batch_converges_and_resumes_exactly() {
    let d = Dir::new("lbfgs");
    // Without a penalty a 4-16-3 network fits iris's training rows until the gradient vanishes.
    let out = ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--hidden",
            "16",
            "--optimizer",
            "lbfgs",
        ],
    );
    assert!(
        out.contains("iterations (epochs) of lbfgs on all 120 rows at once"),
        "{out}"
    );
    assert!(out.contains("converged after"), "{out}");
    // scikit-learn's tol: a looser gradient tolerance stops sooner.
    let iterations = |out: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with("converged after"))
            .unwrap();
        line.split_whitespace()
            .nth(2)
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    let loose = ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--hidden",
            "16",
            "--optimizer",
            "lbfgs",
            "--tol",
            "1e-3",
        ],
    );
    assert!(loose.contains("gradient tolerance 1e-3"), "{loose}");
    assert!(iterations(&loose) < iterations(&out), "{loose}\n{out}");
    let err = fails(&d, &["train", "--data", "iris", "--tol", "1e-3"]);
    assert!(err.contains("--tol applies to --optimizer lbfgs"), "{err}");
    // With early stopping it is the improvement that counts (tests/training_loop.rs).
    ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--early-stopping",
            "3",
            "--tol",
            "1e-3",
            "--quiet",
        ],
    );
    let summary = json(&ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--optimizer",
            "lbfgs",
            "--format",
            "json",
        ],
    ));
    assert!(summary["converged"].is_string(), "{summary}");
    // Interrupted and resumed: the same bits as one run, L-BFGS's memory included.
    let common = [
        "--data",
        "digits",
        "--hidden",
        "24",
        "--optimizer",
        "lbfgs",
        "--weight-decay",
        "0.001",
        "--quiet",
    ];
    resumed_equals_uninterrupted(&d, &common, 12);
    let ck = mlp::model_file::Checkpoint::<f32>::load(&d.path("ck.safetensors")).unwrap();
    assert_eq!(
        ck.optimizer.history.len(),
        6,
        "pairs kept after six iterations"
    );
    // `info` says where a checkpoint's run stands; a model file has no such line.
    let info = ok(&d, &["info", "--model", "ck.safetensors"]);
    assert!(
        info.contains("checkpoint     6 epochs done (finished), optimizer step 6, state: L-BFGS memory, 6 pairs"),
        "{info}"
    );
    let info = ok(&d, &["info", "--model", "full.safetensors"]);
    assert!(!info.contains("checkpoint"), "{info}");
    // Another optimizer cannot take over its checkpoint.
    let err = fails(
        &d,
        &[
            "train",
            "--data",
            "digits",
            "--hidden",
            "24",
            "--weight-decay",
            "0.001",
            "--epochs",
            "12",
            "--resume",
            "ck.safetensors",
        ],
    );
    assert!(err.contains("--optimizer"), "{err}");
    // What it cannot do is refused by flag.
    for (flag, value) in [("--dropout", "0.2"), ("--clip-grad-norm", "1")] {
        let err = fails(
            &d,
            &[
                "train",
                "--data",
                "iris",
                "--optimizer",
                "lbfgs",
                flag,
                value,
            ],
        );
        assert!(err.contains(flag) && err.contains("L-BFGS"), "{err}");
    }
}

#[test]
fn sample_weights_from_a_csv_column_or_a_npy_file() {
    let d = Dir::new("sample-weight");
    // The animals with a weight column `w`: 1 for every row, or 0 for every horse.
    let animals = std::fs::read_to_string(animals_csv(&d)).unwrap();
    let with_w = |horse: &str| {
        let mut out = String::from("weight,height,w,animal\n");
        for line in animals.lines().skip(1) {
            let (features, label) = line.rsplit_once(',').unwrap();
            let w = if label == "horse" { horse } else { "1" };
            out += &format!("{features},{w},{label}\n");
        }
        out
    };
    d.write("ones.csv", &with_w("1"));
    d.write("no-horses.csv", &with_w("0"));
    let common = [
        "--target", "animal", "--epochs", "40", "--lr", "0.01", "--quiet",
    ];
    let train = |data: &str, extra: &[&str], out: &str| {
        ok(
            &d,
            &[
                &["train", "--data", data, "--out", out][..],
                &common[..],
                extra,
            ]
            .concat(),
        )
    };
    let predictions = |model: &str| {
        ok(
            &d,
            &["predict", "--model", model, "--data", "ones.csv", "--proba"],
        )
    };
    // Weights of 1 are no weights: the same probabilities; the column is not a feature.
    train("ones.csv", &["--drop", "w"], "plain.safetensors");
    train("ones.csv", &["--sample-weight", "w"], "ones.safetensors");
    assert_eq!(
        predictions("plain.safetensors"),
        predictions("ones.safetensors")
    );
    let info = ok(&d, &["info", "--model", "ones.safetensors"]);
    assert!(info.contains("features       2 (weight, height)"), "{info}");
    // Held-out rows count their weights too (of 1 here: the figures of no weights, to the bit).
    let summary = |extra: &[&str]| {
        let args = ["--val-split", "0.2", "--format", "json"];
        let s = json(&train(
            "ones.csv",
            &[extra, &args[..]].concat(),
            "s.safetensors",
        ));
        let figure = |k: &str| s[k].as_f64().unwrap();
        ["val_loss", "test_loss", "test_accuracy", "test_roc_auc"].map(figure)
    };
    assert_eq!(
        summary(&["--drop", "w"]),
        summary(&["--sample-weight", "w"])
    );
    let args = [
        "--sample-weight",
        "w",
        "--target",
        "animal",
        "--epochs",
        "1",
    ];
    let text = ok(
        &d,
        &[&["train", "--data", "ones.csv"][..], &args[..]].concat(),
    );
    assert!(text.contains("on 39 rows, weighted"), "{text}");
    // One row of weight 1, the rest 0: one side of the split has nothing that counts, refused.
    let one = with_w("1")
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 | 1 => format!("{l}\n"),
            _ => format!("{}\n", l.replacen(",1,", ",0,", 1)),
        })
        .collect::<String>();
    d.write("one.csv", &one);
    let args = [
        "train",
        "--data",
        "one.csv",
        "--sample-weight",
        "w",
        "--target",
        "animal",
    ];
    let err = fails(&d, &args);
    assert!(err.contains("sample weight 0"), "{err}");
    // Horses weighted 0 are never learnt: no row is predicted a horse.
    train(
        "no-horses.csv",
        &["--sample-weight", "w"],
        "no-horses.safetensors",
    );
    let p = predictions("no-horses.safetensors");
    let horses = p.lines().skip(1).filter(|l| l.starts_with("horse")).count();
    let plain_horses = predictions("plain.safetensors")
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("horse"))
        .count();
    assert!(
        plain_horses > 50 && horses == 0,
        "{plain_horses} and {horses} horses"
    );
    // Bad weights are named, with their row.
    for (value, expect) in [("heavy", "'heavy' is not a number"), ("-2", "≥ 0")] {
        d.write("bad.csv", &with_w(value));
        let args = ["train", "--data", "bad.csv", "--sample-weight", "w"];
        let err = fails(&d, &[&args[..], &common[..]].concat());
        assert!(err.contains(expect) && err.contains("row 3"), "{err}");
    }
    let err = fails(&d, &["train", "--data", "iris", "--sample-weight", "w"]);
    assert!(err.contains("a column of a CSV file"), "{err}");
    // A column that is not there, or is the target (named or the last), is named as such; so is
    // the weight column named as categorical too.
    let cases: [(&str, &[&str], &str); 4] = [
        ("wt", &["--target", "animal"], "ones.csv: no feature column 'wt' to take the sample weights from; the columns are: weight, height, w, animal"),
        ("animal", &["--target", "animal"], "ones.csv: 'animal' is the target column, not a feature column to take the sample weights from"),
        ("animal", &[], "ones.csv: 'animal' is the target column"),
        ("w", &["--categorical", "w"], "ones.csv: column 'w' is left out (dropped, or the sample weights), so it cannot be one-hot encoded too"),
    ];
    for (column, extra, expect) in cases {
        let args = ["train", "--data", "ones.csv", "--sample-weight", column];
        fails_with(&d, &[&args[..], extra].concat(), expect);
    }

    // The same weights from a .npy file (any data: here the CSV without its column): the same
    // bits as from the column.
    let horse_w: Vec<f64> = animals
        .lines()
        .skip(1)
        .map(|l| if l.ends_with("horse") { 0.0 } else { 1.0 })
        .collect();
    let n = horse_w.len();
    write_npy(&d.path("w.npy"), &[n], &horse_w);
    train(
        "no-horses.csv",
        &["--sample-weight", "w.npy", "--drop", "w"],
        "npy.safetensors",
    );
    assert_eq!(p, predictions("npy.safetensors"));
    // A weight array of the wrong length, or a negative weight, named with numpy's index.
    write_npy(&d.path("short.npy"), &[n - 1], &horse_w[1..]);
    let mut negative = horse_w.clone();
    negative[4] = -1.0;
    write_npy(&d.path("neg.npy"), &[n, 1], &negative);
    for (file, expect) in [
        (
            "short.npy",
            "short.npy: shape [199]; expected (200,): one weight per row of the training data",
        ),
        (
            "neg.npy",
            "neg.npy: the weight at index 4 is -1; expected a finite number ≥ 0",
        ),
    ] {
        let args = ["train", "--data", "animals.csv", "--sample-weight", file];
        let err = fails(&d, &[&args[..], &common[..]].concat());
        assert!(err.contains(expect), "{err}");
    }
}

/// `--test FILE` and `--val FILE` with `--sample-weight COLUMN`: where the file has the column, its
/// rows are weighted by it, and the held-out figures equal those of a file holding each row as
/// many times as its (integer) weight says; where it has not, its rows count alike.
#[test]
fn held_out_files_are_weighted_by_the_same_column() {
    let d = Dir::new("held-out-weights");
    let animals = std::fs::read_to_string(animals_csv(&d)).unwrap();
    let rows: Vec<(&str, &str)> = animals
        .lines()
        .skip(1)
        .map(|l| l.rsplit_once(',').unwrap())
        .collect();
    let header = "weight,height,w,animal\n";
    let mut train = String::from(header);
    for (features, label) in &rows[40..] {
        train += &format!("{features},1,{label}\n");
    }
    // Rows 0..40 held out, weighted 0, 1, 2, 3 in turn; and the same rows repeated that often.
    let (mut weighted, mut repeated, mut bare) = (
        String::from(header),
        String::from(header),
        String::from("weight,height,animal\n"),
    );
    for (i, (features, label)) in rows[..40].iter().enumerate() {
        weighted += &format!("{features},{},{label}\n", i % 4);
        repeated += &format!("{features},1,{label}\n").repeat(i % 4);
        bare += &format!("{features},{label}\n");
    }
    d.write("train.csv", &train);
    d.write("weighted.csv", &weighted);
    d.write("repeated.csv", &repeated);
    d.write("bare.csv", &bare);
    let run = |held_out: &str| {
        let args = [
            "train",
            "--data",
            "train.csv",
            "--target",
            "animal",
            "--sample-weight",
            "w",
            "--epochs",
            "5",
            "--test",
            held_out,
            "--val",
            held_out,
            "--out",
            "m.safetensors",
        ];
        let text = ok(&d, &args);
        let report = json(&ok(
            &d,
            &[&args[..], &["--format", "json", "--quiet"]].concat(),
        ));
        (text, report)
    };
    let (text, weighted) = run("weighted.csv");
    assert!(
        text.contains("(--val weighted.csv, weighted by column w)")
            && text.contains("(--test weighted.csv, weighted by column w)"),
        "{text}"
    );
    let (_, repeated) = run("repeated.csv");
    for key in [
        "test_loss",
        "test_accuracy",
        "test_macro_f1",
        "test_roc_auc",
        "val_loss",
    ] {
        let (a, b) = (
            weighted[key].as_f64().unwrap(),
            repeated[key].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
            "{key}: {a} against {b}"
        );
    }
    let (text, bare) = run("bare.csv");
    assert!(!text.contains(", weighted by column"), "{text}");
    assert_ne!(bare["test_loss"], weighted["test_loss"]);
    // Every held-out weight 0: nothing to score, refused with the file named.
    let zero = String::from(header)
        + &rows[..40]
            .iter()
            .map(|(f, l)| format!("{f},0,{l}\n"))
            .collect::<String>();
    d.write("zeros.csv", &zero);
    let args = [
        "train",
        "--data",
        "train.csv",
        "--target",
        "animal",
        "--sample-weight",
        "w",
        "--test",
        "zeros.csv",
    ];
    fails_with(
        &d,
        &args,
        "--test zeros.csv: --sample-weight w: every sample weight is 0",
    );
}

/// Two JSON reports hold the same figures (numbers within `tol`, relative), but for `skip`'s keys.
fn same_figures(a: &Value, b: &Value, tol: f64, skip: &[&str], at: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                let w = y
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k}: missing in {b}"));
                same_figures(v, w, tol, skip, &format!("{at}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                same_figures(v, w, tol, skip, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{at}: {x} against {y}"
            );
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// `eval --sample-weight`: every figure weighted, as scikit-learn's metrics' `sample_weight=`. The
/// oracle: a row of integer weight k scores as k copies of the row (0: as no row), for classes,
/// labels and values; a `.npy` file of the same weights gives the same report; bad weights are
/// named.
#[test]
fn eval_sample_weights_score_as_repeated_rows() {
    let d = Dir::new("eval-weights");
    let sets = [
        (animals_csv(&d), "animal", "4"),
        (tags_csv(&d), "small,wide,tall", "20"),
        (homes_csv(&d), "price,rent", "20"),
    ];
    for (csv, target, epochs) in sets {
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let (mut weighted, mut repeated) = (format!("{header},w\n"), format!("{header}\n"));
        let mut weights = Vec::new();
        for (i, line) in lines.enumerate() {
            let w = (i * 7 + i / 5) % 4;
            weighted += &format!("{line},{w}\n");
            repeated += &format!("{line}\n").repeat(w);
            weights.push(w as f64);
        }
        d.write("weighted.csv", &weighted);
        d.write("repeated.csv", &repeated);
        write_npy(&d.path("w.npy"), &[weights.len()], &weights);
        let csv = csv.to_str().unwrap();
        let train = [
            "train", "--data", csv, "--target", target, "--epochs", epochs,
        ];
        let drop: &[&str] = if csv.ends_with("animals.csv") {
            &[]
        } else {
            &["--drop", "id"]
        };
        let more = ["--hidden", "8", "--out", "m.safetensors", "--quiet"];
        ok(&d, &[&train[..], drop, &more[..]].concat());
        let eval = |data: &str, weights: &[&str]| {
            let args = [
                "eval",
                "--model",
                "m.safetensors",
                "--data",
                data,
                "--format",
                "json",
            ];
            json(&ok(&d, &[&args[..], weights].concat()))
        };
        let by_column = eval("weighted.csv", &["--sample-weight", "w"]);
        let copies = eval("repeated.csv", &[]);
        assert_eq!(by_column["sample_weight"], "w");
        assert_eq!(by_column["weight_sum"], copies["rows"], "{target}");
        // The loss is the f32 network's, its rows summed in other chunks: f32's rounding.
        let skip = [
            "model",
            "data",
            "rows",
            "sample_weight",
            "weight_sum",
            "loss",
        ];
        same_figures(&by_column, &copies, 1e-12, &skip, target);
        if let Some(loss) = copies.get("loss") {
            same_figures(
                &by_column["loss"],
                loss,
                1e-6,
                &[],
                &format!("{target}: loss"),
            );
        }
        // The same weights from a .npy file: the same report.
        let by_file = eval("weighted.csv", &["--sample-weight", "w.npy"]);
        same_figures(&by_file, &by_column, 0.0, &["sample_weight"], target);
        let text = ok(
            &d,
            &[
                "eval",
                "--model",
                "m.safetensors",
                "--data",
                "weighted.csv",
                "--sample-weight",
                "w",
            ],
        );
        let sum = copies["rows"].as_u64().unwrap();
        assert!(
            text.contains(&format!("rows weighted by column w (Σ w = {sum})")),
            "{text}"
        );
    }
    // Bad weights, named: the wrong length, all 0, not a number, no such column, no CSV.
    write_npy(&d.path("short.npy"), &[3], &[1.0, 2.0, 3.0]);
    write_npy(&d.path("zeros.npy"), &[400], &[0.0; 400]);
    d.write(
        "bad.csv",
        &std::fs::read_to_string(d.path("weighted.csv"))
            .unwrap()
            .replacen(",1\n", ",x\n", 1),
    );
    for (data, weights, want) in [
        (
            "weighted.csv",
            "short.npy",
            "short.npy: shape [3]; expected (400,): one weight per row of the data",
        ),
        ("weighted.csv", "zeros.npy", "every sample weight is 0"),
        ("bad.csv", "w", "'x' is not a number"),
        ("weighted.csv", "weight", "weighted.csv: no column 'weight'"),
        ("iris", "w", "a column of a CSV file"),
    ] {
        let args = ["eval", "--model", "m.safetensors", "--data", data];
        fails_with(
            &d,
            &[&args[..], &["--sample-weight", weights]].concat(),
            want,
        );
    }
}

/// `--log run.csv`: the epochs as CSV rows (Keras' `CSVLogger`, for `pandas.read_csv`), the same
/// figures as the JSON log's; a second run appends its rows under the one header, as a resumed
/// run does; an epoch without validation leaves its cells empty.
#[test]
fn csv_log_holds_the_json_logs_figures() {
    let d = Dir::new("csv-log");
    let run = |log: &str, epochs: &str, more: &[&str]| {
        let args = [
            &[
                "train", "--data", "iris", "--epochs", epochs, "--log", log, "--quiet",
            ][..],
            more,
        ]
        .concat();
        ok(&d, &args);
    };
    let val = ["--val-split", "0.2"];
    run("run.jsonl", "3", &val);
    run("run.csv", "3", &val);
    run("run.csv", "2", &[]);
    let csv = std::fs::read_to_string(d.path("run.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "epoch",
            "train_loss",
            "train_metric",
            "val_loss",
            "val_metric",
            "learning_rate",
            "seconds"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows.len(),
        5,
        "3 rows, then 2 appended under the same header"
    );
    let jsonl = std::fs::read_to_string(d.path("run.jsonl")).unwrap();
    for (row, line) in rows.iter().zip(jsonl.lines()) {
        // The JSON's own text of each figure (serde_json's default parser may round a digit).
        let text = |k: &str| {
            let after = &line[line.find(&format!("\"{k}\":")).unwrap() + k.len() + 3..];
            after[..after.find([',', '}']).unwrap()].to_string()
        };
        for (k, cell) in header.iter().zip(row).filter(|(k, _)| **k != "seconds") {
            assert_eq!(*cell, text(k), "{k}");
        }
    }
    assert_eq!(
        (rows[3][3], rows[3][4]),
        ("", ""),
        "no validation: empty cells"
    );
}

#[test]
fn logs_and_plots() {
    let d = Dir::new("plots");
    ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--epochs",
            "4",
            "--val-split",
            "0.2",
            "--log",
            "run.jsonl",
            "--plot",
            "curves.svg",
            "--quiet",
        ],
    );
    let log = std::fs::read_to_string(d.path("run.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4);
    assert!(json(log.lines().next().unwrap())["val_loss"].is_number());
    let svg = std::fs::read_to_string(d.path("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("validation"));
    ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--epochs",
            "2",
            "--plot",
            "curves.png",
            "--quiet",
        ],
    );
    let png = std::fs::read(d.path("curves.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // eval --plot: a classifier's ROC curves, labelled with the AUCs eval reports; a binary one's
    // for the positive class alone; a regression's predicted against actual values per target.
    ok(&d, &["train", "--data", "iris", "--epochs", "4", "--quiet"]);
    let report = json(&ok(
        &d,
        &["eval", "--model", "model.safetensors", "--data", "iris"]
            .into_iter()
            .chain(["--plot", "roc.svg", "--format", "json"])
            .collect::<Vec<_>>(),
    ));
    let svg = std::fs::read_to_string(d.path("roc.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("ROC curves"));
    for c in report["per_class"].as_array().unwrap() {
        let label = format!(
            "{} (AUC {:.3})",
            c["class"].as_str().unwrap(),
            c["roc_auc"].as_f64().unwrap()
        );
        assert!(svg.contains(&label), "{label} not in the plot");
    }
    // Beside them, the confusion matrix eval reports: every cell's count is drawn.
    assert!(svg.contains("confusion matrix"));
    for count in report["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
    {
        assert!(
            svg.contains(&format!(">\n{count}\n<")),
            "{count} not in the plot"
        );
    }
    animals_csv(&d);
    pets_csv(&d);
    ok(
        &d,
        &[
            "train",
            "--data",
            "pets.csv",
            "--out",
            "pets.safetensors",
            "--quiet",
        ],
    );
    ok(
        &d,
        &[
            "eval",
            "--model",
            "pets.safetensors",
            "--data",
            "pets.csv",
            "--plot",
            "pets.svg",
        ],
    );
    let svg = std::fs::read_to_string(d.path("pets.svg")).unwrap();
    assert!(
        svg.contains("dog (AUC") && !svg.contains("cat (AUC"),
        "the positive class only"
    );
    homes_csv(&d);
    ok(
        &d,
        &[
            "train",
            "--data",
            "homes.csv",
            "--target",
            "price,rent",
            "--drop",
            "id",
        ]
        .into_iter()
        .chain(["--out", "homes.safetensors", "--epochs", "3", "--quiet"])
        .collect::<Vec<_>>(),
    );
    ok(
        &d,
        &[
            "eval",
            "--model",
            "homes.safetensors",
            "--data",
            "homes.csv",
            "--plot",
            "fit.png",
        ],
    );
    let png = std::fs::read(d.path("fit.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    ok(
        &d,
        &[
            "eval",
            "--model",
            "homes.safetensors",
            "--data",
            "homes.csv",
            "--plot",
            "fit.svg",
        ],
    );
    let svg = std::fs::read_to_string(d.path("fit.svg")).unwrap();
    assert!(svg.contains("\nprice\n") && svg.contains("\nrent\n") && svg.contains("predicted"));
    let err = fails(
        &d,
        &[
            "eval",
            "--model",
            "homes.safetensors",
            "--data",
            "homes.csv",
            "--plot",
            "fit.txt",
        ],
    );
    assert!(
        err.contains("--plot fit.txt: expected a .svg or .png file"),
        "{err}"
    );
}

/// A folder of class folders of 8×8 gray PNGs: a bright bar across one of the top four rows
/// (`top/`) or of the bottom four (`bottom/`), on a noisy background; 40 of each.
fn bars_folder(d: &Dir) -> PathBuf {
    let root = d.path("bars");
    let mut rng = mlp::Rng::new(5);
    for (class, first_row) in [("bottom", 4), ("top", 0)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..40 {
            let at = first_row + rng.below(4) as u32;
            let noise: Vec<u8> = (0..64).map(|_| (rng.uniform() * 60.0) as u8).collect();
            let img = image::GrayImage::from_fn(8, 8, |x, y| {
                image::Luma([if y == at {
                    230
                } else {
                    noise[(8 * y + x) as usize]
                }])
            });
            img.save(root.join(format!("{class}/{i:02}.png"))).unwrap();
        }
    }
    root
}

/// A folder of class folders trains a classifier, as torchvision's `ImageFolder` reads one: the
/// classes are the folders, the pixels scaled to [0, 1]. The model keeps the images' shape, so
/// `predict` takes a folder or one image file (a `file` column first) and `eval` the folder, with
/// figures that agree; `--image-size` resizes, and new images are resized to the model's size.
#[test]
fn image_folders_train_predict_and_eval() {
    let d = Dir::new("images");
    bars_folder(&d);
    let s = json(&ok(
        &d,
        &[
            "train", "--data", "bars", "--hidden", "16", "--epochs", "40", "--format", "json",
        ],
    ));
    assert!(s["test_accuracy"].as_f64().unwrap() >= 0.9, "{s}");
    let info = info_json(&d, "model.safetensors");
    assert_eq!(
        info["preprocessing"]["image"],
        serde_json::json!({"height": 8, "width": 8, "channels": 1})
    );
    assert_eq!(info["class_names"], serde_json::json!(["bottom", "top"]));
    assert!(
        info["preprocessing"]["features"].is_null(),
        "pixels are not standardised"
    );

    // predict on the whole folder: one row per image, in the order eval reads them.
    let all = ok(
        &d,
        &["predict", "--model", "model.safetensors", "--data", "bars"],
    );
    let rows: Vec<(&str, &str)> = all
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap())
        .collect();
    assert_eq!(all.lines().next(), Some("file,prediction"));
    assert_eq!(
        (rows.len(), rows[0].0, rows[79].0),
        (80, "bottom/00.png", "top/39.png")
    );
    let right = rows
        .iter()
        .filter(|(file, p)| file.starts_with(&format!("{p}/")))
        .count();
    let e = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "model.safetensors",
            "--data",
            "bars",
            "--format",
            "json",
        ],
    ));
    assert_eq!(e["accuracy"].as_f64().unwrap(), right as f64 / 80.0);
    // One image file: the same prediction as in the folder.
    let one = ok(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "bars/top/07.png",
        ],
    );
    assert_eq!(
        one,
        format!("file,prediction\nbars/top/07.png,{}\n", rows[47].1)
    );

    // explain --attributions --plot: the image beside the heatmap of its pixels' attributions.
    let why = [
        "explain",
        "--model",
        "model.safetensors",
        "--data",
        "bars/top/07.png",
    ];
    ok(
        &d,
        &[&why[..], &["--attributions", "--plot", "why.png"]].concat(),
    );
    let png = image::open(d.path("why.png")).unwrap();
    assert_eq!((png.width(), png.height()), (640, 360));

    // --image-size: the model reads 4×4; 8×8 images given to it are resized to that.
    ok(
        &d,
        &[
            "train",
            "--data",
            "bars",
            "--image-size",
            "4x4",
            "--epochs",
            "3",
            "--out",
            "small.safetensors",
            "--quiet",
        ],
    );
    let info = info_json(&d, "small.safetensors");
    assert_eq!(info["architecture"]["inputs"], 16, "{info}");
    let small = ok(
        &d,
        &[
            "predict",
            "--model",
            "small.safetensors",
            "--data",
            "bars/bottom",
        ],
    );
    assert_eq!(small.lines().count(), 41);

    // Images of another size are refused, naming the file and the fix; so is an unreadable one.
    image::GrayImage::new(9, 8)
        .save(d.path("bars/top/zz.png"))
        .unwrap();
    fails_with(&d, &["train", "--data", "bars"], "zz.png: 9×8 pixels, but");
    fails_with(&d, &["train", "--data", "bars"], "give --image-size WxH");
    std::fs::write(d.path("bars/top/zz.png"), b"not a png").unwrap();
    fails_with(
        &d,
        &["train", "--data", "bars", "--image-size", "8x8"],
        "zz.png: not a readable image",
    );
    std::fs::remove_file(d.path("bars/top/zz.png")).unwrap();
    fails_with(
        &d,
        &["train", "--data", "iris", "--image-size", "8x8"],
        "iris is not a folder of class folders",
    );
    fails_with(
        &d,
        &["train", "--data", "bars", "--image-size", "8y8"],
        "expected WIDTHxHEIGHT",
    );
}

/// The predictions of `predict --out P.npy`, as numpy would hold them: (dtype, shape, values as
/// text). Read with `npyz`, the reader behind `mlp`'s own `.npy` input.
fn npy_predictions(path: &Path) -> (String, Vec<u64>, Vec<String>) {
    let bytes = std::fs::read(path).unwrap();
    let file = npyz::NpyFile::new(&bytes[..]).unwrap();
    // `descr` is numpy's, quoted: '<f4'.
    let dtype = file.header().dtype().descr().replace('\'', "");
    let shape = file.shape().to_vec();
    let values = match &dtype[1..2] {
        "U" => file.into_vec::<String>().unwrap(),
        "i" => file
            .into_vec::<i64>()
            .unwrap()
            .iter()
            .map(i64::to_string)
            .collect(),
        "f" if dtype == "<f4" => file
            .into_vec::<f32>()
            .unwrap()
            .iter()
            .map(|v| (*v as f64).to_string())
            .collect(),
        _ => file
            .into_vec::<f64>()
            .unwrap()
            .iter()
            .map(f64::to_string)
            .collect(),
    };
    (dtype, shape, values)
}

/// The values of `predict`'s CSV, row by row, from column `from` on, rounded to f32 as an f32
/// model's `.npy` holds them (its probabilities are f32 already, except a binary model's 1 − p,
/// which the CSV writes in f64).
fn csv_values_f32(csv: &str, from: usize) -> Vec<String> {
    csv_values(csv, from)
        .iter()
        .map(|v| (v.parse::<f64>().unwrap() as f32 as f64).to_string())
        .collect()
}

/// The values of `predict`'s CSV, row by row, from column `from` on.
fn csv_values(csv: &str, from: usize) -> Vec<String> {
    csv.lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .skip(from)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `predict --out P.npy`: one numpy array, shaped as scikit-learn's `predict` and
/// `predict_proba` return them, holding exactly what the CSV says — text classes as `<U`,
/// integer classes as `<i8`, probabilities and values in the model's precision, multi-label
/// decisions as 0/1. `--keep` is refused (a CSV keeps columns), and writes nothing.
#[test]
fn predictions_as_numpy_arrays() {
    let d = Dir::new("npy-out");
    animals_csv(&d);
    homes_csv(&d);
    tags_csv(&d);
    let predict = |model: &str, data: &str, more: &[&str]| {
        let csv = ok(
            &d,
            &[&["predict", "--model", model, "--data", data][..], more].concat(),
        );
        let npy = d.path("p.npy");
        let npy_arg = npy.to_str().unwrap();
        ok(
            &d,
            &[
                &[
                    "predict", "--model", model, "--data", data, "--out", npy_arg,
                ][..],
                more,
            ]
            .concat(),
        );
        (csv, npy_predictions(&npy))
    };
    let rows = 200u64;
    let train = |args: &[&str], out: &str| {
        ok(
            &d,
            &[&["train"][..], args, &["--out", out, "--quiet"]].concat(),
        );
    };

    train(
        &[
            "--data",
            "animals.csv",
            "--hidden",
            "8",
            "--epochs",
            "30",
            "--lr",
            "0.01",
        ],
        "a.safetensors",
    );
    let (csv, (dtype, shape, v)) = predict("a.safetensors", "animals.csv", &[]);
    assert_eq!((dtype.as_str(), shape), ("<U5", vec![rows]));
    assert_eq!(v, csv_values(&csv, 0));
    assert!(v.iter().any(|c| c == "horse"));
    let (csv, (dtype, shape, v)) = predict("a.safetensors", "animals.csv", &["--proba"]);
    assert_eq!((dtype.as_str(), shape), ("<f4", vec![rows, 3]));
    let probs: Vec<String> = csv_values_f32(&csv, 1);
    assert_eq!(v, probs, "each probability as the CSV writes it");

    // Integer class names are numbers; a binary model's one output, both classes' columns.
    train(
        &[
            "--data",
            "tags.csv",
            "--target",
            "small",
            "--drop",
            "id,wide,tall",
            "--output",
            "sigmoid",
            "--epochs",
            "5",
        ],
        "s.safetensors",
    );
    let (csv, (dtype, shape, v)) = predict("s.safetensors", "tags.csv", &["--threshold", "0.3"]);
    assert_eq!((dtype.as_str(), shape), ("<i8", vec![300]));
    assert_eq!(v, csv_values(&csv, 0));
    let (csv, (dtype, shape, v)) = predict("s.safetensors", "tags.csv", &["--proba"]);
    assert_eq!((dtype.as_str(), shape), ("<f4", vec![300, 2]));
    assert_eq!(v, csv_values_f32(&csv, 1));

    // Labels: rows × labels of 0/1, or their probabilities.
    train(
        &[
            "--data",
            "tags.csv",
            "--target",
            "small,wide,tall",
            "--drop",
            "id",
            "--epochs",
            "5",
        ],
        "l.safetensors",
    );
    let (csv, (dtype, shape, v)) = predict("l.safetensors", "tags.csv", &[]);
    assert_eq!((dtype.as_str(), shape), ("<i8", vec![300, 3]));
    assert_eq!(v, csv_values(&csv, 0));
    let (csv, (dtype, shape, v)) = predict("l.safetensors", "tags.csv", &["--proba"]);
    assert_eq!((dtype.as_str(), shape), ("<f4", vec![300, 3]));
    assert_eq!(v, csv_values_f32(&csv, 3));

    // Values: rows × targets in their units, f64 for an f64 model.
    train(
        &[
            "--data",
            "homes.csv",
            "--target",
            "price,rent",
            "--drop",
            "id",
            "--precision",
            "f64",
            "--epochs",
            "5",
        ],
        "h.safetensors",
    );
    let (csv, (dtype, shape, v)) = predict("h.safetensors", "homes.csv", &[]);
    assert_eq!((dtype.as_str(), shape), ("<f8", vec![400, 2]));
    assert_eq!(v, csv_values(&csv, 0));

    std::fs::remove_file(d.path("p.npy")).unwrap();
    fails_with(
        &d,
        &[
            "predict",
            "--model",
            "a.safetensors",
            "--data",
            "animals.csv",
            "--out",
            "p.npy",
            "--keep",
            "weight",
        ],
        "one numpy array of predictions; write a CSV to keep columns",
    );
    assert!(!d.path("p.npy").exists());
}

/// An NPY file of `descr` values (numpy's type string, e.g. `|u1`) in `shape`, from their bytes.
fn write_npy_raw(path: &Path, descr: &str, shape: &[usize], data: &[u8], order: &str) {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_txt = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if order == "F" { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_txt}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    std::fs::write(path, b).unwrap();
}

/// Images as numpy users hold them (`keras.datasets.mnist`'s (N, 28, 28) `uint8`): 3-D gray or
/// 4-D with channels, their labels in an array of their own. `uint8` pixels are scaled to [0, 1]
/// as an image file's are, so a model trained on the array gives the same images saved as PNG
/// files the same probabilities, to the last digit. The model keeps the shape; arrays of another
/// shape, of 2 channels, of 5 dimensions, in Fortran order or without labels are refused, naming
/// what was expected.
#[test]
fn npy_arrays_of_images() {
    let d = Dir::new("npy-images");
    let root = bars_folder(&d);
    // The PNGs' pixels in the order `predict` lists the files: class folders, then files, sorted.
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (k, class) in ["bottom", "top"].iter().enumerate() {
        for i in 0..40 {
            let img = image::open(root.join(format!("{class}/{i:02}.png"))).unwrap();
            pixels.extend_from_slice(img.to_luma8().as_raw());
            labels.push(k as f64);
        }
    }
    write_npy_raw(&d.path("bars.npy"), "|u1", &[80, 8, 8], &pixels, "C");
    write_npy(&d.path("labels.npy"), &[80], &labels);
    let train = ok(
        &d,
        &[
            "train",
            "--data",
            "bars.npy",
            "--labels",
            "labels.npy",
            "--hidden",
            "8",
            "--epochs",
            "5",
            "--out",
            "b.safetensors",
        ],
    );
    assert!(
        train.contains("80 images, 8×8 gray, uint8 scaled to [0, 1]"),
        "{train}"
    );
    let info = info_json(&d, "b.safetensors");
    assert_eq!(info["preprocessing"]["image"]["height"], 8);
    let from_npy = ok(
        &d,
        &[
            "predict",
            "--model",
            "b.safetensors",
            "--data",
            "bars.npy",
            "--proba",
        ],
    );
    let from_png = ok(
        &d,
        &[
            "predict",
            "--model",
            "b.safetensors",
            "--data",
            "bars",
            "--proba",
        ],
    );
    let without_file: Vec<&str> = from_png
        .lines()
        .map(|l| l.split_once(',').unwrap().1)
        .collect();
    assert_eq!(from_npy.lines().collect::<Vec<_>>(), without_file);
    assert_eq!(from_npy.lines().count(), 81);

    // Colour: (rows, height, width, 3), the gray value in each channel.
    let rgb: Vec<u8> = pixels.iter().flat_map(|&p| [p, p, p]).collect();
    write_npy_raw(&d.path("rgb.npy"), "|u1", &[80, 8, 8, 3], &rgb, "C");
    let out = ok(
        &d,
        &[
            "train",
            "--data",
            "rgb.npy",
            "--labels",
            "labels.npy",
            "--epochs",
            "1",
            "--out",
            "rgb.safetensors",
        ],
    );
    assert!(
        out.contains("8×8 RGB") && out.contains("network  192-"),
        "{out}"
    );

    // Floats in [0, 1] are taken as they are: the same model and predictions as the uint8 pixels
    // when they are those pixels ÷ 255 (here computed as mlp does, in f64, then stored).
    let floats: Vec<u8> = pixels
        .iter()
        .flat_map(|&p| (f64::from(p) / 255.0).to_le_bytes())
        .collect();
    write_npy_raw(&d.path("floats.npy"), "<f8", &[80, 8, 8], &floats, "C");
    let from_floats = ok(
        &d,
        &[
            "predict",
            "--model",
            "b.safetensors",
            "--data",
            "floats.npy",
            "--proba",
        ],
    );
    assert_eq!(from_floats, from_npy);
    let doubled: Vec<u8> = pixels
        .iter()
        .flat_map(|&p| (f64::from(p) / 127.5).to_le_bytes())
        .collect();
    write_npy_raw(&d.path("over.npy"), "<f8", &[80, 8, 8], &doubled, "C");
    fails_with(
        &d,
        &["predict", "--model", "b.safetensors", "--data", "over.npy"],
        "over.npy: images of <f8 values, one of them 1.8039",
    );

    // Refused, naming what was expected.
    fails_with(
        &d,
        &["train", "--data", "bars.npy"],
        "bars.npy: images ([80, 64]): give their labels, one a row, in an array of their own (--labels Y.npy)",
    );
    write_npy_raw(&d.path("two.npy"), "|u1", &[40, 8, 8, 2], &rgb[..5120], "C");
    fails_with(
        &d,
        &["train", "--data", "two.npy", "--labels", "labels.npy"],
        "two.npy: images of 2 channels; expected 1 (gray) or 3 (red, green, blue)",
    );
    write_npy_raw(
        &d.path("five.npy"),
        "|u1",
        &[5, 2, 8, 8, 1],
        &pixels[..640],
        "C",
    );
    fails_with(
        &d,
        &["train", "--data", "five.npy", "--labels", "labels.npy"],
        "expected (rows, features), or images: (rows, height, width) or (rows, height, width, channels)",
    );
    write_npy_raw(&d.path("fortran.npy"), "|u1", &[80, 8, 8], &pixels, "F");
    fails_with(
        &d,
        &["train", "--data", "fortran.npy", "--labels", "labels.npy"],
        "in Fortran order; expected C order for more than 2 dimensions",
    );
    write_npy_raw(&d.path("wide.npy"), "|u1", &[80, 4, 16], &pixels, "C");
    for cmd in [
        &["predict", "--model", "b.safetensors", "--data", "wide.npy"][..],
        &[
            "eval",
            "--model",
            "b.safetensors",
            "--data",
            "wide.npy",
            "--labels",
            "labels.npy",
        ],
    ] {
        fails_with(
            &d,
            cmd,
            "wide.npy: images of 16×4 gray; the model reads 8×8 gray",
        );
    }
}

/// `predict` on a 2-D array of exactly the model's features (as `np.save("X.npy", X_test)` writes
/// it) predicts every column; one with a column more (the target, last or `--target`) leaves it out.
#[test]
fn npy_rows_to_predict_with_or_without_their_target() {
    let d = Dir::new("npy-predict");
    let mut rng = mlp::Rng::new(8);
    let (rows, cols) = (120, 3);
    let x: Vec<f64> = (0..rows * cols).map(|_| rng.normal()).collect();
    let y: Vec<f64> = x
        .chunks(cols)
        .map(|r| f64::from(u8::from(r[0] + r[1] > 0.0)))
        .collect();
    write_npy(&d.path("x.npy"), &[rows, cols], &x);
    write_npy(&d.path("y.npy"), &[rows], &y);
    let with_y: Vec<f64> = x
        .chunks(cols)
        .zip(&y)
        .flat_map(|(r, &t)| [r, &[t]].concat())
        .collect();
    write_npy(&d.path("xy.npy"), &[rows, cols + 1], &with_y);
    let first_y: Vec<f64> = x
        .chunks(cols)
        .zip(&y)
        .flat_map(|(r, &t)| [&[t], r].concat())
        .collect();
    write_npy(&d.path("yx.npy"), &[rows, cols + 1], &first_y);
    ok(
        &d,
        &[
            "train",
            "--data",
            "x.npy",
            "--labels",
            "y.npy",
            "--epochs",
            "5",
            "--out",
            "m.safetensors",
            "--quiet",
        ],
    );
    let predict = |data: &str, more: &[&str]| {
        ok(
            &d,
            &[
                &[
                    "predict",
                    "--model",
                    "m.safetensors",
                    "--data",
                    data,
                    "--proba",
                ][..],
                more,
            ]
            .concat(),
        )
    };
    let plain = predict("x.npy", &[]);
    assert_eq!(plain.lines().count(), rows + 1);
    assert_eq!(plain, predict("xy.npy", &[]));
    assert_eq!(plain, predict("yx.npy", &["--target", "0"]));
    fails_with(
        &d,
        &[
            "predict",
            "--model",
            "m.safetensors",
            "--data",
            "x.npy",
            "--target",
            "5",
        ],
        "x.npy: target column 5 does not exist among its 3 columns",
    );

    // Test and validation arrays take their targets from arrays of their own too: the run's test
    // figures are eval's on them.
    let run = json(&ok(
        &d,
        &[
            "train",
            "--data",
            "x.npy",
            "--labels",
            "y.npy",
            "--test",
            "x.npy",
            "--test-labels",
            "y.npy",
            "--val",
            "x.npy",
            "--val-labels",
            "y.npy",
            "--epochs",
            "5",
            "--out",
            "t.safetensors",
            "--format",
            "json",
        ],
    ));
    let eval = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "t.safetensors",
            "--data",
            "x.npy",
            "--labels",
            "y.npy",
            "--format",
            "json",
        ],
    ));
    assert_eq!(run["test_accuracy"], eval["accuracy"]);
    assert_eq!(run["test_loss"], eval["loss"]);
    assert_eq!(
        info_json(&d, "t.safetensors")["training"]["val_labels"],
        "y.npy"
    );
    fails_with(
        &d,
        &[
            "train",
            "--data",
            "x.npy",
            "--labels",
            "y.npy",
            "--test-labels",
            "y.npy",
        ],
        "--test-labels y.npy: the targets of --test data; give --test too",
    );
    fails_with(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--val",
            "iris",
            "--val-labels",
            "y.npy",
        ],
        "--val iris holds its own targets; only .npy data takes them from an array of their own",
    );

    // Arrays with nothing to learn from: refused, not a panic.
    write_npy(&d.path("none.npy"), &[rows, 0], &[]);
    write_npy(&d.path("one.npy"), &[rows, 1], &y);
    write_npy_raw(&d.path("flat.npy"), "|u1", &[rows, 0, 8], &[], "C");
    write_npy_raw(&d.path("huge.npy"), "|u1", &[0, 1 << 32, 1 << 32], &[], "C");
    for (data, labels, want) in [
        (
            "none.npy",
            Some("y.npy"),
            "none.npy: shape [120, 0]: no feature columns beside the targets",
        ),
        (
            "one.npy",
            None,
            "one.npy: shape [120, 1]: one column; expected feature columns and a target column",
        ),
        (
            "flat.npy",
            Some("y.npy"),
            "flat.npy: shape [120, 0, 8]: images without pixels",
        ),
        (
            "huge.npy",
            Some("y.npy"),
            "huge.npy: the shape claims more values than memory holds; it is corrupt",
        ),
    ] {
        let mut args = vec!["train", "--data", data];
        if let Some(l) = labels {
            args.extend(["--labels", l]);
        }
        fails_with(&d, &args, want);
    }
}

/// Runs `mlp` with `args` in `dir` for a reader of its output that leaves at once.
fn without_a_reader(dir: &Dir, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(args)
        .current_dir(&dir.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // before the first line
    child.wait_with_output().unwrap()
}

/// `mlp train … | head -1`: the reader of the report goes away, and the run still trains to the
/// end and saves its model (its lines are a report; a model lost would be work lost), for the
/// text table and the JSON summary alike; `predict`, whose output is the product, ends quietly
/// instead, as other command-line tools do.
#[test]
fn a_reader_that_goes_away_does_not_stop_training() {
    let d = Dir::new("pipe");
    for format in ["text", "json"] {
        let model = format!("{format}.safetensors");
        let out = without_a_reader(
            &d,
            &[
                "train", "--data", "iris", "--epochs", "30", "--format", format, "--out", &model,
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(info_json(&d, &model)["training"]["epochs"], 30);
    }
    let out = without_a_reader(
        &d,
        &["predict", "--model", "text.safetensors", "--data", "iris"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "quietly");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(13), "ended by SIGPIPE");
    }
}

/// `--augment shift:N,flip` (and `rotate:D,zoom:P`): each training image shifted, mirrored, turned
/// or zoomed anew every epoch. The draws
/// follow from the seed, epoch, batch and row, so any thread count and a resumed run give the
/// same model, to the byte; the model differs from one trained on the images as they are.
#[test]
fn augmented_images_train_reproducibly() {
    let d = Dir::new("augment");
    bars_folder(&d);
    let common = [
        "--data",
        "bars",
        "--hidden",
        "8",
        "--augment",
        "shift:1,flip",
        "--batch-size",
        "16",
    ];
    let train = |threads: &str, out: &str| {
        let args = [
            &[
                "train",
                "--epochs",
                "4",
                "--threads",
                threads,
                "--out",
                out,
                "--quiet",
            ][..],
            &common,
        ]
        .concat();
        ok(&d, &args);
        std::fs::read(d.path(out)).unwrap()
    };
    let one = train("1", "one.safetensors");
    assert_eq!(
        one,
        train("2", "two.safetensors"),
        "one thread or two: the same bits"
    );
    let plain = [
        "train",
        "--data",
        "bars",
        "--hidden",
        "8",
        "--batch-size",
        "16",
        "--epochs",
        "4",
    ];
    ok(
        &d,
        &[&plain[..], &["--out", "plain.safetensors", "--quiet"]].concat(),
    );
    assert_ne!(one, std::fs::read(d.path("plain.safetensors")).unwrap());
    let info = info_json(&d, "one.safetensors");
    assert_eq!(info["training"]["augment"], "shift:1,flip");
    resumed_equals_uninterrupted(&d, &common, 6);

    // Turns and zooms (interpolated between pixels): the same bits on any thread count too.
    let turn = |threads: &str, out: &str| {
        let args = [
            &plain[..],
            &["--augment", "rotate:20,zoom:10", "--threads", threads],
            &["--out", out, "--quiet"],
        ]
        .concat();
        ok(&d, &args);
        std::fs::read(d.path(out)).unwrap()
    };
    let turned = turn("1", "turned1.safetensors");
    assert_eq!(turned, turn("2", "turned2.safetensors"));
    assert_ne!(turned, one);
    assert_ne!(turned, std::fs::read(d.path("plain.safetensors")).unwrap());
    let info = info_json(&d, "turned1.safetensors");
    assert_eq!(info["training"]["augment"], "rotate:20,zoom:10");
    fails_with(
        &d,
        &["train", "--data", "bars", "--augment", "rotate:200"],
        "rotate:200: expected a whole number of degrees from 1 to 180",
    );

    fails_with(
        &d,
        &["train", "--data", "iris", "--augment", "flip"],
        "the data are not images",
    );
    fails_with(
        &d,
        &["train", "--data", "bars", "--augment", "shift:9"],
        "from 1 to 7",
    );
    fails_with(
        &d,
        &[
            "train",
            "--data",
            "bars",
            "--augment",
            "flip",
            "--optimizer",
            "lbfgs",
        ],
        "augmentation draws new images",
    );
}

/// `--val FILE`: validation rows of their own (Keras' `validation_data`) instead of a split. The
/// training run's last validation loss and accuracy are what `mlp eval` finds for the final model
/// on that file; no training rows are held out for it; a split as well is refused.
#[test]
fn validation_data_from_a_file() {
    let d = Dir::new("val");
    let all = std::fs::read_to_string(animals_csv(&d)).unwrap();
    let (header, rows) = all.split_once('\n').unwrap();
    let pick = |keep: fn(usize) -> bool| {
        let kept: Vec<&str> = rows
            .lines()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, l)| l)
            .collect();
        format!("{header}\n{}\n", kept.join("\n"))
    };
    d.write("fit.csv", &pick(|i| i % 4 != 0));
    d.write("check.csv", &pick(|i| i % 4 == 0));
    let train = [
        "train",
        "--data",
        "fit.csv",
        "--val",
        "check.csv",
        "--epochs",
        "3",
    ];
    let text = ok(&d, &train);
    assert!(
        text.contains("split    120 training, 50 validation (--val check.csv), 30 test rows"),
        "{text}"
    );
    let s = json(&ok(
        &d,
        &[&train[..], &["--format", "json", "--log", "log.jsonl"]].concat(),
    ));
    let e = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "model.safetensors",
            "--data",
            "check.csv",
            "--format",
            "json",
        ],
    ));
    assert_eq!(s["val_loss"], e["loss"]);
    let log = std::fs::read_to_string(d.path("log.jsonl")).unwrap();
    let last = json(log.lines().last().unwrap());
    assert_eq!(last["val_metric"], e["accuracy"], "{last}");

    fails_with(
        &d,
        &[&train[..], &["--val-split", "0.1"]].concat(),
        "give the validation rows one way",
    );
    fails_with(
        &d,
        &["cv", "--data", "fit.csv", "--val", "check.csv"],
        "--val does not apply to mlp cv",
    );
    fails_with(
        &d,
        &["train", "--data", "-", "--val", "-"],
        "--data - and --val -: standard input holds one file",
    );
}

/// IDX files, gzip'd, in a folder with MNIST's names: t10k is the test set.
#[test]
fn an_mnist_style_folder_trains_and_tests_on_t10k() {
    let d = Dir::new("idx");
    let write_idx = |name: &str, dims: &[u32], body: &[u8]| {
        let mut raw = vec![0, 0, 8, dims.len() as u8];
        for x in dims {
            raw.extend_from_slice(&x.to_be_bytes());
        }
        raw.extend_from_slice(body);
        let f = std::fs::File::create(d.path(&format!("{name}.gz"))).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap();
    };
    // 4×4 images: class 0 lights the top half, class 1 the bottom half.
    let images = |n: usize| -> (Vec<u8>, Vec<u8>) {
        let (mut px, mut lb) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = (i % 2) as u8;
            for p in 0..16 {
                px.push(if (p < 8) == (c == 0) {
                    200 + (i % 50) as u8
                } else {
                    (i % 30) as u8
                });
            }
            lb.push(c);
        }
        (px, lb)
    };
    let (px, lb) = images(60);
    write_idx("train-images-idx3-ubyte", &[60, 4, 4], &px);
    write_idx("train-labels-idx1-ubyte", &[60], &lb);
    let (px, lb) = images(20);
    write_idx("t10k-images-idx3-ubyte", &[20, 4, 4], &px);
    write_idx("t10k-labels-idx1-ubyte", &[20], &lb);
    let s = json(&ok(
        &d,
        &[
            "train", "--data", ".", "--hidden", "8", "--epochs", "20", "--lr", "0.01", "--format",
            "json",
        ],
    ));
    assert_eq!(s["test_accuracy"], 1.0, "{s}");
    let text = ok(&d, &["eval", "--model", "model.safetensors", "--data", "."]);
    assert!(
        text.starts_with("20 rows"),
        "eval on the t10k files: {text}"
    );
    // The model knows its images are 4×4: the third t10k image as a PNG predicts as its IDX row,
    // the same probabilities to the last digit (both pixels / 255).
    let (px, _) = images(20);
    image::GrayImage::from_raw(4, 4, px[32..48].to_vec())
        .unwrap()
        .save(d.path("third.png"))
        .unwrap();
    let predict = |data: &str| {
        ok(
            &d,
            &[
                "predict",
                "--model",
                "model.safetensors",
                "--data",
                data,
                "--proba",
            ],
        )
    };
    let from_idx = predict(".");
    let row = from_idx.lines().nth(3).unwrap();
    assert_eq!(
        predict("third.png"),
        format!("file,prediction,p_0,p_1\nthird.png,{row}\n")
    );
    // A truncated gzip file.
    let gz = std::fs::read(d.path("train-labels-idx1-ubyte.gz")).unwrap();
    std::fs::write(d.path("train-labels-idx1-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    let err = fails(&d, &["train", "--data", "."]);
    assert!(
        err.contains("train-labels-idx1-ubyte.gz: gzip data is corrupt or truncated"),
        "{err}"
    );
    std::fs::write(d.path("train-labels-idx1-ubyte.gz"), &gz).unwrap();
    // An images file whose count does not match its length.
    write_idx("t10k-images-idx3-ubyte", &[21, 4, 4], &px);
    let err = fails(&d, &["eval", "--model", "model.safetensors", "--data", "."]);
    assert!(
        err.contains("t10k-images-idx3-ubyte.gz")
            && err.contains("call for 336 values but the file holds 320"),
        "{err}"
    );
}

/// Writes a little-endian f64 .npy array.
fn write_npy(path: &Path, shape: &[usize], values: &[f64]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy_raw(path, "<f8", shape, &bytes, "C");
}

#[test]
fn npy_features_with_a_targets_array() {
    let d = Dir::new("npy");
    let mut rng = mlp::Rng::new(4);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let (a, b) = (rng.normal(), rng.normal());
        x.extend([a, b, rng.normal()]);
        y.push(f64::from(u8::from(a + b > 0.0)));
    }
    write_npy(&d.path("x.npy"), &[300, 3], &x);
    write_npy(&d.path("y.npy"), &[300], &y);
    let s = json(&ok(
        &d,
        &[
            "train", "--data", "x.npy", "--labels", "y.npy", "--epochs", "30", "--lr", "0.01",
            "--format", "json",
        ],
    ));
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.9, "{s}");
    write_npy(&d.path("short.npy"), &[299], &y[..299]);
    let err = fails(&d, &["train", "--data", "x.npy", "--labels", "short.npy"]);
    assert!(err.contains("short.npy") && err.contains("(300,)"), "{err}");
    // NaN features are missing values: refused, or filled with --impute; a NaN target is refused.
    let mut gaps = x.clone();
    gaps[3 * 5] = f64::NAN; // row 5, column 0
    write_npy(&d.path("gaps.npy"), &[300, 3], &gaps);
    let err = fails(&d, &["train", "--data", "gaps.npy", "--labels", "y.npy"]);
    assert!(
        err.contains(
            "gaps.npy: value at row 5, column 0 is NaN; expected a finite number (--impute"
        ),
        "{err}"
    );
    let s = json(&ok(
        &d,
        &[
            "train", "--data", "gaps.npy", "--labels", "y.npy", "--impute", "mean", "--epochs",
            "30", "--lr", "0.01", "--format", "json",
        ],
    ));
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.9, "{s}");
    let mut bad_y = y.clone();
    bad_y[7] = f64::NAN;
    write_npy(&d.path("nan-y.npy"), &[300], &bad_y);
    let err = fails(
        &d,
        &[
            "train",
            "--data",
            "x.npy",
            "--labels",
            "nan-y.npy",
            "--impute",
            "mean",
        ],
    );
    assert!(
        err.contains("nan-y.npy: value at row 7, column 0 is NaN"),
        "{err}"
    );
}

/// Text labels as numpy writes them (`np.save` of an array of `str`: UTF-32 code points, `<Un`, each
/// padded with zeros to the longest), in `shape`, stored in `order` ("C" or "F").
fn write_npy_text(path: &Path, shape: &[usize], labels: &[&str], order: &str) {
    let n = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    let bytes: Vec<u8> = labels
        .iter()
        .flat_map(|l| {
            let mut points: Vec<u32> = l.chars().map(u32::from).collect();
            points.resize(n, 0);
            points
        })
        .flat_map(u32::to_le_bytes)
        .collect();
    write_npy_raw(path, &format!("<U{n}"), shape, &bytes, order);
}

/// Class labels in an NPY array of text (`<U`, and the bytes of `|S`) train a classifier whose
/// classes are those names, sorted as scikit-learn's LabelEncoder sorts them; a column of them in
/// Fortran order is the same labels, so the same model to the bit. `predict --out` writes the
/// names back as `<U`, and `eval` reads those as labels. Text features, several columns of text,
/// an empty label, Python objects and `--task regression` on text are refused, naming the file.
#[test]
fn npy_text_labels() {
    let d = Dir::new("npy-text");
    let mut rng = mlp::Rng::new(5);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let (a, b) = (rng.normal(), rng.normal());
        x.extend([a, b]);
        y.push(match (a > 0.0, b > 0.0) {
            (true, _) => "zébu",
            (false, true) => "cat",
            (false, false) => "dog",
        });
    }
    write_npy(&d.path("x.npy"), &[300, 2], &x);
    write_npy_text(&d.path("y.npy"), &[300], &y, "C");
    let column: Vec<&str> = y.clone();
    write_npy_text(&d.path("col.npy"), &[300, 1], &column, "F");
    let bytes: Vec<u8> = y
        .iter()
        .flat_map(|l| {
            let mut b = l.as_bytes().to_vec();
            b.resize(5, 0);
            b
        })
        .collect();
    write_npy_raw(&d.path("bytes.npy"), "|S5", &[300], &bytes, "C");
    let train = |labels: &str, out: &str| {
        let args = [
            "train", "--data", "x.npy", "--labels", labels, "--epochs", "30", "--lr", "0.01",
            "--out", out, "--format", "json",
        ];
        json(&ok(&d, &args))
    };
    let s = train("y.npy", "a.safetensors");
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.9, "{s}");
    assert_eq!(s["task"], "classification");
    let info = info_json(&d, "a.safetensors");
    assert_eq!(info["class_names"], json!(["cat", "dog", "zébu"]), "{info}");
    let text = ok(
        &d,
        &[
            "train", "--data", "x.npy", "--labels", "y.npy", "--epochs", "1",
        ],
    );
    assert!(
        text.contains("classification: y.npy holds text labels (3 classes)"),
        "{text}"
    );
    for (labels, out) in [("col.npy", "b.safetensors"), ("bytes.npy", "c.safetensors")] {
        train(labels, out);
        assert_eq!(
            std::fs::read(d.path("a.safetensors")).unwrap(),
            std::fs::read(d.path(out)).unwrap(),
            "{labels}: the same labels, the same model"
        );
    }

    ok(
        &d,
        &[
            "predict",
            "--model",
            "a.safetensors",
            "--data",
            "x.npy",
            "--out",
            "p.npy",
        ],
    );
    let (dtype, shape, predicted) = npy_predictions(&d.path("p.npy"));
    assert_eq!((dtype.as_str(), shape), ("<U4", vec![300]));
    let right = predicted.iter().zip(&y).filter(|(p, y)| p == y).count();
    assert!(right > 270, "{right} of 300 predictions are the labels");
    let s = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "a.safetensors",
            "--data",
            "x.npy",
            "--labels",
            "p.npy",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        s["accuracy"], 1.0,
        "the model agrees with its own predictions: {s}"
    );

    write_npy_text(&d.path("two.npy"), &[150, 2], &y, "C");
    let mut gap = y.clone();
    gap[4] = "";
    write_npy_text(&d.path("gap.npy"), &[300], &gap, "C");
    write_npy_text(&d.path("tx.npy"), &[300, 1], &y, "C");
    write_npy_raw(&d.path("obj.npy"), "|O", &[300], &[0; 2400], "C");
    let cases = [
        (
            &["--labels", "two.npy"][..],
            "two.npy: shape [150, 2]; expected (300,)",
        ),
        (
            &["--labels", "gap.npy"],
            "gap.npy: the label at index 4 is empty",
        ),
        (
            &["--labels", "y.npy", "--task", "regression"],
            "y.npy: text labels (the first: 'zébu'); --task regression needs numbers",
        ),
        (
            &["--labels", "obj.npy"],
            "obj.npy: dtype |O: Python objects",
        ),
    ];
    for (more, want) in cases {
        fails_with(
            &d,
            &[&["train", "--data", "x.npy"][..], more].concat(),
            want,
        );
    }
    fails_with(
        &d,
        &["train", "--data", "tx.npy", "--labels", "y.npy"],
        "tx.npy: shape [300, 1] of text (the first: 'zébu'); expected numbers",
    );
    write_npy_text(&d.path("wide.npy"), &[100, 3], &y, "C");
    write_npy(&d.path("x100.npy"), &[100, 2], &x[..200]);
    fails_with(
        &d,
        &["train", "--data", "x100.npy", "--labels", "wide.npy"],
        "wide.npy: 3 columns of text; expected one class label a row",
    );
}

/// An NPZ archive as `np.savez` writes it: a zip of `NAME.npy` files, each deflated or stored.
fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)], method: zip::CompressionMethod) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), options).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// An NPZ archive (`np.savez`, keras.datasets' mnist.npz): `x_train`, `y_train` train and
/// `x_test`, `y_test` test, exactly as the same arrays given as `.npy` files with `--test`
/// (deflated or stored alike); `x` and `y` (capitals too) are a data set; `eval`, `predict` and
/// `--test` read `x_test` or `x`. An archive of other names, one that is no zip file, one whose array is damaged
/// (its CRC), and `--labels` beside it are refused, naming what was expected.
#[test]
fn npz_archives() {
    use mlp::data::npy::{npy_bytes, Values};
    let d = Dir::new("npz");
    let mut rng = mlp::Rng::new(6);
    let mut rows = |n: usize| {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (a, b) = (rng.normal(), rng.normal());
            x.extend([a, b, rng.normal()]);
            y.push(i64::from(a > 0.0) + i64::from(b > 0.5));
        }
        (x, y)
    };
    let (x, y) = rows(240);
    let (xt, yt) = rows(60);
    let f64s = |shape: &[usize], v: &[f64]| npy_bytes(shape, Values::F64(v)).unwrap();
    let i64s = |v: &[i64]| npy_bytes(&[v.len()], Values::I64(v)).unwrap();
    let keras = [
        ("x_train", f64s(&[240, 3], &x)),
        ("y_train", i64s(&y)),
        ("x_test", f64s(&[60, 3], &xt)),
        ("y_test", i64s(&yt)),
    ];
    write_npz(&d.path("d.npz"), &keras, zip::CompressionMethod::Deflated);
    write_npz(&d.path("s.npz"), &keras, zip::CompressionMethod::Stored);
    for (name, bytes) in &keras {
        std::fs::write(d.path(&format!("{name}.npy")), bytes).unwrap();
    }
    let train = |data: &[&str], out: &str| {
        let args = [
            &["train"][..],
            data,
            &["--epochs", "20", "--lr", "0.01", "--out", out],
        ]
        .concat();
        ok(&d, &args)
    };
    let text = train(&["--data", "d.npz"], "d.safetensors");
    assert!(
        text.contains(
            "d.npz: x_train and y_train: 240 rows, 3 features; test: x_test and y_test: 60 rows"
        ) && text.contains("240 training, 0 validation, 60 test rows (arrays x_test and y_test)"),
        "{text}"
    );
    train(&["--data", "s.npz"], "s.safetensors");
    let npy = [
        "--data",
        "x_train.npy",
        "--labels",
        "y_train.npy",
        "--test",
        "x_test.npy",
        "--test-labels",
        "y_test.npy",
    ];
    train(&npy, "n.safetensors");
    let proba = |model: &str| {
        ok(
            &d,
            &[
                "predict",
                "--model",
                model,
                "--data",
                "x_test.npy",
                "--proba",
            ],
        )
    };
    assert_eq!(proba("d.safetensors"), proba("n.safetensors"));
    assert_eq!(proba("s.safetensors"), proba("n.safetensors"));
    // As --test, the archive is its test arrays, as eval reads it.
    let text = train(
        &[
            "--data",
            "x_train.npy",
            "--labels",
            "y_train.npy",
            "--test",
            "d.npz",
        ],
        "t.safetensors",
    );
    assert!(text.contains("60 test rows (--test d.npz)"), "{text}");
    assert_eq!(proba("t.safetensors"), proba("n.safetensors"));
    // eval and predict on the archive read its test arrays.
    let s = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "d.safetensors",
            "--data",
            "d.npz",
            "--format",
            "json",
        ],
    ));
    let t = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "d.safetensors",
            "--data",
            "x_test.npy",
            "--labels",
            "y_test.npy",
            "--format",
            "json",
        ],
    ));
    assert_eq!(s["accuracy"], t["accuracy"]);
    assert_eq!(s["rows"], 60, "{s}");
    let predicted = ok(
        &d,
        &["predict", "--model", "d.safetensors", "--data", "d.npz"],
    );
    assert_eq!(
        predicted.lines().count(),
        61,
        "a header and the 60 x_test rows"
    );

    // np.savez(f, X=X, y=y), the labels text.
    let names: Vec<String> = y
        .iter()
        .map(|c| ["low", "mid", "high"][*c as usize].to_string())
        .collect();
    write_npz(
        &d.path("xy.npz"),
        &[
            ("X", f64s(&[240, 3], &x)),
            ("y", npy_bytes(&[240], Values::Text(&names)).unwrap()),
        ],
        zip::CompressionMethod::Stored,
    );
    let text = train(&["--data", "xy.npz"], "xy.safetensors");
    assert!(
        text.contains("xy.npz: X and y: 240 rows, 3 features")
            && text.contains("48 test rows (20 % held out"),
        "{text}"
    );
    let predicted = ok(
        &d,
        &["predict", "--model", "xy.safetensors", "--data", "xy.npz"],
    );
    assert_eq!(predicted.lines().count(), 241, "{predicted}");
    assert!(predicted.contains("high"), "{predicted}");

    write_npz(
        &d.path("odd.npz"),
        &[("a", f64s(&[240, 3], &x)), ("b", i64s(&y))],
        zip::CompressionMethod::Stored,
    );
    std::fs::write(d.path("no.npz"), "x,y\n1,2\n").unwrap();
    let mut damaged = std::fs::read(d.path("s.npz")).unwrap();
    damaged[200] ^= 0xff; // within x_train's values
    std::fs::write(d.path("crc.npz"), damaged).unwrap();
    let cases = [
        (
            &["--data", "odd.npz"][..],
            "odd.npz: arrays a, b; expected x_train and y_train (and x_test, y_test)",
        ),
        (
            &["--data", "no.npz"],
            "no.npz: not an NPZ archive (a zip file)",
        ),
        (&["--data", "crc.npz"], "crc.npz:x_train: cannot read it"),
        (
            &["--data", "xy.npz", "--labels", "y_train.npy"],
            "xy.npz holds its own targets",
        ),
    ];
    for (args, want) in cases {
        fails_with(&d, &[&["train"][..], args].concat(), want);
    }
}

/// A two-dimensional labels array of 0 and 1 is multi-label; told so, any other value is refused
/// by row and column.
#[test]
fn npy_labels_array_of_zeros_and_ones_is_multi_label() {
    let d = Dir::new("npy-labels");
    let mut rng = mlp::Rng::new(8);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let (a, b) = (rng.normal(), rng.normal());
        x.extend([a, b]);
        y.extend([a > 0.0, b > 0.0].map(|l| f64::from(u8::from(l))));
    }
    write_npy(&d.path("x.npy"), &[300, 2], &x);
    write_npy(&d.path("y.npy"), &[300, 2], &y);
    let train = [
        "train", "--data", "x.npy", "--labels", "y.npy", "--epochs", "40", "--lr", "0.01",
    ];
    let s = json(&ok(&d, &[&train[..], &["--format", "json"]].concat()));
    assert_eq!(s["task"], "multilabel", "{s}");
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.9, "{s}");
    let mut bad = y.clone();
    bad[2 * 4 + 1] = 0.5; // row 4, column 1
    write_npy(&d.path("bad.npy"), &[300, 2], &bad);
    let err = fails(
        &d,
        &[
            "train",
            "--data",
            "x.npy",
            "--labels",
            "bad.npy",
            "--task",
            "multilabel",
        ],
    );
    assert!(
        err.contains("the label at row 4, column 1 is 0.5; multi-label targets are 0 or 1"),
        "{err}"
    );
}

#[test]
fn bad_input_gets_a_clear_error_naming_the_place() {
    let d = Dir::new("bad");
    d.write("cell.csv", "a,b,y\n1,2,0\n3,x,1\n");
    d.write("ragged.csv", "a,b,y\n1,2,0\n3,4\n");
    d.write("empty.csv", "");
    d.write("header.csv", "a,b,y\n");
    d.write("nan.csv", "a,b,y\n1,2,0\n3,NaN,1\n");
    d.write("blank.csv", "a,b,y\n1,,0\n3,4,1\n");
    d.write("one.csv", "a,b,y\n1,2,0\n3,4,0\n");
    d.write("junk.safetensors", "not a model");
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "--data", "cell.csv"],
            "cell.csv:3:2: column 'b': 'x' is not a number",
        ),
        (
            &["train", "--data", "ragged.csv"],
            "ragged.csv:3:3: expected 3 fields as in the header, found 2",
        ),
        (
            &["train", "--data", "empty.csv"],
            "empty.csv: the file is empty",
        ),
        (
            &["train", "--data", "header.csv"],
            "header.csv: no data rows after the header",
        ),
        (
            &["train", "--data", "nan.csv"],
            "nan.csv:3:2: column 'b': a missing value ('NaN'); expected a number (--impute",
        ),
        (
            &["train", "--data", "blank.csv"],
            "blank.csv:2:2: column 'b': a missing value (''); expected a number",
        ),
        (
            &["train", "--data", "one.csv"],
            "one.csv: column 'y' holds a single class ('0')",
        ),
        (
            &["train", "--data", "iris", "--target", "species"],
            "no column named 'species'; the columns are: sepal_length_cm",
        ),
        (
            &["train", "--data", "missing.csv"],
            "missing.csv: No such file or directory",
        ),
        (
            &["train", "--lr", "-1"],
            "--lr: learning rate must be a positive number, not -1",
        ),
        (
            &["train", "--batch-size", "0"],
            "--batch-size: batch size must be at least 1",
        ),
        (
            &["train", "--epochs", "0"],
            "--epochs: epochs must be at least 1",
        ),
        (
            &["train", "--out", "no/such/dir/m.safetensors"],
            "the folder no/such/dir does not exist",
        ),
        (
            &["eval", "--model", "junk.safetensors", "--data", "iris"],
            "junk.safetensors: not a valid safetensors file",
        ),
        (
            &["explain", "--example", "xor"],
            "the one example is 'seed'",
        ),
    ];
    for (args, want) in cases {
        fails_with(&d, args, want);
    }
    // A model used on data with the wrong number of features.
    ok(&d, &["train", "--data", "iris", "--epochs", "1", "--quiet"]);
    let err = fails(
        &d,
        &["eval", "--model", "model.safetensors", "--data", "digits"],
    );
    assert!(
        err.contains("digits: 64 features, but the model takes 4 (sepal_length_cm"),
        "{err}"
    );
    fails_with(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "iris",
            "--out",
            "no/such/dir/p.csv",
        ],
        "no/such/dir/p.csv: the folder no/such/dir does not exist",
    );
    // A finite number f32 cannot hold (it would be read as ∞, and every loss be NaN): refused in
    // f32, where it is, and read in f64.
    let rows: String = (0..20)
        .map(|i| format!("{i},{},{}\n", i % 3, i % 2))
        .collect();
    d.write("huge.csv", &format!("a,b,y\n{rows}1e39,1,1\n"));
    d.write("target.csv", &format!("a,b,y\n{rows}1,1,-1e39\n"));
    fails_with(
        &d,
        &["train", "--data", "huge.csv"],
        "huge.csv:22:1: column 'a': 1e39 is beyond f32's range (±3.4e38); scale it down, or train with --precision f64",
    );
    fails_with(
        &d,
        &["train", "--data", "target.csv", "--task", "regression"],
        "target.csv: target column 'y', data row 21: -1e39 is beyond f32's range",
    );
    let args = ["train", "--data", "huge.csv", "--epochs", "1", "--quiet"];
    ok(&d, &[&args[..], &["--precision", "f64"]].concat());
    let mut x = vec![0.5; 20 * 2];
    x[9] = 1e300;
    write_npy(&d.path("x.npy"), &[20, 2], &x);
    write_npy(&d.path("y.npy"), &[20], &[0.0, 1.0].repeat(10));
    fails_with(
        &d,
        &["train", "--data", "x.npy", "--labels", "y.npy"],
        "x.npy: value at row 4, column 1: 1e300 is beyond f32's range",
    );
}

/// A safetensors file mlp did not write (PyTorch's `save_file(model.state_dict())` of
/// `Sequential(Linear(4, 8), ReLU(), Linear(8, 3))`, its header written out here by hand): `info`
/// lists its tensors in the file's order, then fails saying why it is not a model; `predict`
/// fails the same way.
#[test]
fn info_lists_a_foreign_safetensors_file_and_refuses_it() {
    let d = Dir::new("foreign");
    let tensors = [
        ("0.weight", vec![8, 4]),
        ("0.bias", vec![8]),
        ("2.weight", vec![3, 8]),
        ("2.bias", vec![3]),
    ];
    let (mut header, mut at) = (Vec::new(), 0);
    for (name, shape) in &tensors {
        let bytes = 4 * shape.iter().product::<usize>();
        header.push(format!(
            r#""{name}":{{"dtype":"F32","shape":{shape:?},"data_offsets":[{at},{}]}}"#,
            at + bytes
        ));
        at += bytes;
    }
    let header = format!("{{{}}}", header.join(","));
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend(header.bytes());
    file.extend(vec![0u8; at]);
    std::fs::write(d.path("torch.safetensors"), file).unwrap();
    let out = mlp(&d, &["info", "--model", "torch.safetensors"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success());
    let listed: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(
        listed,
        [
            "  tensor       0.weight   F32 [8, 4]",
            "  tensor       0.bias     F32 [8]",
            "  tensor       2.weight   F32 [3, 8]",
            "  tensor       2.bias     F32 [3]",
        ],
        "{stdout}"
    );
    assert!(
        stdout.starts_with("file           torch.safetensors: safetensors, 4 tensors")
            && stderr.contains("no 'mlp' metadata: not a model written by mlp"),
        "{stdout}{stderr}"
    );
    fails_with(
        &d,
        &["predict", "--model", "torch.safetensors", "--data", "iris"],
        "torch.safetensors: no 'mlp' metadata",
    );
}

/// Sizes no run could use and flags that would do nothing are refused with the sizes or the
/// missing flag, never by an aborted allocation or in silence; a batch size beyond the training
/// rows is all of them, as PyTorch's DataLoader gives one short batch.
#[test]
fn out_of_reach_sizes_and_idle_flags_are_refused() {
    let d = Dir::new("reach");
    let cases: [(&[&str], &str); 9] = [
        // 64·10⁸ + 10⁸ + 10⁸·10 + 10 parameters: 30 GB in f32 before the gradients and Adam's
        // moments.
        (
            &["train", "--hidden", "100000000", "--epochs", "1"],
            "the network (7500000010 parameters) needs 158.4 GB to train on batches of 32 rows, more than this machine can allocate",
        ),
        (&["train", "--hidden", "4000000000,4000000000"], "needs more than 2⁶⁴ bytes"),
        (&["cv", "--hidden", "100000000", "--epochs", "1"], "(7500000010 parameters)"),
        (
            &["train", "--threads", "100000"],
            "--threads: threads must be at most 1024 (0: one per core), not 100000",
        ),
        (
            &["train", "--checkpoint-every", "0", "--checkpoint", "c.st"],
            "--checkpoint-every 0: expected a whole number of epochs ≥ 1",
        ),
        (
            &["train", "--checkpoint-every", "2"],
            "--checkpoint-every 2: says how often to write --checkpoint FILE; give it too",
        ),
        (
            &["train", "--data", "iris", "--labels", "y.npy"],
            "--labels y.npy: iris holds its own targets",
        ),
        (
            &["train", "--data", "iris", "--optimizer", "lbfgs", "--no-shuffle"],
            "--no-shuffle: lbfgs takes all the rows at once, in no order",
        ),
        (
            &["train", "--data", "iris", "--class-weight", "1=2,1=3"],
            "--class-weight 1=2,1=3: class '1' is weighted twice; give each class once",
        ),
    ];
    for (args, want) in cases {
        fails_with(&d, args, want);
    }
    assert!(!d.path("c.st").exists());
    let run = |batch: &str| {
        let args = [
            "train",
            "--data",
            "iris",
            "--epochs",
            "3",
            "--batch-size",
            batch,
        ];
        ok(&d, &args)
    };
    let all = run("100000000000");
    assert!(
        all.contains("batch 100000000000 (all 120 rows at once)"),
        "{all}"
    );
    // The same run as a batch of exactly the 120 training rows: the same figures.
    let test_line = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("test"))
            .unwrap()
            .to_string()
    };
    assert_eq!(test_line(&all), test_line(&run("120")));
}

/// `--betas`, `--rho` and `--eps` are PyTorch's keywords (the rules' arithmetic is checked against
/// PyTorch in `optim`'s tests): the defaults written out change no bit, other values change the
/// training and are kept in the model's training configuration, and a constant the optimizer does
/// not have is refused by name, as PyTorch refuses an unknown keyword.
#[test]
fn optimizer_constants_are_pytorchs_keywords() {
    let d = Dir::new("constants");
    let loss = |extra: &[&str]| -> f64 {
        let mut args = vec![
            "train", "--data", "iris", "--epochs", "3", "--format", "json",
        ];
        args.extend_from_slice(&["--quiet", "--seed", "3"]);
        args.extend_from_slice(extra);
        json(&ok(&d, &args))["train_loss"].as_f64().unwrap()
    };
    let plain = loss(&[]);
    assert_eq!(plain, loss(&["--betas", "0.9,0.999", "--eps", "1e-8"]));
    assert_ne!(plain, loss(&["--betas", "0.5,0.9"]));
    assert_ne!(plain, loss(&["--eps", "0.1"]));
    let rms = loss(&["--optimizer", "rmsprop"]);
    assert_eq!(rms, loss(&["--optimizer", "rmsprop", "--rho", "0.99"]));
    assert_ne!(rms, loss(&["--optimizer", "rmsprop", "--rho", "0.5"]));
    let info = info_json(&d, "model.safetensors");
    assert_eq!(info["training"]["rho"], 0.5, "{info}");
    assert_eq!(info["training"]["eps"], 1e-8, "{info}");
    loss(&[
        "--optimizer",
        "adamw",
        "--betas",
        "0.8,0.95",
        "--eps",
        "1e-6",
    ]);
    let info = info_json(&d, "model.safetensors");
    assert_eq!(info["training"]["betas"], "0.8,0.95", "{info}");
    assert_eq!(info["training"]["eps"], 1e-6, "{info}");
    for (args, want) in [
        (
            &["--momentum", "0.5"][..],
            "--momentum applies to sgd, momentum and nesterov, not to adam",
        ),
        (
            &["--optimizer", "sgd", "--betas", "0.9,0.99"],
            "--betas applies to adam and adamw, not to sgd",
        ),
        (&["--rho", "0.9"], "--rho applies to rmsprop, not to adam"),
        (
            &["--optimizer", "nesterov", "--eps", "1e-6"],
            "--eps applies to adam, adamw and rmsprop, not to nesterov",
        ),
        (
            &["--betas", "0.9"],
            "--betas 0.9: expected two numbers in [0, 1), e.g. 0.9,0.999",
        ),
        (
            &["--betas", "0.9,1"],
            "--betas 0.9,1: expected two numbers in [0, 1)",
        ),
        (
            &["--optimizer", "rmsprop", "--rho", "1.5"],
            "--rho 1.5: expected a value in [0, 1)",
        ),
        (&["--eps", "0"], "--eps 0: expected a positive number"),
    ] {
        let all = [&["train", "--data", "iris", "--epochs", "1"][..], args].concat();
        fails_with(&d, &all, want);
    }
}

/// `--warm-start MODEL` goes on from a model's weights (scikit-learn's `warm_start`, PyTorch's
/// `load_state_dict` before training): its network, its preprocessing fitted on its own training
/// rows, its classes and its loss. The oracle for "the same weights, read the same way" is a step
/// too small to move an f32 weight (lr 1e-30): the model that comes out predicts every row to the
/// bit as the one that went in, on data with missing values, text columns and targets in their
/// own units.
#[test]
fn warm_start_goes_on_from_a_models_weights_and_preprocessing() {
    let d = Dir::new("warm");
    colors_with_gaps_csv(&d);
    let predict = |model: &str, data: &str, extra: &[&str]| {
        ok(
            &d,
            &[&["predict", "--model", model, "--data", data][..], extra].concat(),
        )
    };
    let info = |model: &str| info_json(&d, model);
    let base = ["--data", "gaps.csv", "--impute", "median", "--epochs", "5"];
    ok(
        &d,
        &[&["train", "--out", "base.safetensors"][..], &base].concat(),
    );
    let still = [
        "--warm-start",
        "base.safetensors",
        "--optimizer",
        "sgd",
        "--lr",
        "1e-30",
        "--epochs",
        "2",
        "--quiet",
    ];
    ok(
        &d,
        &[
            &["train", "--data", "gaps.csv", "--out", "still.safetensors"][..],
            &still,
        ]
        .concat(),
    );
    assert_eq!(
        predict("base.safetensors", "gaps.csv", &["--proba"]),
        predict("still.safetensors", "gaps.csv", &["--proba"])
    );
    let (b, s) = (info("base.safetensors"), info("still.safetensors"));
    assert_eq!(b["preprocessing"], s["preprocessing"]);
    assert_eq!(b["class_names"], s["class_names"]);
    assert_eq!(s["training"]["impute"], "median", "{s}");
    assert_eq!(s["training"]["warm_start"], "base.safetensors", "{s}");

    // Training goes on: newer rows (the same people ten years older, whose statistics differ),
    // read with the model's statistics. The first epoch starts where the model left off.
    let older: String = std::fs::read_to_string(d.path("gaps.csv"))
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| match l.split_once(',') {
            Some((age, rest)) if i > 0 && age != "NA" => {
                format!("{:.1},{rest}\n", age.parse::<f64>().unwrap() + 10.0)
            }
            _ => format!("{l}\n"),
        })
        .collect();
    d.write("older.csv", &older);
    let first_loss = |extra: &[&str], log: &str| {
        ok(
            &d,
            &[
                &["train", "--data", "older.csv", "--epochs", "1", "--quiet"][..],
                &["--log", log, "--out", "o.safetensors"],
                extra,
            ]
            .concat(),
        );
        json(&std::fs::read_to_string(d.path(log)).unwrap())["train_loss"]
            .as_f64()
            .unwrap()
    };
    let fresh = first_loss(&["--impute", "median"], "fresh.jsonl");
    let warm = first_loss(&["--warm-start", "base.safetensors"], "warm.jsonl");
    assert!(warm < fresh, "warm start {warm} against fresh {fresh}");
    let o = info("o.safetensors");
    assert_eq!(b["preprocessing"], o["preprocessing"]);

    // Regression with two targets in their own units, in f64: the model's target scaling and
    // precision carry over; a --target the model does not have is refused by its outputs.
    homes_csv(&d);
    let homes = [
        "--data",
        "homes.csv",
        "--target",
        "price,rent",
        "--drop",
        "id",
    ];
    let f64_base = [&homes[..], &["--precision", "f64", "--epochs", "3"]].concat();
    ok(
        &d,
        &[&["train", "--out", "homes.safetensors"][..], &f64_base].concat(),
    );
    ok(
        &d,
        &[
            &["train", "--data", "homes.csv", "--target", "price,rent"][..],
            &["--out", "homes2.safetensors"],
            &still[2..],
            &["--warm-start", "homes.safetensors"],
        ]
        .concat(),
    );
    assert_eq!(
        predict("homes.safetensors", "homes.csv", &[]),
        predict("homes2.safetensors", "homes.csv", &[])
    );
    assert_eq!(info("homes2.safetensors")["precision"], "f64");
    let err = fails(
        &d,
        &["train", "--data", "homes.csv", "--target", "price"]
            .into_iter()
            .chain(["--warm-start", "homes.safetensors"])
            .collect::<Vec<_>>(),
    );
    assert!(
        err.contains(
            "homes.csv: 1 targets or classes, but the model homes.safetensors has 2 outputs"
        ),
        "{err}"
    );

    // Rows of only some of the model's classes keep its outputs and their order; a class it
    // never had is refused.
    animals_csv(&d);
    ok(
        &d,
        &[
            "train",
            "--data",
            "animals.csv",
            "--epochs",
            "5",
            "--out",
            "zoo.safetensors",
        ],
    );
    pets_csv(&d);
    ok(
        &d,
        &[
            "train",
            "--data",
            "pets.csv",
            "--warm-start",
            "zoo.safetensors",
            "--out",
            "pets.safetensors",
        ],
    );
    assert_eq!(
        info("pets.safetensors")["class_names"],
        serde_json::json!(["cat", "dog", "horse"])
    );
    d.write(
        "fish.csv",
        "weight,height,animal\n1,2,cat\n3,4,fish\n5,6,dog\n7,8,cat\n9,9,dog\n",
    );
    let err = fails(
        &d,
        &[
            "train",
            "--data",
            "fish.csv",
            "--warm-start",
            "zoo.safetensors",
        ],
    );
    assert!(
        err.contains("class 'fish' is not one of the training classes (cat, dog, horse)"),
        "{err}"
    );

    // Interrupted and resumed, a warm-started run ends as the uninterrupted one.
    resumed_equals_uninterrupted(
        &d,
        &[
            "--data",
            "pets.csv",
            "--warm-start",
            "zoo.safetensors",
            "--seed",
            "2",
            "--quiet",
        ],
        4,
    );

    // The flags that would choose another network, preprocessing or task are refused, as are
    // the commands that do not start from a model.
    for (args, want) in [
        (
            &["train", "--warm-start", "zoo.safetensors", "--hidden", "8"][..],
            "--hidden does not apply with --warm-start zoo.safetensors",
        ),
        (
            &[
                "train",
                "--warm-start",
                "zoo.safetensors",
                "--data",
                "animals.csv",
                "--no-standardize",
            ],
            "--no-standardize does not apply with --warm-start",
        ),
        (
            &["train", "--warm-start", "zoo.safetensors", "--data", "iris"],
            "iris: 4 features, but the model takes 2 (weight, height)",
        ),
        (
            &[
                "cv",
                "--warm-start",
                "zoo.safetensors",
                "--data",
                "animals.csv",
            ],
            "does not apply to mlp cv",
        ),
        (
            &["gradcheck", "--warm-start", "zoo.safetensors"],
            "does not apply to mlp gradcheck",
        ),
        (
            &["train", "--warm-start", "animals.csv"],
            "animals.csv: not a valid safetensors file",
        ),
    ] {
        fails_with(&d, args, want);
    }
}

/// A gzip'd CSV (`.csv.gz`, as pandas reads it) is the plain file: the same model to the bit, and
/// `predict`, `eval` and `--keep` read it too; a damaged one is named.
#[test]
fn gzipped_csv_reads_as_the_plain_file() {
    use std::io::Write as _;
    let d = Dir::new("gzip");
    let plain = std::fs::read(colors_with_gaps_csv(&d)).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(d.path("gaps.csv.gz"), &gz).unwrap();
    let train = |data: &str, out: &str| {
        ok(
            &d,
            &[
                "train", "--data", data, "--impute", "mean", "--epochs", "3", "--quiet",
            ]
            .into_iter()
            .chain(["--out", out])
            .collect::<Vec<_>>(),
        );
    };
    train("gaps.csv", "plain.safetensors");
    train("gaps.csv.gz", "gz.safetensors");
    let predict = |model: &str, data: &str| {
        ok(
            &d,
            &[
                "predict", "--model", model, "--data", data, "--proba", "--keep", "age",
            ],
        )
    };
    assert_eq!(
        predict("plain.safetensors", "gaps.csv"),
        predict("gz.safetensors", "gaps.csv.gz")
    );
    let eval = |data: &str| {
        json(&ok(
            &d,
            &[
                "eval",
                "--model",
                "gz.safetensors",
                "--data",
                data,
                "--format",
                "json",
            ],
        ))["accuracy"]
            .clone()
    };
    assert_eq!(eval("gaps.csv"), eval("gaps.csv.gz"));
    std::fs::write(d.path("cut.csv.gz"), &gz[..gz.len() / 2]).unwrap();
    let err = fails(&d, &["train", "--data", "cut.csv.gz", "--impute", "mean"]);
    assert!(
        err.contains("cut.csv.gz: ") && err.contains("deflate"),
        "{err}"
    );
}

/// `mlp` with `input` piped into its standard input.
fn mlp_piped(dir: &Dir, args: &[&str], input: &[u8]) -> Output {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(args)
        .current_dir(&dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mlp binary runs");
    let mut stdin = child.stdin.take().expect("piped");
    // Written from a thread: mlp may exit (an error) before reading it all.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("mlp ends");
    writer.join().unwrap();
    out
}

/// `--data -` reads the CSV from standard input (a pipe), plain or gzip'd, as the file itself:
/// `predict` (with `--keep`, which reads the columns again), `eval`, `explain` and `train` give
/// what they give on the file; messages name it `<stdin>`; it cannot be both `--data` and `--test`.
#[test]
fn data_from_standard_input_reads_as_the_file() {
    let d = Dir::new("stdin");
    let plain = std::fs::read(colors_with_gaps_csv(&d)).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let train = ["train", "--impute", "mean", "--epochs", "3", "--quiet"];
    ok(&d, &[&train[..], &["--data", "gaps.csv"]].concat());
    let piped = |args: &[&str], input: &[u8]| {
        let out = mlp_piped(&d, args, input);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "mlp {args:?} < input failed: {stderr}"
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for args in [
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--proba",
            "--keep",
            "age",
        ][..],
        &["eval", "--model", "model.safetensors", "--format", "json"],
        &[
            "explain",
            "--model",
            "model.safetensors",
            "--row",
            "4",
            "--attributions",
        ],
    ] {
        let from_file = ok(&d, &[args, &["--data", "gaps.csv"]].concat());
        for input in [&plain, &gz] {
            let from_stdin = piped(&[args, &["--data", "-"]].concat(), input);
            let from_stdin = from_stdin
                .replace("standard input", "gaps.csv")
                .replace(r#""data":"-""#, r#""data":"gaps.csv""#);
            assert_eq!(from_stdin, from_file, "mlp {args:?}");
        }
    }
    let printed = piped(
        &[&train[..], &["--data", "-", "--out", "piped.safetensors"]].concat(),
        &gz,
    );
    assert!(printed.is_empty(), "--quiet: {printed}");
    let info = |model: &str| info_json(&d, model);
    let (from_file, from_stdin) = (info("model.safetensors"), info("piped.safetensors"));
    assert_eq!(from_stdin["preprocessing"], from_file["preprocessing"]);
    assert_eq!(from_stdin["training"]["data"], "-");
    let predict = |model: &str| {
        ok(
            &d,
            &["predict", "--model", model, "--data", "gaps.csv", "--proba"],
        )
    };
    assert_eq!(predict("piped.safetensors"), predict("model.safetensors"));

    let bad = mlp_piped(
        &d,
        &["predict", "--model", "model.safetensors", "--data", "-"],
        b"age,color,income\n31,teal,40\n",
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.starts_with("error: <stdin>:2:"),
        "{err}"
    );
    assert!(err.contains("teal"), "{err}");
    fails_with(
        &d,
        &["train", "--data", "-", "--test", "-"],
        "standard input holds one file",
    );
}

/// `mlp search` is `mlp cv` for every combination of the grid's values (scikit-learn's
/// `GridSearchCV`): the oracle for each row of its results is `mlp cv` run with that
/// combination's flags, the same folds and so the same figures to the bit; the ranks follow the
/// mean score, more accuracy or less loss being better.
#[test]
fn search_cross_validates_every_combination_and_ranks_them() {
    let d = Dir::new("search");
    let common = [
        "--data", "iris", "--folds", "3", "--epochs", "15", "--format", "json",
    ];
    let search = |grid: &str, extra: &[&str]| {
        json(&ok(
            &d,
            &[&["search", "--grid", grid][..], &common, extra].concat(),
        ))
    };
    let grid = r#"{hidden = [8, "6,4"], lr = [0.03, 0.003]}"#;
    let text = ok(
        &d,
        &[
            "search", "--grid", grid, "--data", "iris", "--folds", "3", "--epochs", "2",
        ],
    );
    assert!(
        text.starts_with("data     iris (built-in): 150 rows")
            && text.contains("\ngrid     4 combinations of hidden (2), lr (2); 3 folds each")
            && text.contains("\nbest     "),
        "{text}"
    );
    let s = search(grid, &[]);
    assert_eq!(s["scoring"], "accuracy");
    let results = s["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        let hidden = r["params"]["hidden"]
            .as_str()
            .expect("8 read as the text '8'");
        let lr = r["params"]["lr"].to_string();
        let cv = json(&ok(
            &d,
            &[&["cv", "--hidden", hidden, "--lr", &lr][..], &common].concat(),
        ));
        assert_eq!(r["mean"], cv["mean"], "{r}");
        assert_eq!(r["std"], cv["std"], "{r}");
    }
    let ranked = |s: &Value, score: &str| -> Vec<(u64, f64)> {
        let mut v: Vec<(u64, f64)> = s["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["rank"].as_u64().unwrap(),
                    r["mean"][score].as_f64().unwrap(),
                )
            })
            .collect();
        v.sort_by_key(|r| r.0);
        v
    };
    let acc = ranked(&s, "accuracy");
    assert_eq!(acc[0].0, 1);
    assert!(acc.windows(2).all(|w| w[0].1 >= w[1].1), "{acc:?}");
    let best = results.iter().find(|r| r["rank"] == 1).unwrap();
    assert_eq!(s["best"]["params"], best["params"]);
    let flags = s["best"]["flags"].as_str().unwrap();
    assert!(
        flags.starts_with("--hidden ") && flags.contains(" --lr "),
        "{flags}"
    );
    let by_loss = ranked(&search(grid, &["--scoring", "loss"]), "loss");
    assert!(by_loss.windows(2).all(|w| w[0].1 <= w[1].1), "{by_loss:?}");
    // A list inside the list is one value, the flag's text, as in a config file: [6, 4] is "6,4".
    let nested = search(r#"{hidden = [[6, 4], "6,4"]}"#, &[]);
    let params: Vec<&Value> = nested["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["params"]["hidden"])
        .collect();
    assert_eq!(params, [&json!("6,4"), &json!("6,4")]);
    assert_eq!(nested["best"]["flags"], "--hidden 6,4");
    // Every combination's flags are checked before the first is cross-validated.
    let bad = [&["search", "--grid", "{lr = [0.1, -1]}"][..], &common[..2]].concat();
    let out = mlp(&d, &bad);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !out.status.success()
            && stderr.contains("lr=-1.0: --lr: learning rate must be a positive number, not -1")
            && !stdout.contains("1/2"),
        "{stdout}{stderr}"
    );

    // --n-iter draws from a range (RandomizedSearchCV): each drawn rate, given to cv as a flag,
    // gives the same figures.
    let drawn = search("{lr = {loguniform = [1e-3, 1e-1]}}", &["--n-iter", "2"]);
    assert_eq!(drawn["n_iter"], 2);
    for r in drawn["results"].as_array().unwrap() {
        let lr = r["params"]["lr"].as_f64().unwrap();
        assert!((1e-3..=1e-1).contains(&lr), "{lr}");
        let cv = json(&ok(
            &d,
            &[&["cv", "--lr", &lr.to_string()][..], &common].concat(),
        ));
        assert_eq!(r["mean"], cv["mean"], "{r}");
    }

    // --out trains the best combination as mlp train does (GridSearchCV's refit), on data of
    // its own when --test names some: the same file, to the byte, as mlp train with its flags.
    animals_csv(&d);
    let base = [
        "--data",
        "animals.csv",
        "--test",
        "held-out.csv",
        "--epochs",
        "10",
    ];
    let rows: String = std::fs::read_to_string(d.path("animals.csv"))
        .unwrap()
        .lines()
        .take(60)
        .map(|l| format!("{l}\n"))
        .collect();
    d.write("held-out.csv", &rows);
    let out = ok(
        &d,
        &[
            &["search", "--grid", "{hidden = [4, 12]}", "--folds", "3"][..],
            &base,
            &["--out", "best.safetensors", "--format", "json"],
        ]
        .concat(),
    );
    let summary = json(out.lines().last().unwrap());
    let hidden = summary["best"]["params"]["hidden"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &d,
        &[
            &["train", "--hidden", &hidden, "--out", "ref.safetensors"][..],
            &base,
        ]
        .concat(),
    );
    assert!(
        std::fs::read(d.path("best.safetensors")).unwrap()
            == std::fs::read(d.path("ref.safetensors")).unwrap()
    );

    // A grid from a file; regression is ranked by R² unless told.
    d.write("grid.toml", "# two depths\nhidden = [\"16\", \"16,16\"]\n");
    prices_csv(&d);
    let r = json(&ok(
        &d,
        &[
            "search",
            "--grid",
            "grid.toml",
            "--data",
            "prices.csv",
            "--folds",
            "2",
            "--epochs",
            "5",
            "--format",
            "json",
        ],
    ));
    assert_eq!(r["scoring"], "r2");
    assert_eq!(r["results"].as_array().unwrap().len(), 2);

    d.write("bad.toml", "lr = [0.1,\nhidden = 3\n");
    for (grid, extra, want) in [
        (
            "{data = [\"x\"]}",
            &[][..],
            "--grid: data: not searched over",
        ),
        ("{lr = []}", &[], "--grid: lr: an empty list"),
        (
            "{seed = [1, 2]}",
            &[],
            "--grid: seed: the seed draws the folds",
        ),
        ("{lrr = [1]}", &[], "--grid: lrr: unknown field `lrr`"),
        (
            "{hidden = [true]}",
            &[],
            "--grid: hidden: invalid type: boolean `true`",
        ),
        (
            "{lr = [0.1]}",
            &["--lr", "0.2"],
            "--grid: lr: also given as --lr",
        ),
        (
            "{lr = [0.1]}",
            &["--scoring", "mse"],
            "--scoring mse: not a figure of this task",
        ),
        (
            "{lr = [0.1]}",
            &["--scoring", "f2"],
            "--scoring f2: expected one of accuracy",
        ),
        (
            "{lr = [0.1]}",
            &["--test-split", "0.3"],
            "--test-split applies to the best combination's model: give --out too",
        ),
        ("bad.toml", &[], "bad.toml:2:8: "),
        (
            "{optimizer = [\"sgd\", \"adam\"], momentum = [0.5]}",
            &[],
            "momentum=0.5 optimizer=adam: --momentum applies to sgd, momentum and nesterov",
        ),
    ] {
        fails_with(
            &d,
            &[&["search", "--grid", grid][..], &common, extra].concat(),
            want,
        );
    }
}

/// `explain --attributions`: integrated gradients of one row's prediction. Oracles: the value
/// explained is the probability (or value, in the target's units) `predict` gives; the columns'
/// attributions add up to it minus the baseline's, to within the reported quadrature gap, which
/// is small for a smooth (tanh) network; a one-hot column is one row of the table, showing its
/// category.
#[test]
fn attributions_add_up_to_the_prediction_less_the_baseline() {
    let d = Dir::new("attributions");
    colors_csv(&d);
    ok(
        &d,
        &[
            "train",
            "--data",
            "colors.csv",
            "--activation",
            "tanh",
            "--epochs",
            "30",
            "--quiet",
        ],
    );
    let explain = |extra: &[&str]| {
        let args = [
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            "colors.csv",
            "--row",
            "5",
            "--attributions",
            "--format",
            "json",
        ];
        json(&ok(&d, &[&args[..], extra].concat()))
    };
    let proba = ok(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            "colors.csv",
            "--proba",
        ],
    );
    let header: Vec<&str> = proba.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = proba.lines().nth(6).unwrap().split(',').collect();
    let e = explain(&["--steps", "256"]);
    let out = &e["outputs"][0];
    let predicted = row[0];
    // --plot: the same attributions as bars, under the explained output and its value.
    explain(&["--steps", "256", "--plot", "why.svg"]);
    let svg = std::fs::read_to_string(d.path("why.svg")).unwrap();
    let title = format!("p({predicted}) = {:.4}", out["value"].as_f64().unwrap());
    assert!(svg.contains(&title), "{title} not in the plot");
    for column in ["age", "color", "income"] {
        assert!(
            svg.contains(&format!(">\n{column}\n<")),
            "{column} not in the plot"
        );
    }
    assert_eq!(out["output"], format!("p({predicted})"));
    let at = header
        .iter()
        .position(|h| *h == format!("p_{predicted}"))
        .unwrap();
    let p: f64 = row[at].parse().unwrap();
    let value = out["value"].as_f64().unwrap();
    // The model is f32; explain evaluates it in f64.
    assert!((value - p).abs() < 1e-6, "{value} against predict's {p}");
    let columns = out["columns"].as_array().unwrap();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["age", "color", "income"]);
    let colour = std::fs::read_to_string(d.path("colors.csv")).unwrap();
    let colour = colour
        .lines()
        .nth(6)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(columns[1]["value"], colour.as_str());
    let sum: f64 = columns
        .iter()
        .map(|c| c["attribution"].as_f64().unwrap())
        .sum();
    let change = value - out["baseline_value"].as_f64().unwrap();
    let gap = out["gap"].as_f64().unwrap();
    assert!(
        (sum - change - gap).abs() < 1e-12,
        "{sum} = {change} + {gap}"
    );
    assert!(
        gap.abs() < 1e-4 * (1.0 + change.abs()),
        "gap {gap} of {change}"
    );
    // Another class's probability, on request.
    let other = if predicted == "yes" { "no" } else { "yes" };
    let e = explain(&["--class", other]);
    assert_eq!(e["outputs"][0]["output"], format!("p({other})"));

    // Regression: each target, in its own units, as predict gives it.
    homes_csv(&d);
    ok(
        &d,
        &[
            "train",
            "--data",
            "homes.csv",
            "--target",
            "price,rent",
            "--drop",
            "id",
            "--quiet",
        ]
        .into_iter()
        .chain(["--out", "homes.safetensors", "--epochs", "20"])
        .collect::<Vec<_>>(),
    );
    let e = json(&ok(
        &d,
        &[
            "explain",
            "--model",
            "homes.safetensors",
            "--data",
            "homes.csv",
            "--row",
            "3",
        ]
        .into_iter()
        .chain(["--attributions", "--format", "json"])
        .collect::<Vec<_>>(),
    ));
    let predicted = ok(
        &d,
        &[
            "predict",
            "--model",
            "homes.safetensors",
            "--data",
            "homes.csv",
        ],
    );
    let row: Vec<f64> = predicted
        .lines()
        .nth(4)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    for (j, name) in ["price", "rent"].iter().enumerate() {
        let out = &e["outputs"][j];
        assert_eq!(out["output"], *name);
        let v = out["value"].as_f64().unwrap();
        assert!(
            (v - row[j]).abs() < 1e-5 * row[j].abs(),
            "{name}: {v} against {}",
            row[j]
        );
        let sum: f64 = out["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["attribution"].as_f64().unwrap())
            .sum();
        let change = v - out["baseline_value"].as_f64().unwrap();
        assert!((sum - change - out["gap"].as_f64().unwrap()).abs() < 1e-9 * (1.0 + change.abs()));
    }

    for (extra, want) in [
        (
            &["--class", "maybe"][..],
            "--class maybe: not one of the model's classes (no, yes)",
        ),
        (
            &["--format", "markdown"],
            "--format markdown: attributions are text or json",
        ),
        (
            &["--row", "999"],
            "--row 999: colors.csv has 240 rows (0 to 239)",
        ),
        (
            &["--steps", "0"],
            "--steps 0: expected 1 to 100000 points of the path",
        ),
        (
            &["--steps", "1000000000000"],
            "--steps 1000000000000: expected 1 to 100000",
        ),
        (
            &["--lr", "0.1"],
            "--lr 0.1 is the traced training step's learning rate; --attributions takes no step",
        ),
    ] {
        let args = [
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            "colors.csv",
            "--attributions",
        ];
        fails_with(&d, &[&args[..], extra].concat(), want);
    }
    let err = fails(
        &d,
        &[
            "explain",
            "--model",
            "homes.safetensors",
            "--data",
            "homes.csv",
            "--attributions",
            "--class",
            "price",
        ],
    );
    assert!(err.contains("--class applies to classifiers"), "{err}");
}

/// `eval --importance`: the class of `colors.csv` depends on age and colour, not income; the
/// colour's three indicators are shuffled as one column.
#[test]
fn eval_importance_ranks_the_columns_the_target_depends_on() {
    let d = Dir::new("importance");
    let csv = colors_csv(&d);
    let csv = csv.to_str().unwrap();
    ok(
        &d,
        &[
            "train", "--data", csv, "--hidden", "16", "--lr", "0.01", "--epochs", "60",
        ],
    );
    let eval = |format: &str| {
        ok(
            &d,
            &[
                "eval",
                "--model",
                "model.safetensors",
                "--data",
                csv,
                "--importance",
                "--repeats",
                "3",
                "--format",
                format,
            ],
        )
    };
    let report = json(&eval("json"));
    let imp = &report["importance"];
    assert_eq!(imp["metric"], "accuracy", "{imp}");
    assert_eq!(imp["score"], report["accuracy"], "{imp}");
    let columns: Vec<&str> = imp["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(columns.len(), 3, "age, color, income: {imp}");
    assert_eq!(columns[2], "income", "{imp}");
    let fall = |k: usize| imp["columns"][k]["mean"].as_f64().unwrap();
    assert!(fall(1) > 0.1 && fall(2).abs() < 0.05, "{imp}");
    let text = eval("text");
    assert!(
        text.contains("permutation importance: the fall in accuracy") && text.contains("income"),
        "{text}"
    );
}

/// A text column is one-hot encoded in training and encoded the same way by `eval`, `predict` and
/// `explain`; `info` shows the encoding; a category the model never saw, or a missing column, is a
/// clear error.
#[test]
fn text_columns_are_one_hot_encoded_from_training_to_predict() {
    let d = Dir::new("colors");
    let csv = colors_csv(&d);
    let csv = csv.to_str().unwrap();
    let common = ["--hidden", "16", "--lr", "0.01", "--epochs", "60"];
    let out = ok(&d, &[&["train", "--data", csv][..], &common].concat());
    assert!(out.contains("columns one-hot encoded: color (3)"), "{out}");
    let eval = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "model.safetensors",
            "--data",
            csv,
            "--format",
            "json",
        ],
    ));
    // The class needs the colour: without it no rule gets far past 2/3 of the rows.
    assert!(eval["accuracy"].as_f64().unwrap() > 0.9, "{eval}");
    let info = ok(&d, &["info", "--model", "model.safetensors"]);
    assert!(
        info.contains("features       5 (age, color=blue, color=green, color=red, income)")
            && info.contains("one-hot        column color → features 1 to 3 (blue, green, red)")
            && info.contains("format         version 2"),
        "{info}"
    );
    // Rows to predict, without the target column, with an id column the model does not take and
    // the columns in another order: found by name.
    let rows = d.write(
        "rows.csv",
        "id,income,color,age\n1,40,red,30\n2,40,red,60\n3,40,blue,30\n",
    );
    let p = ok(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            rows.to_str().unwrap(),
        ],
    );
    assert_eq!(p, "prediction\nyes\nno\nno\n");
    ok(
        &d,
        &[
            "explain",
            "--model",
            "model.safetensors",
            "--data",
            csv,
            "--row",
            "0",
        ],
    );
    let pink = d.write("pink.csv", "age,color,income\n30,red,40\n30,pink,40\n");
    let err = fails(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            pink.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("pink.csv:3:2: column 'color': 'pink' is not one of the categories the model was trained with (blue, green, red)"),
        "{err}"
    );
    let no_color = d.write("no-color.csv", "age,income\n30,40\n");
    let err = fails(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            no_color.to_str().unwrap(),
        ],
    );
    assert!(err.contains("no column 'color'"), "{err}");
    // Named: a numeric column becomes categories; an unknown name lists the columns.
    let out = ok(
        &d,
        &[
            &[
                "train",
                "--data",
                csv,
                "--categorical",
                "color,age",
                "--out",
                "m2.safetensors",
            ][..],
            &common,
        ]
        .concat(),
    );
    assert!(out.contains("columns one-hot encoded: age ("), "{out}");
    // An id column of text: refused as categories, with the remedy; left out with --drop.
    let with_ids: String = std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("id,{l}\n"),
            _ => format!("c{i},{l}\n"),
        })
        .collect();
    let ids = d.write("ids.csv", &with_ids);
    let ids = ids.to_str().unwrap();
    let err = fails(&d, &["train", "--data", ids]);
    assert!(
        err.contains("column 'id' holds 240 different texts in 240 rows")
            && err.contains("--drop id"),
        "{err}"
    );
    let out = ok(
        &d,
        &[
            &[
                "train",
                "--data",
                ids,
                "--drop",
                "id",
                "--out",
                "m3.safetensors",
            ][..],
            &common,
        ]
        .concat(),
    );
    assert!(
        out.contains("4 features") || out.contains("5 features"),
        "{out}"
    );
    let info = ok(&d, &["info", "--model", "m3.safetensors"]);
    assert!(
        info.contains("features       5 (age, color=blue, color=green, color=red, income)"),
        "{info}"
    );
    let err = fails(&d, &["train", "--data", csv, "--categorical", "colour"]);
    assert!(
        err.contains("no feature column 'colour' to treat as categories; the columns are: age, color, income, buys"),
        "{err}"
    );
}

/// `mlp cv`: every row is held out once; the summary is the mean of the folds; the same seed gives
/// the same figures; a regression reports R², RMSE and MAE in the target's units; flags that make
/// no sense without a single model are refused.
#[test]
fn cross_validation_holds_out_each_fold_once() {
    let d = Dir::new("cv");
    let args = [
        "cv", "--data", "iris", "--folds", "3", "--hidden", "16", "--epochs", "60", "--lr", "0.01",
        "--format", "json",
    ];
    let out = ok(&d, &args);
    let v = json(&out);
    let folds = v["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let test_rows: u64 = folds.iter().map(|f| f["test_rows"].as_u64().unwrap()).sum();
    assert_eq!(test_rows, 150);
    for f in folds {
        assert_eq!(
            f["train_rows"].as_u64().unwrap() + f["test_rows"].as_u64().unwrap(),
            150
        );
    }
    let acc: Vec<f64> = folds
        .iter()
        .map(|f| f["accuracy"].as_f64().unwrap())
        .collect();
    let mean = acc.iter().sum::<f64>() / 3.0;
    assert!(
        (v["mean"]["accuracy"].as_f64().unwrap() - mean).abs() < 1e-12,
        "{v}"
    );
    assert!(mean > 0.85, "{v}");
    // Each fold has its ROC AUC, from its held-out rows' probabilities (iris: near 1).
    for f in folds {
        let auc = f["roc_auc"].as_f64().unwrap();
        assert!(auc > 0.9 && auc <= 1.0, "{f}");
    }
    let again = json(&ok(&d, &args));
    assert_eq!(again["mean"], v["mean"]);
    let prices = prices_csv(&d);
    let r = json(&ok(
        &d,
        &[
            "cv",
            "--data",
            prices.to_str().unwrap(),
            "--folds",
            "4",
            "--epochs",
            "30",
            "--lr",
            "0.01",
            "--format",
            "json",
        ],
    ));
    assert!(r["mean"]["r2"].as_f64().unwrap() > 0.8, "{r}");
    assert!(r["mean"]["mse"].as_f64().unwrap() > 1.0, "in dollars²: {r}");
    let err = fails(&d, &["cv", "--data", "iris", "--test-split", "0.3"]);
    assert!(
        err.contains("--test-split does not apply to mlp cv"),
        "{err}"
    );
    let err = fails(&d, &["cv", "--data", "iris", "--folds", "1"]);
    assert!(err.contains("--folds 1: expected at least 2"), "{err}");
}

/// A spreadsheet's export where the decimal mark is a comma: `;` between fields, `1,5` for 1.5; a
/// `.tsv` file. Both train, and predict, as a comma-separated file does.
#[test]
fn semicolon_and_tab_separated_files() {
    let d = Dir::new("semicolons");
    let commas = std::fs::read_to_string(animals_csv(&d)).unwrap();
    let semi = commas.replace(',', ";").replace('.', ",");
    let semi = d.write("animals-semicolons.csv", &semi);
    let tabs = d.write("animals.tsv", &commas.replace(',', "\t"));
    for f in [&semi, &tabs] {
        let s = json(&ok(
            &d,
            &[
                "train",
                "--data",
                f.to_str().unwrap(),
                "--epochs",
                "60",
                "--lr",
                "0.01",
                "--format",
                "json",
            ],
        ));
        assert!(
            s["test_accuracy"].as_f64().unwrap() > 0.9,
            "{}: {s}",
            f.display()
        );
    }
    let rows = d.write("rows.csv", "height;weight\n25;4,5\n160;500\n");
    let p = ok(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            rows.to_str().unwrap(),
        ],
    );
    assert_eq!(p, "prediction\ncat\nhorse\n");
}

/// A file without a header (UCI's `iris.data`, `np.savetxt`'s output; pandas' `header=None`): a
/// first line of numbers is the first data row, said so, and the columns are named 0, 1, …; the
/// model trained on it is the one trained on the same rows under a header, and `predict` reads
/// the file the same way (`--keep 0` keeps the first line's value too). With `;` and decimal
/// commas, the delimiter is found from that line of numbers.
#[test]
fn csv_files_without_a_header() {
    let d = Dir::new("no-header");
    let commas = std::fs::read_to_string(animals_csv(&d)).unwrap();
    let (_, body) = commas.split_once('\n').unwrap();
    d.write("bare.csv", body);
    d.write(
        "bare-semicolons.csv",
        &body.replace(',', ";").replace('.', ","),
    );
    let train = |data: &str, out: &str| {
        let args = [
            "train", "--data", data, "--epochs", "20", "--lr", "0.01", "--out", out,
        ];
        ok(&d, &args)
    };
    let text = train("bare.csv", "bare.safetensors");
    assert!(
        text.contains("bare.csv: 200 rows, 2 features, no header (its first line holds numbers: a data row), columns named by index: 0, 1, …"),
        "{text}"
    );
    let text = train("bare-semicolons.csv", "semi.safetensors");
    assert!(text.contains("200 rows, 2 features, no header"), "{text}");
    train("animals.csv", "named.safetensors");
    let predict = |model: &str, more: &[&str]| {
        let args = [
            &["predict", "--model", model, "--data", "bare.csv", "--proba"][..],
            more,
        ]
        .concat();
        ok(&d, &args)
    };
    let p = predict("named.safetensors", &[]);
    assert_eq!(
        p.lines().count(),
        201,
        "every line of the file is a row: {p}"
    );
    assert_eq!(predict("bare.safetensors", &[]), p);
    assert_eq!(predict("semi.safetensors", &[]), p);
    let kept = predict("bare.safetensors", &["--keep", "0"]);
    let first = body.lines().next().unwrap().split(',').next().unwrap();
    assert!(
        kept.lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{first},")),
        "{kept}"
    );
}

/// `predict` finds the model's columns by name, in any order and beside others; a file whose header
/// names none of them is read by position, its one extra column taken as the target.
#[test]
fn predict_finds_columns_by_name_or_else_by_position() {
    let d = Dir::new("by-name");
    let csv = animals_csv(&d);
    let args = [
        "train",
        "--data",
        csv.to_str().unwrap(),
        "--epochs",
        "60",
        "--lr",
        "0.01",
        "--quiet",
    ];
    ok(&d, &args);
    let predict = |name: &str, text: &str| {
        let rows = d.write(name, text);
        ok(
            &d,
            &[
                "predict",
                "--model",
                "model.safetensors",
                "--data",
                rows.to_str().unwrap(),
            ],
        )
    };
    let want = "prediction\ncat\nhorse\n";
    assert_eq!(
        predict(
            "named.csv",
            "animal,height,note,weight\nx,25,a,4\nx,160,b,500\n"
        ),
        want
    );
    assert_eq!(predict("position.csv", "w,h\n4,25\n500,160\n"), want);
    assert_eq!(
        predict("position-target.csv", "w,h,kind\n4,25,x\n500,160,x\n"),
        want
    );
    // --keep copies columns of the input beside the predictions (an id, say).
    let named = d.path("named.csv");
    let kept = ok(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            named.to_str().unwrap(),
            "--keep",
            "note",
        ],
    );
    assert_eq!(kept, "note,prediction\na,cat\nb,horse\n");
    let rows = d.write("half.csv", "weight,h\n4,25\n");
    let err = fails(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            rows.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("no column 'height'; the model's feature columns are: weight, height"),
        "{err}"
    );
}

/// Missing values are an error naming the first one, unless `--impute` fills them with training
/// statistics; the model keeps those, and `predict` fills a missing value exactly as if the row had
/// held the stored value.
#[test]
fn missing_values_are_refused_or_filled_with_training_statistics() {
    let d = Dir::new("gaps");
    let csv = colors_with_gaps_csv(&d);
    let csv = csv.to_str().unwrap();
    let err = fails(&d, &["train", "--data", csv]);
    assert!(
        err.contains("gaps.csv:8:1: column 'age': a missing value ('NA'); expected a number (--impute mean or median fills missing values)"),
        "{err}"
    );
    let args = ["--hidden", "16", "--lr", "0.01", "--epochs", "40"];
    let out = ok(
        &d,
        &[&["train", "--data", csv, "--impute", "median"][..], &args].concat(),
    );
    assert!(
        out.contains("missing  ") && out.contains("values filled with the training rows' median"),
        "{out}"
    );
    let info = info_json(&d, "model.safetensors");
    let impute = &info["preprocessing"]["impute"];
    assert_eq!(impute["strategy"], "median", "{info}");
    let fill: Vec<f64> = numbers(&impute["fill"]);
    assert_eq!(fill.len(), 5); // age, color=blue, color=green, color=red, income
                               // A row with its age missing predicts as the row with the stored median age.
    let rows = d.write(
        "rows.csv",
        &format!(
            "age,color,income\nNA,red,40\n{},red,40\n30,?,\n30,?,{}\n",
            fill[0], fill[4]
        ),
    );
    let p = ok(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            rows.to_str().unwrap(),
            "--proba",
        ],
    );
    let lines: Vec<&str> = p.lines().collect();
    assert_eq!(lines.len(), 5, "{p}");
    assert_eq!(lines[1], lines[2], "{p}");
    assert_eq!(lines[3], lines[4], "{p}");
    // A model trained without --impute refuses them.
    let clean = colors_csv(&d);
    ok(
        &d,
        &[
            "train",
            "--data",
            clean.to_str().unwrap(),
            "--epochs",
            "2",
            "--out",
            "clean.safetensors",
            "--quiet",
        ],
    );
    let err = fails(
        &d,
        &[
            "predict",
            "--model",
            "clean.safetensors",
            "--data",
            rows.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("rows.csv:2:1: column 'age': a missing value ('NA')"),
        "{err}"
    );
}

/// `--class-weight`: on 2 000 rows of which 8 % are "yes", weakly told apart from "no", the plain
/// loss favours "no"; balanced weights (printed) trade some precision for the minority's recall.
#[test]
fn class_weights_raise_the_minority_classs_recall() {
    let d = Dir::new("imbalanced");
    let mut s = String::from("a,b,label\n");
    let mut rng = mlp::Rng::new(5);
    for _ in 0..2000 {
        let yes = rng.uniform() < 0.08;
        let shift = if yes { 1.0 } else { 0.0 };
        let (a, b) = (shift + rng.normal(), 0.8 * shift + rng.normal());
        s += &format!("{a:.3},{b:.3},{}\n", if yes { "yes" } else { "no" });
    }
    let csv = d.write("imbalanced.csv", &s);
    let csv = csv.to_str().unwrap();
    let recall_of_yes = |weights: &[&str]| {
        let train = [
            "train", "--data", csv, "--hidden", "16", "--epochs", "30", "--lr", "0.01",
        ];
        let out = ok(&d, &[&train[..], weights].concat());
        let eval = json(&ok(
            &d,
            &[
                "eval",
                "--model",
                "model.safetensors",
                "--data",
                csv,
                "--format",
                "json",
            ],
        ));
        let yes = &eval["per_class"][1];
        assert_eq!(yes["class"], "yes", "{eval}");
        (out, yes["recall"].as_f64().unwrap())
    };
    let (_, plain) = recall_of_yes(&[]);
    let (out, balanced) = recall_of_yes(&["--class-weight", "balanced"]);
    eprintln!("recall of yes: {plain:.3} plain, {balanced:.3} balanced");
    assert!(out.contains("class weights no 0.54"), "{out}");
    assert!(
        balanced > plain + 0.2,
        "recall of yes: {plain} plain, {balanced} balanced"
    );
    // --threshold: "yes" where p(yes) is above it, in predict (checked against its own --proba
    // column) and in eval, whose recall of "yes" can only fall as the threshold rises.
    let predict = [
        "predict",
        "--model",
        "model.safetensors",
        "--data",
        csv,
        "--proba",
    ];
    let mut recalls = Vec::new();
    for t in ["0.2", "0.5", "0.8"] {
        let p = ok(&d, &[&predict[..], &["--threshold", t]].concat());
        let t: f64 = t.parse().unwrap();
        for line in p.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let p_yes: f64 = f[2].parse().unwrap();
            assert_eq!(
                f[0],
                if p_yes > t { "yes" } else { "no" },
                "threshold {t}: {line}"
            );
        }
        let eval = [
            "eval",
            "--model",
            "model.safetensors",
            "--data",
            csv,
            "--format",
            "json",
        ];
        let e = json(&ok(
            &d,
            &[&eval[..], &["--threshold", &t.to_string()]].concat(),
        ));
        assert_eq!(e["threshold"].as_f64(), Some(t), "{e}");
        recalls.push(e["per_class"][1]["recall"].as_f64().unwrap());
    }
    assert!(
        recalls[0] >= recalls[1] && recalls[1] >= recalls[2],
        "{recalls:?}"
    );
    assert_eq!(recalls[1], balanced, "0.5 is the default");
    let e = fails(&d, &[&predict[..], &["--threshold", "1"]].concat());
    assert!(
        e.contains("--threshold 1: expected a probability between 0 and 1"),
        "{e}"
    );
    let e = fails(&d, &["train", "--data", csv, "--class-weight", "maybe=3"]);
    assert!(
        e.contains(
            "--class-weight: class weight for 'maybe': no such class; the classes are: no, yes"
        ),
        "{e}"
    );
}

/// `--target price,rent`: one output per column, each standardised on its own; `eval` gives each
/// target's figures, `predict` a column per target, `info` names them.
#[test]
fn several_target_columns_train_one_output_each() {
    let d = Dir::new("homes");
    let csv = homes_csv(&d);
    let csv = csv.to_str().unwrap();
    let out = ok(
        &d,
        &[
            "train",
            "--data",
            csv,
            "--target",
            "price,rent",
            "--drop",
            "id",
            "--hidden",
            "32",
            "--epochs",
            "60",
            "--lr",
            "0.01",
        ],
    );
    assert!(
        out.contains("regression: 2 target columns (price, rent), one output each")
            && out.contains("averaged over the 2 targets"),
        "{out}"
    );
    let eval = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "model.safetensors",
            "--data",
            csv,
            "--format",
            "json",
        ],
    ));
    let per_target = eval["per_target"].as_array().unwrap();
    assert_eq!(per_target.len(), 2, "{eval}");
    for (t, name) in per_target.iter().zip(["price", "rent"]) {
        assert_eq!(t["target"], name, "{eval}");
        assert!(t["r2"].as_f64().unwrap() > 0.95, "{eval}");
    }
    // MAE in each target's own units: the price's is the larger by far.
    assert!(
        per_target[0]["mae"].as_f64() > per_target[1]["mae"].as_f64(),
        "{eval}"
    );
    let predicted = ok(
        &d,
        &[
            "predict",
            "--model",
            "model.safetensors",
            "--data",
            csv,
            "--keep",
            "id",
        ],
    );
    assert!(
        predicted.starts_with("id,prediction_price,prediction_rent\nh0,"),
        "{predicted}"
    );
    let info = ok(&d, &["info", "--model", "model.safetensors"]);
    assert!(
        info.contains("targets        price, rent (one output each)"),
        "{info}"
    );
    let e = fails(
        &d,
        &[
            "train", "--data", csv, "--target", "price,id", "--epochs", "1",
        ],
    );
    assert!(
        e.contains("target column 'id': 'h0' is not a number"),
        "{e}"
    );
}

/// `predict --proba` of iris's first row and `explain`'s trace of that row (its output y) agree:
/// the same forward pass, normalised the same way. Returns the trace.
fn predict_agrees_with_explain(d: &Dir, model: &str) -> Value {
    let p = ok(
        d,
        &["predict", "--model", model, "--data", "iris", "--proba"],
    );
    let row0: Vec<f64> = p
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    let args = [
        "explain", "--model", model, "--data", "iris", "--format", "json",
    ];
    let trace = json(&ok(d, &args));
    let y: Vec<f64> = numbers(&trace["output"]);
    assert_eq!(row0.len(), 3, "{p}");
    for (a, b) in row0.iter().zip(&y) {
        assert!((a - b).abs() < 1e-5, "predict {row0:?}, explain {y:?}");
    }
    trace
}

/// `--batch-norm` from end to end: a model file of format 3 holding the running statistics,
/// prediction with them (the same probabilities from `predict` as from the trace of `explain`),
/// the gradient check of a training pass, and what it cannot be combined with. A model without
/// it stays in format 1, readable by older builds.
#[test]
fn batch_normalisation_on_the_command_line() {
    let d = Dir::new("batch-norm");
    let train = [
        "train",
        "--data",
        "iris",
        "--hidden",
        "8",
        "--epochs",
        "40",
        "--lr",
        "0.01",
        "--batch-norm",
        "--out",
        "bn.safetensors",
        "--format",
        "json",
        "--quiet",
    ];
    let run = json(&ok(&d, &train));
    let acc = run["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.85, "test accuracy {acc}");
    let info = info_json(&d, "bn.safetensors");
    assert_eq!(info["format_version"], 3, "{info}");
    assert_eq!(
        info["architecture"]["batch_norm"],
        serde_json::json!({"momentum": 0.1, "eps": 1e-5}),
        "{info}"
    );
    assert_eq!(info["training"]["batch_norm"], true, "{info}");
    let text = ok(&d, &["info", "--model", "bn.safetensors"]);
    assert!(
        text.contains("1.running_var")
            && text.contains("running statistics of 160 training batches"),
        "{text}"
    );
    // Prediction normalises with the running statistics: row 0's probabilities as the trace's y.
    let trace = predict_agrees_with_explain(&d, "bn.safetensors");
    assert!(trace["layers"][0]["norm"]["mean"].is_array(), "{trace}");
    let out = ok(
        &d,
        &[
            "gradcheck",
            "--data",
            "iris",
            "--hidden",
            "6,4",
            "--batch-norm",
        ],
    );
    assert!(
        out.contains("batch-normalised with these rows' mean and variance") && out.contains("pass"),
        "{out}"
    );
    fails_with(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--batch-norm",
            "--optimizer",
            "lbfgs",
        ],
        "batch normalisation learns from mini-batches",
    );
    fails_with(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--batch-norm",
            "--batch-size",
            "1",
        ],
        "a batch of one row has no variance",
    );
    fails_with(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--warm-start",
            "bn.safetensors",
            "--batch-norm",
        ],
        "--batch-norm does not apply with --warm-start",
    );
    ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--epochs",
            "1",
            "--out",
            "plain.safetensors",
            "--quiet",
        ],
    );
    let plain = info_json(&d, "plain.safetensors");
    assert_eq!(plain["format_version"], 1, "{plain}");
    assert!(plain["architecture"].get("batch_norm").is_none(), "{plain}");
}

/// `--layer-norm` from end to end: a model file of format 4 with γ and β and no running
/// statistics, prediction that `explain`'s trace reproduces, the gradient check, training where
/// batch normalisation is refused (lbfgs, batches of one row), and what it cannot be combined with.
#[test]
fn layer_normalisation_on_the_command_line() {
    let d = Dir::new("layer-norm");
    let train = [
        "train",
        "--data",
        "iris",
        "--hidden",
        "8",
        "--epochs",
        "40",
        "--lr",
        "0.01",
        "--layer-norm",
        "--out",
        "ln.safetensors",
        "--format",
        "json",
        "--quiet",
    ];
    let run = json(&ok(&d, &train));
    let acc = run["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.85, "test accuracy {acc}");
    let info = info_json(&d, "ln.safetensors");
    assert_eq!(info["format_version"], 4, "{info}");
    assert_eq!(
        info["architecture"]["layer_norm"],
        serde_json::json!({"eps": 1e-5}),
        "{info}"
    );
    assert!(info["architecture"].get("batch_norm").is_none(), "{info}");
    assert_eq!(info["training"]["layer_norm"], true, "{info}");
    let text = ok(&d, &["info", "--model", "ln.safetensors"]);
    assert!(
        text.contains("layer norm") && text.contains("1.weight") && !text.contains("running_"),
        "{text}"
    );
    let trace = predict_agrees_with_explain(&d, "ln.safetensors");
    assert_eq!(trace["layers"][0]["norm"]["kind"], "layer", "{trace}");
    let out = ok(
        &d,
        &[
            "gradcheck",
            "--data",
            "iris",
            "--hidden",
            "6,4",
            "--layer-norm",
        ],
    );
    assert!(
        out.contains("layer-normalised with each row's own mean and variance")
            && out.contains("pass"),
        "{out}"
    );
    for more in [&["--optimizer", "lbfgs"][..], &["--batch-size", "1"]] {
        let args = ["train", "--data", "iris", "--layer-norm", "--epochs", "5"];
        let run = json(&ok(
            &d,
            &[&args[..], more, &["--format", "json", "--quiet"]].concat(),
        ));
        assert!(
            run["test_accuracy"].as_f64().unwrap() > 0.8,
            "{more:?}: {run}"
        );
    }
    fails_with(
        &d,
        &["train", "--data", "iris", "--layer-norm", "--batch-norm"],
        "--batch-norm and --layer-norm: a hidden layer is normalised one way or the other",
    );
    fails_with(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--warm-start",
            "ln.safetensors",
            "--layer-norm",
        ],
        "--layer-norm does not apply with --warm-start",
    );
    // A warm start goes on with the model's normalisation.
    let more = json(&ok(
        &d,
        &[
            "train",
            "--data",
            "iris",
            "--warm-start",
            "ln.safetensors",
            "--epochs",
            "2",
            "--out",
            "more.safetensors",
            "--format",
            "json",
            "--quiet",
        ],
    ));
    assert!(more["test_accuracy"].as_f64().unwrap() > 0.85, "{more}");
    let info = info_json(&d, "more.safetensors");
    assert_eq!(info["architecture"]["layer_norm"]["eps"], 1e-5, "{info}");
}

/// PyTorch loads the model file with `load_state_dict(strict=True)` and predicts what `mlp predict`
/// does (`scripts/load_in_pytorch.py`). Runs when `MLP_TORCH_PYTHON` names a Python with torch
/// (e.g. the peers' venv from `../shared/bench/peers/setup.sh`); a clean clone has no torch, so
/// without it the test says so and checks nothing else.
#[test]
fn pytorch_reproduces_mlp_predict() {
    let Ok(python) = std::env::var("MLP_TORCH_PYTHON") else {
        eprintln!("skipped: set MLP_TORCH_PYTHON to a Python with torch to run this check");
        return;
    };
    let d = Dir::new("torch");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/load_in_pytorch.py");
    let animals = animals_csv(&d);
    let colors = colors_csv(&d); // with a one-hot encoded text column
    let gaps = colors_with_gaps_csv(&d); // and with missing values, filled
    let homes = homes_csv(&d); // two regression targets
    let tags = tags_csv(&d); // three labels (multi-label)
    let two_targets = ["--target", "price,rent", "--drop", "id"];
    let labels = ["--target", "small,wide,tall", "--drop", "id"];
    let normalised = ["--target", "price,rent", "--drop", "id", "--batch-norm"];
    let layer_normalised = [
        "--target",
        "small,wide,tall",
        "--drop",
        "id",
        "--layer-norm",
    ];
    for (csv, precision, acts, more) in [
        (&animals, "f32", "gelu,leaky_relu", &[][..]),
        (&animals, "f64", "tanh,elu", &[]),
        (&colors, "f32", "relu,sigmoid", &[]),
        (&colors, "f32", "silu,silu", &[]),
        (&animals, "f32", "selu,selu", &["--init", "lecun_normal"]),
        (&gaps, "f32", "relu,sigmoid", &["--impute", "mean"]),
        (&homes, "f32", "tanh,relu", &two_targets),
        (&tags, "f32", "relu,tanh", &labels),
        (&animals, "f32", "relu,tanh", &["--batch-norm"]),
        (
            &colors,
            "f64",
            "gelu,relu",
            &["--batch-norm", "--batch-size", "4"],
        ),
        (&homes, "f32", "tanh,relu", &normalised),
        (&animals, "f32", "gelu,tanh", &["--layer-norm"]),
        (&tags, "f64", "relu,silu", &layer_normalised),
    ] {
        let csv = csv.to_str().unwrap();
        let train = [
            "train",
            "--data",
            csv,
            "--hidden",
            "16,8",
            "--activation",
            acts,
            "--epochs",
            "10",
            "--precision",
            precision,
            "--quiet",
        ];
        ok(&d, &[&train[..], more].concat());
        // Values have no probabilities to compare.
        let proba: &[&str] = if csv.ends_with("homes.csv") {
            &[]
        } else {
            &["--proba"]
        };
        let predict = ["predict", "--model", "model.safetensors", "--data", csv];
        ok(&d, &[&predict[..], proba, &["--out", "p.csv"]].concat());
        let out = Command::new(&python)
            .arg(&script)
            .args(["model.safetensors", "--data", csv, "--predictions", "p.csv"])
            .current_dir(&d.0)
            .output()
            .expect("python runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("OK: PyTorch"),
            "{precision}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Inputs the fuzzers (`fuzz/`) found, kept so the fix stays: each gives a clean error.
#[test]
fn fuzz_regressions() {
    let d = Dir::new("fuzzed");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    // An NPY header claiming 3.6 GB in an 81-byte file: refused before anything is allocated.
    let npy = fixtures.join("npy-header-length-3.6GB.npy");
    let bytes = std::fs::read(&npy).unwrap();
    let e = mlp::data::npy::npy_from_bytes(&bytes, &npy)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the header claims 3648716918 bytes but the file holds 81"),
        "{e}"
    );
    let err = fails(&d, &["train", "--data", npy.to_str().unwrap()]);
    assert!(err.contains("npy-header-length-3.6GB.npy"), "{err}");
}

/// Class labels 0 and −0 in one CSV (found by fuzzing, the found input kept beside a minimal one):
/// they are one class, and training goes on; it used to panic looking the labels up.
#[test]
fn fuzz_regression_minus_zero_label() {
    let d = Dir::new("minus-zero");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let small = fixtures.join("csv-labels-zero-and-minus-zero.csv");
    let data = mlp::data::read_csv::<f32>(
        &small,
        &mlp::data::TargetColumn::Last,
        None,
        mlp::data::Columns::ALL,
        mlp::data::Missing::Refuse,
    )
    .unwrap()
    .data;
    assert_eq!(data.class_names, vec!["0", "1"]);
    assert_eq!(data.classes().unwrap(), &[0, 0, 1, 0, 1]);
    let found = fixtures.join("csv-minus-zero-label-found.csv");
    let out = d.path("m.safetensors");
    for f in [&small, &found] {
        ok(
            &d,
            &[
                "train",
                "--data",
                f.to_str().unwrap(),
                "--epochs",
                "1",
                "--out",
                out.to_str().unwrap(),
            ],
        );
    }
}

/// A 118-byte NPY header of nested brackets that kept the header parser busy for 50 s (found by
/// fuzzing): refused before it is parsed.
#[test]
fn fuzz_regression_nested_npy_header() {
    let npy = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz/npy-nested-brackets-slow.npy");
    let bytes = std::fs::read(&npy).unwrap();
    let e = mlp::data::npy::npy_from_bytes(&bytes, &npy)
        .unwrap_err()
        .to_string();
    assert!(e.contains("structured array"), "{e}");
}

#[test]
fn bench_runs_a_case_with_another_hidden_activation() {
    // seed-online's files (8 features, one target), small: the protocol's case, its sigmoid
    // swapped for tanh, prints one JSON record that says so.
    let d = Dir::new("bench-activation");
    let rows = |n: usize, seed: usize| {
        let mut s = (0..8).map(|i| format!("x{i},")).collect::<String>() + "y\n";
        for r in 0..n {
            let x: Vec<f64> = (0..8)
                .map(|i| (((r * 31 + i * 7 + seed) % 97) as f64 / 97.0) - 0.5)
                .collect();
            let y = x.iter().sum::<f64>().tanh();
            let cols: Vec<String> = x.iter().map(|v| format!("{v:.4}")).collect();
            s += &format!("{},{y:.4}\n", cols.join(","));
        }
        s
    };
    d.write("seed_online_train.csv", &rows(200, 0));
    d.write("seed_online_test.csv", &rows(50, 5));
    let args = [
        "bench",
        "--case",
        "seed-online",
        "--data-dir",
        ".",
        "--threads",
        "1",
    ];
    let plain = json(&ok(&d, &args));
    assert!(plain.get("activation").is_none(), "{plain}");
    let tanh = json(&ok(&d, &[&args[..], &["--activation", "tanh"]].concat()));
    assert_eq!(tanh["activation"], "tanh");
    assert_eq!(tanh["n_train"], 200);
    assert!(tanh["test_mse"].as_f64().unwrap().is_finite());
    assert_ne!(tanh["final_train_loss"], plain["final_train_loss"]);
    fails_with(
        &d,
        &[&args[..], &["--activation", "cubic"]].concat(),
        "--activation: unknown activation 'cubic'",
    );
    fails_with(
        &d,
        &[
            "bench",
            "--case",
            "mnist-mlp-small",
            "--steps",
            "5",
            "--activation",
            "tanh",
        ],
        "--activation goes with the protocol's epochs",
    );
}

#[test]
fn warmup_ramps_the_rate_then_hands_over_to_the_schedule() {
    // α/3, 2α/3 over two epochs of warm-up, then step:1:0.5 from its own start (PyTorch's
    // SequentialLR of LinearLR(start_factor=1/3, total_iters=2) and StepLR(step_size=1, gamma=0.5)).
    let d = Dir::new("warmup");
    let train = [
        "train",
        "--data",
        "iris",
        "--epochs",
        "5",
        "--lr",
        "0.01",
        "--warmup",
        "2",
        "--schedule",
        "step:1:0.5",
        "--quiet",
    ];
    ok(&d, &[&train[..], &["--log", "w.jsonl"]].concat());
    let log = std::fs::read_to_string(d.path("w.jsonl")).unwrap();
    let lrs: Vec<f64> = log
        .lines()
        .map(|l| json(l)["learning_rate"].as_f64().unwrap())
        .collect();
    let want = [0.01 / 3.0, 0.02 / 3.0, 0.01, 0.005, 0.0025];
    assert_eq!(lrs.len(), want.len(), "{log}");
    for (g, w) in lrs.iter().zip(want) {
        assert!((g - w).abs() <= 1e-15, "{lrs:?} against {want:?}");
    }
    let info = info_json(&d, "model.safetensors");
    assert_eq!(info["training"]["warmup"], 2, "{info}");
    // Milestones: γ at epochs 2 and 4 (PyTorch's MultiStepLR(milestones=[2, 4], gamma=0.1)).
    let multistep = [
        "train",
        "--data",
        "iris",
        "--epochs",
        "5",
        "--lr",
        "0.01",
        "--schedule",
        "multistep:2,4:0.1",
        "--quiet",
        "--log",
        "m.jsonl",
    ];
    ok(&d, &multistep);
    let log = std::fs::read_to_string(d.path("m.jsonl")).unwrap();
    let lrs: Vec<f64> = log
        .lines()
        .map(|l| json(l)["learning_rate"].as_f64().unwrap())
        .collect();
    let want = [0.01, 0.01, 0.001, 0.001, 0.0001];
    assert_eq!(lrs.len(), want.len(), "{log}");
    for (g, w) in lrs.iter().zip(want) {
        assert!((g - w).abs() <= 1e-15, "{lrs:?} against {want:?}");
    }
    fails_with(
        &d,
        &["train", "--schedule", "multistep:4,2:0.1"],
        "--schedule: schedule 'multistep:4,2:0.1': milestone '2'; expected M1,M2,…: increasing",
    );
    fails_with(
        &d,
        &["train", "--epochs", "3", "--warmup", "3"],
        "a warm-up of 3 epochs in a run of 3",
    );
    fails_with(
        &d,
        &["train", "--optimizer", "lbfgs", "--warmup", "2"],
        "warm-up does not apply to L-BFGS",
    );
}

#[test]
fn a_split_that_leaves_a_side_empty_is_refused_naming_the_flag() {
    // Stratified, each class holds out its own share rounded: two rows a class give none at
    // 0.2. The run used to go on and report "accuracy 0.0000 … on 0 rows"; scikit-learn's
    // train_test_split refuses an empty side, and so does mlp, saying which split and how.
    let d = Dir::new("empty-split");
    d.write("four.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    let train = ["train", "--data", "four.csv", "--epochs", "1", "--quiet"];
    fails_with(
        &d,
        &train,
        "the default --test-split 0.2 of 4 rows holds out no test rows",
    );
    fails_with(
        &d,
        &[&train[..], &["--test-split", "0.1"]].concat(),
        "--test-split 0.1 of 4 rows holds out no test rows (each class's share rounds to none): give a larger one, or --test FILE",
    );
    fails_with(
        &d,
        &[&train[..], &["--test-split", "0.9"]].concat(),
        "--test-split 0.9 of 4 rows leaves none to train on; lower it",
    );
    fails_with(
        &d,
        &[&train[..], &["--test-split", "0.5", "--val-split", "0.2"]].concat(),
        "--val-split 0.2 of 2 rows holds out no validation rows",
    );
    fails_with(
        &d,
        &[&train[..], &["--test-split", "0.5", "--val-split", "0.8"]].concat(),
        "--val-split 0.8 of 2 rows leaves none to train on",
    );
    // cv splits off validation rows the same way.
    fails_with(
        &d,
        &[
            "cv",
            "--data",
            "four.csv",
            "--folds",
            "2",
            "--val-split",
            "0.2",
            "--epochs",
            "1",
        ],
        "--val-split 0.2 of 2 rows holds out no validation rows",
    );
    // Half of two rows a class: one each side, and training goes on.
    ok(
        &d,
        &[
            &train[..],
            &["--test-split", "0.5", "--out", "m.safetensors"],
        ]
        .concat(),
    );
}

#[test]
fn a_cv_mean_says_how_many_folds_it_was_taken_over() {
    // Four rows in three folds: two folds test on a single row, one class, where ROC AUC has no
    // value; its mean is then of the one fold that has it, and says so.
    let d = Dir::new("cv-counted");
    d.write("four.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    let cv = ["cv", "--data", "four.csv", "--folds", "3", "--epochs", "1"];
    let text = ok(&d, &cv);
    assert!(
        text.contains("roc_auc") && text.contains("(1 of 3 folds)"),
        "{text}"
    );
    let mean_line = text
        .lines()
        .find(|l| l.starts_with("mean ± std over 3 folds"))
        .expect("the mean line");
    for part in mean_line.split(", ") {
        let counted = part.ends_with("(1 of 3 folds)");
        assert_eq!(counted, part.starts_with("roc_auc"), "{part}");
    }
    let report = json(&ok(&d, &[&cv[..], &["--format", "json"]].concat()));
    assert_eq!(report["counted"]["roc_auc"], 1, "{report}");
    assert_eq!(report["counted"]["accuracy"], 3, "{report}");
}

#[test]
fn a_model_evaluates_data_of_one_class_which_training_refuses() {
    // Rows of one class are a fair test set (scikit-learn's score takes them); only learning
    // needs two classes. They used to be refused by every reader, eval's included.
    let d = Dir::new("one-class");
    d.write("four.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    d.write("zeros.csv", "a,b,y\n1,2,0\n5,6,0\n");
    let train = [
        "train",
        "--data",
        "four.csv",
        "--test-split",
        "0.5",
        "--epochs",
        "1",
    ];
    ok(
        &d,
        &[&train[..], &["--quiet", "--out", "m.safetensors"]].concat(),
    );
    let report = json(&ok(
        &d,
        &[
            "eval",
            "--model",
            "m.safetensors",
            "--data",
            "zeros.csv",
            "--format",
            "json",
        ],
    ));
    assert_eq!(report["rows"], 2, "{report}");
    assert_eq!(report["per_class"][0]["support"], 2, "{report}");
    assert_eq!(report["per_class"][1]["support"], 0, "{report}");
    // The same rows as arrays.
    write_npy(&d.path("x.npy"), &[2, 2], &[1.0, 2.0, 5.0, 6.0]);
    write_npy(&d.path("y.npy"), &[2], &[0.0, 0.0]);
    ok(
        &d,
        &[
            "eval",
            "--model",
            "m.safetensors",
            "--data",
            "x.npy",
            "--labels",
            "y.npy",
        ],
    );
    fails_with(
        &d,
        &["train", "--data", "zeros.csv", "--quiet"],
        "zeros.csv: column 'y' holds a single class ('0'); classification needs at least two",
    );
    fails_with(
        &d,
        &["train", "--data", "x.npy", "--labels", "y.npy", "--quiet"],
        "y.npy: the targets hold a single class ('0')",
    );
}

#[test]
fn search_scores_a_figure_some_folds_lack_as_none_and_says_so() {
    // As cv: two of the three folds test on one row, where ROC AUC has no value. search shows
    // over how many folds each mean was taken and ranks such a mean last, as scikit-learn's
    // GridSearchCV ranks a NaN mean.
    let d = Dir::new("search-counted");
    d.write("four.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    let text = ok(
        &d,
        &[
            "search",
            "--data",
            "four.csv",
            "--folds",
            "3",
            "--epochs",
            "1",
            "--scoring",
            "roc_auc",
            "--grid",
            "{lr = [0.01, 0.1]}",
        ],
    );
    let ranked: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("rank"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(ranked.len(), 2, "{text}");
    assert!(
        ranked.iter().all(|l| l.contains("(1 of 3 folds)")),
        "{text}"
    );
}
