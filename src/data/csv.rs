//! CSV: a header row, numeric features, one target column (class labels as text or integers, or
//! real values). Parsed with the `csv` crate, streaming, straight into the feature matrix.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::{Dataset, Targets, Task};
use crate::error::{Error, Result};
use crate::tensor::{Float, Matrix};

/// Which column holds the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetColumn {
    /// The last column (the default).
    Last,
    /// The column with this header name.
    Name(String),
    /// The column at this 0-based position.
    Index(usize),
    /// No target: every column is a feature (rows to predict).
    Absent,
}

impl TargetColumn {
    /// A header name, or a 0-based index when it is a number that names no column.
    pub fn parse(s: &str) -> Self {
        match s.parse::<usize>() {
            Ok(i) => TargetColumn::Index(i),
            Err(_) => TargetColumn::Name(s.to_string()),
        }
    }
}

/// Reads a CSV file. With `task` unset it is inferred; the string says what was inferred and why.
pub fn read_csv<T: Float>(
    path: &Path,
    target: &TargetColumn,
    task: Option<Task>,
) -> Result<(Dataset<T>, String)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_csv_reader(
        std::io::BufReader::with_capacity(1 << 20, file),
        path,
        target,
        task,
    )
}

/// Reads CSV text from any reader; `name` stands for the file in messages.
pub fn read_csv_from<T: Float>(
    reader: impl Read,
    name: &str,
    target: &TargetColumn,
    task: Option<Task>,
) -> Result<Dataset<T>> {
    read_csv_reader(reader, Path::new(name), target, task).map(|(d, _)| d)
}

/// Target values as read: numbers while every one is a number, else interned text labels.
enum RawTargets {
    Numbers(Vec<f64>),
    Text {
        ids: Vec<usize>,
        names: Vec<String>,
        index: HashMap<String, usize>,
    },
}

fn read_csv_reader<T: Float>(
    reader: impl Read,
    path: &Path,
    target: &TargetColumn,
    task: Option<Task>,
) -> Result<(Dataset<T>, String)> {
    // Fields are read as bytes and trimmed here, as slices: the csv crate's own trimming rebuilds
    // every record, and its UTF-8 check of every field is wasted on numbers (a profile of a 200 MB
    // file put a third of the reading time in those two).
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let csv_err = |e: csv::Error| match e.position() {
        Some(p) => Error::Parse {
            path: path.into(),
            line: p.line(),
            column: 1,
            message: e.to_string(),
        },
        None => match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::io(path, io),
            k => Error::data(path, format!("{k:?}")),
        },
    };
    let headers: Vec<String> = rdr
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(Error::data(
            path,
            "the file is empty; expected a header row and data rows",
        ));
    }
    if headers.len() < 2 && *target != TargetColumn::Absent {
        return Err(Error::data(
            path,
            format!(
                "only one column ('{}'); expected feature columns and a target column",
                headers[0]
            ),
        ));
    }
    let t = match target {
        TargetColumn::Absent => usize::MAX,
        TargetColumn::Last => headers.len() - 1,
        TargetColumn::Name(n) => headers.iter().position(|h| h == n).ok_or_else(|| {
            Error::config(format!(
                "{}: no column named '{n}'; the columns are: {}",
                path.display(),
                headers.join(", ")
            ))
        })?,
        TargetColumn::Index(i) if *i < headers.len() => *i,
        TargetColumn::Index(i) => {
            return Err(Error::config(format!(
                "{}: target column {i} does not exist; the file has {} columns (0 to {})",
                path.display(),
                headers.len(),
                headers.len() - 1
            )))
        }
    };
    let cols = headers.len();
    let mut x: Vec<T> = Vec::new();
    let mut raw = RawTargets::Numbers(Vec::new());
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    while rdr.read_byte_record(&mut record).map_err(csv_err)? {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != cols {
            if record.len() == 1 && record.get(0).is_some_and(|f| f.trim_ascii().is_empty()) {
                continue; // a blank line
            }
            return Err(Error::Parse {
                path: path.into(),
                line,
                column: record.len().min(cols) as u64 + 1,
                message: format!(
                    "expected {cols} fields as in the header, found {}",
                    record.len()
                ),
            });
        }
        for (j, field) in record.iter().enumerate() {
            let field = field.trim_ascii();
            if j == t {
                let field = std::str::from_utf8(field).map_err(|_| Error::Parse {
                    path: path.into(),
                    line,
                    column: j as u64 + 1,
                    message: format!(
                        "column '{}': '{}' is not valid UTF-8 text",
                        headers[j],
                        String::from_utf8_lossy(field)
                    ),
                })?;
                push_target(&mut raw, field, task, path, line, j)?;
                continue;
            }
            let v = parse_number(field).map_err(|message| Error::Parse {
                path: path.into(),
                line,
                column: j as u64 + 1,
                message: format!("column '{}': {message}", headers[j]),
            })?;
            x.push(T::of(v));
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::data(path, "no data rows after the header"));
    }
    let feature_names: Vec<String> = headers
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != t)
        .map(|(_, h)| h.clone())
        .collect();
    if t == usize::MAX {
        let x = Matrix::from_vec(rows, cols, x);
        let y = Targets::Values(Matrix::zeros(rows, 0));
        return Ok((
            Dataset {
                x,
                y,
                feature_names,
                class_names: Vec::new(),
            },
            "no target".into(),
        ));
    }
    let x = Matrix::from_vec(rows, cols - 1, x);
    let (task, reason) = match (task, &raw) {
        (Some(task), _) => (task, "given".to_string()),
        (None, RawTargets::Text { names, .. }) => (
            Task::Classification,
            format!(
                "classification: column '{}' holds text labels ({} classes)",
                headers[t],
                names.len()
            ),
        ),
        (None, RawTargets::Numbers(v)) => super::infer_task(v, &headers[t]),
    };
    let (y, class_names) = match (task, raw) {
        (Task::Regression, RawTargets::Numbers(v)) => (
            Targets::Values(Matrix::from_vec(
                rows,
                1,
                v.into_iter().map(T::of).collect(),
            )),
            Vec::new(),
        ),
        (Task::Regression, RawTargets::Text { .. }) => unreachable!("checked while reading"),
        (Task::Classification, RawTargets::Numbers(v)) => {
            let (ids, names) = super::classes_from_numbers(&v);
            (Targets::Classes(ids), names)
        }
        (Task::Classification, RawTargets::Text { ids, names, .. }) => {
            // Sorted class names, as scikit-learn's LabelEncoder orders them.
            let mut order: Vec<usize> = (0..names.len()).collect();
            order.sort_by(|&a, &b| names[a].cmp(&names[b]));
            let mut rank = vec![0; names.len()];
            for (r, &i) in order.iter().enumerate() {
                rank[i] = r;
            }
            let sorted = order.iter().map(|&i| names[i].clone()).collect();
            (
                Targets::Classes(ids.iter().map(|&i| rank[i]).collect()),
                sorted,
            )
        }
    };
    if task == Task::Classification && class_names.len() < 2 {
        return Err(Error::data(
            path,
            format!(
                "column '{}' holds a single class ('{}'); classification needs at least two",
                headers[t],
                class_names.first().map_or("", |s| s.as_str())
            ),
        ));
    }
    Ok((
        Dataset {
            x,
            y,
            feature_names,
            class_names,
        },
        reason,
    ))
}

/// The header row of a CSV file (trimmed, without a UTF-8 BOM).
pub fn csv_headers(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let h = rdr
        .headers()
        .map_err(|e| Error::data(path, e.to_string()))?;
    Ok(h.iter()
        .map(|s| s.trim_start_matches('\u{feff}').to_string())
        .collect())
}

fn push_target(
    raw: &mut RawTargets,
    field: &str,
    task: Option<Task>,
    path: &Path,
    line: u64,
    j: usize,
) -> Result<()> {
    let parsed = parse_number(field.as_bytes());
    match raw {
        RawTargets::Numbers(v) => match parsed {
            Ok(x) => v.push(x),
            Err(message) if task == Some(Task::Regression) || field.is_empty() => {
                return Err(Error::Parse {
                    path: path.into(),
                    line,
                    column: j as u64 + 1,
                    message: format!("target: {message}"),
                })
            }
            Err(_) => {
                // The first text label: from here on, every label is text.
                let mut names = Vec::new();
                let mut index = HashMap::new();
                let ids = v
                    .iter()
                    .map(|&x| intern(&mut names, &mut index, &super::format_number(x)))
                    .collect();
                *raw = RawTargets::Text { ids, names, index };
                push_target(raw, field, task, path, line, j)?;
            }
        },
        RawTargets::Text { ids, names, index } => {
            if field.is_empty() {
                return Err(Error::Parse {
                    path: path.into(),
                    line,
                    column: j as u64 + 1,
                    message: "target: empty value; expected a class label".into(),
                });
            }
            let label = match parsed {
                Ok(x) => super::format_number(x),
                Err(_) => field.to_string(),
            };
            ids.push(intern(names, index, &label));
        }
    }
    Ok(())
}

fn intern(names: &mut Vec<String>, index: &mut HashMap<String, usize>, label: &str) -> usize {
    if let Some(&i) = index.get(label) {
        return i;
    }
    names.push(label.to_string());
    index.insert(label.to_string(), names.len() - 1);
    names.len() - 1
}

/// A finite number, or a message saying what the field is instead. Parsed from the bytes by
/// `fast-float2` (the algorithm the standard library's `f64::from_str` uses, without the UTF-8
/// check a `&str` needs first: about half the reading time of a numeric CSV went to parsing).
fn parse_number(field: &[u8]) -> Result<f64, String> {
    if field.is_empty() {
        return Err("empty value; expected a number".into());
    }
    let text = || String::from_utf8_lossy(field);
    match fast_float2::parse::<f64, _>(field) {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format!("'{}' is {v}; expected a finite number", text())),
        Err(_) => Err(format!("'{}' is not a number", text())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, task: Option<Task>) -> Result<(Dataset<f64>, String)> {
        read_csv_reader(
            text.as_bytes(),
            Path::new("t.csv"),
            &TargetColumn::Last,
            task,
        )
    }

    #[test]
    fn text_labels_become_sorted_classes() {
        let (d, why) = read("a,b,label\n1,2,dog\n3,4,cat\n5,6,dog\n", None).unwrap();
        assert_eq!(d.class_names, vec!["cat", "dog"]);
        assert_eq!(d.classes().unwrap(), &[1, 0, 1]);
        assert!(why.contains("text labels"), "{why}");
    }

    #[test]
    fn real_targets_infer_regression() {
        let (d, why) = read("a,y\n1,0.5\n2,1.5\n", None).unwrap();
        assert_eq!(d.task(), Task::Regression);
        assert!(why.starts_with("regression"), "{why}");
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = read("a,b,y\n1,2,0\n1,x,1\n", None).unwrap_err().to_string();
        assert_eq!(e, "t.csv:3:2: column 'b': 'x' is not a number");
        let e = read("a,b,y\n1,2,0\n1,2\n", None).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:3: expected 3 fields"), "{e}");
        let e = read("a,b,y\n1,2,0\n1,2,0\n", None).unwrap_err().to_string();
        assert!(e.contains("single class"), "{e}");
        let e = read("a,b,y\n", None).unwrap_err().to_string();
        assert!(e.contains("no data rows"), "{e}");
        let e = read("a,b,y\n1,inf,0\n", None).unwrap_err().to_string();
        assert!(e.contains("t.csv:2:2") && e.contains("finite"), "{e}");
    }

    /// The byte parser accepts what `f64::from_str` accepts, with the same value (the standard
    /// library as the oracle), and the fields are trimmed as before.
    #[test]
    fn numbers_read_as_the_standard_library_reads_them() {
        let cases = [
            "0",
            "-0",
            "+1.5",
            "1e3",
            "1E-3",
            "-2.5e+10",
            ".5",
            "5.",
            "0.1",
            "123456789012345678901",
            "4.9e-324",
            "1.7976931348623157e308",
            "1e400",
            "nan",
            "NaN",
            "inf",
            "-infinity",
            "1.2.3",
            "1e",
            "e5",
            "-",
            "+",
            ".",
            "0x10",
            "1_000",
            "1,5",
            "١",
            "12abc",
            " 1",
            "1 ",
        ];
        for s in cases {
            let ours = parse_number(s.as_bytes());
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => assert_eq!(ours, Ok(v), "{s}"),
                _ => assert!(ours.is_err(), "{s}: read as {ours:?}"),
            }
        }
        let (d, _) = read("a , b,y\n  1.5 ,\t-2 , 0\n3,4,1\n", None).unwrap();
        assert_eq!(d.feature_names, vec!["a", "b"]);
        assert_eq!(d.x.data, vec![1.5, -2.0, 3.0, 4.0]);
        let e = read_bytes(b"a,y\n1,0\n\xff\xfe,1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.csv:3:1: column 'a': "), "{e}");
        let e = read_bytes(b"a,y\n1,0\n2,\xff\n").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:2:") && e.contains("UTF-8"), "{e}");
    }

    fn read_bytes(bytes: &[u8]) -> Result<(Dataset<f64>, String)> {
        read_csv_reader(bytes, Path::new("t.csv"), &TargetColumn::Last, None)
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let (d, _) = read("\u{feff}a,y\r\n1,0\r\n2,1\r\n", None).unwrap();
        assert_eq!(d.feature_names, vec!["a"]);
        assert_eq!(d.x.data, vec![1.0, 2.0]);
    }
}
