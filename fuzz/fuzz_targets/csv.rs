#![no_main]
//! CSV: any bytes give a data set or an error, never a panic.
use libfuzzer_sys::fuzz_target;
use mlp::data::{read_csv_from, TargetColumn};

fuzz_target!(|data: &[u8]| {
    for target in [TargetColumn::Last, TargetColumn::Index(0), TargetColumn::Absent] {
        let _ = read_csv_from::<f32>(data, "fuzz.csv", &target, None);
    }
});
