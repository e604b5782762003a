#![no_main]
//! `--config` TOML files: any text gives settings or an error with a line and column, never a
//! panic; settings that parse also merge with command-line flags. Compiles the command line's
//! `train_args.rs` itself, so the fuzzed code is the shipped code.
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/bin/mlp/train_args.rs"]
mod train_args;

fuzz_target!(|data: &[u8]| {
    // `mlp train --config` reads the file as UTF-8 text first (an I/O error otherwise).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = train_args::parse_config(text) {
        let flags = train_args::TrainArgs {
            epochs: Some(3),
            ..Default::default()
        };
        let merged = train_args::merge(&file, &flags).expect("settings that parsed merge");
        assert_eq!(merged.epochs, Some(3));
    }
});
