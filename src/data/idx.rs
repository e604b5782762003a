//! IDX, MNIST's format: big-endian magic (0x0000_08_DD, 08 = u8 data, DD = number of dimensions),
//! the dimensions as u32, then the u8 values. Gzip'd files (`.gz`, or starting with the gzip magic)
//! are decompressed on the fly with `flate2`.
//!
//! An MNIST folder holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`
//! and `t10k-labels-idx1-ubyte` (each optionally `.gz`); `t10k` is the test set. Pixels are scaled to
//! [0, 1] as `pixel as f32 / 255.0`, as `PROTOCOL.md` specifies.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::images::ImageShape;
use super::Dataset;
use crate::error::{Error, Result};
use crate::tensor::{Float, Matrix};

/// An IDX array of u8: its dimensions and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file (gzip'd or not), checking the magic number and that the data fills the dimensions.
pub fn read_idx(path: &Path) -> Result<Idx> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    idx_from_bytes(&bytes, path)
}

/// Parses an IDX file's bytes, gzip'd (they start with the gzip magic) or not.
pub fn idx_from_bytes(bytes: &[u8], path: &Path) -> Result<Idx> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(1 << 28));
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, format!("gzip data is corrupt or truncated: {e}")))?;
        parse_idx(&out, path)
    } else {
        parse_idx(bytes, path)
    }
}

/// Parses IDX bytes; `path` names the source in messages.
pub fn parse_idx(raw: &[u8], path: &Path) -> Result<Idx> {
    if raw.len() < 4 {
        return Err(Error::data(
            path,
            format!(
                "{} bytes; an IDX file starts with a 4-byte magic number",
                raw.len()
            ),
        ));
    }
    if raw[0] != 0 || raw[1] != 0 || raw[2] != 0x08 {
        return Err(Error::data(
            path,
            format!(
                "magic number {:02x}{:02x}{:02x}{:02x} is not IDX with u8 data (expected 000008xx, e.g. 00000803 for images)",
                raw[0], raw[1], raw[2], raw[3]
            ),
        ));
    }
    let nd = raw[3] as usize;
    if nd == 0 || raw.len() < 4 + 4 * nd {
        return Err(Error::data(
            path,
            format!("header of {nd} dimensions is truncated"),
        ));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes(raw[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let body = &raw[4 + 4 * nd..];
    let want = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match want {
        Some(n) if n == body.len() => Ok(Idx {
            dims,
            data: body.to_vec(),
        }),
        Some(n) => Err(Error::data(
            path,
            format!(
                "dimensions {dims:?} call for {n} values but the file holds {}",
                body.len()
            ),
        )),
        None => Err(Error::data(path, format!("dimensions {dims:?} overflow"))),
    }
}

/// The file `name` or `name.gz` in `dir`.
fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Whether `dir` looks like an MNIST folder (it holds the training images under MNIST's name).
pub fn is_mnist_dir(dir: &Path) -> bool {
    dir.is_dir() && find(dir, "train-images-idx3-ubyte").is_some()
}

/// Loads images and labels named `prefix` (`train` or `t10k`) from an MNIST folder.
pub fn read_mnist_split<T: Float>(dir: &Path, prefix: &str) -> Result<Dataset<T>> {
    Ok(read_split(dir, prefix)?.0)
}

/// An MNIST folder's images and labels named `prefix`, and the images' shape.
fn read_split<T: Float>(dir: &Path, prefix: &str) -> Result<(Dataset<T>, ImageShape)> {
    let img_name = format!("{prefix}-images-idx3-ubyte");
    let lbl_name = format!("{prefix}-labels-idx1-ubyte");
    let img_path = find(dir, &img_name)
        .ok_or_else(|| Error::data(dir, format!("no {img_name} (or {img_name}.gz) here")))?;
    let lbl_path = find(dir, &lbl_name)
        .ok_or_else(|| Error::data(dir, format!("no {lbl_name} (or {lbl_name}.gz) here")))?;
    let images = read_idx(&img_path)?;
    let labels = read_idx(&lbl_path)?;
    if images.dims.len() != 3 {
        return Err(Error::data(
            &img_path,
            format!(
                "expected 3 dimensions (count, rows, cols), found {:?}",
                images.dims
            ),
        ));
    }
    if labels.dims.len() != 1 {
        return Err(Error::data(
            &lbl_path,
            format!("expected 1 dimension (count), found {:?}", labels.dims),
        ));
    }
    if images.dims[0] != labels.dims[0] {
        return Err(Error::data(
            &lbl_path,
            format!(
                "{} labels for {} images in {}",
                labels.dims[0],
                images.dims[0],
                img_path.display()
            ),
        ));
    }
    let (n, features) = (images.dims[0], images.dims[1] * images.dims[2]);
    let x = Matrix::from_vec(
        n,
        features,
        images
            .data
            .iter()
            .map(|&p| T::of((p as f32 / 255.0f32) as f64))
            .collect(),
    );
    let classes: Vec<usize> = labels.data.iter().map(|&l| l as usize).collect();
    let mut d = Dataset::classification(x, classes);
    let shape = ImageShape {
        height: images.dims[1],
        width: images.dims[2],
        channels: 1,
    };
    d.feature_names = shape.feature_names();
    Ok((d, shape))
}

/// Loads an MNIST folder: (train, test).
pub fn read_mnist<T: Float>(dir: &Path) -> Result<(Dataset<T>, Dataset<T>)> {
    let (train, test, _) = read_mnist_images(dir)?;
    Ok((train, test))
}

/// Loads an MNIST folder: (train, test, the images' shape), the shape from the training images
/// (the test images must have as many pixels).
pub fn read_mnist_images<T: Float>(dir: &Path) -> Result<(Dataset<T>, Dataset<T>, ImageShape)> {
    let (train, shape) = read_split(dir, "train")?;
    let (test, _) = read_split(dir, "t10k")?;
    Ok((train, test, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn parses_and_checks_lengths() {
        let p = Path::new("x.idx");
        let ok = parse_idx(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6]), p).unwrap();
        assert_eq!((ok.dims, ok.data.len()), (vec![2, 3], 6));
        let e = parse_idx(&idx(&[2, 3], &[1, 2, 3]), p)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "x.idx: dimensions [2, 3] call for 6 values but the file holds 3"
        );
        let e = parse_idx(&[0, 0, 9, 1], p).unwrap_err().to_string();
        assert!(e.contains("magic number 00000901"), "{e}");
        // A header claiming 4 billion values does not allocate them: the length check comes first.
        let e = parse_idx(&idx(&[65536, 65536], &[0]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("call for 4294967296 values"), "{e}");
    }
}
