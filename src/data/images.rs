//! Folders of images (PNG, JPEG, BMP, GIF), as torchvision's `ImageFolder` and Keras'
//! `image_dataset_from_directory` read them: one folder per class, its name the class's, holding
//! that class's images (in subfolders too). Each image is one row: its pixels scaled to [0, 1],
//! row by row, the channels of a pixel side by side (height × width × channels, the order numpy
//! gives `np.asarray(Image.open(f))`), as MNIST's IDX files are read.
//!
//! Decoding and resizing are the `image` crate's; the walk, the checks and the layout are ours.
//! Every image must come out the same shape: resized to a given size (bilinear, with
//! antialiasing when shrinking), or all of the first one's size; gray (one value a pixel, the
//! `image` crate's luma) where every image is gray or gray is asked for, else red, green, blue
//! (transparency dropped).

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, DynamicImage};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::error::{Error, Result};
use crate::tensor::{Float, Matrix};

/// The file name endings read as images; other files are left out, as `ImageFolder` does.
pub const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "gif"];

/// The shape every image is read to: `height` × `width` pixels of `channels` values (1: gray,
/// 3: red, green, blue), stored with a model so that it reads new images as it was trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl ImageShape {
    /// The number of features: height · width · channels.
    pub fn features(&self) -> usize {
        self.height * self.width * self.channels
    }

    /// The name of each feature: `pixel_ROW_COL`, and with colour `_r`, `_g`, `_b` after it.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.features());
        for r in 0..self.height {
            for c in 0..self.width {
                match self.channels {
                    1 => names.push(format!("pixel_{r}_{c}")),
                    _ => names.extend(["r", "g", "b"].map(|k| format!("pixel_{r}_{c}_{k}"))),
                }
            }
        }
        names
    }

    /// `28×28 gray`, `32×32 RGB`.
    pub fn describe(&self) -> String {
        let colour = if self.channels == 1 { "gray" } else { "RGB" };
        format!("{}×{} {colour}", self.width, self.height)
    }
}

/// How to read images: each left as `None` is found from the images (the first one's size; gray
/// when every one is gray).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageRead {
    /// (height, width) to resize every image to.
    pub size: Option<(usize, usize)>,
    /// 1 (gray) or 3 (red, green, blue).
    pub channels: Option<usize>,
}

impl ImageRead {
    /// Read exactly as `shape`: what a model does with new images.
    pub fn as_shape(shape: ImageShape) -> Self {
        ImageRead {
            size: Some((shape.height, shape.width)),
            channels: Some(shape.channels),
        }
    }
}

/// Whether `path` names an image by its ending.
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether `dir` is a folder of class folders holding images.
pub fn is_class_folder(dir: &Path) -> bool {
    dir.is_dir()
        && entries(dir).is_ok_and(|(dirs, _)| {
            dirs.iter()
                .any(|d| image_files(d).is_ok_and(|f| !f.is_empty()))
        })
}

/// The subfolders and image files of `dir`, each sorted by name; hidden entries (a leading `.`)
/// left out.
fn entries(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    let read = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in read {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            dirs.push(path);
        } else if is_image(&path) {
            files.push(path);
        }
    }
    dirs.sort();
    files.sort();
    Ok((dirs, files))
}

/// Every image under `path` (itself, if it is an image file), folders walked depth first in
/// name order: the order of the rows.
pub fn image_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return match is_image(path) {
            true => Ok(vec![path.to_path_buf()]),
            false => Err(Error::data(
                path,
                format!(
                    "not an image (expected a name ending in .{})",
                    EXTENSIONS.join(", .")
                ),
            )),
        };
    }
    let (dirs, mut files) = entries(path)?;
    for d in dirs {
        files.extend(image_files(&d)?);
    }
    Ok(files)
}

/// The labelled images of a folder of class folders.
pub struct ClassFiles {
    /// The class folders' names, sorted.
    pub names: Vec<String>,
    /// Each image, in the order of the rows.
    pub files: Vec<PathBuf>,
    /// Each image's class, an index into `names`.
    pub classes: Vec<usize>,
}

/// The images of `dir`'s class folders, each folder walked as [`image_files`] walks it.
pub fn class_files(dir: &Path) -> Result<ClassFiles> {
    let (dirs, loose) = entries(dir)?;
    if let Some(f) = loose.first() {
        return Err(Error::data(
            f,
            "an image outside the class folders: each image goes in the folder named after its class",
        ));
    }
    let (mut names, mut files, mut classes) = (Vec::new(), Vec::new(), Vec::new());
    for d in dirs {
        let found = image_files(&d)?;
        if found.is_empty() {
            return Err(Error::data(
                &d,
                format!(
                    "a class folder with no images (expected files ending in .{})",
                    EXTENSIONS.join(", .")
                ),
            ));
        }
        let class = names.len();
        names.push(
            d.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
        classes.extend(std::iter::repeat_n(class, found.len()));
        files.extend(found);
    }
    if names.is_empty() {
        return Err(Error::data(
            dir,
            "no class folders: expected one folder per class, each holding that class's images",
        ));
    }
    Ok(ClassFiles {
        names,
        files,
        classes,
    })
}

/// The image in `path`, resized to `size` if given, kept gray or in colour as it was.
fn decode(path: &Path, size: Option<(usize, usize)>) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_bytes(&bytes, path, size)
}

/// The image file `bytes` (`path` names it in messages; its format is found from the bytes),
/// resized to `size` if given, kept gray or in colour as it was. The `image` crate's limits
/// (512 MiB a decoded image) refuse a header that claims a huge image before it is allocated.
pub fn decode_bytes(
    bytes: &[u8],
    path: &Path,
    size: Option<(usize, usize)>,
) -> Result<DynamicImage> {
    let reader = image::io::Reader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let img = reader
        .decode()
        .map_err(|e| Error::data(path, format!("not a readable image: {e}")))?;
    let img = match img.color().has_color() {
        true => DynamicImage::ImageRgb8(img.to_rgb8()),
        false => DynamicImage::ImageLuma8(img.to_luma8()),
    };
    Ok(match size {
        Some((h, w)) if (img.height() as usize, img.width() as usize) != (h, w) => {
            img.resize_exact(w as u32, h as u32, FilterType::Triangle)
        }
        _ => img,
    })
}

/// Reads `files` as rows of one matrix, as `read` says; returns it with the shape found.
pub fn read_images<T: Float>(
    files: &[PathBuf],
    read: ImageRead,
) -> Result<(Matrix<T>, ImageShape)> {
    let Some(first) = files.first() else {
        return Err(Error::config("no images to read"));
    };
    let size = match read.size {
        Some(s) => s,
        None => {
            let img = decode(first, None)?;
            (img.height() as usize, img.width() as usize)
        }
    };
    // Decoded side by side; the error reported is the first file's in order, not whichever a
    // thread met first, so the same folder always gives the same message.
    let decoded: Vec<Result<DynamicImage>> = files
        .par_iter()
        .map(|f| {
            let img = decode(f, read.size)?;
            let found = (img.height() as usize, img.width() as usize);
            if found != size {
                return Err(Error::data(
                    f,
                    format!(
                        "{}×{} pixels, but {} is {}×{}: give --image-size WxH to resize every image",
                        found.1,
                        found.0,
                        first.display(),
                        size.1,
                        size.0
                    ),
                ));
            }
            Ok(img)
        })
        .collect();
    let decoded = decoded.into_iter().collect::<Result<Vec<_>>>()?;
    let gray = decoded.iter().all(|i| !i.color().has_color());
    let channels = read.channels.unwrap_or(if gray { 1 } else { 3 });
    let shape = ImageShape {
        height: size.0,
        width: size.1,
        channels,
    };
    let mut values = Vec::with_capacity(files.len() * shape.features());
    for img in decoded {
        let bytes = match channels {
            1 => img.into_luma8().into_raw(),
            _ => img.into_rgb8().into_raw(),
        };
        // As MNIST's pixels are read (`idx.rs`): the f32 quotient, then T.
        values.extend(
            bytes
                .into_iter()
                .map(|b| T::of((b as f32 / 255.0f32) as f64)),
        );
    }
    Ok((
        Matrix::from_vec(files.len(), shape.features(), values),
        shape,
    ))
}

/// A folder of class folders as a classification data set (classes in name order), with the
/// shape its images were read to.
pub fn read_image_folder<T: Float>(
    dir: &Path,
    read: ImageRead,
) -> Result<(Dataset<T>, ImageShape)> {
    let found = class_files(dir)?;
    let (x, shape) = read_images::<T>(&found.files, read)?;
    let mut d = Dataset::classification(x, found.classes);
    d.class_names = found.names;
    d.feature_names = shape.feature_names();
    Ok((d, shape))
}

/// `--image-size WxH` (or one number for a square), as (height, width).
pub fn parse_size(text: &str) -> std::result::Result<(usize, usize), String> {
    let bad = || {
        format!("--image-size {text}: expected WIDTHxHEIGHT in pixels, each 1 to 4096, e.g. 28x28, or one number for a square")
    };
    let parts: Vec<&str> = text.split(['x', 'X', '×']).collect();
    let n = |s: &str| {
        s.trim()
            .parse::<usize>()
            .ok()
            .filter(|&v| (1..=4096).contains(&v))
    };
    match parts[..] {
        [s] => n(s).map(|v| (v, v)).ok_or_else(bad),
        [w, h] => match (n(w), n(h)) {
            (Some(w), Some(h)) => Ok((h, w)),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;

    /// A fresh folder for one test, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("mlp-images-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn gray(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn class_folders_give_rows_in_name_order_pixels_row_major() {
        let d = Dir::new("classes");
        // Classes in name order (b before c), files in name order, subfolders walked; a text file
        // and a hidden file left out.
        gray(&d.0.join("c/2.png"), 3, 2, |x, y| (10 * y + x) as u8);
        gray(&d.0.join("c/1.png"), 3, 2, |_, _| 255);
        gray(&d.0.join("b/deeper/0.png"), 3, 2, |_, _| 51);
        std::fs::write(d.0.join("b/notes.txt"), "not an image").unwrap();
        gray(&d.0.join("b/.hidden.png"), 1, 1, |_, _| 0);
        let (data, shape) = read_image_folder::<f64>(&d.0, ImageRead::default()).unwrap();
        assert_eq!(
            shape,
            ImageShape {
                height: 2,
                width: 3,
                channels: 1
            }
        );
        assert_eq!(data.class_names, ["b", "c"]);
        assert_eq!(data.y, Targets::Classes(vec![0, 1, 1]));
        assert_eq!(data.x.row(0), &[(51.0f32 / 255.0) as f64; 6]);
        assert_eq!(data.x.row(1), &[1.0; 6]);
        // Row by row: the pixel at (x, y) is feature y·width + x.
        let want: Vec<f64> = [0, 1, 2, 10, 11, 12]
            .iter()
            .map(|&v| (v as f32 / 255.0) as f64)
            .collect();
        assert_eq!(data.x.row(2), &want[..]);
        assert_eq!(data.feature_names[5], "pixel_1_2");
    }

    #[test]
    fn colour_is_kept_channels_last_and_resizing_is_asked_for() {
        let d = Dir::new("colour");
        std::fs::create_dir_all(d.0.join("a")).unwrap();
        image::RgbImage::from_fn(2, 2, |x, _| {
            image::Rgb([255, 0, if x == 0 { 0 } else { 255 }])
        })
        .save(d.0.join("a/red.png"))
        .unwrap();
        gray(&d.0.join("a/gray.png"), 2, 2, |_, _| 0);
        let (data, shape) = read_image_folder::<f32>(&d.0, ImageRead::default()).unwrap();
        assert_eq!(shape.channels, 3);
        assert_eq!(
            data.x.row(1),
            &[1., 0., 0., 1., 0., 1., 1., 0., 0., 1., 0., 1.]
        );
        assert_eq!(data.x.row(0), &[0.; 12]);
        assert_eq!(
            data.feature_names[..3],
            ["pixel_0_0_r", "pixel_0_0_g", "pixel_0_0_b"]
        );
        let gray_read = ImageRead {
            size: None,
            channels: Some(1),
        };
        let (g, shape) = read_image_folder::<f32>(&d.0, gray_read).unwrap();
        assert_eq!((shape.channels, g.x.cols), (1, 4));

        // Another size is an error naming both files, unless a size is given: then a constant
        // image stays constant through the bilinear filter.
        gray(&d.0.join("a/big.png"), 4, 6, |_, _| 255);
        let e = read_image_folder::<f32>(&d.0, ImageRead::default())
            .unwrap_err()
            .to_string();
        // The first in name order sets the size (big.png), the next differs.
        let want = "gray.png: 2×2 pixels, but ";
        assert!(
            e.contains(want) && e.contains("big.png is 4×6: give --image-size"),
            "{e}"
        );
        let sized = ImageRead {
            size: Some((3, 5)),
            channels: None,
        };
        let (r, shape) = read_image_folder::<f32>(&d.0, sized).unwrap();
        assert_eq!((shape.height, shape.width, shape.channels), (3, 5, 3));
        assert!(r.x.row(0).iter().all(|&v| v == 1.0), "{:?}", r.x.row(0));
    }

    #[test]
    fn bad_folders_and_files_are_named() {
        let d = Dir::new("bad");
        let e = |read: Result<(Dataset<f32>, ImageShape)>| read.unwrap_err().to_string();
        assert!(e(read_image_folder(&d.0, ImageRead::default())).contains("no class folders"));
        std::fs::create_dir_all(d.0.join("empty")).unwrap();
        let msg = e(read_image_folder(&d.0, ImageRead::default()));
        assert!(
            msg.contains("empty: a class folder with no images"),
            "{msg}"
        );
        std::fs::remove_dir(d.0.join("empty")).unwrap();
        gray(&d.0.join("a/ok.png"), 2, 2, |_, _| 0);
        std::fs::write(d.0.join("a/broken.png"), b"\x89PNG but not really").unwrap();
        let msg = e(read_image_folder(&d.0, ImageRead::default()));
        assert!(msg.contains("broken.png: not a readable image"), "{msg}");
        std::fs::remove_file(d.0.join("a/broken.png")).unwrap();
        gray(&d.0.join("loose.png"), 2, 2, |_, _| 0);
        let msg = e(read_image_folder(&d.0, ImageRead::default()));
        assert!(
            msg.contains("loose.png: an image outside the class folders"),
            "{msg}"
        );
    }

    #[test]
    fn sizes_parse_as_width_by_height() {
        assert_eq!(parse_size("28x28"), Ok((28, 28)));
        assert_eq!(parse_size("32X16"), Ok((16, 32)));
        assert_eq!(parse_size("8"), Ok((8, 8)));
        for bad in ["", "0x3", "3x", "axb", "1x2x3", "5000x5"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
