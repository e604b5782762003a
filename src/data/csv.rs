//! CSV: a header row, numeric features, one target column (class labels as text or integers, or
//! real values), or several of real values (a multi-output regression). Parsed with the `csv` crate, streaming, straight into the feature matrix.
//!
//! A feature column of text (categories, such as `red`/`green`/`blue`) is one-hot encoded, as
//! scikit-learn's `OneHotEncoder` does: one 0/1 feature per category, in sorted order, in the
//! column's place among the features. A column is text when its first value is not a number, or
//! when the caller names it ([`Columns::Find`]); a model's columns are found by name and encoded
//! as they were learned ([`Columns::Model`]), and a category it never saw is an error.
//!
//! A missing value (an empty field, or one of pandas' markers: `NA`, `NaN`, `null`, `?`, …) is an
//! error naming its place, unless the caller reads them ([`Missing::Read`]): a number is then NaN,
//! to be filled by an [`Imputer`](super::Imputer), and a category gives no indicator (all zeros).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use std::path::Path;

use serde::{Deserialize, Serialize};

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
    /// Several columns (each a `Name` or an `Index`): a multi-output regression, one network
    /// output per column, as scikit-learn's `MLPRegressor` fits a two-dimensional y.
    Several(Vec<TargetColumn>),
    /// No target: every column is a feature (rows to predict).
    Absent,
}

impl TargetColumn {
    /// A header name, or a 0-based index when it is a number; a comma-separated list of them
    /// (`price,rent`) is [`TargetColumn::Several`].
    pub fn parse(s: &str) -> Self {
        let one = |s: &str| match s.parse::<usize>() {
            Ok(i) => TargetColumn::Index(i),
            Err(_) => TargetColumn::Name(s.to_string()),
        };
        if s.contains(',') {
            TargetColumn::Several(s.split(',').map(|p| one(p.trim())).collect())
        } else {
            one(s)
        }
    }

    /// Where the target columns are among `headers`; names not there are left out.
    pub fn positions(&self, headers: &[String]) -> Vec<usize> {
        match self {
            TargetColumn::Last => headers.len().checked_sub(1).into_iter().collect(),
            TargetColumn::Name(n) => headers.iter().position(|h| h == n).into_iter().collect(),
            TargetColumn::Index(i) => (*i < headers.len()).then_some(*i).into_iter().collect(),
            TargetColumn::Several(list) => list.iter().flat_map(|t| t.positions(headers)).collect(),
            TargetColumn::Absent => Vec::new(),
        }
    }
}

/// A text column, one-hot encoded: the features `first_feature ..
/// first_feature + categories.len()` are 1 where the row's value is that category, else 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Categorical {
    /// The column's header.
    pub column: String,
    /// Where its first indicator sits among the features (the network's inputs).
    pub first_feature: usize,
    /// Its values, sorted; indicator i is `column=categories[i]`.
    pub categories: Vec<String>,
}

/// Which columns are features, and which of them hold categories rather than numbers.
#[derive(Clone, Copy, Debug)]
pub enum Columns<'a> {
    /// Learn them: every column but the target, those in `drop` and the `weight` column (row
    /// weights, which the caller reads apart) is a feature; those in `categorical`, and every
    /// column whose first value present is not a number, are categories.
    Find {
        categorical: &'a [String],
        drop: &'a [String],
        weight: Option<&'a str>,
    },
    /// A model's: its feature columns found by name, wherever they are (other columns are left
    /// out), in the model's order, with its categories. A file whose header names none of them
    /// (and a model without categories) is read by position instead, all columns but the target.
    Model {
        names: &'a [String],
        categorical: &'a [Categorical],
    },
}

impl Columns<'static> {
    /// Every column but the target a feature, text ones categories.
    pub const ALL: Columns<'static> = Columns::Find {
        categorical: &[],
        drop: &[],
        weight: None,
    };
}

/// The columns behind a model's features: a column of numbers is its feature's name, a one-hot
/// encoded column (whose indicators are `first_feature ..`) is named once.
pub fn feature_columns(feature_names: &[String], categorical: &[Categorical]) -> Vec<String> {
    feature_groups(feature_names, categorical)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// Each column behind a model's features with the features it became: one for a column of
/// numbers, its indicators for a one-hot encoded one.
pub fn feature_groups(
    feature_names: &[String],
    categorical: &[Categorical],
) -> Vec<(String, std::ops::Range<usize>)> {
    let mut groups = Vec::new();
    let mut j = 0;
    let mut encoded = categorical.iter().peekable();
    while j < feature_names.len() {
        match encoded.next_if(|c| c.first_feature == j) {
            Some(c) => {
                let n = c.categories.len().max(1);
                groups.push((c.column.clone(), j..(j + n).min(feature_names.len())));
                j += n;
            }
            None => {
                groups.push((feature_names[j].clone(), j..j + 1));
                j += 1;
            }
        }
    }
    groups
}

/// What to do with a missing value in a feature column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// An error at its line and column.
    Refuse,
    /// Read as NaN (a number) or no indicator (a category), to be filled by the caller.
    Read,
}

impl Missing {
    /// Read where something will fill them (`filled`: an imputer or its strategy), else refused.
    pub fn unless_filled<I>(filled: Option<I>) -> Self {
        match filled {
            Some(_) => Missing::Read,
            None => Missing::Refuse,
        }
    }
}

/// The fields read as a missing value: empty, and pandas' default markers (`read_csv`'s
/// `na_values`), with `?` as the UCI repository writes it.
pub const MISSING_MARKERS: [&str; 19] = [
    "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "<NA>", "#N/A",
    "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "1.#IND", "?",
];

fn is_missing(field: &[u8]) -> bool {
    MISSING_MARKERS.iter().any(|m| m.as_bytes() == field)
}

/// The field delimiter of a CSV file, from its first line: the most frequent of `,`, `;` and tab
/// (`;` is what spreadsheets export where the decimal mark is a comma, tab a `.tsv` file), `,` on a
/// tie or when none is there — except that `;` wins in a line whose every comma is a decimal comma
/// in a number between semicolons (`5,1;3,5;0,2`: a file without a header, see [`Header`]).
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |d: u8| line.iter().filter(|&&b| b == d).count();
    let decimal_commas = line
        .split(|&b| b == b';')
        .all(|f| !f.contains(&b',') || decimal_comma(f.trim_ascii()).is_some());
    if count(b';') > 0 && decimal_commas {
        return b';';
    }
    [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|&d| count(d))
        .filter(|&d| count(d) > 0)
        .unwrap_or(b',')
}

/// The path that names standard input, as most command-line tools read `-`
/// (`mlp predict --data - < rows.csv`, or at the end of a pipe).
pub const STDIN: &str = "-";

/// Whether `path` is [`STDIN`].
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// How `path` is named in messages: standard input as `<stdin>`, as compilers name it.
fn shown(path: &Path) -> &Path {
    match is_stdin(path) {
        true => Path::new("<stdin>"),
        false => path,
    }
}

/// Standard input, read to its end on first use and kept for the process: a CSV is read more than
/// once (its header to find the model's columns, then its rows, then columns to copy beside the
/// predictions), and a pipe can be read only once. A terminal is refused rather than waited on.
fn stdin_bytes() -> Result<&'static [u8]> {
    use std::io::IsTerminal;
    use std::sync::OnceLock;
    static BYTES: OnceLock<std::result::Result<Vec<u8>, String>> = OnceLock::new();
    let read = || {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err("standard input is a terminal: pipe a CSV file into it \
                        (`mlp predict --model m.safetensors --data - < rows.csv`)"
                .to_string());
        }
        let mut bytes = Vec::new();
        stdin
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading standard input: {e}"))?;
        Ok(bytes)
    };
    match BYTES.get_or_init(read) {
        Ok(bytes) => Ok(bytes),
        Err(message) => Err(Error::data(shown(Path::new(STDIN)), message.clone())),
    }
}

/// The file at `path` ([`STDIN`]: standard input), buffered, and whether it is gzip'd (its first
/// bytes gzip's magic number, whatever its name): a `.csv.gz` is read through a decoder, as
/// pandas' `read_csv` reads it.
fn open_file(path: &Path, capacity: usize) -> Result<(Box<dyn BufRead>, bool)> {
    let mut reader: Box<dyn BufRead> = if is_stdin(path) {
        Box::new(stdin_bytes()?)
    } else {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Box::new(BufReader::with_capacity(capacity, file))
    };
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    Ok((reader, gzip))
}

/// A CSV file opened: its reader, past the first line, that line's fields (trimmed, without a
/// UTF-8 BOM), and what that line is.
struct Opened {
    rdr: csv::Reader<Box<dyn BufRead>>,
    first: Vec<String>,
    header: Header,
}

/// Opens `file` (gzip'd or not) as CSV, its delimiter sniffed from its first bytes.
fn open_csv(path: &Path) -> Result<Opened> {
    let mut reader: Box<dyn BufRead> = match open_file(path, 1 << 16)? {
        (r, true) => Box::new(BufReader::new(MultiGzDecoder::new(r))),
        (r, false) => Box::new(r),
    };
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    let delimiter = sniff_delimiter(head);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let first: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::data(shown(path), e.to_string()))?
        .iter()
        .map(|s| s.trim_start_matches('\u{feff}').to_string())
        .collect();
    let header = Header::of(&first, delimiter);
    Ok(Opened { rdr, first, header })
}

/// The most categories a text column may have: each becomes a feature, so a column of free text
/// or identifiers (a value per row) would add a feature per row.
pub const MAX_CATEGORIES: usize = 1000;

/// What a CSV file held: the data set, why its task is what it is, the target column's header,
/// and its one-hot encodings.
#[derive(Clone, Debug)]
pub struct Csv<T> {
    pub data: Dataset<T>,
    pub task_reason: String,
    pub target_name: Option<String>,
    pub categorical: Vec<Categorical>,
    /// The file had no header (see [`Header`]): its columns are named by their indices.
    pub header: Header,
}

/// Whether a CSV file's first line names its columns. It does, as pandas reads a file, unless it
/// holds a number other than its column's 0-based index: then it is the first data row (a file
/// written without a header, as UCI's `iris.data` and `np.savetxt` write them, which pandas reads
/// with `header=None`), and the columns are named `0`, `1`, … as pandas names them. A header of
/// pandas' own column names (`0,1,2,label`, from a DataFrame of an array) stays a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    FirstLine,
    None,
}

impl Header {
    /// What the first line, `fields` (trimmed), is; `delimiter` says whether a decimal comma counts.
    pub fn of(fields: &[String], delimiter: u8) -> Header {
        let data = fields.iter().enumerate().any(|(j, f)| {
            let f = f.trim_start_matches('\u{feff}').as_bytes();
            let v = parse_number(f)
                .ok()
                .or_else(|| (delimiter == b';').then(|| decimal_comma(f)).flatten());
            v.is_some_and(|v| v != j as f64)
        });
        match data {
            true => Header::None,
            false => Header::FirstLine,
        }
    }

    /// The columns' names: the first line's `fields`, or their indices.
    fn names(self, fields: Vec<String>) -> Vec<String> {
        match self {
            Header::FirstLine => fields,
            Header::None => (0..fields.len()).map(|j| j.to_string()).collect(),
        }
    }
}

/// Reads a CSV file. With `task` unset it is inferred; `task_reason` says what was inferred and why.
pub fn read_csv<T: Float>(
    path: &Path,
    target: &TargetColumn,
    task: Option<Task>,
    columns: Columns<'_>,
    missing: Missing,
) -> Result<Csv<T>> {
    let (reader, gzip) = open_file(path, 1 << 20)?;
    let path = shown(path);
    match gzip {
        true => {
            let decoded = BufReader::with_capacity(1 << 20, MultiGzDecoder::new(reader));
            read_csv_reader(decoded, path, target, task, columns, missing)
        }
        false => read_csv_reader(reader, path, target, task, columns, missing),
    }
}

/// Reads CSV text from any reader; `name` stands for the file in messages.
pub fn read_csv_from<T: Float>(
    reader: impl Read,
    name: &str,
    target: &TargetColumn,
    task: Option<Task>,
    columns: Columns<'_>,
    missing: Missing,
) -> Result<Csv<T>> {
    let reader = std::io::BufReader::new(reader);
    read_csv_reader(reader, Path::new(name), target, task, columns, missing)
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
    mut reader: impl std::io::BufRead,
    path: &Path,
    target: &TargetColumn,
    task: Option<Task>,
    columns: Columns<'_>,
    missing: Missing,
) -> Result<Csv<T>> {
    // Fields are read as bytes and trimmed here, as slices: the csv crate's own trimming rebuilds
    // every record, and its UTF-8 check of every field is wasted on numbers (a profile of a 200 MB
    // file put a third of the reading time in those two).
    let head = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    let delimiter = sniff_delimiter(head);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
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
    let first: Vec<String> = rdr
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let header = Header::of(&first, delimiter);
    // A first line that is data is read as the first row, where it was in the file.
    let mut first_row = (header == Header::None).then(|| {
        let mut r = csv::ByteRecord::from(first.clone());
        r.set_position(rdr.byte_headers().ok().and_then(|h| h.position()).cloned());
        r
    });
    let headers = header.names(first);
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
    let find = |target: &TargetColumn| match target {
        TargetColumn::Name(n) => headers.iter().position(|h| h == n).ok_or_else(|| {
            Error::config(format!(
                "{}: no column named '{n}'; the columns are: {}",
                path.display(),
                headers.join(", ")
            ))
        }),
        TargetColumn::Index(i) if *i < headers.len() => Ok(*i),
        TargetColumn::Index(i) => Err(Error::config(format!(
            "{}: target column {i} does not exist; the file has {} columns (0 to {})",
            path.display(),
            headers.len(),
            headers.len() - 1
        ))),
        _ => Ok(headers.len() - 1),
    };
    let targets: Vec<usize> = match target {
        TargetColumn::Absent => Vec::new(),
        TargetColumn::Several(list) => list.iter().map(find).collect::<Result<_>>()?,
        one => vec![find(one)?],
    };
    let cols = headers.len();
    // Per column, which target it is, if one.
    let mut target_of: Vec<Option<usize>> = vec![None; cols];
    for (k, &j) in targets.iter().enumerate() {
        if target_of[j].replace(k).is_some() {
            return Err(Error::config(format!(
                "{}: column '{}' is named twice among the target columns",
                path.display(),
                headers[j]
            )));
        }
    }
    if targets.len() >= cols {
        return Err(Error::data(
            path,
            "every column is a target; expected feature columns too",
        ));
    }
    let several = targets.len() > 1;
    // Several target columns are labels (0 or 1 each) when the task says classification, else
    // values; text in one is an error where it is found, as is a label neither 0 nor 1.
    let labels = task == Some(Task::MultiLabel) || (several && task == Some(Task::Classification));
    let target_task = if labels {
        Some(Task::MultiLabel)
    } else if several {
        Some(Task::Regression)
    } else {
        task
    };
    // Each column's kind: decided here where named or a model's, else by the first value present.
    let mut kinds = vec![Kind::Unseen; cols];
    // Per feature column (in the file's order), where its feature goes in the model's order;
    // `None`: where it is.
    let mut place: Option<Vec<usize>> = None;
    let mut text: Vec<TextColumn> = Vec::new();
    match columns {
        Columns::Find {
            categorical,
            drop,
            weight,
        } => {
            // A feature column by name, for `what`: one that is not there, or is the target, is
            // named as such.
            let column = |name: &str, what: &str| match headers.iter().position(|h| h == name) {
                Some(j) if target_of[j].is_none() => Ok(j),
                Some(_) => Err(Error::config(format!(
                    "{}: '{name}' is the target column, not a feature column to {what}",
                    path.display()
                ))),
                None => Err(Error::config(format!(
                    "{}: no feature column '{name}' to {what}; the columns are: {}",
                    path.display(),
                    headers.join(", ")
                ))),
            };
            if let Some(w) = weight {
                kinds[column(w, "take the sample weights from")?] = Kind::Skip;
            }
            for name in drop {
                kinds[column(name, "leave out")?] = Kind::Skip;
            }
            for name in categorical {
                let j = column(name, "treat as categories")?;
                if kinds[j] == Kind::Skip {
                    return Err(Error::config(format!(
                        "{}: column '{name}' is left out (dropped, or the sample weights), so it \
                         cannot be one-hot encoded too",
                        path.display()
                    )));
                }
                if kinds[j] == Kind::Unseen {
                    kinds[j] = Kind::Text(text.len());
                    text.push(TextColumn::default());
                }
            }
        }
        Columns::Model { names, categorical } => {
            let at: Vec<Option<usize>> = names
                .iter()
                .map(|n| {
                    headers
                        .iter()
                        .position(|h| h == n)
                        .filter(|&j| target_of[j].is_none())
                })
                .collect();
            let unique =
                names.iter().collect::<std::collections::HashSet<_>>().len() == names.len();
            if !unique || (categorical.is_empty() && at.iter().all(Option::is_none)) {
                // By position: every column but the target, as numbers.
                kinds.fill(Kind::Number);
            } else {
                kinds.fill(Kind::Skip);
                let mut order = Vec::with_capacity(names.len());
                for (name, j) in names.iter().zip(&at) {
                    let j = j.ok_or_else(|| {
                        Error::data(
                            path,
                            format!(
                                "no column '{name}'; the model's feature columns are: {}",
                                names.join(", ")
                            ),
                        )
                    })?;
                    kinds[j] = match categorical.iter().find(|c| c.column == *name) {
                        Some(c) => {
                            text.push(TextColumn::known(&c.categories));
                            Kind::Text(text.len() - 1)
                        }
                        None => Kind::Number,
                    };
                    order.push(j);
                }
                // The file's feature columns, in its order; each one's place in the model's.
                let mut read: Vec<usize> = order.clone();
                read.sort_unstable();
                place = Some(
                    read.iter()
                        .map(|j| order.iter().position(|o| o == j).expect("one of them"))
                        .collect(),
                );
            }
        }
    }
    // Per column, while its kind is unseen: the first missing value's line and text.
    let mut first_missing: Vec<Option<(u64, Vec<u8>)>> = vec![None; cols];
    let mut x: Vec<T> = Vec::new();
    let mut raw: Vec<RawTargets> = targets
        .iter()
        .map(|_| RawTargets::Numbers(Vec::new()))
        .collect();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    loop {
        match first_row.take() {
            Some(r) => record = r,
            None if rdr.read_byte_record(&mut record).map_err(csv_err)? => {}
            None => break,
        }
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
            if let Some(k) = target_of[j] {
                let field = std::str::from_utf8(field).map_err(|_| {
                    field_error(
                        path,
                        line,
                        j,
                        &headers[j],
                        format!(
                            "'{}' is not valid UTF-8 text",
                            String::from_utf8_lossy(field)
                        ),
                    )
                })?;
                push_target(
                    &mut raw[k],
                    field,
                    target_task,
                    path,
                    (line, j),
                    &headers[j],
                )?;
                continue;
            }
            let kind = &mut kinds[j];
            if matches!(*kind, Kind::Unseen) {
                // The first value present decides; missing ones before it wait as NaN.
                if is_missing(field) {
                    first_missing[j].get_or_insert((line, field.to_vec()));
                    x.push(T::of(f64::NAN));
                    continue;
                }
                let number = delimiter == b';' && decimal_comma(field).is_some();
                *kind = if is_text(field) && !number {
                    text.push(TextColumn {
                        found: true,
                        ..TextColumn::default()
                    });
                    Kind::Text(text.len() - 1)
                } else {
                    Kind::Found
                };
                if let (Kind::Found, Missing::Refuse, Some((line, marker))) =
                    (*kind, missing, &first_missing[j])
                {
                    return Err(missing_error(path, *line, j, &headers[j], marker));
                }
            }
            match *kind {
                Kind::Text(c) => {
                    let id = if is_missing(field) {
                        f64::NAN // no category: no indicator
                    } else {
                        let id = text[c].id(field);
                        id.map_err(|m| field_error(path, line, j, &headers[j], m))? as f64
                    };
                    x.push(T::of(id));
                }
                Kind::Skip => {}
                numbers => {
                    let v = match parse_number(field) {
                        Ok(v) => v,
                        Err(m) => not_a_number(field, m, delimiter, missing, numbers)
                            .map_err(|m| field_error(path, line, j, &headers[j], m))?,
                    };
                    if let Some(m) = super::beyond_precision::<T>(v) {
                        return Err(field_error(path, line, j, &headers[j], m));
                    }
                    x.push(T::of(v));
                }
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::data(path, "no data rows after the header"));
    }
    for (j, kind) in kinds.iter().enumerate() {
        // Text found in a column that differs in nearly every row: an identifier or free text,
        // whose one-hot encoding would be a feature per row.
        if let &Kind::Text(c) = kind {
            let n = text[c].names.len();
            if text[c].found && rows >= 20 && 2 * n > rows {
                return Err(Error::data(
                    path,
                    format!(
                        "column '{}' holds {n} different texts in {rows} rows: an identifier or \
                         free text, not categories; leave it out with --drop {0} (or name it in \
                         --categorical to encode it anyway)",
                        headers[j]
                    ),
                ));
            }
        }
        // A column with no value present: numbers, all missing.
        if let (Kind::Unseen, Missing::Refuse, Some((line, marker))) =
            (kind, missing, &first_missing[j])
        {
            return Err(missing_error(path, *line, j, &headers[j], marker));
        }
    }
    let features: Vec<(&str, Kind)> = (0..cols)
        .filter(|&j| target_of[j].is_none() && kinds[j] != Kind::Skip)
        .map(|j| (headers[j].as_str(), kinds[j]))
        .collect();
    let x = Matrix::from_vec(rows, features.len(), x);
    let place = place.unwrap_or_else(|| (0..features.len()).collect());
    let (x, feature_names, categorical) = one_hot(x, &features, &place, &mut text, path)?;
    if targets.is_empty() {
        let y = Targets::Values(Matrix::zeros(rows, 0));
        return Ok(Csv {
            data: Dataset {
                x,
                y,
                feature_names,
                class_names: Vec::new(),
                sample_weight: None,
            },
            task_reason: "no target".into(),
            target_name: None,
            categorical,
            header,
        });
    }
    if several || labels {
        let names: Vec<&str> = targets.iter().map(|&j| headers[j].as_str()).collect();
        let mut y = Matrix::zeros(rows, targets.len());
        for (k, values) in raw.into_iter().enumerate() {
            let RawTargets::Numbers(values) = values else {
                unreachable!("text in a target column is refused while reading")
            };
            values_in_precision::<T>(&values, path, names[k])?;
            for (r, v) in values.into_iter().enumerate() {
                y[(r, k)] = T::of(v);
            }
        }
        // Not told: columns of 0 and 1 only are labels, as scikit-learn's `type_of_target`
        // reads an indicator matrix.
        let binary = y.data.iter().all(|&v| v == T::ZERO || v == T::ONE);
        let multi_label = labels || (task.is_none() && binary);
        let listed = format!("{} target columns ({})", names.len(), names.join(", "));
        let (y, class_names) = if multi_label {
            (
                Targets::Labels(y),
                names.iter().map(|n| n.to_string()).collect(),
            )
        } else {
            (Targets::Values(y), Vec::new())
        };
        return Ok(Csv {
            data: Dataset {
                x,
                y,
                feature_names,
                class_names,
                sample_weight: None,
            },
            task_reason: match (task, multi_label) {
                (Some(_), _) => "given".into(),
                (None, true) => format!(
                    "multi-label classification: {listed} hold only 0 and 1; pass --task regression to override"
                ),
                (None, false) => format!("regression: {listed}, one output each"),
            },
            target_name: Some(names.join(",")),
            categorical,
            header,
        });
    }
    let t = targets[0];
    let raw = raw.pop().expect("one target");
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
        (Task::MultiLabel, _) => unreachable!("labels are read with several targets, above"),
        (Task::Regression, RawTargets::Numbers(v)) => {
            values_in_precision::<T>(&v, path, &headers[t])?;
            (
                Targets::Values(Matrix::from_vec(
                    rows,
                    1,
                    v.into_iter().map(T::of).collect(),
                )),
                Vec::new(),
            )
        }
        (Task::Regression, RawTargets::Text { .. }) => unreachable!("checked while reading"),
        (Task::Classification, RawTargets::Numbers(v)) => {
            let (ids, names) = super::classes_from_numbers(&v);
            (Targets::Classes(ids), names)
        }
        (Task::Classification, RawTargets::Text { ids, names, .. }) => {
            // Sorted class names, as scikit-learn's LabelEncoder orders them.
            let (ids, names) = super::sort_classes(ids, names);
            (Targets::Classes(ids), names)
        }
    };
    Ok(Csv {
        data: Dataset {
            x,
            y,
            feature_names,
            class_names,
            sample_weight: None,
        },
        task_reason: reason,
        target_name: Some(headers[t].clone()),
        categorical,
        header,
    })
}

/// An error in the field at `line`, column `j` (named `header`). Out of line: the reading loop
/// builds it only when a field is wrong.
#[cold]
#[inline(never)]
fn field_error(path: &Path, line: u64, j: usize, header: &str, message: String) -> Error {
    Error::Parse {
        path: path.into(),
        line,
        column: j as u64 + 1,
        message: format!("column '{header}': {message}"),
    }
}

#[cold]
#[inline(never)]
fn missing_error(path: &Path, line: u64, j: usize, header: &str, marker: &[u8]) -> Error {
    field_error(path, line, j, header, missing_message(marker))
}

fn missing_message(marker: &[u8]) -> String {
    format!(
        "a missing value ('{}'); expected a number (--impute mean or median fills missing values)",
        String::from_utf8_lossy(marker)
    )
}

/// A field of a column of numbers that `parse_number` refused (`message`): a missing value (NaN
/// where they are read), a decimal comma in a file of `;`-separated fields, or the message, with
/// a hint where the column began with numbers and this is text. Out of line: the reading loop
/// comes here only when a field is not a plain number (missing markers are looked for only
/// then: none of them is one).
#[cold]
#[inline(never)]
fn not_a_number(
    field: &[u8],
    mut message: String,
    delimiter: u8,
    missing: Missing,
    kind: Kind,
) -> std::result::Result<f64, String> {
    if is_missing(field) {
        return match missing {
            Missing::Read => Ok(f64::NAN),
            Missing::Refuse => Err(missing_message(field)),
        };
    }
    if let Some(v) = (delimiter == b';').then(|| decimal_comma(field)).flatten() {
        return Ok(v);
    }
    if kind == Kind::Found && is_text(field) {
        message.push_str(
            " (the column's first value is a number; to one-hot encode the column as categories, \
             name it in --categorical)",
        );
    }
    Err(message)
}

/// A feature column's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Not yet known: the first row's value decides.
    Unseen,
    /// Numbers, as the first row's value was.
    Found,
    /// Numbers, as a model's data had.
    Number,
    /// Columns: the index of its [`TextColumn`].
    Text(usize),
    /// Not one of a model's columns: left out.
    Skip,
}

/// A number written with a decimal comma (`1,5`), as spreadsheets export it where a comma is the
/// decimal mark (and `;` separates the fields).
fn decimal_comma(field: &[u8]) -> Option<f64> {
    if field.iter().filter(|&&b| b == b',').count() != 1 || field.contains(&b'.') {
        return None;
    }
    let dotted: Vec<u8> = field
        .iter()
        .map(|&b| if b == b',' { b'.' } else { b })
        .collect();
    parse_number(&dotted).ok()
}

/// A field that is not a number (nor a number's special values, nor empty). Asked of a first row
/// and of errors only: it parses with the standard library (which accepts what `parse_number`
/// does, a test checks), so that `fast-float2`'s parser stays inlined in the one hot call.
fn is_text(field: &[u8]) -> bool {
    !field.is_empty() && std::str::from_utf8(field).map_or(true, |s| s.parse::<f64>().is_err())
}

/// The categories of a text column as read: ids in order of first appearance, or a model's.
#[derive(Default)]
struct TextColumn {
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// A model's categories: no others are taken.
    known: bool,
    /// Found to be text by its first value (not named as categories).
    found: bool,
}

impl TextColumn {
    fn known(categories: &[String]) -> Self {
        let mut c = TextColumn {
            known: true,
            ..TextColumn::default()
        };
        for name in categories {
            intern(&mut c.names, &mut c.index, name);
        }
        c
    }

    /// The id of this value's category.
    fn id(&mut self, field: &[u8]) -> std::result::Result<usize, String> {
        let value = std::str::from_utf8(field).map_err(|_| {
            format!(
                "'{}' is not valid UTF-8 text",
                String::from_utf8_lossy(field)
            )
        })?;
        if let Some(&i) = self.index.get(value) {
            return Ok(i);
        }
        if self.known {
            return Err(format!(
                "'{value}' is not one of the categories the model was trained with ({})",
                super::first_names(&self.names, 10)
            ));
        }
        if self.names.len() == MAX_CATEGORIES {
            return Err(format!(
                "more than {MAX_CATEGORIES} different values; a text column becomes one feature \
                 per value (one-hot): leave the column out (--drop), or group its values"
            ));
        }
        Ok(intern(&mut self.names, &mut self.index, value))
    }

    /// Sorts learned categories; `rank[id]` is then the position of category `id`. A model's
    /// categories keep its order.
    fn sort(&mut self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        if !self.known {
            order.sort_by(|&a, &b| self.names[a].cmp(&self.names[b]));
            self.names = order.iter().map(|&i| self.names[i].clone()).collect();
        }
        let mut rank = vec![0; order.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        rank
    }
}

/// The features from the columns as read (`x`, one column per entry of `features`, in the file's
/// order): each column moved to its `place` among the model's columns, and each text column's
/// category ids replaced by its indicators. Names them: a column of numbers keeps its header,
/// category c of column `col` is `col=c`.
fn one_hot<T: Float>(
    x: Matrix<T>,
    features: &[(&str, Kind)],
    place: &[usize],
    text: &mut [TextColumn],
    path: &Path,
) -> Result<(Matrix<T>, Vec<String>, Vec<Categorical>)> {
    let ranks: Vec<Vec<usize>> = text.iter_mut().map(TextColumn::sort).collect();
    let mut order = vec![0; features.len()];
    for (k, &p) in place.iter().enumerate() {
        order[p] = k;
    }
    // Where each column's first feature goes.
    let mut offset = vec![0; features.len()];
    let mut names = Vec::new();
    let mut categorical = Vec::new();
    for &k in &order {
        let (header, kind) = features[k];
        offset[k] = names.len();
        match kind {
            Kind::Text(c) if text[c].names.is_empty() => {
                return Err(Error::data(
                    path,
                    format!("column '{header}' has no value present to take as a category"),
                ))
            }
            Kind::Text(c) => {
                categorical.push(Categorical {
                    column: header.to_string(),
                    first_feature: names.len(),
                    categories: text[c].names.clone(),
                });
                names.extend(text[c].names.iter().map(|v| format!("{header}={v}")));
            }
            _ => names.push(header.to_string()),
        }
    }
    if categorical.is_empty() && order.iter().enumerate().all(|(p, &k)| p == k) {
        return Ok((x, names, categorical));
    }
    // One-hot encoding can multiply a file's size: asked for, not assumed.
    let width = names.len();
    let mut data = Vec::new();
    let size = x.rows.checked_mul(width);
    if size.is_none_or(|n| data.try_reserve_exact(n).is_err()) {
        return Err(Error::data(
            path,
            format!(
                "{} rows of {width} features (with the one-hot indicators) do not fit in memory",
                x.rows
            ),
        ));
    }
    data.resize(x.rows * width, T::ZERO);
    let mut out = Matrix::from_vec(x.rows, width, data);
    for (row, dst) in x
        .data
        .chunks_exact(x.cols)
        .zip(out.data.chunks_exact_mut(width))
    {
        for ((&v, &(_, kind)), &at) in row.iter().zip(features).zip(&offset) {
            match kind {
                Kind::Text(_) if v.f64().is_nan() => {} // missing: no indicator
                Kind::Text(c) => dst[at + ranks[c][v.f64() as usize]] = T::ONE,
                _ => dst[at] = v,
            }
        }
    }
    Ok((out, names, categorical))
}

/// The names of a CSV file's columns: its header row (trimmed, without a UTF-8 BOM), or for a
/// file without one their indices (see [`Header`]).
pub fn csv_headers(path: &Path) -> Result<Vec<String>> {
    let Opened { first, header, .. } = open_csv(path)?;
    Ok(header.names(first))
}

/// The text of the columns `names` in every data row of a CSV file (rows as [`read_csv`] counts
/// them: blank lines skipped), e.g. an id column to copy beside predictions.
pub fn csv_columns(path: &Path, names: &[String]) -> Result<Vec<Vec<String>>> {
    let Opened {
        mut rdr,
        first,
        header,
    } = open_csv(path)?;
    let headers = header.names(first.clone());
    let at: Vec<usize> = names
        .iter()
        .map(|n| {
            headers.iter().position(|h| h == n).ok_or_else(|| {
                Error::config(format!(
                    "{}: no column '{n}'; the columns are: {}",
                    shown(path).display(),
                    headers.join(", ")
                ))
            })
        })
        .collect::<Result<_>>()?;
    let first = (header == Header::None).then(|| csv::StringRecord::from(first));
    let mut rows = Vec::new();
    let rest = rdr
        .records()
        .map(|r| r.map_err(|e| Error::data(shown(path), e.to_string())));
    for record in first.map(Ok).into_iter().chain(rest) {
        let record = record?;
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        rows.push(
            at.iter()
                .map(|&j| record.get(j).unwrap_or("").to_string())
                .collect(),
        );
    }
    Ok(rows)
}

/// That target column `name`'s `values` hold in `T` (see [`super::beyond_precision`]).
fn values_in_precision<T: Float>(values: &[f64], path: &Path, name: &str) -> Result<()> {
    for (r, &v) in values.iter().enumerate() {
        if let Some(m) = super::beyond_precision::<T>(v) {
            return Err(Error::data(
                path,
                format!("target column '{name}', data row {}: {m}", r + 1),
            ));
        }
    }
    Ok(())
}

fn push_target(
    raw: &mut RawTargets,
    field: &str,
    task: Option<Task>,
    path: &Path,
    (line, j): (u64, usize),
    header: &str,
) -> Result<()> {
    let parsed = parse_number(field.as_bytes());
    let error = |what: String| Error::Parse {
        path: path.into(),
        line,
        column: j as u64 + 1,
        message: format!("target column '{header}': {what}"),
    };
    match raw {
        RawTargets::Numbers(v) => match parsed {
            Ok(x) if task == Some(Task::MultiLabel) && x != 0.0 && x != 1.0 => {
                return Err(error(format!(
                    "a label is 0 or 1, not '{field}' (multi-label classification)"
                )))
            }
            Ok(x) => v.push(x),
            Err(message)
                if matches!(task, Some(Task::Regression | Task::MultiLabel))
                    || field.is_empty() =>
            {
                return Err(error(message))
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
                push_target(raw, field, task, path, (line, j), header)?;
            }
        },
        RawTargets::Text { ids, names, index } => {
            if field.is_empty() {
                return Err(error("empty value; expected a class label".into()));
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
            Columns::ALL,
            Missing::Refuse,
        )
        .map(|c| (c.data, c.task_reason))
    }

    /// Reads `text` as regression data (any targets will do here), refusing missing values.
    fn read_with(text: &str, categories: Columns<'_>) -> Result<Csv<f64>> {
        read_missing(text, categories, Missing::Refuse)
    }

    fn read_missing(text: &str, columns: Columns<'_>, missing: Missing) -> Result<Csv<f64>> {
        let (path, target, task) = (
            Path::new("t.csv"),
            &TargetColumn::Last,
            Some(Task::Regression),
        );
        read_csv_reader(text.as_bytes(), path, target, task, columns, missing)
    }

    /// Missing values (empty, pandas' markers) are an error naming the first one's place, or, read,
    /// NaN in a column of numbers and no indicator in a column of categories; a column's kind is
    /// decided by its first value present, so a missing first value does not make it text.
    #[test]
    fn missing_values_are_refused_or_read() {
        let text = "a,color,y\nNA,,0\n2,red,1\n?,blue,0\n4,null,1\n";
        let e = read_with(text, Columns::ALL).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv:2:1: column 'a': a missing value ('NA'); expected a number (--impute mean or \
             median fills missing values)"
        );
        let c = read_missing(text, Columns::ALL, Missing::Read).unwrap();
        assert_eq!(c.data.feature_names, ["a", "color=blue", "color=red"]);
        let x = &c.data.x.data;
        let nan = |i: usize| x[i].is_nan();
        assert!(nan(0) && nan(6));
        assert_eq!(
            [&x[1..3], &x[3..6], &x[7..9], &x[9..12]],
            [
                &[0.0, 0.0][..],
                &[2.0, 0.0, 1.0],
                &[1.0, 0.0],
                &[4.0, 0.0, 0.0]
            ]
        );
        // A model's columns: the same rules.
        let (known, names) = (c.categorical, ["a".to_string(), "color".to_string()]);
        let model = Columns::Model {
            names: &names,
            categorical: &known,
        };
        let e = read_with("a,color,y\n1,red,0\n,red,0\n", model)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.csv:3:1: column 'a': a missing value ('')"),
            "{e}"
        );
        let c = read_missing("a,color,y\n1,NaN,0\n", model, Missing::Read);
        assert_eq!(c.unwrap().data.x.data, [1.0, 0.0, 0.0]);
        // A column with no value present: numbers, refused or all NaN.
        let e = read_with("a,b,y\n1,,0\n2,NA,1\n", Columns::ALL)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.csv:2:2: column 'b': a missing value"),
            "{e}"
        );
        let c = read_missing("a,b,y\n1,,0\n2,NA,1\n", Columns::ALL, Missing::Read);
        assert!(c.unwrap().data.x.data[1].is_nan());
        // Text where numbers began is still the hint, not a missing value.
        let e = read_missing("a,y\n1,0\nx,1\n", Columns::ALL, Missing::Read)
            .unwrap_err()
            .to_string();
        assert!(e.contains("name it in --categorical"), "{e}");
    }

    /// A column of text becomes one 0/1 feature per category, sorted, in the column's place;
    /// read again with the encoding learned, the same rows give the same features even where a
    /// file holds fewer categories, and a category never seen is an error at its line and column.
    #[test]
    fn text_columns_are_one_hot_encoded() {
        let c = read_with(
            "a,color,b,y\n1,red,5,0\n2,blue,6,1\n3,red,7,0\n4,green,8,1\n",
            Columns::ALL,
        )
        .unwrap();
        let d = &c.data;
        assert_eq!(
            d.feature_names,
            ["a", "color=blue", "color=green", "color=red", "b"]
        );
        #[rustfmt::skip]
        assert_eq!(d.x.data, [
            1.0, 0.0, 0.0, 1.0, 5.0,
            2.0, 1.0, 0.0, 0.0, 6.0,
            3.0, 0.0, 0.0, 1.0, 7.0,
            4.0, 0.0, 1.0, 0.0, 8.0,
        ]);
        let want = Categorical {
            column: "color".into(),
            first_feature: 1,
            categories: vec!["blue".into(), "green".into(), "red".into()],
        };
        let known = [want];
        assert_eq!(c.categorical, known);

        let names = ["a", "color", "b"].map(String::from);
        let model = Columns::Model {
            names: &names,
            categorical: &known,
        };
        assert_eq!(feature_columns(&d.feature_names, &known), names);
        let again = read_with("a,color,b,y\n9,green,1,0\n", model).unwrap();
        assert_eq!(again.data.x.data, [9.0, 0.0, 1.0, 0.0, 1.0]);
        assert_eq!(again.categorical, known);
        let e = read_with("a,color,b,y\n9,green,1,0\n9,pink,1,0\n", model)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "t.csv:3:2: column 'color': 'pink' is not one of the categories the model was \
             trained with (blue, green, red)"
        );
        let e = read_with("a,b,y\n9,1,0\n", model).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv: no column 'color'; the model's feature columns are: a, color, b"
        );
        // By name: in another order, and beside columns the model does not take.
        let moved = read_with("id,color,b,a,y\n7,red,1,9,0\n", model).unwrap();
        assert_eq!(moved.data.x.data, [9.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!(moved.data.feature_names, d.feature_names);
        // A model's numeric column stays numeric: text there is an error, not a new encoding.
        let e = read_with("a,color,b,y\nx,red,1,0\n", model)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "t.csv:2:1: column 'a': 'x' is not a number");
    }

    /// `;` and tab separate fields where the header says so; in a `;` file a comma is the decimal
    /// mark (a spreadsheet's export where it is), and such a column is numbers, not text.
    #[test]
    fn semicolons_tabs_and_decimal_commas() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a,b;c,d\n"), b',');
        assert_eq!(sniff_delimiter(b"a\n1\n"), b',');
        // A first line of data (no header) with decimal commas: as many commas as semicolons.
        assert_eq!(sniff_delimiter(b"5,1;3,5;0,2\n"), b';');
        assert_eq!(sniff_delimiter(b"5,1;3,5;a\n"), b';');
        assert_eq!(sniff_delimiter(b"5,1,2;3,5\n"), b',');
        let (d, _) = read("x;y;label\n1,5;2;a\n-3;4,25;b\n", None).unwrap();
        assert_eq!(d.feature_names, ["x", "y"]);
        assert_eq!(d.x.data, [1.5, 2.0, -3.0, 4.25]);
        assert_eq!(d.class_names, ["a", "b"]);
        let (d, _) = read("x\tcolor\tlabel\n1.5\tred\ta\n2\tblue\tb\n", None).unwrap();
        assert_eq!(d.feature_names, ["x", "color=blue", "color=red"]);
        // Only in a `;` file, and only one comma with no point: else it is what it was.
        let e = read("x;y;label\n1;2;a\n1,5,0;2;b\n", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.csv:3:1: column 'x': '1,5,0' is not a number"),
            "{e}"
        );
    }

    /// A first line holding a number other than its column's index is the first data row (UCI's
    /// `iris.data`, `np.savetxt`), the columns named by index, its line numbers the file's own;
    /// pandas' default names (`0,1,label`) and names of text stay a header.
    #[test]
    fn a_file_without_a_header() {
        let text = "\u{feff}5.1,3.5,Iris-setosa\n4.9,3.0,Iris-setosa\n6.3,2.5,Iris-virginica\n";
        let c = read_csv_reader::<f64>(
            text.as_bytes(),
            Path::new("t.csv"),
            &TargetColumn::Last,
            None,
            Columns::ALL,
            Missing::Refuse,
        )
        .unwrap();
        assert_eq!(c.header, Header::None);
        assert_eq!(c.data.feature_names, ["0", "1"]);
        assert_eq!(c.target_name.as_deref(), Some("2"));
        assert_eq!(c.data.x.data, [5.1, 3.5, 4.9, 3.0, 6.3, 2.5]);
        assert_eq!(c.data.classes().unwrap(), [0, 0, 1]);
        let e = read("1,2,a\n3,4,b\n5,x,a\n", None).unwrap_err().to_string();
        assert!(
            e.starts_with("t.csv:3:2: column '1': 'x' is not a number"),
            "{e}"
        );
        let (d, _) = read("0,1,label\n1,2,a\n3,4,b\n", None).unwrap();
        assert_eq!(d.feature_names, ["0", "1"]);
        assert_eq!(d.len(), 2);
        let fields = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert_eq!(Header::of(&fields("x,y,label"), b','), Header::FirstLine);
        assert_eq!(Header::of(&fields("0,1,2"), b','), Header::FirstLine);
        assert_eq!(Header::of(&fields("1,2"), b','), Header::None);
        assert_eq!(Header::of(&fields("a,0.5"), b','), Header::None);
        assert_eq!(Header::of(&["0,5".into(), "a".into()], b';'), Header::None);
    }

    /// The target need not be last: features keep their places around it (found by fuzzing: a
    /// target in the first column, beside a text column, indexed past the end of the features).
    #[test]
    fn a_target_before_the_features() {
        let text = "y,color,a\n0,red,1\n1,blue,2\n";
        let first = TargetColumn::Index(0);
        let (path, find, refuse) = (Path::new("t.csv"), Columns::ALL, Missing::Refuse);
        let c = read_csv_reader::<f64>(text.as_bytes(), path, &first, None, find, refuse).unwrap();
        assert_eq!(c.data.feature_names, ["color=blue", "color=red", "a"]);
        assert_eq!(c.data.x.data, [0.0, 1.0, 1.0, 1.0, 0.0, 2.0]);
        assert_eq!(c.data.classes().unwrap(), [0, 1]);
        let found = include_bytes!("../../tests/fixtures/fuzz/csv-target-first-text-feature.csv");
        for target in [TargetColumn::Last, first, TargetColumn::Absent] {
            let _ = read_csv_reader::<f32>(&found[..], path, &target, None, find, refuse);
        }
    }

    /// Named columns are categories whatever they hold (codes, numbers as text); an unknown name is
    /// an error listing the columns; a column that began with numbers and then holds text says how
    /// to encode it; a column of a value per row is refused past the limit.
    #[test]
    fn categories_by_name_hints_and_limits() {
        let names = ["size".to_string()];
        let c = read_with(
            "size,y\n10,0\n9,1\n10,0\n",
            Columns::Find {
                categorical: &names,
                drop: &[],
                weight: None,
            },
        )
        .unwrap();
        // Sorted as text, as the values are categories.
        assert_eq!(c.data.feature_names, ["size=10", "size=9"]);
        assert_eq!(c.data.x.data, [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
        let e = read_with(
            "a,size,y\n1,,0\n2,NA,1\n",
            Columns::Find {
                categorical: &names,
                drop: &[],
                weight: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "t.csv: column 'size' has no value present to take as a category"
        );
        let nope = ["weight".to_string()];
        let e = read_with(
            "size,y\n1,0\n",
            Columns::Find {
                categorical: &nope,
                drop: &[],
                weight: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no feature column 'weight'") && e.contains("size, y"),
            "{e}"
        );
        let e = read("a,b,y\n1,2,0\n1,x,1\n", None).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:2: column 'b': 'x' is not a number (the column's first value is a number; to one-hot encode"), "{e}");
        let mut many = String::from("id,y\n");
        for i in 0..=MAX_CATEGORIES {
            many += &format!("n{i},{}\n", i % 2);
        }
        let e = read(&many, None).unwrap_err().to_string();
        let line = MAX_CATEGORIES + 2;
        assert!(
            e.starts_with(&format!(
                "t.csv:{line}:1: column 'id': more than {MAX_CATEGORIES}"
            )),
            "{e}"
        );
        many.truncate(many.rfind("n1000").unwrap());
        // Found as text, a value per row is an identifier, refused with the remedies; named as
        // categories, it is encoded (up to the limit); left out, it is not read.
        let e = read(&many, None).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv: column 'id' holds 1000 different texts in 1000 rows: an identifier or free \
             text, not categories; leave it out with --drop id (or name it in --categorical to \
             encode it anyway)"
        );
        let id = ["id".to_string()];
        let named = Columns::Find {
            categorical: &id,
            drop: &[],
            weight: None,
        };
        assert_eq!(read_with(&many, named).unwrap().data.x.cols, MAX_CATEGORIES);
        let many = many.replace('\n', ",1\n").replacen("id,y,1", "id,y,z", 1);
        let left_out = Columns::Find {
            categorical: &[],
            drop: &id,
            weight: None,
        };
        let d = read_with(&many, left_out).unwrap().data;
        assert_eq!(d.feature_names, ["y"]);
    }

    #[test]
    fn text_labels_become_sorted_classes() {
        let (d, why) = read("a,b,label\n1,2,dog\n3,4,cat\n5,6,dog\n", None).unwrap();
        assert_eq!(d.class_names, vec!["cat", "dog"]);
        assert_eq!(d.classes().unwrap(), &[1, 0, 1]);
        assert!(why.contains("text labels"), "{why}");
    }

    fn read_targets(text: &str, target: &str, task: Option<Task>) -> Result<Csv<f64>> {
        read_csv_reader(
            text.as_bytes(),
            Path::new("t.csv"),
            &TargetColumn::parse(target),
            task,
            Columns::ALL,
            Missing::Refuse,
        )
    }

    #[test]
    fn several_target_columns_make_a_multi_output_regression() {
        assert_eq!(
            TargetColumn::parse("rent, 3"),
            TargetColumn::Several(vec![
                TargetColumn::Name("rent".into()),
                TargetColumn::Index(3)
            ])
        );
        // The targets in the middle, in the order given, not the file's; features keep theirs.
        let text = "a,price,color,rent,b\n1,10,red,-1,5\n2,20,blue,-2,6\n";
        let c = read_targets(text, "rent,price", None).unwrap();
        let Targets::Values(y) = &c.data.y else {
            panic!("values")
        };
        assert_eq!((y.rows, y.cols), (2, 2));
        assert_eq!(y.data, [-1.0, 10.0, -2.0, 20.0]);
        assert_eq!(
            c.data.feature_names,
            ["a", "color=blue", "color=red", "b"],
            "{:?}",
            c.data.feature_names
        );
        assert_eq!(c.data.x.row(1), [2.0, 1.0, 0.0, 6.0]);
        assert_eq!(c.target_name.as_deref(), Some("rent,price"));
        assert_eq!(
            c.task_reason,
            "regression: 2 target columns (rent, price), one output each"
        );
        // By position, as one column would be.
        let by_index = read_targets(text, "3,1", None).unwrap();
        assert_eq!(by_index.data.y, c.data.y);
        let e = |target: &str, task| read_targets(text, target, task).unwrap_err().to_string();
        assert_eq!(
            e("price,color", None),
            "t.csv:2:3: target column 'color': 'red' is not a number"
        );
        assert_eq!(
            e("price,rent", Some(Task::Classification)),
            "t.csv:2:2: target column 'price': a label is 0 or 1, not '10' (multi-label classification)"
        );
        assert!(e("price,1", None).contains("column 'price' is named twice"));
        assert!(e("price,size", None).contains("no column named 'size'"));
        assert!(e("a,price,color,rent,b", None).contains("every column is a target"));
    }

    #[test]
    fn columns_of_zeros_and_ones_are_labels() {
        let text = "x,action,comedy,drama\n0.5,1,0,1\n1.5,0,0,0\n2.5,0,1,1\n";
        let c = read_targets(text, "action,comedy,drama", None).unwrap();
        assert_eq!(c.data.task(), Task::MultiLabel);
        assert_eq!(c.data.class_names, ["action", "comedy", "drama"]);
        let Targets::Labels(y) = &c.data.y else {
            panic!("labels")
        };
        assert_eq!(y.data, [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!(
            c.task_reason,
            "multi-label classification: 3 target columns (action, comedy, drama) hold only 0 and 1; pass --task regression to override"
        );
        // Told: labels even from one column, or values after all.
        let one = read_targets(text, "drama", Some(Task::MultiLabel)).unwrap();
        assert!(matches!(&one.data.y, Targets::Labels(y) if y.cols == 1));
        let told = read_targets(text, "action,comedy", Some(Task::Regression)).unwrap();
        assert_eq!(told.data.task(), Task::Regression);
        let given = read_targets(text, "action,comedy", Some(Task::Classification)).unwrap();
        assert_eq!(given.data.task(), Task::MultiLabel);
        // Not 0 or 1: values when not told, an error naming the place when told.
        let text = "x,a,b\n1,1,0\n2,0,2\n";
        assert_eq!(
            read_targets(text, "a,b", None).unwrap().data.task(),
            Task::Regression
        );
        let e = read_targets(text, "a,b", Some(Task::MultiLabel)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv:3:3: target column 'b': a label is 0 or 1, not '2' (multi-label classification)"
        );
        let e = read_targets("x,a,b\n1,yes,0\n", "a,b", Some(Task::MultiLabel)).unwrap_err();
        assert!(
            e.to_string().starts_with("t.csv:2:2: target column 'a'"),
            "{e}"
        );
    }

    #[test]
    fn real_targets_infer_regression() {
        let (d, why) = read("a,y\n1,0.5\n2,1.5\n", None).unwrap();
        assert_eq!(d.task(), Task::Regression);
        assert!(why.starts_with("regression"), "{why}");
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = read("a,b,y\n1,2,0\n1,2\n", None).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:3: expected 3 fields"), "{e}");
        // One class reads (data to evaluate may hold one); training refuses it (mlp's loader).
        let (d, _) = read("a,b,y\n1,2,0\n1,2,0\n", None).unwrap();
        assert_eq!(
            (d.task(), &d.class_names[..]),
            (Task::Classification, &["0".to_string()][..])
        );
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
            // The first-row test for text agrees with the parser the reading loop uses.
            let text = fast_float2::parse::<f64, _>(s.as_bytes()).is_err();
            assert_eq!(is_text(s.as_bytes()), text && !s.is_empty(), "{s}");
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

    fn read_bytes(bytes: &[u8]) -> Result<Csv<f64>> {
        let (find, refuse) = (Columns::ALL, Missing::Refuse);
        read_csv_reader(
            bytes,
            Path::new("t.csv"),
            &TargetColumn::Last,
            None,
            find,
            refuse,
        )
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let (d, _) = read("\u{feff}a,y\r\n1,0\r\n2,1\r\n", None).unwrap();
        assert_eq!(d.feature_names, vec!["a"]);
        assert_eq!(d.x.data, vec![1.0, 2.0]);
    }
}
