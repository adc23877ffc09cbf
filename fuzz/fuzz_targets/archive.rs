//! Any bytes as a root archive (.tar, .tar.gz, .tar.zst): indexed, scanned, walked.
#![no_main]

use dockscope::model::Model;
use dockscope::root::DataRoot;
use dockscope::{scan, walk};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| tempfile::tempdir().unwrap().keep().join("root.tar"))
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(file(), data).unwrap();
    let Ok(root) = DataRoot::open(file()) else { return };
    let _ = walk::walk(&root, None);
    let Ok(layout) = scan::layout::detect(&root) else { return };
    let _ = Model::build(scan::scan(&root, layout));
});
