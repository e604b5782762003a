//! Where data comes from: `--data SOURCE` is a .csv or .npy file, an .npz archive, a folder of
//! MNIST IDX files or of class folders of images, or a built-in name.

use std::path::Path;

use mlp::data::images::{ImageRead, ImageShape};
use mlp::data::{
    builtin, csv_headers, idx, images, is_stdin, npy, read_csv, read_csv_from, Categorical,
    Columns, Dataset, Header, Missing, TargetColumn, Task,
};
use mlp::{Error, Float, Result};

/// Data as loaded, before splitting and preprocessing.
pub struct Loaded<T> {
    pub train: Dataset<T>,
    /// The test set some sources bring: MNIST's t10k files, an NPZ archive's x_test and y_test.
    pub test: Option<OwnTest<T>>,
    /// What was loaded, for the user.
    pub description: String,
    /// The task, and why.
    pub task_reason: String,
    /// Images (MNIST, an image folder): their shape; the pixels are already scaled to [0, 1].
    pub image: Option<ImageShape>,
    pub target_name: Option<String>,
    /// A CSV's text columns, one-hot encoded.
    pub categorical: Vec<Categorical>,
}

impl<T> Loaded<T> {
    /// The rows to evaluate or predict: the source's own test set where it has one, else its rows.
    pub fn held_out(self) -> Dataset<T> {
        self.test.map_or(self.train, |t| t.data)
    }
}

/// A test set that comes with the training data.
pub struct OwnTest<T> {
    pub data: Dataset<T>,
    /// Where it comes from, for the user: "the t10k files".
    pub what: String,
}

/// A `.csv` or `.tsv` file (its delimiter, `,` `;` or tab, is found from its header line), or
/// one gzip'd: `.csv.gz`, `.tsv.gz`; or `-`, standard input, read as a CSV file (gzip'd or not).
pub fn is_csv(path: &Path) -> bool {
    if is_stdin(path) {
        return true;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".csv") || name.ends_with(".tsv")
}

/// A `.npy` file, by its name.
pub fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// A `.npz` archive, by its name.
pub fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Which arrays of an NPZ archive hold what: keras.datasets' `x_train` and `y_train`, with
/// `x_test` and `y_test` a test set (as MNIST's t10k files are); else `x` and `y`
/// (`np.savez(f, x=X, y=y)`); else `x`, or the archive's one array, alone: its targets a column
/// of it, as in a `.npy` file. Names match in either case (`X`, `X_train`).
struct NpzParts {
    x: String,
    y: Option<String>,
    test: Option<(String, String)>,
}

impl NpzParts {
    fn of(npz: &npy::Npz, path: &Path) -> Result<Self> {
        let names = npz.names();
        let find = |want: &str| npz_find(&names, want);
        let parts = match (find("x_train"), find("y_train"), find("x")) {
            (Some(x), Some(y), _) => NpzParts {
                x,
                y: Some(y),
                test: find("x_test").zip(find("y_test")),
            },
            (_, _, Some(x)) => NpzParts {
                x,
                y: find("y"),
                test: None,
            },
            _ if names.len() == 1 => NpzParts {
                x: names[0].to_string(),
                y: None,
                test: None,
            },
            _ => return Err(Error::data(path, format!("{}; expected x_train and y_train (and x_test, y_test), as keras.datasets' mnist.npz, or x and y: np.savez(f, x=X, y=y)", npz_arrays(&names)))),
        };
        Ok(parts)
    }

    /// The rows to predict: `x_test`, else `x`, else the one array.
    fn features(npz: &npy::Npz, path: &Path) -> Result<String> {
        let names = npz.names();
        let find = |want: &str| npz_find(&names, want);
        match (find("x_test"), find("x"), names.as_slice()) {
            (Some(x), _, _) | (None, Some(x), _) => Ok(x),
            (None, None, [x]) => Ok(x.to_string()),
            _ => Err(Error::data(
                path,
                format!(
                    "{}; expected the rows to predict in x_test or x (np.savez(f, x=X))",
                    npz_arrays(&names)
                ),
            )),
        }
    }
}

/// The array of `names` named `want`, in either case.
fn npz_find(names: &[&str], want: &str) -> Option<String> {
    let n = names.iter().find(|n| n.eq_ignore_ascii_case(want));
    n.map(|n| n.to_string())
}

/// "arrays a, b" or "no arrays", for messages.
fn npz_arrays(names: &[&str]) -> String {
    match names {
        [] => "no arrays (no .npy files in the archive)".to_string(),
        _ => format!("arrays {}", names.join(", ")),
    }
}

/// Reads arrays `x` and `y` (if any) of `npz` as a data set, as [`npy::npy_dataset`] does.
fn npz_dataset<T: Float>(
    npz: &mut npy::Npz,
    (x, y): (&str, Option<&str>),
    target: Option<usize>,
    task: Option<Task>,
    missing: Missing,
    image: Option<ImageShape>,
) -> Result<(Dataset<T>, String, Option<npy::Images>)> {
    let x_shown = npz.shown(x);
    let xa = npz.array(x)?.numbers(&x_shown)?;
    let y_shown = y.map(|y| npz.shown(y));
    let y = match (y, &y_shown) {
        (Some(y), Some(shown)) => Some((npz.array(y)?, shown.as_path())),
        _ => None,
    };
    npy::npy_dataset::<T>(xa, &x_shown, y, target, task, missing, image)
}

/// `--target` for `.npy` data: a 0-based column index.
fn npy_column(target: Option<&str>) -> Result<Option<usize>> {
    target
        .map(|t| {
            t.parse::<usize>().map_err(|_| {
                Error::config(format!(
                    "--target {t}: for .npy data the target is a 0-based column index"
                ))
            })
        })
        .transpose()
}

/// How `--data SOURCE` is named in what is printed: `-` as standard input.
pub fn shown(source: &str) -> &str {
    match is_stdin(Path::new(source)) {
        true => "standard input",
        false => source,
    }
}

fn target_column(target: Option<&str>) -> TargetColumn {
    target.map_or(TargetColumn::Last, TargetColumn::parse)
}

/// Loads `source` with its targets; a CSV's text columns are one-hot encoded as `categories` says,
/// its missing values are read (as NaN) or refused as `missing` says, and a folder of class
/// folders' images read as `images` says.
pub fn load<T: Float>(
    source: &str,
    target: Option<&str>,
    labels: Option<&str>,
    task: Option<Task>,
    categories: Columns<'_>,
    missing: Missing,
    images: ImageRead,
) -> Result<Loaded<T>> {
    // Data to learn from needs two classes; data read as a model reads it (to evaluate or
    // explain, or to train on further) may hold one: the model knows the others.
    let learning = matches!(categories, Columns::Find { .. });
    let loaded = load_any(source, target, labels, task, categories, missing, images)?;
    let d = &loaded.train;
    if learning && d.task() == Task::Classification && d.class_names.len() < 2 {
        let class = d.class_names.first().map_or("", |c| c.as_str());
        let csv = builtin::text(source).is_some() || is_csv(Path::new(source));
        let (file, holder) = match (&loaded.target_name, labels) {
            (Some(t), _) if csv => (source, format!("column '{t}' holds")),
            (_, Some(l)) => (l, "the targets hold".to_string()),
            _ => (source, "the targets hold".to_string()),
        };
        return Err(Error::data(
            Path::new(file),
            format!("{holder} a single class ('{class}'); classification needs at least two"),
        ));
    }
    Ok(loaded)
}

fn load_any<T: Float>(
    source: &str,
    target: Option<&str>,
    labels: Option<&str>,
    task: Option<Task>,
    categories: Columns<'_>,
    missing: Missing,
    images: ImageRead,
) -> Result<Loaded<T>> {
    let path = Path::new(source);
    // (--test-labels and --val-labels are checked against their data before they come here.)
    if let Some(l) = labels.filter(|_| !is_npy(path)) {
        return Err(Error::config(format!(
            "--labels {l}: {source} holds its own targets; only .npy data takes them from an array of their own"
        )));
    }
    if let Some(text) = builtin::text(source) {
        let tc = target_column(target);
        let csv = read_csv_from::<T>(
            text.as_bytes(),
            source,
            &tc,
            task.or(Some(Task::Classification)),
            categories,
            missing,
        )?;
        let d = csv.data;
        return Ok(Loaded {
            description: format!(
                "{source} (built-in): {} rows, {} features",
                d.len(),
                d.x.cols
            ),
            task_reason: if task.is_some() {
                "given".into()
            } else {
                "classification: the built-in sets are labelled digits and species".into()
            },
            train: d,
            test: None,
            image: None,
            target_name: csv.target_name,
            categorical: csv.categorical,
        });
    }
    if path.is_dir() && !idx::is_mnist_dir(path) {
        if !images::is_class_folder(path) {
            if images::image_files(path).is_ok_and(|f| !f.is_empty()) {
                return Err(Error::data(path, "images, but not in class folders: put each class's images in a folder named after it (to predict them, give a model of images)"));
            }
            return Err(Error::data(path, format!("a folder, but neither of MNIST IDX files (train-images-idx3-ubyte[.gz] and the other three) nor of class folders holding images (.{})", images::EXTENSIONS.join(", ."))));
        }
        if task.is_some_and(|t| t != Task::Classification) {
            return Err(Error::config(format!(
                "--data {source}: a folder of class folders holds a classification"
            )));
        }
        let (train, shape) = images::read_image_folder::<T>(path, images)?;
        return Ok(Loaded {
            description: format!(
                "{source} (image folder): {} images of {} classes, {}, scaled to [0, 1]",
                train.len(),
                train.class_names.len(),
                shape.describe()
            ),
            task_reason: "classification: one folder per class".into(),
            target_name: None,
            train,
            test: None,
            image: Some(shape),
            categorical: Vec::new(),
        });
    }
    if path.is_dir() {
        let (train, test, shape) = idx::read_mnist_images::<T>(path)?;
        return Ok(Loaded {
            description: format!(
                "{source} (MNIST IDX): {} training and {} test images of {} pixels, scaled to [0, 1]",
                train.len(),
                test.len(),
                train.x.cols
            ),
            task_reason: "classification: IDX labels are digits".into(),
            train,
            test: Some(OwnTest {
                data: test,
                what: "the t10k files".into(),
            }),
            image: Some(shape),
            target_name: Some("label".into()),
            categorical: Vec::new(),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        _ if is_csv(path) => {
            let tc = target_column(target);
            let csv = read_csv::<T>(path, &tc, task, categories, missing)?;
            let d = csv.data;
            let mut description =
                format!("{}: {} rows, {} features", shown(source), d.len(), d.x.cols);
            if csv.header == Header::None {
                description += ", no header (its first line holds numbers: a data row), columns named by index: 0, 1, …";
            }
            if !csv.categorical.is_empty() {
                let encoded: Vec<String> = csv
                    .categorical
                    .iter()
                    .map(|c| format!("{} ({})", c.column, c.categories.len()))
                    .collect();
                description += &format!(", columns one-hot encoded: {}", encoded.join(", "));
            }
            Ok(Loaded {
                description,
                task_reason: csv.task_reason,
                train: d,
                test: None,
                image: None,
                target_name: csv.target_name,
                categorical: csv.categorical,
            })
        }
        Some("npz") => {
            let column = npy_column(target)?;
            let mut npz = npy::Npz::open(path)?;
            let parts = NpzParts::of(&npz, path)?;
            let (train, reason, image) = npz_dataset::<T>(
                &mut npz,
                (&parts.x, parts.y.as_deref()),
                column,
                task,
                missing,
                array_shape(images),
            )?;
            let arrays = match &parts.y {
                Some(y) => format!("{} and {y}", parts.x),
                None => parts.x.clone(),
            };
            let mut description = format!("{source}: {arrays}: {}", npy_rows(&train, image));
            let test = match &parts.test {
                Some((x, y)) => {
                    let task = Some(train.task());
                    let shape = image.map(|i| i.shape);
                    let (mut test, _, _) =
                        npz_dataset::<T>(&mut npz, (x, Some(y)), None, task, missing, shape)?;
                    if test.x.cols != train.x.cols {
                        return Err(Error::data(
                            npz.shown(x),
                            format!("{} features; {} has {}", test.x.cols, parts.x, train.x.cols),
                        ));
                    }
                    crate::train_cmd::align_classes(&mut test, &train.class_names, source)?;
                    description += &format!("; test: {x} and {y}: {}", npy_rows(&test, image));
                    Some(OwnTest {
                        data: test,
                        what: format!("arrays {x} and {y}"),
                    })
                }
                None => None,
            };
            Ok(Loaded {
                description,
                task_reason: reason,
                train,
                test,
                image: image.map(|i| i.shape),
                target_name: parts.y.map(|_| "target".to_string()),
                categorical: Vec::new(),
            })
        }
        Some("npy") => {
            let column = npy_column(target)?;
            let want = array_shape(images);
            let (d, reason, image) = npy::read_npy_dataset::<T>(
                path,
                labels.map(Path::new),
                column,
                task,
                missing,
                want,
            )?;
            let description = format!("{source}: {}", npy_rows(&d, image));
            Ok(Loaded {
                description,
                task_reason: reason,
                train: d,
                test: None,
                image: image.map(|i| i.shape),
                target_name: labels.map(|_| "target".to_string()),
                categorical: Vec::new(),
            })
        }
        _ if !path.exists() => Err(Error::config(format!(
            "--data {source}: no such file or folder, and not a built-in data set ({})",
            builtin::NAMES.join(", ")
        ))),
        _ => Err(Error::data(path, "not a .csv, .tsv (either gzip'd: .csv.gz) or .npy file, an .npz archive, a folder of MNIST IDX files, or a built-in name (iris, digits)")),
    }
}

/// A model's images, read from an array exactly as its shape (an array cannot be resized).
fn array_shape(images: ImageRead) -> Option<ImageShape> {
    images
        .size
        .zip(images.channels)
        .map(|((height, width), channels)| ImageShape {
            height,
            width,
            channels,
        })
}

/// What arrays held, for the user: "60000 images, 28×28 gray, uint8 scaled to [0, 1]" or "150
/// rows, 4 features".
fn npy_rows<T: Float>(d: &Dataset<T>, image: Option<npy::Images>) -> String {
    match image {
        Some(npy::Images { shape, scaled }) => {
            let how = match scaled {
                true => "uint8 scaled to [0, 1]",
                false => "values in [0, 1] as given",
            };
            format!("{} images, {}, {how}", d.len(), shape.describe())
        }
        None => format!("{} rows, {} features", d.len(), d.x.cols),
    }
}

/// Loads rows to predict: features only, a CSV's columns found by the model's `names` and its
/// text columns encoded as the model's were (`categorical`), missing values read or refused as
/// `missing` says. A CSV's columns other than the model's are left out; in a file read by position
/// (its header names none of the model's columns), the target column is dropped: `--target`, the
/// model's target name, or the last of one column more than the model's.
pub fn load_features<T: Float>(
    source: &str,
    target: Option<&str>,
    model_target: Option<&str>,
    names: &[String],
    categorical: &[Categorical],
    missing: Missing,
    image: Option<ImageShape>,
) -> Result<Dataset<T>> {
    let path = Path::new(source);
    let known = Columns::Model { names, categorical };
    if let Some(files) = image_files(source, image)? {
        let shape = image.expect("images are read for a model of images");
        let (x, _) = images::read_images::<T>(&files, ImageRead::as_shape(shape))?;
        let mut d = Dataset::regression(x, mlp::Matrix::zeros(files.len(), 0));
        d.feature_names = shape.feature_names();
        return Ok(d);
    }
    if is_npy(path) {
        let column = npy_column(target)?;
        let x = npy::read_npy(path)?;
        return npy::npy_features::<T>(x, path, column, names.len(), missing, image);
    }
    if is_npz(path) {
        let column = npy_column(target)?;
        let mut npz = npy::Npz::open(path)?;
        let x = NpzParts::features(&npz, path)?;
        let shown = npz.shown(&x);
        let a = npz.array(&x)?.numbers(&shown)?;
        return npy::npy_features::<T>(a, &shown, column, names.len(), missing, image);
    }
    if !is_csv(path) {
        // Built-in and IDX sources carry their targets separately (or in a column given by --target).
        let regression = Some(Task::Regression);
        let read = image.map_or_else(ImageRead::default, ImageRead::as_shape);
        let loaded = load::<T>(source, target, None, regression, known, missing, read)
            .or_else(|_| load::<T>(source, target, None, None, known, missing, read))?;
        return Ok(loaded.held_out());
    }
    let headers = csv_headers(path)?;
    if !categorical.is_empty() || names.iter().any(|n| headers.contains(n)) {
        // The model's columns by name: any other, the target too, is left out.
        return Ok(read_csv::<T>(path, &TargetColumn::Absent, None, known, missing)?.data);
    }
    // By position (the header names none of the model's columns): every column but the target,
    // found as `--target` or the model's target name says, else the last of one column too many.
    let drop = match target.map(TargetColumn::parse) {
        Some(given) => given.positions(&headers),
        None => {
            let own =
                model_target.map_or_else(Vec::new, |n| TargetColumn::parse(n).positions(&headers));
            match own.is_empty() && headers.len() == names.len() + 1 {
                true => vec![headers.len() - 1],
                false => own,
            }
        }
    };
    let own: Vec<String> = (0..headers.len())
        .filter(|j| !drop.contains(j))
        .map(|j| headers[j].clone())
        .collect();
    let by_position = Columns::Model {
        names: &own,
        categorical: &[],
    };
    Ok(read_csv::<T>(path, &TargetColumn::Absent, None, by_position, missing)?.data)
}

/// For a model of images (`image`), the image files `source` names, one a row: an image file, or
/// every image in a folder and its subfolders (class folders or not; an MNIST folder is read as
/// such). `None` for any other source.
pub fn image_files(
    source: &str,
    image: Option<ImageShape>,
) -> Result<Option<Vec<std::path::PathBuf>>> {
    let path = Path::new(source);
    let is_images = match path.is_dir() {
        true => !idx::is_mnist_dir(path),
        false => images::is_image(path),
    };
    if image.is_none() || !is_images {
        return Ok(None);
    }
    let files = images::image_files(path)?;
    if files.is_empty() {
        return Err(Error::data(
            path,
            format!(
                "no images here (files ending in .{})",
                images::EXTENSIONS.join(", .")
            ),
        ));
    }
    Ok(Some(files))
}

/// For a CSV file, before it is read: its size and the memory its values will take, estimated
/// from the file size and its first 64 KiB (`value_bytes` per value).
pub fn estimate(source: &str, value_bytes: usize) -> Option<String> {
    use std::io::Read;
    let path = Path::new(source);
    // A gzip'd file's size says little of its rows.
    if !is_csv(path) || source.to_ascii_lowercase().ends_with(".gz") {
        return None;
    }
    let size = std::fs::metadata(path).ok()?.len();
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let head = &head[..n];
    let lines: Vec<&[u8]> = head
        .split(|&b| b == b'\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect();
    let sample = if n == head.len() && lines.len() > 1 {
        &lines[..lines.len() - 1]
    } else {
        &lines[..]
    };
    if sample.is_empty() {
        return None;
    }
    let bytes_per_row =
        sample.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / sample.len() as f64;
    let cols = sample[0].iter().filter(|&&b| b == b',').count() + 1;
    let rows = size as f64 / bytes_per_row;
    let mib = rows * cols as f64 * value_bytes as f64 / (1u64 << 20) as f64;
    Some(format!(
        "{source} ({:.1} MB): about {:.0} rows × {cols} columns, {mib:.0} MiB in memory as f{}",
        size as f64 / 1e6,
        rows,
        value_bytes * 8
    ))
}

/// Where `--sample-weight SPEC` takes the rows' weights from: parsed once, before the data is read.
pub enum WeightSource<'a> {
    /// A column of the data's CSV file (not a feature when training).
    Column(&'a str),
    /// A `.npy` file of one weight per row.
    File(&'a str),
}

impl<'a> WeightSource<'a> {
    /// `--sample-weight SPEC` for the data `data`: a `.npy` file by its name, else a column of the
    /// data's CSV file; an error where the data is no CSV file.
    pub fn of(spec: &'a str, data: &str) -> Result<Self> {
        if is_npy(Path::new(spec)) {
            return Ok(WeightSource::File(spec));
        }
        let path = Path::new(data);
        if !(is_csv(path) && (path.is_file() || is_stdin(path))) {
            return Err(Error::config(format!(
                "--sample-weight {spec}: the weights are a column of a CSV file, or a .npy file; {} is not a CSV file",
                shown(data)
            )));
        }
        Ok(WeightSource::Column(spec))
    }

    /// One weight per row of `data` (`rows` rows of `what`, e.g. "the training data"), each a
    /// number here; [`Dataset::with_sample_weight`] checks them.
    pub fn read<T: Float>(&self, data: &str, rows: usize, what: &str) -> Result<Vec<T>> {
        match self {
            WeightSource::Column(column) => csv_weights(Path::new(data), column),
            WeightSource::File(file) => npy_weights(Path::new(file), rows, what),
        }
    }

    /// What the rows are weighted by, for the user.
    pub fn describe(&self) -> String {
        match self {
            WeightSource::Column(column) => format!("rows weighted by column {column}"),
            WeightSource::File(file) => format!("rows weighted by {file}"),
        }
    }
}

/// `--sample-weight COLUMN` of the CSV file `path`: one number per data row.
fn csv_weights<T: Float>(path: &Path, w: &str) -> Result<Vec<T>> {
    let rows = mlp::data::csv_columns(path, &[w.to_string()])?;
    rows.iter()
        .enumerate()
        .map(|(r, v)| {
            v[0].trim().parse::<f64>().map(T::of).map_err(|_| {
                Error::config(format!(
                    "--sample-weight {w}: {}, data row {}: '{}' is not a number",
                    path.display(),
                    r + 1,
                    v[0]
                ))
            })
        })
        .collect()
}

/// `--sample-weight W.npy`: one weight per row of `what`, a 1-D array (or one column). Its values
/// are checked here, with numpy's 0-based indices.
fn npy_weights<T: Float>(file: &Path, rows: usize, what: &str) -> Result<Vec<T>> {
    let a = npy::read_npy(file)?;
    match a.shape.as_slice() {
        [n] | [n, 1] if *n == rows => {}
        s => {
            return Err(Error::data(
                file,
                format!("shape {s:?}; expected ({rows},): one weight per row of {what}"),
            ))
        }
    }
    if let Some(i) = a.data.iter().position(|w| !(*w >= 0.0 && w.is_finite())) {
        return Err(Error::data(
            file,
            format!(
                "the weight at index {i} is {}; expected a finite number ≥ 0",
                a.data[i]
            ),
        ));
    }
    Ok(a.data.iter().map(|&w| T::of(w)).collect())
}
