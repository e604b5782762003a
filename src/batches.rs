//! Seeded, shuffled mini-batches: a new permutation every epoch, the last partial batch kept.
//!
//! Batch size 1 is the seed's online update; a batch of the whole set is full-batch gradient descent.

use serde::{Deserialize, Serialize};

use crate::data::images::ImageShape;
use crate::data::Targets;
use crate::dropout::Draw;
use crate::init::Rng;
use crate::loss::TargetsRef;
use crate::tensor::{Float, Matrix, View};

/// Random changes to each training image as its batch is gathered — data augmentation, as
/// torchvision's `RandomAffine(degrees, translate, scale)` and `RandomHorizontalFlip` or Keras'
/// random translation, rotation, zoom and flip layers: every epoch shows the network a new
/// variant of each image, so it cannot learn the pixels by heart. Validation, test and prediction
/// see the images as they are.
///
/// The draws follow from the seed, the epoch, the batch and the row in it (as dropout's masks
/// do), so a resumed run and any thread count give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    /// The images' shape (row by row, channels last).
    pub shape: ImageShape,
    /// Shift each image by up to this many pixels across and down, each way; the pixels shifted
    /// in are 0.
    pub shift: usize,
    /// Rotate each image about its centre by an angle drawn uniformly within ± this many
    /// degrees (counter-clockwise positive, as torchvision's); 0: none.
    #[serde(default)]
    pub rotate: usize,
    /// Scale each image about its centre by a factor drawn uniformly from
    /// [1 − zoom/100, 1 + zoom/100] (above 1: larger); 0: none.
    #[serde(default)]
    pub zoom: usize,
    /// Mirror each image left to right with probability 1/2.
    pub flip: bool,
}

/// One image's draw: the pixel at (r, c) goes to (r + dy, c + dx), after the image is rotated
/// by `degrees` and scaled by `scale` about its centre; then the image is mirrored if `flip`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    pub dx: i64,
    pub dy: i64,
    pub degrees: f64,
    pub scale: f64,
    pub flip: bool,
}

impl Augment {
    /// Parses a list of `shift:N` (pixels), `rotate:DEGREES`, `zoom:PERCENT` and `flip`:
    /// `shift:2,rotate:10,zoom:10`.
    pub fn parse(text: &str, shape: ImageShape) -> Result<Self, String> {
        let mut a = Augment {
            shape,
            shift: 0,
            rotate: 0,
            zoom: 0,
            flip: false,
        };
        let side = shape.width.max(shape.height);
        let whole = |part: &str, n: &str, (lo, hi): (usize, usize), unit: &str| {
            n.trim()
                .parse()
                .ok()
                .filter(|n: &usize| (lo..=hi).contains(n))
                .ok_or_else(|| {
                    format!("{part}: expected a whole number of {unit} from {lo} to {hi}")
                })
        };
        let mut seen: Vec<&str> = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (name, value) = part
                .split_once(':')
                .map_or((part, None), |(n, v)| (n, Some(v)));
            if seen.contains(&name) {
                return Err(format!(
                    "{text}: '{name}' is given twice; give each change once"
                ));
            }
            seen.push(name);
            match (name, value) {
                ("flip", None) => a.flip = true,
                ("shift", Some(n)) => a.shift = whole(part, n, (1, side - 1), "pixels")?,
                ("rotate", Some(n)) => a.rotate = whole(part, n, (1, 180), "degrees")?,
                ("zoom", Some(n)) => a.zoom = whole(part, n, (1, 50), "percent")?,
                _ => {
                    return Err(format!(
                    "'{part}': expected shift:N (pixels), rotate:DEGREES, zoom:PERCENT or flip, \
                         or several: shift:2,rotate:10"
                ))
                }
            }
        }
        Ok(a)
    }

    /// `shift:2,rotate:10,zoom:10,flip`, as parsed.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (name, n) in [
            ("shift", self.shift),
            ("rotate", self.rotate),
            ("zoom", self.zoom),
        ] {
            if n > 0 {
                parts.push(format!("{name}:{n}"));
            }
        }
        if self.flip {
            parts.push("flip".to_string());
        }
        parts.join(",")
    }

    /// The change drawn for row `row` of batch `draw`.
    pub fn variant(&self, draw: Draw, row: usize) -> Variant {
        // A stream apart from dropout's: the seed salted, the row as the layer.
        let salted = Draw {
            seed: draw.seed ^ 0xA06E_4E7A_7E00_0000,
            ..draw
        };
        let mut rng = Rng::new(salted.key(row));
        let reach = self.shift as i64;
        let mut offset = || match reach {
            0 => 0,
            _ => rng.below(2 * self.shift + 1) as i64 - reach,
        };
        let (dx, dy) = (offset(), offset());
        let flip = self.flip && rng.below(2) == 1;
        // Drawn after the shift and the flip, so `shift:N,flip` draws what it drew before
        // rotations and zooms existed.
        let (r, z) = (self.rotate as f64, self.zoom as f64 / 100.0);
        let degrees = if r > 0.0 { rng.uniform_in(-r, r) } else { 0.0 };
        let scale = if z > 0.0 {
            rng.uniform_in(1.0 - z, 1.0 + z)
        } else {
            1.0
        };
        Variant {
            dx,
            dy,
            degrees,
            scale,
            flip,
        }
    }

    /// Writes to `out` the image `image` (one row of the data) changed as drawn for row `row` of
    /// batch `draw`.
    pub fn apply<T: Float>(&self, image: &[T], out: &mut [T], draw: Draw, row: usize) {
        self.transform(image, out, self.variant(draw, row));
    }

    /// Writes to `out` the image `image` changed by `v`. A shift alone moves whole pixels (exact);
    /// a rotation or zoom samples the image between its pixels (bilinear, 0 outside it).
    pub fn transform<T: Float>(&self, image: &[T], out: &mut [T], v: Variant) {
        let ImageShape {
            width, channels, ..
        } = self.shape;
        let line = width * channels;
        if v.degrees == 0.0 && v.scale == 1.0 {
            shift(image, out, self.shape, v.dx, v.dy);
        } else {
            affine(image, out, self.shape, v);
        }
        if v.flip {
            for dst in out.chunks_exact_mut(line) {
                for c in 0..width / 2 {
                    let (a, b) = (c * channels, (width - 1 - c) * channels);
                    for k in 0..channels {
                        dst.swap(a + k, b + k);
                    }
                }
            }
        }
    }
}

/// `out` = `image` with the pixel at (r, c) moved to (r + dy, c + dx); 0 where nothing lands.
fn shift<T: Float>(image: &[T], out: &mut [T], shape: ImageShape, dx: i64, dy: i64) {
    let (w, line) = (shape.width as i64, shape.width * shape.channels);
    let channels = shape.channels;
    // Output columns [lo, hi) come from input columns [lo − dx, hi − dx); the rest are 0.
    let (lo, hi) = (dx.clamp(0, w) as usize, (w + dx).clamp(0, w) as usize);
    for (r, dst) in out.chunks_exact_mut(line).enumerate() {
        let from_r = r as i64 - dy;
        dst.fill(T::ZERO);
        if !(0..shape.height as i64).contains(&from_r) || lo >= hi {
            continue;
        }
        let src = &image[from_r as usize * line..][..line];
        let from = (lo as i64 - dx) as usize;
        dst[lo * channels..hi * channels]
            .copy_from_slice(&src[from * channels..(from + hi - lo) * channels]);
    }
}

/// `out` = `image` rotated by `v.degrees` and scaled by `v.scale` about its centre, then shifted
/// by (`v.dx`, `v.dy`): each output pixel p takes the input at c + R(−θ)·(p − c − t)/s, with
/// c the centre ((w − 1)/2, (h − 1)/2), interpolated between the four pixels around it
/// (bilinear; those outside the image count as 0, Keras' `fill_mode="constant"`).
///
/// Written here rather than taken from the `image` crate: its transforms work on whole
/// `u8` pictures, and these are rows of f32/f64 features drawn anew per row.
fn affine<T: Float>(image: &[T], out: &mut [T], shape: ImageShape, v: Variant) {
    let ImageShape {
        height,
        width,
        channels,
    } = shape;
    let (sin, cos) = v.degrees.to_radians().sin_cos();
    let (cx, cy) = ((width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0);
    // Columns go right and rows down, so a counter-clockwise turn on screen is clockwise in (c, r).
    let (a, b) = (cos / v.scale, sin / v.scale);
    // Where pixel (r, c) starts in `image`, if it is inside.
    let start = |r: i64, c: i64| {
        ((0..height as i64).contains(&r) && (0..width as i64).contains(&c))
            .then(|| (r as usize * width + c as usize) * channels)
    };
    for r in 0..height {
        let vr = r as f64 - cy - v.dy as f64;
        for c in 0..width {
            let u = c as f64 - cx - v.dx as f64;
            let (sx, sy) = (cx + a * u - b * vr, cy + b * u + a * vr);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            // The four pixels around the source point and their weights, found once for every
            // channel.
            let taps = [
                (start(y0, x0), (1.0 - fx) * (1.0 - fy)),
                (start(y0, x0 + 1), fx * (1.0 - fy)),
                (start(y0 + 1, x0), (1.0 - fx) * fy),
                (start(y0 + 1, x0 + 1), fx * fy),
            ];
            for k in 0..channels {
                let sum: f64 = taps
                    .iter()
                    .filter_map(|&(at, w)| Some(image[at? + k].f64() * w))
                    .sum();
                out[(r * width + c) * channels + k] = T::of(sum);
            }
        }
    }
}

/// The epoch's order of rows and the buffers one batch is gathered into, planned once.
#[derive(Clone, Debug)]
pub struct Batches<T> {
    pub batch_size: usize,
    /// This epoch's permutation of the training rows.
    pub order: Vec<usize>,
    x: Vec<T>,
    classes: Vec<usize>,
    values: Vec<T>,
}

impl<T: Float> Batches<T> {
    /// Buffers for `rows` training rows of `features` columns and `outputs` target columns.
    pub fn new(rows: usize, features: usize, outputs: usize, batch_size: usize) -> Self {
        let b = batch_size.min(rows).max(1);
        Batches {
            batch_size: b,
            order: (0..rows).collect(),
            x: vec![T::ZERO; b * features],
            classes: vec![0; b],
            values: vec![T::ZERO; b * outputs],
        }
    }

    /// Number of batches in an epoch: ⌈rows / batch_size⌉.
    pub fn count(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// The rows of batch `k`, in the current order.
    pub fn indices(&self, k: usize) -> &[usize] {
        let (start, n) = (k * self.batch_size, self.order.len());
        &self.order[start..(start + self.batch_size).min(n)]
    }

    /// Draws this epoch's order: the identity permutation shuffled by `rng`, so the order depends
    /// only on the generator's state (a resumed run draws the same one).
    pub fn shuffle(&mut self, rng: &mut Rng) {
        for (i, o) in self.order.iter_mut().enumerate() {
            *o = i;
        }
        rng.shuffle(&mut self.order);
    }

    /// Copies batch `k`'s rows of `x` and `y` into the buffers and returns views of them; a batch
    /// of one row (the seed's online rule, or a last batch of one) is viewed where it lies.
    pub fn gather<'a>(
        &'a mut self,
        k: usize,
        x: &'a Matrix<T>,
        y: &'a Targets<T>,
    ) -> (View<'a, T>, TargetsRef<'a, T>) {
        let (start, n) = (k * self.batch_size, self.order.len());
        let idx = &self.order[start..(start + self.batch_size).min(n)];
        // The rows of a shuffled epoch come from anywhere in the data: ask for the next batch's
        // once this one is in hand, so the fetch overlaps this batch's forward and backward pass
        // instead of stalling the next gather (measured: a quarter of a batch-1 step was spent
        // waiting here).
        let next =
            &self.order[(start + self.batch_size).min(n)..(start + 2 * self.batch_size).min(n)];
        let prefetch_next = || next.iter().for_each(|&i| prefetch(x.row(i).as_ptr()));
        if let &[i] = idx {
            prefetch_next();
            let t = match y {
                Targets::Classes(c) => TargetsRef::Classes(&c[i..i + 1]),
                Targets::Values(v) => TargetsRef::Values(v.row(i)),
                Targets::Labels(v) => TargetsRef::Labels(v.row(i)),
            };
            return (View::new(x.row(i), 1, x.cols), t);
        }
        let f = x.cols;
        copy_rows(&mut self.x[..idx.len() * f], idx, x);
        prefetch_next();
        let t = copy_targets(idx, y, &mut self.classes, &mut self.values);
        (View::new(&self.x, idx.len(), f), t)
    }
}

/// Copies the targets of rows `idx` of `y` into `classes` or `values`, and views them.
fn copy_targets<'a, T: Float>(
    idx: &[usize],
    y: &'a Targets<T>,
    classes: &'a mut [usize],
    values: &'a mut [T],
) -> TargetsRef<'a, T> {
    match y {
        Targets::Classes(c) => {
            for (r, &i) in idx.iter().enumerate() {
                classes[r] = c[i];
            }
            TargetsRef::Classes(&classes[..idx.len()])
        }
        Targets::Values(v) | Targets::Labels(v) => {
            let m = v.cols;
            for (r, &i) in idx.iter().enumerate() {
                values[r * m..(r + 1) * m].copy_from_slice(v.row(i));
            }
            let values = &values[..idx.len() * m];
            match y {
                Targets::Labels(_) => TargetsRef::Labels(values),
                _ => TargetsRef::Values(values),
            }
        }
    }
}

impl<T: Float> Batches<T> {
    /// [`gather`](Batches::gather), each row changed on its way as `augment` draws it for batch
    /// `draw` (a batch of one row is copied too: the data stay as they are).
    pub fn gather_augmented<'a>(
        &'a mut self,
        k: usize,
        (x, y): (&'a Matrix<T>, &'a Targets<T>),
        augment: &Augment,
        draw: Draw,
    ) -> (View<'a, T>, TargetsRef<'a, T>) {
        let (start, n) = (k * self.batch_size, self.order.len());
        let idx = &self.order[start..(start + self.batch_size).min(n)];
        let f = x.cols;
        for (r, (out, &i)) in self.x.chunks_exact_mut(f).zip(idx).enumerate() {
            augment.apply(x.row(i), out, draw, r);
        }
        let t = copy_targets(idx, y, &mut self.classes, &mut self.values);
        (View::new(&self.x, idx.len(), f), t)
    }
}

/// Below this many values a batch is copied on one thread.
const PARALLEL_COPY_MIN: usize = 1 << 15;

/// Copies rows `idx` of `x` into `dst`, one after another. The rows of a shuffled batch come from
/// anywhere in the data, so the copy waits on memory: a large batch (MNIST's 64 × 784 values) is
/// copied in two halves side by side on the current rayon pool, each thread waiting on its own rows.
fn copy_rows<T: Float>(dst: &mut [T], idx: &[usize], x: &Matrix<T>) {
    let f = x.cols;
    if dst.len() < PARALLEL_COPY_MIN || idx.len() < 2 {
        for (d, &i) in dst.chunks_exact_mut(f).zip(idx) {
            d.copy_from_slice(x.row(i));
        }
        return;
    }
    let half = idx.len() / 2;
    let (d0, d1) = dst.split_at_mut(half * f);
    let (i0, i1) = idx.split_at(half);
    rayon::join(|| copy_rows(d0, i0, x), || copy_rows(d1, i1, x));
}

/// A hint to bring the cache line at `p` closer; no effect on results.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program's state.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive reference: image (height × width × channels) shifted by (dx, dy) — the pixel at
    /// (r, c) moves to (r + dy, c + dx) — then mirrored if `flip`; 0 where nothing lands.
    fn shifted(img: &[f64], s: ImageShape, dx: i64, dy: i64, flip: bool) -> Vec<f64> {
        let mut moved = vec![0.0; img.len()];
        for r in 0..s.height as i64 {
            for c in 0..s.width as i64 {
                let (tr, tc) = (r + dy, c + dx);
                if (0..s.height as i64).contains(&tr) && (0..s.width as i64).contains(&tc) {
                    for k in 0..s.channels {
                        let to = (tr as usize * s.width + tc as usize) * s.channels + k;
                        moved[to] = img[(r as usize * s.width + c as usize) * s.channels + k];
                    }
                }
            }
        }
        if !flip {
            return moved;
        }
        let mut out = vec![0.0; img.len()];
        for r in 0..s.height {
            for c in 0..s.width {
                for k in 0..s.channels {
                    let from = (r * s.width + (s.width - 1 - c)) * s.channels + k;
                    out[(r * s.width + c) * s.channels + k] = moved[from];
                }
            }
        }
        out
    }

    /// Every augmented image is the original shifted by some (dx, dy) within reach and mirrored
    /// or not, per the naive reference; over many draws each of the (2·2 + 1)² × 2 variants
    /// occurs; the same draw gives the same image.
    #[test]
    fn augmentation_shifts_and_mirrors_as_the_naive_reference() {
        let shape = ImageShape {
            height: 4,
            width: 5,
            channels: 3,
        };
        let a = Augment::parse("shift:2,flip", shape).unwrap();
        // Distinct values, none 0, so that every variant differs from every other.
        let img: Vec<f64> = (0..shape.features()).map(|i| 1.0 + i as f64).collect();
        let mut seen = std::collections::HashSet::new();
        let mut out = vec![0.0; img.len()];
        for batch in 0..40 {
            for row in 0..10 {
                let draw = Draw {
                    seed: 3,
                    epoch: 1,
                    batch,
                };
                a.apply(&img, &mut out, draw, row);
                let found = (-2..=2)
                    .flat_map(|dx| (-2..=2).flat_map(move |dy| [(dx, dy, false), (dx, dy, true)]))
                    .find(|&(dx, dy, f)| shifted(&img, shape, dx, dy, f) == out);
                let variant = found.expect("a shift within reach, mirrored or not");
                seen.insert(variant);
                let mut again = vec![-1.0; img.len()];
                a.apply(&img, &mut again, draw, row);
                assert_eq!(again, out, "the same draw, the same image");
            }
        }
        assert_eq!(seen.len(), 50, "every variant drawn in 400 images");

        // Shift only: never mirrored; flip only: never shifted.
        for (spec, can_shift, can_flip) in [("shift:1", true, false), ("flip", false, true)] {
            let a = Augment::parse(spec, shape).unwrap();
            for row in 0..50 {
                let draw = Draw {
                    seed: 0,
                    epoch: 2,
                    batch: 0,
                };
                a.apply(&img, &mut out, draw, row);
                let ok = (-1..=1)
                    .flat_map(|dx| (-1..=1).map(move |dy| (dx, dy)))
                    .any(|(dx, dy)| {
                        [false, true].into_iter().any(|f| {
                            (can_shift || (dx, dy) == (0, 0))
                                && (can_flip || !f)
                                && shifted(&img, shape, dx, dy, f) == out
                        })
                    });
                assert!(ok, "{spec}, row {row}");
            }
        }
        for bad in ["shift:0", "shift:5", "shift:x", "rotate", ""] {
            assert!(Augment::parse(bad, shape).is_err(), "{bad}");
        }
        for twice in ["flip,flip", "shift:2,flip,shift:3"] {
            let e = Augment::parse(twice, shape).unwrap_err();
            assert!(e.contains("is given twice"), "{twice}: {e}");
        }
        assert_eq!(
            Augment::parse("flip, shift:3", shape).unwrap().describe(),
            "shift:3,flip"
        );
    }

    fn at(img: &[f64], s: ImageShape, r: usize, c: usize, k: usize) -> f64 {
        img[(r * s.width + c) * s.channels + k]
    }

    fn turned(degrees: f64, scale: f64, dx: i64, dy: i64) -> Variant {
        Variant {
            dx,
            dy,
            degrees,
            scale,
            flip: false,
        }
    }

    /// Quarter and half turns land on whole pixels: they are numpy's `rot90` (counter-clockwise
    /// for +90°, clockwise for −90°) and the image upside down and mirrored, to rounding; then a
    /// shift moves the turned image as the naive reference does.
    #[test]
    fn quarter_turns_are_numpys_rot90() {
        for n in [4, 5] {
            let s = ImageShape {
                height: n,
                width: n,
                channels: 2,
            };
            let a = Augment::parse("rotate:180", s).unwrap();
            let img: Vec<f64> = (0..s.features()).map(|i| 1.0 + i as f64).collect();
            let mut out = vec![0.0; img.len()];
            // Where output pixel (i, j) of an n × n image comes from.
            type From = fn(usize, usize, usize) -> (usize, usize);
            let cases: [(f64, From); 3] = [
                (90.0, |n, i, j| (j, n - 1 - i)),
                (-90.0, |n, i, j| (n - 1 - j, i)),
                (180.0, |n, i, j| (n - 1 - i, n - 1 - j)),
            ];
            for (degrees, from) in cases {
                a.transform(&img, &mut out, turned(degrees, 1.0, 0, 0));
                for (i, j, k) in
                    (0..n).flat_map(|i| (0..n).flat_map(move |j| [(i, j, 0), (i, j, 1)]))
                {
                    let (r, c) = from(n, i, j);
                    let want = at(&img, s, r, c, k);
                    assert!(
                        (at(&out, s, i, j, k) - want).abs() < 1e-9,
                        "{degrees}° n {n}"
                    );
                }
                let turned_only = out.clone();
                a.transform(&img, &mut out, turned(degrees, 1.0, 1, -2));
                let want = shifted(&turned_only, s, 1, -2, false);
                assert!(out.iter().zip(&want).all(|(o, w)| (o - w).abs() < 1e-9));
            }
        }
    }

    /// Bilinear interpolation reproduces a linear ramp exactly, so a turned and scaled ramp has,
    /// wherever its source point lies inside the image, the ramp's value at that point — found
    /// here with complex numbers in (x right, y up): the point z of the output came from
    /// z·e^(−iθ)/s. Outside the image the values fade to 0. A zoom by 2 doubles the distances from
    /// the centre of pixels exactly.
    #[test]
    fn turns_and_zooms_interpolate_a_ramp_exactly() {
        let s = ImageShape {
            height: 7,
            width: 9,
            channels: 1,
        };
        let ramp = |r: f64, c: f64| 2.0 * r - 3.0 * c + 40.0;
        let img: Vec<f64> = (0..63)
            .map(|i| ramp((i / 9) as f64, (i % 9) as f64))
            .collect();
        let a = Augment::parse("rotate:30,zoom:50", s).unwrap();
        let mut out = vec![0.0; img.len()];
        let (cx, cy) = (4.0, 3.0);
        let mut inside = 0;
        for (degrees, scale, dx, dy) in [(17.0, 1.0, 0, 0), (-25.0, 1.3, 1, 2), (8.0, 0.7, -1, 0)] {
            a.transform(&img, &mut out, turned(degrees, scale, dx, dy));
            let theta: f64 = f64::to_radians(degrees);
            for r in 0..7 {
                for c in 0..9 {
                    // z = (x, y) relative to the centre and the shift; multiply by e^(−iθ)/s.
                    let (x, y) = (c as f64 - cx - dx as f64, cy - (r as f64 - dy as f64));
                    let (cos, sin) = (theta.cos() / scale, -theta.sin() / scale);
                    let (sx, sy) = (x * cos - y * sin, x * sin + y * cos);
                    let (col, row) = (cx + sx, cy - sy);
                    let got = out[r * 9 + c];
                    if (0.0..=6.0).contains(&row) && (0.0..=8.0).contains(&col) {
                        inside += 1;
                        assert!(
                            (got - ramp(row, col)).abs() < 1e-9,
                            "{degrees}° ×{scale} at ({r}, {c}): {got} vs {}",
                            ramp(row, col)
                        );
                    } else if !(-1.0..=7.0).contains(&row) || !(-1.0..=9.0).contains(&col) {
                        assert_eq!(got, 0.0);
                    }
                }
            }
        }
        assert!(inside > 100, "{inside} pixels checked inside");

        // Zoom by 2 (and by ½) about the centre of an odd image maps pixels onto pixels.
        let s = ImageShape {
            height: 7,
            width: 7,
            channels: 1,
        };
        let img: Vec<f64> = (0..49).map(|i| 1.0 + i as f64).collect();
        let a = Augment::parse("zoom:50", s).unwrap();
        let mut big = vec![0.0; 49];
        let mut small = vec![0.0; 49];
        a.transform(&img, &mut big, turned(0.0, 2.0, 0, 0));
        a.transform(&img, &mut small, turned(0.0, 0.5, 0, 0));
        for (r, c) in (2..5).flat_map(|r| (2..5).map(move |c| (r, c))) {
            let (r2, c2) = (3 + 2 * (r as i64 - 3), 3 + 2 * (c as i64 - 3));
            let (r2, c2) = (r2 as usize, c2 as usize);
            assert_eq!(big[r2 * 7 + c2], img[r * 7 + c], "×2: ({r}, {c})");
            assert_eq!(small[r * 7 + c], img[r2 * 7 + c2], "×½: ({r}, {c})");
        }
    }

    /// Angles and scales are drawn uniformly within their ranges (both ends reached closely);
    /// adding them leaves the shifts and flips of `shift:2,flip` as they were drawn before.
    #[test]
    fn turns_and_zooms_are_drawn_within_their_ranges() {
        let s = ImageShape {
            height: 8,
            width: 8,
            channels: 1,
        };
        let plain = Augment::parse("shift:2,flip", s).unwrap();
        let more = Augment::parse("flip,zoom:10,shift:2,rotate:15", s).unwrap();
        assert_eq!(more.describe(), "shift:2,rotate:15,zoom:10,flip");
        let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
        for row in 0..2000 {
            let draw = Draw {
                seed: 5,
                epoch: 3,
                batch: row / 100,
            };
            let (p, m) = (plain.variant(draw, row), more.variant(draw, row));
            assert_eq!((p.dx, p.dy, p.flip), (m.dx, m.dy, m.flip));
            assert_eq!((p.degrees, p.scale), (0.0, 1.0));
            assert!(m.degrees.abs() <= 15.0 && (0.9..=1.1).contains(&m.scale));
            lo = (lo.0.min(m.degrees), lo.1.min(m.scale));
            hi = (hi.0.max(m.degrees), hi.1.max(m.scale));
        }
        assert!(lo.0 < -14.5 && hi.0 > 14.5, "{lo:?} {hi:?}");
        assert!(lo.1 < 0.91 && hi.1 > 1.09, "{lo:?} {hi:?}");
        for bad in ["rotate:0", "rotate:181", "zoom:51", "zoom:0.1", "turn:5"] {
            assert!(Augment::parse(bad, s).is_err(), "{bad}");
        }
    }

    /// Batches of one row are the rows themselves, in the epoch's order, with their targets: every
    /// batch at batch size 1, and the last of 5 rows in batches of 2.
    #[test]
    fn a_batch_of_one_is_its_row() {
        let x = Matrix::from_vec(5, 2, (0..10).map(|v| v as f64).collect());
        let y = Targets::Values(Matrix::from_vec(5, 1, vec![0.5, 1.5, 2.5, 3.5, 4.5]));
        for batch in [1, 2] {
            let mut b = Batches::new(5, 2, 1, batch);
            b.shuffle(&mut Rng::new(1));
            for k in 0..b.count() {
                let idx = b.order[k * batch..((k + 1) * batch).min(5)].to_vec();
                let (got, t) = b.gather(k, &x, &y);
                assert_eq!(
                    got.data[..2 * idx.len()],
                    x.gather_rows(&idx).data[..],
                    "batch {k}"
                );
                let want: Vec<f64> = idx.iter().map(|&i| i as f64 + 0.5).collect();
                assert!(matches!(t, TargetsRef::Values(v) if v == want), "batch {k}");
                if idx.len() == 1 {
                    assert!(
                        std::ptr::eq(got.data.as_ptr(), x.row(idx[0]).as_ptr()),
                        "copied"
                    );
                }
            }
        }
    }

    /// A batch large enough to be copied in parallel holds the shuffled rows in order, with their
    /// labels: the oracle is `Matrix::gather_rows` on the same indices.
    #[test]
    fn a_large_batch_is_gathered_in_order() {
        let (rows, features, batch) = (300, 200, 250);
        let x = Matrix::from_vec(
            rows,
            features,
            (0..rows * features).map(|v| v as f32).collect(),
        );
        let y = Targets::Classes((0..rows).map(|r| r % 7).collect());
        let mut b = Batches::new(rows, features, 1, batch);
        b.shuffle(&mut Rng::new(3));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for k in 0..b.count() {
            let idx = b.order[k * batch..((k + 1) * batch).min(rows)].to_vec();
            let want = x.gather_rows(&idx);
            let (got, t) = pool.install(|| b.gather(k, &x, &y));
            assert_eq!(got.data[..want.data.len()], want.data[..], "batch {k}");
            let labels: Vec<usize> = idx.iter().map(|r| r % 7).collect();
            assert!(matches!(t, TargetsRef::Classes(c) if c == &labels[..]));
        }
    }
}
