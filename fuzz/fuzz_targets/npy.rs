#![no_main]
//! NPY: any bytes give an array or an error, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mlp::data::npy::parse_npy(data, std::path::Path::new("fuzz.npy"));
});
