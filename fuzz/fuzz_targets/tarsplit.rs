//! Any bytes as the lines of a tar-split (gzip-compressed here, as on disk), each file
//! entry's tar header rebuilt from the segments before it.
#![no_main]

use dockscope::verify::tarsplit::{HeaderParser, Item, Reader};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    let bytes = gz.finish().unwrap();
    let mut r = Reader::new(bytes.as_slice());
    let mut headers = HeaderParser::default();
    for _ in 0..10_000 {
        match r.next_item() {
            Ok(Some(Item::Segment(s))) => headers.segment(&s),
            Ok(Some(Item::File(f))) => {
                let _ = headers.file(&f);
            }
            Ok(None) | Err(_) => break,
        }
    }
});
