//! `image/overlay2/repositories.json`: tags and digests, each naming an image id.

use super::{IMAGE_DIR, JSON_LIMIT};
use crate::model::ids::ImageId;
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use std::collections::BTreeMap;
use std::io;

/// One reference: `repo:tag` or `repo@sha256:<manifest digest>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RefRec {
    /// The familiar repository name (`nginx`, `127.0.0.1:5000/demo/app`).
    pub repo: String,
    /// The whole reference as stored (`nginx:latest`, `app@sha256:…`).
    pub reference: String,
    pub image: ImageId,
    /// A digest reference rather than a tag.
    pub is_digest: bool,
}

#[derive(serde::Deserialize)]
struct File {
    #[serde(rename = "Repositories", default)]
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

pub fn scan(root: &DataRoot) -> (Vec<RefRec>, Vec<Problem>) {
    let rel = format!("{IMAGE_DIR}/repositories.json");
    let mut problems = Vec::new();
    let bytes = match root.read(&rel, JSON_LIMIT) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (Vec::new(), problems),
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return (Vec::new(), problems);
        }
    };
    let file: File = match serde_json::from_slice(&bytes) {
        Ok(f) => f,
        Err(e) => {
            problems.push(Problem::new(
                rel,
                ProblemKind::Malformed,
                format!("not valid JSON of the form {{\"Repositories\":{{…}}}}: {e}"),
            ));
            return (Vec::new(), problems);
        }
    };
    let mut refs = Vec::new();
    for (repo, map) in file.repositories {
        for (reference, id) in map {
            let Some(image) = ImageId::parse(&id) else {
                problems.push(Problem::new(
                    rel.clone(),
                    ProblemKind::Malformed,
                    format!("{reference} names {id:?}, not an image id"),
                ));
                continue;
            };
            let is_digest = reference.contains('@');
            refs.push(RefRec {
                repo: repo.clone(),
                reference,
                image,
                is_digest,
            });
        }
    }
    refs.sort();
    (refs, problems)
}

impl RefRec {
    /// The tag part of a tag reference (`latest` of `nginx:latest`).
    pub fn tag(&self) -> Option<&str> {
        if self.is_digest {
            return None;
        }
        self.reference
            .strip_prefix(&self.repo)
            .and_then(|r| r.strip_prefix(':'))
    }

    /// The digest part of a digest reference.
    pub fn digest(&self) -> Option<&str> {
        self.reference.split_once('@').map(|(_, d)| d)
    }
}
