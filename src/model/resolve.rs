//! IMAGE names resolved as docker resolves them: a reference (`nginx` means
//! `nginx:latest`, `docker.io/library/` dropped), `repo@sha256:<digest>`, a full id
//! (`sha256:<hex>` or bare hex), or a unique prefix of an id.

use super::ids::{is_hex64, ImageId};
use super::Model;
use std::fmt::Write as _;

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

/// Control characters shown escaped (names come from the command line or a hostile root).
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Does IMAGE name a repository without a tag (`myapp`, `user/app`, `host:5000/app`)?
fn has_tag_or_digest(input: &str) -> bool {
    input.contains('@') || input.rsplit('/').next().unwrap_or(input).contains(':')
}

impl Model {
    /// Images on disk that IMAGE names but Docker would not load (their config does not
    /// hash to its id, or a layer of the chain is missing or incomplete).
    fn unloaded_matches(&self, input: &str) -> Vec<usize> {
        let input = input.trim();
        let bare = input.strip_prefix("sha256:").unwrap_or(input);
        if is_hex64(bare) {
            return ImageId::from_hex(bare)
                .and_then(|id| self.image_index(&id))
                .filter(|&i| !self.images[i].loaded)
                .into_iter()
                .collect();
        }
        let wanted = familiar_reference(input);
        let tagged: Vec<usize> = self
            .tags
            .iter()
            .filter(|r| r.reference == wanted)
            .filter_map(|r| self.image_index(&r.image))
            .filter(|&i| !self.images[i].loaded)
            .collect();
        if !tagged.is_empty() {
            return tagged;
        }
        if bare.len() >= 4 && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bare = bare.to_ascii_lowercase();
            let hits: Vec<usize> = (0..self.images.len())
                .filter(|&i| {
                    !self.images[i].loaded && self.images[i].rec.id.hex().starts_with(&bare)
                })
                .collect();
            if hits.len() == 1 {
                return hits;
            }
        }
        Vec::new()
    }

    /// Why Docker would not load an image, naming the file or layer.
    pub fn load_failure(&self, image: usize) -> String {
        let im = &self.images[image];
        if !im.rec.digest_ok {
            return format!(
                "its config {} does not hash to its id (edited, truncated or unreadable)",
                im.rec.path
            );
        }
        for c in im.chain() {
            let Some(l) = self.layer_index(c) else {
                return format!("layer {} of its chain is not in layerdb", c.short());
            };
            if !self.layer_loadable(l) {
                let rec = &self.layers[l];
                if rec.complete {
                    return format!(
                        "layer {} of its chain sits on a layer that cannot be loaded",
                        c.short()
                    );
                }
                return format!(
                    "layer {} of its chain is incomplete in layerdb ({})",
                    c.short(),
                    rec.path
                );
            }
        }
        "its chain cannot be loaded".to_owned()
    }

    /// What to say when IMAGE names nothing Docker would load, with a next step: the
    /// image is on disk but does not load (and why); the tag points at an image that has
    /// no config; the repository has other tags (docker reads `myapp` as `myapp:latest`);
    /// the name is a container's.
    pub fn not_found_message(&self, input: &str) -> String {
        let name = shown(input);
        let unloaded = self.unloaded_matches(input);
        if let Some(&i) = unloaded.first() {
            return format!(
                "image {name} ({}) is on disk but Docker would not load it: {}; `dockscope info` lists the problems met",
                self.images[i].rec.id.short(),
                self.load_failure(i)
            );
        }
        let wanted = familiar_reference(input.trim());
        if let Some(r) = self
            .tags
            .iter()
            .find(|r| r.reference == wanted && self.image_index(&r.image).is_none())
        {
            // Its config is there but could not be read: name the file and why.
            let file = format!("imagedb/content/sha256/{}", r.image.hex());
            let mut met: Vec<String> = self
                .problems
                .iter()
                .filter(|p| p.path.ends_with(&file))
                .map(ToString::to_string)
                .collect();
            met.dedup();
            if !met.is_empty() {
                return format!(
                    "image {name} ({}) is on disk but Docker would not load it: {}",
                    r.image.short(),
                    shown(&met.join("; "))
                );
            }
            return format!(
                "image {name}: repositories.json names image {}, which has no config in imagedb, so Docker would not load it; `dockscope orphans` shows what is left of it",
                r.image.short()
            );
        }
        let mut msg = format!("No such image: {name}");
        if !input.contains('@') {
            let repo = if has_tag_or_digest(input.trim()) {
                wanted.rsplit_once(':').map_or(wanted.as_str(), |(r, _)| r)
            } else {
                wanted.strip_suffix(":latest").unwrap_or(&wanted)
            };
            let mut tags: Vec<&str> = self
                .tags
                .iter()
                .filter(|r| !r.is_digest && r.repo == repo && r.reference != wanted)
                .filter(|r| {
                    self.image_index(&r.image)
                        .is_some_and(|i| self.images[i].loaded)
                })
                .map(|r| r.reference.as_str())
                .collect();
            tags.sort_unstable();
            tags.dedup();
            if !tags.is_empty() {
                if !has_tag_or_digest(input.trim()) {
                    let _ = write!(msg, " (docker reads it as {})", shown(&wanted));
                }
                let list: Vec<String> = tags.iter().take(8).map(|t| shown(t)).collect();
                if list.len() == 1 {
                    let _ = write!(msg, "; did you mean {}?", list[0]);
                } else {
                    let _ = write!(msg, "; did you mean one of {}?", list.join(", "));
                }
                return msg;
            }
        }
        let slashed = format!("/{}", input.trim().trim_start_matches('/'));
        if let Some(c) = self.containers.iter().find(|c| c.rec.name == slashed) {
            let typed = Some(c.rec.config.image.clone()).filter(|s| !s.is_empty());
            let image = typed
                .or_else(|| {
                    c.rec
                        .image
                        .as_ref()
                        .and_then(|id| self.image_index(id))
                        .and_then(|i| self.image_refs(i).first().map(|r| r.reference.clone()))
                })
                .or_else(|| c.rec.image.as_ref().map(|id| id.short().to_owned()))
                .unwrap_or_else(|| "unknown".to_owned());
            let _ = write!(
                msg,
                "; {name} is a container (its image: {}): try `dockscope inspect {name}`",
                shown(&image)
            );
            return msg;
        }
        msg.push_str("; `dockscope images -a` lists the images Docker would load");
        msg
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
