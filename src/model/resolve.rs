//! IMAGE names resolved as docker resolves them: a reference (`nginx` means
//! `nginx:latest`, `docker.io/library/` dropped), `repo@sha256:<digest>`, a full id
//! (`sha256:<hex>` or bare hex), or a unique prefix of an id.

use super::ids::{is_hex64, ImageId};
use super::Model;

#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    Found(usize),
    /// An id prefix shared by several images (indices, in id order).
    Ambiguous(Vec<usize>),
    NotFound,
}

/// `docker.io/library/nginx` -> `nginx`, `nginx` -> `nginx:latest`.
pub fn familiar_reference(input: &str) -> String {
    let mut s = input;
    for prefix in ["docker.io/", "index.docker.io/"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    if let Some(rest) = s.strip_prefix("library/") {
        if !rest.contains('/') {
            s = rest;
        }
    }
    if s.contains('@') {
        return s.to_owned();
    }
    let last = s.rsplit('/').next().unwrap_or(s);
    if last.contains(':') {
        s.to_owned()
    } else {
        format!("{s}:latest")
    }
}

impl Model {
    /// Resolve IMAGE among the images Docker would load.
    pub fn resolve_image(&self, input: &str) -> Resolved {
        let input = input.trim();
        if input.is_empty() {
            return Resolved::NotFound;
        }
        // A full id, with or without `sha256:`, is a digest reference: no tag lookup.
        let bare = input.strip_prefix("sha256:").unwrap_or(input);
        if is_hex64(bare) {
            return match ImageId::from_hex(bare).and_then(|id| self.image_index(&id)) {
                Some(i) if self.images[i].loaded => Resolved::Found(i),
                _ => Resolved::NotFound,
            };
        }
        let wanted = familiar_reference(input);
        if let Some(i) = self
            .tags
            .iter()
            .find(|r| r.reference == wanted)
            .and_then(|r| self.image_index(&r.image))
            .filter(|&i| self.images[i].loaded)
        {
            return Resolved::Found(i);
        }
        let is_hex = !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex {
            return Resolved::NotFound;
        }
        let bare = bare.to_ascii_lowercase();
        let mut hits: Vec<usize> = self
            .loaded_images()
            .filter(|&i| self.images[i].rec.id.hex().starts_with(&bare))
            .collect();
        hits.sort_by(|&a, &b| self.images[a].rec.id.cmp(&self.images[b].rec.id));
        match hits.len() {
            0 => Resolved::NotFound,
            1 => Resolved::Found(hits[0]),
            _ => Resolved::Ambiguous(hits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_names() {
        assert_eq!(familiar_reference("nginx"), "nginx:latest");
        assert_eq!(
            familiar_reference("docker.io/library/nginx"),
            "nginx:latest"
        );
        assert_eq!(familiar_reference("library/nginx:1"), "nginx:1");
        assert_eq!(familiar_reference("user/app"), "user/app:latest");
        assert_eq!(
            familiar_reference("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            familiar_reference("localhost:5000/app:2"),
            "localhost:5000/app:2"
        );
        assert_eq!(familiar_reference("app@sha256:abc"), "app@sha256:abc");
    }
}
