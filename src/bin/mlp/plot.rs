//! `--plot`: loss and metric curves for training and validation, as SVG or PNG, with `plotters`.
//! PNG text is drawn with the embedded DejaVu Sans (pure Rust, no system font library).

use std::path::Path;

use mlp::{Error, History, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Draws `history` to `path` (.svg or .png).
pub fn draw(history: &History, path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let fail = |e: String| Error::io(path, std::io::Error::other(e));
    // Text is measured and drawn with the embedded font, for either backend.
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| fail("cannot load the embedded font".into()))?;
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
            panels(history, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        Some("png") => {
            let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
            panels(history, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        _ => Err(Error::config(format!(
            "--plot {}: expected a .svg or .png file",
            path.display()
        ))),
    }
}

fn panels<DB: DrawingBackend>(
    h: &History,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let halves = root.split_evenly((1, 2));
    let epochs: Vec<f64> = h.epochs.iter().map(|e| e.epoch as f64).collect();
    let train_loss: Vec<f64> = h.epochs.iter().map(|e| e.train_loss).collect();
    let val_loss: Vec<f64> = h.epochs.iter().filter_map(|e| e.val_loss).collect();
    let train_metric: Vec<f64> = h.epochs.iter().map(|e| e.train_metric).collect();
    let val_metric: Vec<f64> = h.epochs.iter().filter_map(|e| e.val_metric).collect();
    let metric = if h.metric == "r2" { "R²" } else { "accuracy" };
    chart(&halves[0], "loss", &epochs, &train_loss, &val_loss)?;
    chart(&halves[1], metric, &epochs, &train_metric, &val_metric)
}

fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x: &[f64],
    train: &[f64],
    val: &[f64],
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let all = train.iter().chain(val).copied().filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let x_max = x.last().copied().unwrap_or(1.0).max(2.0);
    let mut c = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(1.0..x_max, (lo - pad)..(hi + pad))
        .map_err(err)?;
    c.configure_mesh().x_desc("epoch").draw().map_err(err)?;
    c.draw_series(LineSeries::new(
        x.iter().copied().zip(train.iter().copied()),
        &BLUE,
    ))
    .map_err(err)?
    .label("train")
    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    if !val.is_empty() {
        c.draw_series(LineSeries::new(
            x.iter().copied().zip(val.iter().copied()),
            &RED,
        ))
        .map_err(err)?
        .label("validation")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}
