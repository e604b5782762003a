//! `--plot`: loss and metric curves for training and validation (`mlp train`), ROC curves or
//! predicted against actual values (`mlp eval`), as SVG or PNG, with `plotters`. PNG text is drawn
//! with the embedded DejaVu Sans (pure Rust, no system font library).

use std::path::Path;

use mlp::{Error, History, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// matplotlib's ten default colours ("tab10"), for curves a reader tells apart.
const TAB10: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The span of the finite `values` with 5 % to spare each side ([0, 1] when none is finite).
fn padded(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad)..(hi + pad)
}

/// An axis label: at most 4 decimals, no trailing zeros (350000, 0.25).
fn tick(v: &f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One ROC curve: its class or label, its (false, true positive rate) points, its area.
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub auc: f64,
}

/// One target's (actual, predicted) values.
pub struct Scatter {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What a plot shows.
pub enum Figure<'a> {
    /// Training: loss and metric per epoch, train and validation.
    History(&'a History),
    /// Classification: ROC curves, each (name, (false, true positive rate) points, AUC).
    Roc(&'a [Curve]),
    /// Regression: one panel per target, (name, (actual, predicted) points).
    Fit(&'a [Scatter]),
}

/// Draws `figure` to `path` (.svg or .png).
pub fn draw(figure: Figure<'_>, path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let fail = |e: String| Error::io(path, std::io::Error::other(e));
    // Text is measured and drawn with the embedded font, for either backend.
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| fail("cannot load the embedded font".into()))?;
    let size = match &figure {
        Figure::History(_) => (1000, 420),
        Figure::Roc(_) => (620, 560),
        Figure::Fit(f) => (460 * f.len().clamp(1, 4) as u32, 440),
    };
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            paint(&figure, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            paint(&figure, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        _ => Err(Error::config(format!(
            "--plot {}: expected a .svg or .png file",
            path.display()
        ))),
    }
}

fn paint<DB: DrawingBackend>(
    figure: &Figure<'_>,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match figure {
        Figure::History(h) => panels(h, root),
        Figure::Roc(curves) => roc(curves, root),
        Figure::Fit(targets) => {
            let shown = &targets[..targets.len().min(4)];
            for (t, area) in shown.iter().zip(root.split_evenly((1, shown.len().max(1)))) {
                fit(&t.name, &t.points, &area)?;
            }
            Ok(())
        }
    }
}

/// ROC curves on the unit square, with the diagonal of a classifier that guesses.
fn roc<DB: DrawingBackend>(
    curves: &[Curve],
    area: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut c = ChartBuilder::on(area)
        .caption("ROC curves", ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("false positive rate")
        .y_desc("true positive rate")
        .draw()
        .map_err(err)?;
    c.draw_series(DashedLineSeries::new(
        [(0.0, 0.0), (1.0, 1.0)],
        6,
        4,
        BLACK.mix(0.4).stroke_width(1),
    ))
    .map_err(err)?;
    for (i, Curve { name, points, auc }) in curves.iter().enumerate() {
        let (r, g, b) = TAB10[i % TAB10.len()];
        let color = RGBColor(r, g, b).to_rgba();
        c.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("{name} (AUC {auc:.3})"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Predicted against actual values of one target, with the line where they are equal.
fn fit<DB: DrawingBackend>(
    name: &str,
    points: &[(f64, f64)],
    area: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let range = padded(points.iter().flat_map(|&(a, p)| [a, p]));
    let (lo, hi) = (range.start, range.end);
    let mut c = ChartBuilder::on(area)
        .caption(name, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(84)
        .build_cartesian_2d(range.clone(), range)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("actual")
        .y_desc("predicted")
        .x_labels(6)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()
        .map_err(err)?;
    c.draw_series(DashedLineSeries::new(
        [(lo, lo), (hi, hi)],
        6,
        4,
        BLACK.mix(0.4).stroke_width(1),
    ))
    .map_err(err)?;
    c.draw_series(
        points
            .iter()
            .map(|&p| Circle::new(p, 2, RGBColor(31, 119, 180).mix(0.5).filled())),
    )
    .map_err(err)?;
    Ok(())
}

fn panels<DB: DrawingBackend>(
    h: &History,
    root: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
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
    let range = padded(train.iter().chain(val).copied());
    let x_max = x.last().copied().unwrap_or(1.0).max(2.0);
    let mut c = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(1.0..x_max, range)
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
