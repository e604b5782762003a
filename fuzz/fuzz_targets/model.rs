#![no_main]
//! Model and checkpoint files: any bytes give a model or an error, never a panic, and never an
//! allocation beyond what the bytes hold.
use libfuzzer_sys::fuzz_target;
use mlp::model_file::{Checkpoint, Model};

fuzz_target!(|data: &[u8]| {
    let p = std::path::Path::new("fuzz.safetensors");
    let _ = Model::<f32>::from_bytes(data, p);
    let _ = Checkpoint::<f64>::from_bytes(data, p);
});
