//! Any bytes as each JSON record Docker writes (an image config, repositories.json, a
//! container's config.v2.json and hostconfig.json, a layer's id files), in a root
//! otherwise empty; scanned and modelled as `dockscope check` does.
#![no_main]

use dockscope::model::Model;
use dockscope::root::DataRoot;
use dockscope::scan;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::OnceLock;

const CONTAINER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const CHAIN: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap().keep();
        for sub in [
            "image/overlay2/imagedb/content/sha256",
            "image/overlay2/imagedb/metadata/sha256",
            &format!("image/overlay2/layerdb/sha256/{CHAIN}"),
            &format!("containers/{CONTAINER}"),
            "overlay2/l",
            "volumes",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    let content = d.join("image/overlay2/imagedb/content/sha256");
    for e in std::fs::read_dir(&content).unwrap() {
        let _ = std::fs::remove_file(e.unwrap().path());
    }
    let id = format!("{:x}", Sha256::digest(data));
    std::fs::write(content.join(id), data).unwrap();
    std::fs::write(d.join("image/overlay2/repositories.json"), data).unwrap();
    let c = d.join("containers").join(CONTAINER);
    std::fs::write(c.join("config.v2.json"), data).unwrap();
    std::fs::write(c.join("hostconfig.json"), data).unwrap();
    let l = d.join("image/overlay2/layerdb/sha256").join(CHAIN);
    for f in ["diff", "size", "cache-id", "parent"] {
        std::fs::write(l.join(f), data).unwrap();
    }
    let Ok(root) = DataRoot::open(d) else { return };
    let Ok(layout) = scan::layout::detect(&root) else { return };
    let model = Model::build(scan::scan(&root, layout));
    for i in 0..model.images.len() {
        let _ = model.image_size(i);
    }
});
