#![no_main]
//! NPZ: any bytes as an archive give its arrays or an error, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = std::env::temp_dir().join(format!("mlp-fuzz-{}.npz", std::process::id()));
    std::fs::write(&p, data).unwrap();
    if let Ok(mut npz) = mlp::data::npy::Npz::open(&p) {
        let names: Vec<String> = npz.names().iter().map(|n| n.to_string()).collect();
        for name in names {
            let _ = npz.array(&name);
        }
    }
});
