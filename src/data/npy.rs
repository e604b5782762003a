//! NPY: numpy's array files, read with the `npyz` crate. A 2-D array of features (rows × columns,
//! C or Fortran order, any integer or float type), with the targets either in a second array
//! (1-D, or rows × outputs; class labels may be text, numpy's `<Un` or `|Sn`) or in one column of
//! the features array; or an array of images, 3-D (rows × height × width) or 4-D (… × channels),
//! with their labels in a second array. An NPZ archive (`np.savez`) holds such arrays by name.

use std::path::{Path, PathBuf};

use npyz::{NpyFile, Order, TypeChar};

use super::images::ImageShape;
use super::{classes_from_numbers, classes_from_text, infer_task, Dataset, Missing, Targets, Task};
use crate::error::{Error, Result};
use crate::tensor::{Float, Matrix};

/// An array read from an NPY file, as f64, row-major, with its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
    /// numpy's type string of the values as stored: `<f4`, `|u1`, …
    pub dtype: String,
}

/// What an NPY file holds: numbers (any integer, float or bool type, as f64), or text (numpy's
/// `<Un` and `|Sn`: what `np.save` writes for an array of `str` or `bytes`), both row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum Contents {
    Numbers(Array),
    Text {
        shape: Vec<usize>,
        values: Vec<String>,
    },
}

/// Reads an NPY file of numbers or text.
pub fn read_contents(path: &Path) -> Result<Contents> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy(&bytes, path)
}

/// An NPZ archive (`np.savez`, `np.savez_compressed`; keras.datasets' `mnist.npz`): a zip file of
/// NPY files, each an array named by its file name less `.npy`, read one at a time on demand.
pub struct Npz {
    path: PathBuf,
    archive: zip::ZipArchive<std::io::BufReader<std::fs::File>>,
    /// The arrays' names, with each one's index in the archive, in the archive's order.
    arrays: Vec<(String, usize)>,
}

impl Npz {
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let archive = zip::ZipArchive::new(std::io::BufReader::new(file))
            .map_err(|e| Error::data(path, format!("not an NPZ archive (a zip file): {e}")))?;
        let mut arrays = Vec::new();
        for (i, name) in archive.file_names().enumerate() {
            let name = name.map_err(|e| Error::data(path, format!("entry {i}: {e}")))?;
            if let Some(array) = npyz::npz::array_name_from_file_name(&name) {
                arrays.push((array.to_string(), i));
            }
        }
        Ok(Npz {
            path: path.to_path_buf(),
            archive,
            arrays,
        })
    }

    /// The arrays' names, in the archive's order.
    pub fn names(&self) -> Vec<&str> {
        self.arrays.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// How messages name array `name`: `file.npz:name`.
    pub fn shown(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{}:{name}", self.path.display()))
    }

    /// Array `name`, one of [`Npz::names`].
    pub fn array(&mut self, name: &str) -> Result<Contents> {
        use std::io::Read;
        let shown = self.shown(name);
        let Some(&(_, i)) = self.arrays.iter().find(|(n, _)| n == name) else {
            return Err(Error::data(&self.path, format!("no array named {name}")));
        };
        let bad = |e: &dyn std::fmt::Display| Error::data(&shown, format!("cannot read it: {e}"));
        let mut entry = self.archive.by_index(i).map_err(|e| bad(&e))?;
        // The size the archive claims is reserved up front, or refused where memory cannot hold
        // it; the reader stops there and checks the CRC.
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(usize::try_from(entry.size()).unwrap_or(usize::MAX))
            .map_err(|_| {
                Error::data(
                    &shown,
                    format!("{} bytes unpacked, more than memory holds", entry.size()),
                )
            })?;
        entry.read_to_end(&mut bytes).map_err(|e| bad(&e))?;
        parse_npy(&bytes, &shown)
    }
}

/// Reads an NPY file of numbers into a row-major f64 array.
pub fn read_npy(path: &Path) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    npy_from_bytes(&bytes, path)
}

/// Parses an NPY file of numbers; `path` names it in messages. Text is refused: only class labels
/// may be text (see [`parse_npy`]).
pub fn npy_from_bytes(bytes: &[u8], path: &Path) -> Result<Array> {
    parse_npy(bytes, path)?.numbers(path)
}

impl Contents {
    /// The numbers, or an error naming `path` where they are text: only class labels may be text.
    pub fn numbers(self, path: &Path) -> Result<Array> {
        match self {
            Contents::Numbers(a) => Ok(a),
            Contents::Text { shape, values } => Err(Error::data(
                path,
                format!(
                    "shape {shape:?} of text (the first: '{}'); expected numbers (only class labels may be text)",
                    values.first().map_or("", String::as_str)
                ),
            )),
        }
    }
}

/// Parses an NPY file's bytes, numbers or text; `path` names it in messages.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<Contents> {
    // The header's own length is checked against the file before the parser sees it: `npyz`
    // allocates whatever the header claims (fuzzing found an 81-byte file claiming 3.6 GB).
    if bytes.len() < 10 || !bytes.starts_with(b"\x93NUMPY") {
        return Err(Error::data(
            path,
            "not an NPY file (no \\x93NUMPY magic at the start)",
        ));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(Error::data(
                path,
                format!("NPY format version {v} is not one mlp reads (1, 2 or 3)"),
            ))
        }
    };
    if header_start + header_len > bytes.len() {
        return Err(Error::data(
            path,
            format!("the header claims {header_len} bytes but the file holds {}; it is truncated or corrupt", bytes.len()),
        ));
    }
    // The header of a plain array is a flat dict, {'descr': '<f4', 'fortran_order': False,
    // 'shape': (3, 2), }. npyz's parser backtracks exponentially on nested brackets (fuzzing found
    // a 118-byte header that took 50 s), so anything else is refused before it is parsed:
    // brackets only occur in structured dtypes, which mlp does not read anyway.
    let header = &bytes[header_start..header_start + header_len];
    let (mut depth, mut braces) = (0i32, 0);
    for &b in header {
        match b {
            b'[' | b']' => {
                return Err(Error::data(
                    path,
                    "a structured array (its header has brackets); expected a plain numeric array",
                ))
            }
            b'{' => braces += 1,
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        if !(0..=1).contains(&depth) || braces > 1 {
            return Err(Error::data(
                path,
                "the header is not a flat dict of descr, fortran_order and shape",
            ));
        }
    }
    // npyz multiplies the sides of the shape unchecked as it parses the header: sides whose
    // product overflows (possible when another side is 0, so the file-size check below passes)
    // are refused first.
    let text = String::from_utf8_lossy(header);
    let sides = text
        .split_once("'shape'")
        .and_then(|(_, rest)| rest.split_once('(')?.1.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split(',')
                .filter_map(|d| d.trim().parse::<u64>().ok())
        });
    if let Some(sides) = sides {
        if sides
            .filter(|&d| d > 0)
            .try_fold(1u64, u64::checked_mul)
            .is_none()
        {
            return Err(Error::data(
                path,
                "the shape claims more values than memory holds; it is corrupt",
            ));
        }
    }
    let npy =
        NpyFile::new(bytes).map_err(|e| Error::data(path, format!("not a valid NPY file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(Error::data(
            path,
            "a structured array; expected a plain numeric array",
        ));
    };
    let Some(width) = ts.num_bytes().filter(|_| !ts.uses_pickled_array()) else {
        return Err(Error::data(
            path,
            format!("dtype {ts}: Python objects, which only a pickle reads; expected numbers, or text labels (np.save(f, a.astype(str)))"),
        ));
    };
    match n {
        Some(n) if n.checked_mul(width).is_some_and(|b| b <= bytes.len()) => {}
        _ => {
            return Err(Error::data(
                path,
                format!(
                    "shape {shape:?} of {width}-byte values does not fit in the file's {} bytes",
                    bytes.len()
                ),
            ))
        }
    }
    let order = npy.order();
    if order == Order::Fortran && shape.len() > 2 {
        return Err(Error::data(
            path,
            format!("shape {shape:?} in Fortran order; expected C order for more than 2 dimensions (np.save(f, np.ascontiguousarray(a)))"),
        ));
    }
    let dtype = ts.to_string();
    let bad = |e: std::io::Error| Error::data(path, format!("cannot read the values: {e}"));
    if let TypeChar::UnicodeStr | TypeChar::ByteStr = ts.type_char() {
        // numpy's code points: a surrogate, which no Rust string holds, is refused, named.
        let values = npy.into_vec::<String>().map_err(bad)?;
        let values = row_major(values, &shape, order);
        return Ok(Contents::Text { shape, values });
    }
    let data: Vec<f64> = match (ts.type_char(), width) {
        (TypeChar::Float, 8) => npy.into_vec::<f64>().map_err(bad)?,
        (TypeChar::Float, 4) => npy
            .into_vec::<f32>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 8) => npy
            .into_vec::<i64>()
            .map_err(bad)?
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        (TypeChar::Int, 4) => npy
            .into_vec::<i32>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 2) => npy
            .into_vec::<i16>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 1) => npy
            .into_vec::<i8>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 8) => npy
            .into_vec::<u64>()
            .map_err(bad)?
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        (TypeChar::Uint, 4) => npy
            .into_vec::<u32>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 2) => npy
            .into_vec::<u16>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 1) => npy
            .into_vec::<u8>()
            .map_err(bad)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Bool, 1) => npy
            .into_vec::<bool>()
            .map_err(bad)?
            .into_iter()
            .map(|b| b as u8 as f64)
            .collect(),
        _ => {
            return Err(Error::data(
                path,
                format!("dtype {ts} is not a number type mlp reads"),
            ))
        }
    };
    let data = row_major(data, &shape, order);
    Ok(Contents::Numbers(Array { shape, data, dtype }))
}

/// `values` of `shape` stored in `order`, in C order (a Fortran-ordered 2-D array transposed).
fn row_major<V: Clone>(values: Vec<V>, shape: &[usize], order: Order) -> Vec<V> {
    match (order, shape) {
        (Order::Fortran, &[r, c]) if !values.is_empty() => (0..r * c)
            .map(|k| values[(k % c) * r + k / c].clone())
            .collect(),
        _ => values,
    }
}

/// Images read from an array: their shape, and whether their pixels were `uint8`, scaled to [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Images {
    pub shape: ImageShape,
    pub scaled: bool,
}

/// The images an array of 3 dimensions (rows, height, width: gray) or 4 (rows, height, width,
/// channels: 1 gray or 3 red, green, blue) holds, made rows of height · width · channels values
/// (already in C order: row by row, a pixel's channels side by side, as image folders are read);
/// `uint8` pixels are scaled to [0, 1] (÷ 255, as MNIST's and torchvision's `ToTensor`), any other
/// type must hold values in [0, 1] already, as image files are read. `None` for 2 dimensions, an
/// array of rows of features. A model of images (`want`) reads them at its own shape only.
fn as_images(a: &mut Array, path: &Path, want: Option<ImageShape>) -> Result<Option<Images>> {
    let image = |height, width, channels| ImageShape {
        height,
        width,
        channels,
    };
    let shape = match a.shape[..] {
        [_, _] => return Ok(None),
        [_, h, w] => image(h, w, 1),
        [_, h, w, c @ (1 | 3)] => image(h, w, c),
        [_, _, _, c] => {
            return Err(Error::data(
                path,
                format!("images of {c} channels; expected 1 (gray) or 3 (red, green, blue)"),
            ))
        }
        _ => {
            return Err(Error::data(
                path,
                format!(
                    "shape {:?}; expected (rows, features), or images: (rows, height, width) or (rows, height, width, channels)",
                    a.shape
                ),
            ))
        }
    };
    // The header's sides were checked to multiply within u64 (`npy_from_bytes`).
    if shape.features() == 0 {
        return Err(Error::data(
            path,
            format!("shape {:?}: images without pixels", a.shape),
        ));
    }
    if let Some(want) = want.filter(|&w| w != shape) {
        return Err(Error::data(
            path,
            format!(
                "images of {}; the model reads {}",
                shape.describe(),
                want.describe()
            ),
        ));
    }
    let scaled = a.dtype.ends_with("u1");
    if scaled {
        a.data.iter_mut().for_each(|v| *v /= 255.0);
    } else if let Some(v) = a.data.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        // A model of images reads image files scaled to [0, 1]: its arrays must be so too.
        return Err(Error::data(
            path,
            format!(
                "images of {} values, one of them {v}; expected uint8 pixels or values in [0, 1] (x / 255), or rows of features to standardise (x.reshape(len(x), -1))",
                a.dtype
            ),
        ));
    }
    a.shape = vec![a.shape[0], shape.features()];
    Ok(Some(Images { shape, scaled }))
}

/// Values to write to an NPY file, row-major: numbers in the dtype of their Rust type, or text.
#[derive(Clone, Copy, Debug)]
pub enum Values<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    I64(&'a [i64]),
    Text(&'a [String]),
}

/// The bytes of an NPY file (format 1.0, C order, little-endian) holding `values` in `shape`:
/// `<f4`, `<f8` or `<i8`, or text as numpy's fixed-width unicode `<Un`, n the longest string's
/// characters — all of which `np.load` reads without `allow_pickle`.
pub fn npy_bytes(shape: &[usize], values: Values) -> std::io::Result<Vec<u8>> {
    use npyz::WriterBuilder;
    fn write<V: npyz::Serialize + ?Sized>(
        shape: &[usize],
        dtype: npyz::DType,
        items: impl Iterator<Item = impl std::borrow::Borrow<V>>,
    ) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let shape: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
        let mut w = npyz::WriteOptions::<V>::new()
            .dtype(dtype)
            .shape(&shape)
            .writer(&mut out)
            .begin_nd()?;
        for item in items {
            w.push(item.borrow())?;
        }
        w.finish()?;
        Ok(out)
    }
    let plain = |s: &str| -> std::io::Result<npyz::DType> {
        let t = s
            .parse::<npyz::TypeStr>()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        Ok(npyz::DType::Plain(t))
    };
    match values {
        Values::F32(v) => write::<f32>(shape, plain("<f4")?, v.iter()),
        Values::F64(v) => write::<f64>(shape, plain("<f8")?, v.iter()),
        Values::I64(v) => write::<i64>(shape, plain("<i8")?, v.iter()),
        Values::Text(v) => {
            let n = v
                .iter()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
                .max(1);
            write::<str>(
                shape,
                plain(&format!("<U{n}"))?,
                v.iter().map(String::as_str),
            )
        }
    }
}

/// Every value finite, or an error naming the first one that is not; with `missing` read, NaN is a
/// missing value (to be filled by an [`Imputer`](super::Imputer)) and only infinities are refused.
/// Beyond `T`'s range is refused too (see [`super::beyond_precision`]).
fn check_finite<T: Float>(a: &Array, path: &Path, missing: Missing) -> Result<()> {
    let missing_value = |v: &f64| missing == Missing::Read && v.is_nan();
    let bad = |v: &f64| !(T::of(*v).is_finite() || missing_value(v));
    if let Some(i) = a.data.iter().position(bad) {
        let (v, cols) = (a.data[i], a.shape.get(1).copied().unwrap_or(1).max(1));
        let at = format!("value at row {}, column {}", i / cols, i % cols);
        let hint = match missing {
            Missing::Refuse if v.is_nan() => " (--impute fills missing values)",
            _ => "",
        };
        return Err(Error::data(
            path,
            match super::beyond_precision::<T>(v) {
                Some(m) => format!("{at}: {m}"),
                None => format!("{at} is {v}; expected a finite number{hint}"),
            },
        ));
    }
    Ok(())
}

/// Features from `x_path` (2-D) and targets from `y_path` (1-D or 2-D), or, without `y_path`, from
/// column `target_column` of the features (default: the last); or images from `x_path` (3-D or
/// 4-D, see `as_images`; of the shape `image` if given), which are returned, with their targets
/// from `y_path`. The string says what task was inferred and why. A NaN feature is a missing value
/// where `missing` reads them; a target must be finite. Targets of text are class labels.
pub fn read_npy_dataset<T: Float>(
    x_path: &Path,
    y_path: Option<&Path>,
    target_column: Option<usize>,
    task: Option<Task>,
    missing: Missing,
    image: Option<ImageShape>,
) -> Result<(Dataset<T>, String, Option<Images>)> {
    let x = read_npy(x_path)?;
    let y = match y_path {
        Some(p) => Some((read_contents(p)?, p)),
        None => None,
    };
    npy_dataset(x, x_path, y, target_column, task, missing, image)
}

/// [`read_npy_dataset`] of arrays already read: `x` (named `x_path` in messages) and the targets
/// `y`, with their name.
pub fn npy_dataset<T: Float>(
    mut x: Array,
    x_path: &Path,
    y: Option<(Contents, &Path)>,
    target_column: Option<usize>,
    task: Option<Task>,
    missing: Missing,
    image: Option<ImageShape>,
) -> Result<(Dataset<T>, String, Option<Images>)> {
    check_finite::<T>(&x, x_path, missing)?;
    let image = as_images(&mut x, x_path, image)?;
    if image.is_some() && y.is_none() {
        return Err(Error::data(
            x_path,
            format!(
                "images ({:?}): give their labels, one a row, in an array of their own (--labels Y.npy)",
                x.shape
            ),
        ));
    }
    let (rows, cols) = (x.shape[0], x.shape[1]);
    if rows == 0 {
        return Err(Error::data(x_path, "no rows"));
    }
    let (features, feature_cols, y, y_cols, name) = match y {
        Some((y, yp)) => {
            let (shape, y) = match y {
                Contents::Numbers(a) => {
                    check_finite::<T>(&a, yp, Missing::Refuse)?;
                    (a.shape, Raw::Numbers(a.data))
                }
                Contents::Text { shape, values } => (shape, Raw::Text(values)),
            };
            let y_cols = match shape.as_slice() {
                [n] if *n == rows => 1,
                [n, c] if *n == rows => *c,
                s => {
                    return Err(Error::data(
                        yp,
                        format!("shape {s:?}; expected ({rows},) or ({rows}, outputs) to match the {rows} rows of {}", x_path.display()),
                    ))
                }
            };
            (x.data, cols, y, y_cols, yp.display().to_string())
        }
        None => {
            let t = target_column.unwrap_or(cols.saturating_sub(1));
            if cols < 2 {
                return Err(Error::data(
                    x_path,
                    format!("shape {:?}: one column; expected feature columns and a target column, or the targets in an array of their own (--labels Y.npy)", x.shape),
                ));
            }
            if t >= cols {
                return Err(Error::config(format!(
                    "{}: target column {t} does not exist among its {cols} columns",
                    x_path.display()
                )));
            }
            if let Some(r) = x.data.chunks_exact(cols).position(|r| r[t].is_nan()) {
                return Err(Error::data(
                    x_path,
                    format!("the target at row {r}, column {t} is NaN; expected a finite number"),
                ));
            }
            let (f, y) = split_column(&x.data, cols, t);
            (f, cols - 1, Raw::Numbers(y), 1, format!("column {t}"))
        }
    };
    if feature_cols == 0 {
        return Err(Error::data(
            x_path,
            format!("shape {:?}: no feature columns beside the targets", x.shape),
        ));
    }
    let xm = Matrix::from_vec(
        rows,
        feature_cols,
        features.into_iter().map(T::of).collect(),
    );
    let y = match y {
        Raw::Numbers(y) => y,
        Raw::Text(labels) => {
            let (ids, class_names, reason) = text_classes(&labels, y_cols, task, &name)?;
            let d = Dataset {
                feature_names: feature_names(image.map(|i| i.shape), feature_cols),
                x: xm,
                y: Targets::Classes(ids),
                class_names,
                sample_weight: None,
            };
            return Ok((d, reason, image));
        }
    };
    let binary = y.iter().all(|&v| v == 0.0 || v == 1.0);
    let (task, reason) = match task {
        // Several columns of labels: one label per column (multi-label).
        Some(Task::Classification) if y_cols > 1 => (Task::MultiLabel, "given".into()),
        Some(t) => (t, "given".into()),
        None if y_cols == 1 => infer_task(&y, &name),
        None if binary => (
            Task::MultiLabel,
            format!("multi-label classification: {name} has {y_cols} target columns of only 0 and 1; pass --task regression to override"),
        ),
        None => (
            Task::Regression,
            format!("regression: {name} has {y_cols} target columns"),
        ),
    };
    let (targets, class_names) = match task {
        Task::Classification if y_cols == 1 => {
            let (ids, names) = classes_from_numbers(&y);
            (Targets::Classes(ids), names)
        }
        Task::Classification => unreachable!("several columns of classes are labels, above"),
        Task::MultiLabel => {
            if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
                return Err(Error::config(format!(
                    "{name}: the label at row {}, column {} is {}; multi-label targets are 0 or 1",
                    i / y_cols,
                    i % y_cols,
                    y[i]
                )));
            }
            (
                Targets::Labels(Matrix::from_vec(
                    rows,
                    y_cols,
                    y.into_iter().map(T::of).collect(),
                )),
                (0..y_cols).map(|j| j.to_string()).collect(),
            )
        }
        Task::Regression => (
            Targets::Values(Matrix::from_vec(
                rows,
                y_cols,
                y.into_iter().map(T::of).collect(),
            )),
            Vec::new(),
        ),
    };
    Ok((
        Dataset {
            feature_names: feature_names(image.map(|i| i.shape), feature_cols),
            x: xm,
            y: targets,
            class_names,
            sample_weight: None,
        },
        reason,
        image,
    ))
}

/// Targets as an NPY file holds them: numbers (rows × columns, row-major), or text labels.
enum Raw {
    Numbers(Vec<f64>),
    Text(Vec<String>),
}

/// Text targets (`cols` a row, from `name`): class labels, one a row, classes sorted; with the
/// reason for the task. Text cannot be regression values or 0/1 multi-label targets.
fn text_classes(
    labels: &[String],
    cols: usize,
    task: Option<Task>,
    name: &str,
) -> Result<(Vec<usize>, Vec<String>, String)> {
    let first = labels.first().map_or("", String::as_str);
    if cols > 1 {
        return Err(Error::config(format!(
            "{name}: {cols} columns of text; expected one class label a row (multi-label targets are columns of 0 and 1)"
        )));
    }
    if let Some(t @ (Task::Regression | Task::MultiLabel)) = task {
        return Err(Error::config(format!(
            "{name}: text labels (the first: '{first}'); --task {} needs numbers",
            t.name()
        )));
    }
    if let Some(i) = labels.iter().position(String::is_empty) {
        return Err(Error::config(format!(
            "{name}: the label at index {i} is empty; expected a class name"
        )));
    }
    let (ids, names) = classes_from_text(labels);
    let reason = match task {
        Some(_) => "given".to_string(),
        None => format!(
            "classification: {name} holds text labels ({} classes)",
            names.len()
        ),
    };
    Ok((ids, names, reason))
}

/// Row-major `data` of `cols` columns split into the other columns and column `t`.
fn split_column(data: &[f64], cols: usize, t: usize) -> (Vec<f64>, Vec<f64>) {
    let rows = data.len() / cols.max(1);
    let (mut rest, mut column) = (
        Vec::with_capacity(rows * (cols - 1)),
        Vec::with_capacity(rows),
    );
    for r in data.chunks_exact(cols) {
        rest.extend_from_slice(&r[..t]);
        column.push(r[t]);
        rest.extend_from_slice(&r[t + 1..]);
    }
    (rest, column)
}

/// Features `x1`, `x2`, …, or an image's pixels by row and column.
fn feature_names(image: Option<ImageShape>, cols: usize) -> Vec<String> {
    match image {
        Some(shape) => shape.feature_names(),
        None => (0..cols).map(|j| format!("x{}", j + 1)).collect(),
    }
}

/// Rows to predict from array `x` (named `path` in messages), for a model of `inputs` features (of
/// `image`'s shape, for a model of images): a 2-D array of exactly those features, or of one column
/// more, the target, which is left out — column `target_column` if given, else the last; or images
/// of the model's shape.
pub fn npy_features<T: Float>(
    mut x: Array,
    path: &Path,
    target_column: Option<usize>,
    inputs: usize,
    missing: Missing,
    image: Option<ImageShape>,
) -> Result<Dataset<T>> {
    check_finite::<T>(&x, path, missing)?;
    let read = as_images(&mut x, path, image)?;
    let (rows, cols) = (x.shape[0], x.shape[1]);
    if read.is_none() {
        let drop = match target_column {
            Some(t) if t < cols => Some(t),
            Some(t) => {
                return Err(Error::config(format!(
                    "{}: target column {t} does not exist among its {cols} columns",
                    path.display()
                )))
            }
            None if cols == inputs + 1 => Some(cols - 1),
            None => None,
        };
        if let Some(t) = drop {
            x.data = split_column(&x.data, cols, t).0;
            x.shape[1] = cols - 1;
        }
    }
    let cols = x.shape[1];
    let m = Matrix::from_vec(rows, cols, x.data.into_iter().map(T::of).collect());
    let mut d = Dataset::regression(m, Matrix::zeros(rows, 0));
    d.feature_names = feature_names(read.map(|i| i.shape), cols);
    Ok(d)
}
