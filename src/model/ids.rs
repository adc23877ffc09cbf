//! Docker's ids, each its own type so a `ChainId` is never passed where a `DiffId` is
//! expected. Digests print as `sha256:<64 hex>`, the form Docker stores and shows.

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Hashing for maps keyed by ids and names read from a root: fast, and seeded per run so
/// that no crafted set of keys can collide on purpose (they come from the evidence).
pub type FastHash = foldhash::fast::RandomState;
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastHash>;
pub type FastSet<K> = HashSet<K, FastHash>;

/// Interns id strings so that equal ids share one allocation (safe to share across
/// threads: sharded by the id's last byte, so that threads reading configs at once
/// seldom wait for each other), and remembers the chain ids it has folded.
pub struct Pool {
    ids: [Mutex<FastSet<Arc<str>>>; POOL_SHARDS],
    /// (parent chain, diff id) -> chain id, keyed by the two allocations' addresses.
    /// Each entry holds both, so an address cannot be freed and reused by another id
    /// while it is a key. Images share their base layers: most folds are found here,
    /// without hashing either text.
    chains: [Mutex<FastMap<(usize, usize), ChainFold>>; POOL_SHARDS],
}

/// A folded chain id and the two ids it came from (kept alive: see `Pool::chains`).
struct ChainFold {
    _parent: Arc<str>,
    _diff: Arc<str>,
    chain: Arc<str>,
}

const POOL_SHARDS: usize = 16;

impl Default for Pool {
    fn default() -> Self {
        Pool {
            ids: std::array::from_fn(|_| Mutex::default()),
            chains: std::array::from_fn(|_| Mutex::default()),
        }
    }
}

impl Pool {
    pub fn get(&self, s: &str) -> Arc<str> {
        let shard = usize::from(s.as_bytes().last().copied().unwrap_or(0)) % POOL_SHARDS;
        let Ok(mut set) = self.ids[shard].lock() else {
            return Arc::from(s);
        };
        if let Some(a) = set.get(s) {
            return Arc::clone(a);
        }
        let a: Arc<str> = Arc::from(s);
        set.insert(Arc::clone(&a));
        a
    }

    /// `sha256(parent + " " + diff)`, interned; computed once per distinct pair.
    fn fold(&self, parent: &Arc<str>, diff: &Arc<str>) -> Arc<str> {
        let key = (
            Arc::as_ptr(parent).cast::<u8>() as usize,
            Arc::as_ptr(diff).cast::<u8>() as usize,
        );
        // Allocations are at least 8-aligned: the low bits say nothing.
        let shard = ((key.0 >> 3) ^ (key.1 >> 3)) % POOL_SHARDS;
        if let Ok(map) = self.chains[shard].lock() {
            if let Some(f) = map.get(&key) {
                return Arc::clone(&f.chain);
            }
        }
        let chain = self.get(&fold_text(parent, diff));
        if let Ok(mut map) = self.chains[shard].lock() {
            map.entry(key).or_insert_with(|| ChainFold {
                _parent: Arc::clone(parent),
                _diff: Arc::clone(diff),
                chain: Arc::clone(&chain),
            });
        }
        chain
    }
}

/// `sha256:` + hex of `sha256(parent + " " + diff)`: the next chain id.
fn fold_text(parent: &str, diff: &str) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    h.update(b" ");
    h.update(diff.as_bytes());
    digest_text(h.finalize().as_slice())
}

/// True for exactly 64 lowercase hex digits, the only digest form Docker writes.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `sha256:` + hex of the SHA-256 of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    digest_text(Sha256::digest(bytes).as_slice())
}

/// `sha256:` and the lowercase hex of a SHA-256 sum.
fn digest_text(sum: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for &b in sum {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

macro_rules! digest_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        // `Arc<str>`: the same id stands in many records (every image repeats its
        // ancestors' diff ids), so copies share one allocation.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Parse `sha256:<64 hex>` (surrounding white space allowed, as Docker trims).
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                let hex = s.strip_prefix("sha256:")?;
                is_hex64(hex).then(|| $name(Arc::from(s)))
            }

            /// From the bare 64-hex form used for file names.
            pub fn from_hex(hex: &str) -> Option<Self> {
                is_hex64(hex).then(|| $name(Arc::from(format!("sha256:{hex}"))))
            }

            /// Parse, sharing one allocation per distinct id through `pool`.
            pub fn parse_in(s: &str, pool: &Pool) -> Option<Self> {
                let s = s.trim();
                let hex = s.strip_prefix("sha256:")?;
                is_hex64(hex).then(|| $name(pool.get(s)))
            }

            /// The 64 hex digits.
            pub fn hex(&self) -> &str {
                &self.0[7..]
            }

            /// The first 12 hex digits, as docker prints ids.
            pub fn short(&self) -> &str {
                &self.0[7..19]
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

digest_id!(
    /// An image id: the SHA-256 of the image config's bytes.
    ImageId
);
digest_id!(
    /// A layer's diff id: the SHA-256 of its uncompressed tar.
    DiffId
);
digest_id!(
    /// A layer's chain id: its diff id folded with its parents'; the layerdb dir name.
    ChainId
);

impl ChainId {
    /// The chain ids of a stack of diff ids, base first:
    /// `c0 = d0`, `cn = sha256(c(n-1) + " " + dn)`.
    /// `chain`, each id interned in `pool` (images that share a base share its ids, and
    /// each fold is computed once).
    pub fn chain_in(diff_ids: &[DiffId], pool: &Pool) -> Vec<ChainId> {
        let mut out: Vec<ChainId> = Vec::with_capacity(diff_ids.len());
        for d in diff_ids {
            let next = match out.last() {
                None => ChainId(Arc::clone(&d.0)),
                Some(parent) => ChainId(pool.fold(&parent.0, &d.0)),
            };
            out.push(next);
        }
        out
    }

    pub fn chain(diff_ids: &[DiffId]) -> Vec<ChainId> {
        let mut out: Vec<ChainId> = Vec::with_capacity(diff_ids.len());
        for d in diff_ids {
            let next = match out.last() {
                None => ChainId(Arc::clone(&d.0)),
                Some(parent) => ChainId(Arc::from(fold_text(&parent.0, &d.0))),
            };
            out.push(next);
        }
        out
    }
}

/// A container id: 64 lowercase hex, no prefix.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    pub fn parse(s: &str) -> Option<Self> {
        is_hex64(s).then(|| ContainerId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an `overlay2/` directory name says about who made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirIdForm {
    /// 64 random hex: an image layer or a container RW layer.
    Hex,
    /// `<64 hex>-init`: a container's init layer.
    Init,
    /// 25 base-36 characters: a `BuildKit` snapshot.
    Buildkit,
    /// Anything else (layers migrated from before Docker 1.10 use their v1 id).
    Other,
}

impl DirIdForm {
    pub fn of(name: &str) -> DirIdForm {
        if is_hex64(name) {
            DirIdForm::Hex
        } else if name.strip_suffix("-init").is_some_and(is_hex64) {
            DirIdForm::Init
        } else if name.len() == 25
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        {
            DirIdForm::Buildkit
        } else {
            DirIdForm::Other
        }
    }
}

/// True for an `overlay2/l/` short name: 26 characters of base32 (`A-Z2-7`).
pub fn is_link_id(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D0: &str = "sha256:778fa3ff94219eb46b28cb23dd417dd72cd628b0425ffbc5df3f41f68749a5ca";
    const D1: &str = "sha256:de4cb50af16df35dca93144de908e630ed9e5f16e98fe1257611517df34b8641";

    #[test]
    fn chain_ids_follow_docker() {
        // The worked example of the format reference (§2.1): base chain = its diff id,
        // second chain = sha256("<c0> <d1>") = ea6ef45d…9939.
        let chain = ChainId::chain(&[DiffId::parse(D0).unwrap(), DiffId::parse(D1).unwrap()]);
        assert_eq!(chain[0].as_str(), D0);
        assert!(chain[1].hex().starts_with("ea6ef45d"), "{}", chain[1]);
        assert!(chain[1].hex().ends_with("9939"), "{}", chain[1]);
    }

    #[test]
    fn pooled_chains_equal_computed_ones_and_are_shared() {
        let pool = Pool::default();
        let diffs = |ids: &[&str]| -> Vec<DiffId> {
            ids.iter()
                .map(|d| DiffId::parse_in(d, &pool).unwrap())
                .collect()
        };
        let a = diffs(&[D0, D1, D0]);
        let first = ChainId::chain_in(&a, &pool);
        assert_eq!(first, ChainId::chain(&a));
        // A second image on the same base: the same folds, the same allocations.
        let b = diffs(&[D0, D1]);
        let second = ChainId::chain_in(&b, &pool);
        assert_eq!(second[..], first[..2]);
        assert!(Arc::ptr_eq(&second[1].0, &first[1].0));
        // Not pooled: equal text from fresh allocations is folded (and found) alike.
        let fresh = [DiffId::parse(D0).unwrap(), DiffId::parse(D1).unwrap()];
        assert_eq!(ChainId::chain_in(&fresh, &pool)[1], first[1]);
    }

    #[test]
    fn digests_parse_strictly() {
        assert!(ImageId::parse(D0).is_some());
        assert!(ImageId::parse(&format!("{D0}\n")).is_some());
        assert!(ImageId::parse(&D0.to_uppercase()).is_none());
        assert!(ImageId::parse(&D0[..70]).is_none());
        assert!(ImageId::parse(&D0[7..]).is_none());
        assert!(ImageId::parse("sha512:abc").is_none());
        let id = ImageId::parse(D0).unwrap();
        assert_eq!(id.short(), "778fa3ff9421");
        assert_eq!(ImageId::from_hex(id.hex()), Some(id.clone()));
        assert_eq!(ImageId::parse(&id.to_string()), Some(id));
    }

    #[test]
    fn dir_forms() {
        let hex = &D0[7..];
        assert_eq!(DirIdForm::of(hex), DirIdForm::Hex);
        assert_eq!(DirIdForm::of(&format!("{hex}-init")), DirIdForm::Init);
        assert_eq!(
            DirIdForm::of("q0w6brp8ld8pr1v7kn6m3z0xa"),
            DirIdForm::Buildkit
        );
        assert_eq!(DirIdForm::of("l"), DirIdForm::Other);
        assert!(is_link_id("CH5A7XWSBP2DUPV7V47B7DOOGY"));
        assert!(!is_link_id("CH5A7XWSBP2DUPV7V47B7DOOG1"));
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_digest(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
