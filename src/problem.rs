//! What could not be read: problems in the input are data, carried to every report.

use serde::Serialize;
use std::fmt;
use std::io;

/// The class of a problem, stable in `--json` as a kebab-case string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The file or directory exists but could not be read (permissions, I/O error).
    Unreadable,
    /// The content is not in the format Docker writes (bad JSON, bad digest, ...).
    Malformed,
    /// A file Docker always writes is absent.
    Missing,
    /// A symlink, device or other entry where Docker writes a regular file or directory.
    WrongType,
    /// Larger than any file Docker writes there; not read.
    TooLarge,
    /// A reference to something that does not exist (a tag to a missing image, ...).
    BrokenReference,
    /// An entry that has no meaning to Docker in that place.
    Unexpected,
    /// The content contradicts its name (an image config whose sha256 differs from its id).
    Mismatch,
    /// Another storage layout is present and is not analysed.
    NotAnalysed,
}

/// One thing that could not be read or made sense of.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// Path relative to the data root.
    pub path: String,
    pub kind: ProblemKind,
    pub detail: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, kind: ProblemKind, detail: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            kind,
            detail: detail.into(),
        }
    }

    /// A problem from an I/O error, classified by what the error says.
    pub fn io(path: impl Into<String>, err: &io::Error) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::NotFound => ProblemKind::Missing,
            io::ErrorKind::InvalidData => ProblemKind::Malformed,
            io::ErrorKind::FileTooLarge => ProblemKind::TooLarge,
            io::ErrorKind::InvalidInput => ProblemKind::WrongType,
            _ => ProblemKind::Unreadable,
        };
        Problem::new(path, kind, err.to_string())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "."
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.detail)
    }
}
