#![no_main]
//! IDX, gzip'd or not: any bytes give an array or an error, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mlp::data::idx::idx_from_bytes(data, std::path::Path::new("fuzz.idx"));
});
