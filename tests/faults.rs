//! Faults: killed at any moment, interrupted with Ctrl-C, or diverging, `mlp train` never leaves a
//! corrupt model or checkpoint, and a resumed run ends bit-identical to an uninterrupted one.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("mlp-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A run long enough to be interrupted (digits, a wide layer, small batches), checkpointing every epoch.
const RUN: &[&str] = &[
    "train",
    "--data",
    "digits",
    "--hidden",
    "256",
    "--batch-size",
    "4",
    "--epochs",
    "30",
    "--lr",
    "0.001",
    "--quiet",
];

fn spawn(dir: &Dir, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(RUN)
        .args(extra)
        .current_dir(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mlp starts")
}

fn loadable(dir: &Dir, file: &str) -> bool {
    Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["info", "--model", file])
        .current_dir(&dir.0)
        .output()
        .expect("mlp info runs")
        .status
        .success()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sends a signal to our own child process.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

#[test]
fn sigkill_at_random_moments_never_corrupts_the_checkpoint_and_resume_finishes_exactly() {
    let d = Dir::new("kill");
    let full = spawn(&d, &["--out", "full.safetensors"])
        .wait_with_output()
        .unwrap();
    assert!(full.status.success());
    let mut rng = mlp::Rng::new(7);
    let mut kills = 0;
    loop {
        let resume: &[&str] = if d.path("ck.safetensors").exists() {
            &["--resume", "ck.safetensors"]
        } else {
            &[]
        };
        let mut child = spawn(
            &d,
            &[
                &[
                    "--checkpoint",
                    "ck.safetensors",
                    "--out",
                    "resumed.safetensors",
                ][..],
                resume,
            ]
            .concat(),
        );
        std::thread::sleep(Duration::from_millis(40 + rng.below(400) as u64));
        if child.try_wait().unwrap().is_some() {
            break; // it finished before the kill
        }
        signal(&child, libc::SIGKILL);
        child.wait().unwrap();
        kills += 1;
        if d.path("ck.safetensors").exists() {
            assert!(
                loadable(&d, "ck.safetensors"),
                "after kill {kills} the checkpoint does not load"
            );
        }
        assert!(kills < 60, "the run never finished");
    }
    let out = spawn(
        &d,
        &[
            "--checkpoint",
            "ck.safetensors",
            "--resume",
            "ck.safetensors",
            "--out",
            "resumed.safetensors",
        ],
    );
    let _ = out.wait_with_output();
    assert!(
        kills >= 2,
        "the test should kill the run a few times (killed {kills})"
    );
    let (a, b) = (
        std::fs::read(d.path("full.safetensors")).unwrap(),
        std::fs::read(d.path("resumed.safetensors")).unwrap(),
    );
    assert!(
        a == b,
        "after {kills} kills the resumed model differs from the uninterrupted one"
    );
    // Killed writes leave no debris once a later write to the same file has succeeded.
    let mut files: Vec<String> = std::fs::read_dir(&d.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["ck.safetensors", "full.safetensors", "resumed.safetensors"]
    );
}

#[test]
fn ctrl_c_stops_after_the_batch_writes_a_checkpoint_and_resume_is_exact() {
    let d = Dir::new("sigint");
    // With dropout: its masks come from (seed, epoch, batch), so a run resumed mid-epoch draws
    // the same ones as the uninterrupted run; and with batch normalisation, whose running
    // statistics the checkpoint keeps.
    assert!(spawn(
        &d,
        &[
            "--dropout",
            "0.2",
            "--batch-norm",
            "--out",
            "full.safetensors"
        ]
    )
    .wait()
    .unwrap()
    .success());
    // The signal nearly always lands inside an epoch. Now and then (on a loaded machine, as CI's
    // was once) it lands in the evaluation and checkpoint between two, and the run stops "after
    // epoch N": right too, but not the case under test, so that attempt is repeated a little later.
    let interrupted = [
        "--dropout",
        "0.2",
        "--batch-norm",
        "--checkpoint",
        "ck.safetensors",
        "--out",
        "resumed.safetensors",
    ];
    let mut attempt = 0;
    let stderr = loop {
        let child = spawn(&d, &interrupted);
        std::thread::sleep(Duration::from_millis(250 + 37 * attempt));
        signal(&child, libc::SIGINT);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "the run finished before Ctrl-C came; make RUN longer"
        );
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        if stderr.contains("in epoch") || attempt == 4 {
            break stderr;
        }
        attempt += 1;
    };
    assert!(stderr.contains("in epoch"), "stopped mid-epoch: {stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("--resume ck.safetensors"),
        "{stderr}"
    );
    assert!(loadable(&d, "ck.safetensors"));
    let resumed = spawn(
        &d,
        &[&interrupted[..], &["--resume", "ck.safetensors"]].concat(),
    )
    .wait_with_output()
    .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let (a, b) = (
        std::fs::read(d.path("full.safetensors")).unwrap(),
        std::fs::read(d.path("resumed.safetensors")).unwrap(),
    );
    assert!(
        a == b,
        "the run resumed from Ctrl-C's checkpoint differs from the uninterrupted one"
    );
}

#[test]
fn divergence_stops_at_once_with_the_epoch_batch_and_advice() {
    let d = Dir::new("diverge");
    let out = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args([
            "train",
            "--data",
            "digits",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--epochs",
            "3",
            "--quiet",
        ])
        .current_dir(&d.0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("training diverged at epoch 1, batch")
            && stderr.contains("try a lower learning rate"),
        "{stderr}"
    );
    assert!(
        !d.path("model.safetensors").exists(),
        "no model is written from a diverged run"
    );
}

/// A full disk fails with a clear error and leaves the previous file intact. Needs a tiny tmpfs
/// (root may mount one here); where mounting is not allowed the test says so and checks nothing.
#[test]
fn a_full_disk_fails_clearly_and_keeps_the_previous_file() {
    let d = Dir::new("full");
    let mnt = d.path("tiny");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here to fill");
        return;
    }
    let model = mnt.join("model.safetensors");
    std::fs::write(&model, "the previous model").unwrap();
    // A 64-512-10 model is about 170 kB: more than the 64 kB the file system has.
    let out = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args([
            "train", "--data", "digits", "--hidden", "512", "--epochs", "1", "--quiet", "--out",
        ])
        .arg(&model)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let left: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    let previous = std::fs::read_to_string(&model).unwrap();
    let _ = Command::new("umount").arg(&mnt).status();
    assert!(!out.status.success());
    assert!(
        stderr.contains("model.safetensors: No space left on device"),
        "{stderr}"
    );
    assert_eq!(previous, "the previous model");
    assert_eq!(
        left.len(),
        1,
        "the temporary file was not removed: {left:?}"
    );
}
