#![no_main]
//! NPY data sets: any bytes as the features (rows of numbers, or images) with labels of one to
//! four rows, or the labels as any bytes beside four rows of features: a data set or an error,
//! never a panic.
use libfuzzer_sys::fuzz_target;
use mlp::data::npy::{npy_bytes, read_npy_dataset, Values};
use mlp::data::Missing;
use std::path::PathBuf;

fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mlp-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&rows, rest)) = data.split_first() else {
        return;
    };
    let rows = usize::from(rows % 4) + 1;
    let labels: Vec<f64> = (0..rows).map(|i| (i % 2) as f64).collect();
    let y = file("y.npy", &npy_bytes(&[rows], Values::F64(&labels)).unwrap());
    let x = file("x.npy", rest);
    for missing in [Missing::Refuse, Missing::Read] {
        let _ = read_npy_dataset::<f32>(&x, Some(&y), None, None, missing, None);
        let _ = read_npy_dataset::<f32>(&x, None, None, None, missing, None);
    }
    let features: Vec<f64> = (0..4 * 3).map(|i| i as f64 / 7.0).collect();
    let x4 = file("x4.npy", &npy_bytes(&[4, 3], Values::F64(&features)).unwrap());
    let _ = read_npy_dataset::<f32>(&x4, Some(&x), None, None, Missing::Refuse, None);
});
