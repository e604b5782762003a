//! Progress while training: an `indicatif` bar per epoch on a terminal (batches, loss, samples/s,
//! time left); nothing when stderr is not a terminal (the epoch table then serves as plain lines).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bar {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Bar {
    /// A bar on stderr when it is a terminal and `show` is set.
    pub fn new(show: bool) -> Self {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix:>3} [{bar:30}] {pos}/{len} batches  {msg}  eta {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            b
        });
        Bar {
            bar,
            started: Instant::now(),
        }
    }

    /// After each batch.
    pub fn batch(
        &mut self,
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
        rows_done: usize,
    ) {
        let Some(b) = &self.bar else { return };
        if batch == 1 {
            self.started = Instant::now();
            b.reset();
            b.set_length(batches as u64);
            b.set_prefix(epoch.to_string());
        }
        b.set_position(batch as u64);
        if batch.is_multiple_of(8) || batch == batches {
            let rate = rows_done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!("loss {loss:.4}  {rate:.0} samples/s"));
        }
    }

    /// At the end of an epoch: clear the bar so the table row takes its place.
    pub fn epoch_done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
