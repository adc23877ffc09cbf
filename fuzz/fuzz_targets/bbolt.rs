//! Any bytes as a bbolt file: Ok or an error, never a panic, a hang or memory beyond
//! the file's size.
#![no_main]

use dockscope::scan::bbolt::Db;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(db) = Db::parse(data) else { return };
    let _ = db.bucket(&[b"volumes"]);
    let Ok(top) = db.root_ref() else { return };
    // Nested buckets, a few levels (containerd nests them).
    let mut stack = vec![(top, 0)];
    while let Some((b, depth)) = stack.pop() {
        if depth > 4 {
            continue;
        }
        for &(_, raw) in &b.buckets {
            if let Ok(sub) = db.sub_bucket(raw) {
                stack.push((sub, depth + 1));
            }
        }
    }
});
