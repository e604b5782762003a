#![no_main]
//! Image files (PNG, JPEG, BMP, GIF, found from their bytes), resized: any bytes give an image or
//! an error, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mlp::data::images::decode_bytes(data, std::path::Path::new("fuzz.png"), Some((5, 7)));
});
