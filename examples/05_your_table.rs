//! Lesson 5 — a table as it comes: a column of text, values missing, too few rows to trust one
//! split. The text column becomes one 0/1 feature per category (one-hot), the gaps are filled
//! with the training rows' median, and 5-fold cross-validation says how well the network does on
//! rows it has not seen — each step fitted on the training folds only, as it must be.
//!
//! Run: `cargo run --release --example 05_your_table`

use mlp::data::{
    fold_indices, read_csv_from, Columns, Impute, Imputer, Missing, Standardizer, TargetColumn,
    Task,
};
use mlp::metrics::accuracy;
use mlp::{fit, Activation, NetworkSpec, Rng, TrainConfig};

/// 300 customers: who buys depends on the plan (text) and on age; a tenth of the ages are missing.
fn customers() -> String {
    let mut csv = String::from("age,plan,visits,buys\n");
    let mut rng = Rng::new(5);
    for i in 0..300 {
        let plan = ["basic", "family", "premium"][i % 3];
        let age = 18.0 + 60.0 * rng.uniform();
        let buys = (plan == "premium") != (age > 45.0);
        let age = if i % 10 == 7 {
            "NA".to_string()
        } else {
            format!("{age:.0}")
        };
        let visits = (5.0 + 3.0 * rng.normal()).max(0.0);
        csv += &format!(
            "{age},{plan},{visits:.0},{}\n",
            if buys { "yes" } else { "no" }
        );
    }
    csv
}

fn main() -> mlp::Result<()> {
    let text = customers();
    // `Columns::Find`: every column but the target is a feature, and one whose first value is text
    // is a category. `Missing::Read`: a missing number is NaN, for the imputer to fill.
    let csv = read_csv_from::<f32>(
        text.as_bytes(),
        "customers.csv",
        &TargetColumn::Last,
        Some(Task::Classification),
        Columns::ALL,
        Missing::Read,
    )?;
    let data = csv.data;
    println!("features: {}", data.feature_names.join(", "));
    println!("classes:  {}", data.class_names.join(", "));

    let folds = fold_indices(&data, 5, 1); // stratified
    let mut scores = Vec::new();
    for (k, held_out) in folds.iter().enumerate() {
        let rest: Vec<usize> = folds
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != k)
            .flat_map(|(_, f)| f.iter().copied())
            .collect();
        let (mut train, mut test) = (data.subset(&rest), data.subset(held_out));
        // Statistics of the training folds only: the held-out fold stands for data not seen yet.
        let imputer = Imputer::fit(&train.x, Impute::Median);
        imputer.apply(&mut train.x);
        imputer.apply(&mut test.x);
        let scaler = Standardizer::fit(&train.x).skip_categorical(&csv.categorical);
        scaler.apply(&mut train.x);
        scaler.apply(&mut test.x);

        let mut net = NetworkSpec::new(train.x.cols)
            .dense(16, Activation::Relu)
            .dense(2, Activation::Softmax)
            .build::<f32>(1);
        let config = TrainConfig {
            epochs: 60,
            batch_size: 16,
            learning_rate: 0.01,
            seed: 1,
            ..Default::default()
        };
        fit(&mut net, &train, &config)?;
        let acc = accuracy(&net.predict_classes(&test.x), test.classes().unwrap(), None);
        println!(
            "fold {}: {} rows held out, accuracy {acc:.3}",
            k + 1,
            test.len()
        );
        scores.push(acc);
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    println!("mean accuracy over the folds: {mean:.3}");
    // The same from the command line: mlp cv --data customers.csv --impute median --folds 5
    Ok(())
}
