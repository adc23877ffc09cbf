//! Layer sizes as Docker parses them (int64, `strconv.ParseInt`) and sums that never
//! wrap: a real capture with its `size` files changed on purpose.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{json, SampleRoot};
use serde_json::Value;
use std::collections::HashMap;

const INT64_MAX: u64 = i64::MAX as u64;

fn sizes(root: &std::path::Path) -> HashMap<String, (u64, Vec<String>)> {
    json(root, &["images", "-a"])["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                (i["size"].as_u64().unwrap(), common::strs(&i["layers"])),
            )
        })
        .collect()
}

fn size_file(s: &SampleRoot, chain: &str) -> std::path::PathBuf {
    s.root.join(format!(
        "image/overlay2/layerdb/sha256/{}/size",
        chain.trim_start_matches("sha256:")
    ))
}

fn check_problems(root: &std::path::Path) -> String {
    let out = common::dockscope()
        .arg("--root")
        .arg(root)
        .args(["check", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["problems"].to_string()
}

#[test]
fn sums_beyond_int64_are_capped_and_named() {
    let s = SampleRoot::unpack("full");
    let before = sizes(&s.root);
    let (id, (_, layers)) = before
        .iter()
        .find(|(_, (_, l))| l.len() >= 2)
        .expect("an image with two layers");
    let (a, b) = (layers[0].clone(), layers[1].clone());
    for l in [&a, &b] {
        std::fs::write(size_file(&s, l), INT64_MAX.to_string()).unwrap();
    }
    let after = sizes(&s.root);
    // Wrapped, two of them would make 2^64 - 2 + the rest: a few bytes.
    assert_eq!(after[id].0, INT64_MAX, "capped, not wrapped");
    for (img, (size, layers)) in &after {
        if layers.contains(&a) || layers.contains(&b) {
            assert!(*size > 1 << 62, "{img}: {size}");
        } else {
            assert_eq!(*size, before[img].0, "{img} untouched");
        }
    }
    let p = check_problems(&s.root);
    assert!(p.contains("beyond int64"), "{p}");
    let du = json(&s.root, &["du"]);
    for i in du["images"].as_array().unwrap() {
        assert!(i["size"].as_u64().unwrap() <= INT64_MAX);
        assert!(i["unique_size"].as_u64().unwrap() <= i["size"].as_u64().unwrap());
    }
}

#[test]
fn sizes_parse_as_go_parse_int() {
    let s = SampleRoot::unpack("full");
    let before = sizes(&s.root);
    let (_, (_, layers)) = before.iter().find(|(_, (_, l))| l.len() >= 2).unwrap();
    // 2^63 does not fit int64: Docker cannot load the layer.
    std::fs::write(size_file(&s, &layers[0]), "9223372036854775808").unwrap();
    // A negative size loads in Docker.
    std::fs::write(size_file(&s, &layers[1]), "-7").unwrap();
    let p = check_problems(&s.root);
    let short = |l: &str| l.trim_start_matches("sha256:").to_owned();
    assert!(p.contains("out of int64 range"), "{p}");
    assert!(p.contains(&format!("{}/size", short(&layers[0]))), "{p}");
    assert!(p.contains("negative size -7"), "{p}");
    assert!(p.contains(&format!("{}/size", short(&layers[1]))), "{p}");
}
