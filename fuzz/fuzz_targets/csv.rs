#![no_main]
//! CSV: any bytes give a data set or an error, never a panic: with text columns found as read,
//! and with a model's one-hot encoding applied; missing values refused, and read; one target
//! column, none, or two (a multi-output regression, or labels); the task inferred, or told.
use libfuzzer_sys::fuzz_target;
use mlp::data::{read_csv_from, Categorical, Columns, Missing, TargetColumn};
use mlp::Task;

fuzz_target!(|data: &[u8]| {
    let known = [Categorical {
        column: "a".into(),
        first_feature: 0,
        categories: vec!["x".into(), "y".into()],
    }];
    let targets = [
        TargetColumn::Last,
        TargetColumn::Index(0),
        TargetColumn::Absent,
        TargetColumn::parse("2,b"),
    ];
    for target in targets {
        let names = ["a".to_string(), "b".to_string()];
        let model = Columns::Model {
            names: &names,
            categorical: &known,
        };
        for columns in [Columns::ALL, model] {
            for missing in [Missing::Refuse, Missing::Read] {
                for task in [None, Some(Task::Classification), Some(Task::MultiLabel)] {
                    let _ = read_csv_from::<f32>(data, "fuzz.csv", &target, task, columns, missing);
                }
            }
        }
    }
});
