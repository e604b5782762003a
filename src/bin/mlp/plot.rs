//! `--plot`: loss and metric curves for training and validation (`mlp train`), ROC curves or
//! predicted against actual values (`mlp eval`), attributions as bars or, for images, as a
//! heatmap over the pixels (`mlp explain --attributions`), as SVG or PNG, with `plotters`. PNG text is drawn
//! with the embedded DejaVu Sans (pure Rust, no system font library).

use std::path::Path;

use mlp::data::images::ImageShape;
use mlp::{Error, History, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// One explained output's attributions (`mlp explain --attributions`).
pub struct Attributions {
    /// What is explained: `p(7) = 0.98`.
    pub title: String,
    /// Each column's name and attribution, in the output's units.
    pub columns: Vec<(String, f64)>,
}

/// A confusion matrix: `counts[t][p]` rows of true class t predicted as p (their weights summed,
/// with sample weights).
pub struct Confusion<'a> {
    pub names: &'a [String],
    pub counts: &'a [Vec<f64>],
}

/// A count as shown: a whole number as one (`12`), a sum of fractional weights to two places.
pub fn shown_count(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// An image as the network reads it: height × width × channels values in [0, 1].
pub struct Picture<'a> {
    pub shape: ImageShape,
    pub pixels: &'a [f64],
}

/// What a plot shows.
pub enum Figure<'a> {
    /// Training: loss and metric per epoch, train and validation.
    History(&'a History),
    /// Classification: ROC curves, each (name, (false, true positive rate) points, AUC), and
    /// beside them the confusion matrix where there is one (not for multi-label).
    Roc(&'a [Curve], Option<Confusion<'a>>),
    /// Regression: one panel per target, (name, (actual, predicted) points).
    Fit(&'a [Scatter]),
    /// Tabular data: one panel per output, its largest attributions as bars.
    Bars(&'a [Attributions]),
    /// Images: the image, then one panel per output with each pixel coloured by its attribution
    /// (its channels summed).
    Heatmap(Picture<'a>, &'a [Attributions]),
}

/// Bars drawn per panel: the largest attributions.
const BARS: usize = 20;

/// A diverging colour for `v` in [−1, 1]: white at 0, towards tab10's red at 1 and its blue at −1.
fn diverging(v: f64) -> RGBColor {
    let ((r, g, b), t) = match v >= 0.0 {
        true => (TAB10[3], v.min(1.0)),
        false => (TAB10[0], (-v).min(1.0)),
    };
    let mix = |c: u8| (255.0 + (c as f64 - 255.0) * t).round() as u8;
    RGBColor(mix(r), mix(g), mix(b))
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
        Figure::Roc(_, None) => (620, 560),
        Figure::Roc(_, Some(_)) => (1240, 560),
        Figure::Fit(f) => (460 * f.len().clamp(1, 4) as u32, 440),
        Figure::Bars(b) => (620 * b.len().clamp(1, 4) as u32, 560),
        Figure::Heatmap(_, a) => (320 * (1 + a.len().clamp(1, 4)) as u32, 360),
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
        Figure::Roc(curves, None) => roc(curves, root),
        Figure::Roc(curves, Some(confusion)) => {
            let halves = root.split_evenly((1, 2));
            roc(curves, &halves[0])?;
            confusion_panel(confusion, &halves[1])
        }
        Figure::Fit(targets) => {
            let shown = &targets[..targets.len().min(4)];
            for (t, area) in shown.iter().zip(root.split_evenly((1, shown.len().max(1)))) {
                fit(&t.name, &t.points, &area)?;
            }
            Ok(())
        }
        Figure::Bars(outputs) => {
            let shown = &outputs[..outputs.len().min(4)];
            for (o, area) in shown.iter().zip(root.split_evenly((1, shown.len().max(1)))) {
                bars(o, &area)?;
            }
            Ok(())
        }
        Figure::Heatmap(picture, outputs) => {
            let shown = &outputs[..outputs.len().min(4)];
            let areas = root.split_evenly((1, 1 + shown.len()));
            image_panel(picture, &areas[0])?;
            for (o, area) in shown.iter().zip(&areas[1..]) {
                heatmap(picture.shape, o, area)?;
            }
            Ok(())
        }
    }
}

/// The square cells of a `width` × `height` grid, as large as fit in `area` below a title, and
/// centred: (left, top, cell side) in the area's pixels.
fn grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    width: usize,
    height: usize,
) -> (i32, i32, i32) {
    let (w, h) = area.dim_in_pixel();
    let (top, margin) = (40, 16);
    let side = ((w as i32 - 2 * margin) / width as i32)
        .min((h as i32 - top - margin) / height as i32)
        .max(1);
    let left = (w as i32 - side * width as i32) / 2;
    (left, top, side)
}

/// The image the network read, pixel by pixel.
fn image_panel<DB: DrawingBackend>(
    picture: &Picture<'_>,
    area: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let ImageShape {
        height,
        width,
        channels,
    } = picture.shape;
    area.draw_text(
        &format!("input, {}", picture.shape.describe()),
        &("sans-serif", 18).into_text_style(area),
        (14, 12),
    )
    .map_err(err)?;
    let (left, top, side) = grid(area, width, height);
    let byte = |v: f64| (255.0 * v.clamp(0.0, 1.0)).round() as u8;
    for r in 0..height {
        for c in 0..width {
            let at = (r * width + c) * channels;
            let color = match channels {
                1 => RGBColor(
                    byte(picture.pixels[at]),
                    byte(picture.pixels[at]),
                    byte(picture.pixels[at]),
                ),
                _ => RGBColor(
                    byte(picture.pixels[at]),
                    byte(picture.pixels[at + 1]),
                    byte(picture.pixels[at + 2]),
                ),
            };
            let (x, y) = (left + c as i32 * side, top + r as i32 * side);
            area.draw(&Rectangle::new(
                [(x, y), (x + side, y + side)],
                color.filled(),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

/// The confusion matrix as a grid: rows the true classes, columns the predicted ones, each cell
/// its count, shaded by its share of the row (the diagonal's shade is the class's recall).
fn confusion_panel<DB: DrawingBackend>(
    m: &Confusion<'_>,
    area: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = m.counts.len().max(1) as i32;
    let (w, h) = area.dim_in_pixel();
    let short = |name: &String| name.chars().take(12).collect::<String>();
    let longest = m
        .names
        .iter()
        .map(|s| short(s).chars().count())
        .max()
        .unwrap_or(1);
    let (left, top, bottom, right) = (7 * longest as i32 + 40, 56, 60, 20);
    let side = ((w as i32 - left - right) / n)
        .min((h as i32 - top - bottom) / n)
        .max(1);
    let title = ("sans-serif", 20).into_text_style(area);
    area.draw_text("confusion matrix", &title, (left, 8))
        .map_err(err)?;
    let note = ("sans-serif", 13).into_text_style(area);
    area.draw_text("shade: share of the true class's rows", &note, (left, 32))
        .map_err(err)?;
    let label = ("sans-serif", 13).into_text_style(area);
    let centred = label.pos(Pos::new(HPos::Center, VPos::Center));
    let right_aligned = label.pos(Pos::new(HPos::Right, VPos::Center));
    let cells = (n * side) as u32;
    let count_size = (side as f64 * 0.4).clamp(6.0, 16.0);
    for (t, row) in m.counts.iter().enumerate() {
        let total = row.iter().sum::<f64>();
        let y = top + t as i32 * side;
        let name = m.names.get(t).map_or(t.to_string(), short);
        area.draw_text(&name, &right_aligned, (left - 6, y + side / 2))
            .map_err(err)?;
        for (p, &count) in row.iter().enumerate() {
            let share = if total > 0.0 { count / total } else { 0.0 };
            let x = left + p as i32 * side;
            let shade = diverging(-share);
            area.draw(&Rectangle::new(
                [(x, y), (x + side, y + side)],
                shade.filled(),
            ))
            .map_err(err)?;
            if side >= 14 {
                let ink = if share > 0.5 { WHITE } else { BLACK };
                let style = ("sans-serif", count_size)
                    .into_text_style(area)
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                area.draw_text(&shown_count(count), &style, (x + side / 2, y + side / 2))
                    .map_err(err)?;
            }
        }
    }
    for p in 0..n as usize {
        let name = m.names.get(p).map_or(p.to_string(), short);
        let x = left + p as i32 * side + side / 2;
        let y = top + n * side + 12 + if n > 6 { 14 * (p as i32 % 2) } else { 0 };
        area.draw_text(&name, &centred, (x, y)).map_err(err)?;
    }
    let axis_y = top + n * side + 44;
    area.draw_text("predicted", &centred, (left + (cells / 2) as i32, axis_y))
        .map_err(err)?;
    area.draw_text("true", &right_aligned, (left - 6, top - 10))
        .map_err(err)?;
    area.draw(&Rectangle::new(
        [(left, top), (left + n * side, top + n * side)],
        BLACK.mix(0.5),
    ))
    .map_err(err)?;
    Ok(())
}

/// Each pixel coloured by its attribution (its channels summed), red raising the output and blue
/// lowering it, on a scale symmetric about 0.
fn heatmap<DB: DrawingBackend>(
    shape: ImageShape,
    o: &Attributions,
    area: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let per_pixel: Vec<f64> = o
        .columns
        .chunks(shape.channels)
        .map(|ch| ch.iter().map(|(_, v)| v).sum())
        .collect();
    let top = per_pixel.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let style = ("sans-serif", 18).into_text_style(area);
    area.draw_text(&o.title, &style, (14, 4)).map_err(err)?;
    let scale = format!("red raises it, blue lowers it; darkest ±{top:.3}");
    area.draw_text(&scale, &("sans-serif", 13).into_text_style(area), (14, 24))
        .map_err(err)?;
    let (left, top_px, side) = grid(area, shape.width, shape.height);
    for r in 0..shape.height {
        for c in 0..shape.width {
            let v = per_pixel[r * shape.width + c];
            let color = diverging(if top > 0.0 { v / top } else { 0.0 });
            let (x, y) = (left + c as i32 * side, top_px + r as i32 * side);
            area.draw(&Rectangle::new(
                [(x, y), (x + side, y + side)],
                color.filled(),
            ))
            .map_err(err)?;
        }
    }
    let (x0, y0) = (left, top_px);
    let (x1, y1) = (
        left + side * shape.width as i32,
        top_px + side * shape.height as i32,
    );
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], BLACK.mix(0.5)))
        .map_err(err)?;
    Ok(())
}

/// The largest attributions of one output as horizontal bars, largest on top: red raises the
/// output, blue lowers it.
fn bars<DB: DrawingBackend>(
    o: &Attributions,
    area: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut order: Vec<&(String, f64)> = o.columns.iter().collect();
    order.sort_by(|p, q| q.1.abs().total_cmp(&p.1.abs()));
    order.truncate(BARS);
    let n = order.len() as i32;
    let range = padded(order.iter().map(|c| c.1).chain([0.0]));
    let longest = order.iter().map(|c| c.0.chars().count()).max().unwrap_or(6);
    // Row k from the top is segment n − 1 − k: `(0..n - 1).into_segmented()` has segments 0 to
    // n − 1 (one bar: 0..1, an empty segment above it, as 0..0 has no extent).
    let name = |y: &SegmentValue<i32>| match y {
        SegmentValue::CenterOf(i) if (0..n).contains(i) => order[(n - 1 - i) as usize].0.clone(),
        _ => String::new(),
    };
    let mut c = ChartBuilder::on(area)
        .caption(&o.title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(7 * longest.clamp(6, 30) as u32 + 16)
        .build_cartesian_2d(range, (0..(n - 1).max(1)).into_segmented())
        .map_err(err)?;
    c.configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("attribution: red raises it, blue lowers it")
        .x_label_formatter(&tick)
        .y_labels(n as usize)
        .y_label_formatter(&name)
        .draw()
        .map_err(err)?;
    c.draw_series(order.iter().enumerate().map(|(k, (_, v))| {
        let i = n - 1 - k as i32;
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (*v, SegmentValue::Exact(i + 1)),
            ],
            diverging(v.signum()).filled(),
        );
        bar.set_margin(3, 3, 0, 0);
        bar
    }))
    .map_err(err)?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The heatmap's cells are where `grid` puts them, coloured by their attribution on the
    /// symmetric scale: the largest positive full red, the largest negative (here as large) full
    /// blue, zero white; the input panel shows the pixels. Read back from the PNG drawn.
    #[test]
    fn heatmap_colours_each_pixel_by_its_attribution() {
        let shape = ImageShape {
            height: 2,
            width: 3,
            channels: 1,
        };
        let pixels = [0.0, 1.0, 0.0, 0.5, 0.0, 1.0];
        let at = [0.0, 2.0, 0.0, -2.0, 1.0, 0.0];
        let columns = shape
            .feature_names()
            .into_iter()
            .zip(at)
            .collect::<Vec<_>>();
        let explained = [Attributions {
            title: "p(x) = 0.9".into(),
            columns,
        }];
        let file = std::env::temp_dir().join(format!("mlp-heatmap-{}.png", std::process::id()));
        let picture = Picture {
            shape,
            pixels: &pixels,
        };
        draw(Figure::Heatmap(picture, &explained), &file).unwrap();
        let png = image::open(&file).unwrap().to_rgb8();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(png.dimensions(), (640, 360));
        // Each panel is 320 pixels wide; the same grid in both.
        let (w, h) = (320u32, 360u32);
        let side = ((w as i32 - 32) / 3).min((h as i32 - 56) / 2);
        let left = (w as i32 - side * 3) / 2;
        let centre = |panel: u32, r: i32, c: i32| {
            let x = panel * w + (left + c * side + side / 2) as u32;
            let y = (40 + r * side + side / 2) as u32;
            png.get_pixel(x, y).0
        };
        assert_eq!(centre(0, 0, 1), [255, 255, 255], "a pixel of 1 is white");
        assert_eq!(centre(0, 0, 0), [0, 0, 0]);
        assert_eq!(centre(0, 1, 0), [128, 128, 128]);
        let (r, g, b) = TAB10[3];
        assert_eq!(centre(1, 0, 1), [r, g, b], "the largest positive: full red");
        let (r, g, b) = TAB10[0];
        assert_eq!(centre(1, 1, 0), [r, g, b], "as large, negative: full blue");
        let half = diverging(0.5);
        assert_eq!(centre(1, 1, 1), [half.0, half.1, half.2]);
        assert_eq!(centre(1, 0, 0), [255, 255, 255], "no attribution: white");
    }
}
