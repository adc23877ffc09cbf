//! `tar-split.json.gz` (format reference §3): the gzip stream of JSON lines that keeps
//! every byte of a layer's tar except the file contents. Type 1 lines are tar entries
//! (name, size, CRC-64/GO-ISO of the content), type 2 lines are raw bytes (the 512-byte
//! headers, PAX and GNU long-name records, padding, the end-of-archive blocks).
//!
//! `Reader` yields the lines in order with bounded memory; `HeaderParser` turns the raw
//! bytes before each type 1 line back into that entry's tar header (type, mode, owner,
//! link target, device numbers, PAX xattrs).

use base64::Engine as _;
use serde::Deserialize;
use std::io::{self, BufRead, BufReader, Read};

/// No JSON line of a tar-split comes close: a segment holds one entry's headers.
const LINE_LIMIT: usize = 64 << 20;

/// One line of a tar-split.
pub enum Item {
    /// Raw tar bytes, written verbatim when the tar is rebuilt.
    Segment(Vec<u8>),
    /// A tar entry; its content (if any) comes from the file of that name.
    File(FileEntry),
}

pub struct FileEntry {
    /// The name exactly as in the tar (`name`, or the bytes of `name_raw`).
    pub name: Vec<u8>,
    /// Bytes of content in the tar.
    pub size: u64,
    /// CRC-64/GO-ISO of the content; `None` for entries without content.
    pub crc: Option<u64>,
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    name_raw: Option<String>,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    payload: Option<String>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn b64(s: &str) -> io::Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| bad(format!("bad base64: {e}")))
}

/// The lines of a tar-split, read from its gzip stream.
pub struct Reader<R: Read> {
    inner: BufReader<flate2::read::MultiGzDecoder<R>>,
    line: Vec<u8>,
    /// 1-based number of the last line read, for messages.
    pub line_no: u64,
}

impl<R: Read> Reader<R> {
    pub fn new(gz: R) -> Self {
        Reader {
            inner: BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(gz)),
            line: Vec::new(),
            line_no: 0,
        }
    }

    /// The next line; `Ok(None)` at the end.
    pub fn next_item(&mut self) -> io::Result<Option<Item>> {
        loop {
            self.line.clear();
            if !read_line(&mut self.inner, &mut self.line)? {
                return Ok(None);
            }
            self.line_no += 1;
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line: Line = serde_json::from_slice(&self.line)
                .map_err(|e| bad(format!("line {}: {e}", self.line_no)))?;
            return match line.kind {
                1 => {
                    let name = match (line.name_raw, line.name) {
                        (Some(raw), _) => b64(&raw)?,
                        (None, Some(n)) => n.into_bytes(),
                        (None, None) => {
                            return Err(bad(format!(
                                "line {}: file entry without a name",
                                self.line_no
                            )))
                        }
                    };
                    let size = u64::try_from(line.size.unwrap_or(0))
                        .map_err(|_| bad(format!("line {}: negative size", self.line_no)))?;
                    let crc = match line.payload.as_deref() {
                        None | Some("") => None,
                        Some(p) => {
                            let bytes = b64(p)?;
                            let arr: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
                                bad(format!("line {}: checksum is not 8 bytes", self.line_no))
                            })?;
                            Some(u64::from_be_bytes(arr))
                        }
                    };
                    Ok(Some(Item::File(FileEntry { name, size, crc })))
                }
                2 => Ok(Some(Item::Segment(match line.payload.as_deref() {
                    None | Some("") => Vec::new(),
                    Some(p) => b64(p)?,
                }))),
                k => Err(bad(format!(
                    "line {}: unknown entry type {k}",
                    self.line_no
                ))),
            };
        }
    }
}

/// Read up to and including `\n`, refusing lines longer than `LINE_LIMIT`.
fn read_line(r: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(!out.is_empty());
        }
        let (used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        out.extend_from_slice(&buf[..used]);
        r.consume(used);
        if out.len() > LINE_LIMIT {
            return Err(bad("a line longer than 64 MiB: not a tar-split"));
        }
        if done {
            return Ok(true);
        }
    }
}

/// What a tar header says about one entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The tar type flag (`b'0'`, `b'5'`, ...).
    pub typeflag: u8,
    /// The name after PAX `path` and GNU long names.
    pub name: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Symlink or hard-link target (PAX `linkpath`, GNU long link, or the header field).
    pub link: Vec<u8>,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// PAX `SCHILY.xattr.*` records.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Rebuilds each entry's header from the segments before it.
#[derive(Default)]
pub struct HeaderParser {
    buf: Vec<u8>,
    /// Padding after the previous entry's content, at the start of the next segments.
    pad: usize,
}

fn round512(n: u64) -> u64 {
    n.div_ceil(512).saturating_mul(512)
}

impl HeaderParser {
    pub fn segment(&mut self, bytes: &[u8]) {
        // Bounded: a tar-split line is at most LINE_LIMIT, and the buffer is emptied at
        // every file entry.
        if self.buf.len() < 2 * LINE_LIMIT {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The header of the file entry that follows the segments seen so far.
    pub fn file(&mut self, entry: &FileEntry) -> Result<Header, String> {
        let r = parse_headers(&self.buf, self.pad);
        self.buf.clear();
        self.pad = usize::try_from(round512(entry.size) - entry.size).unwrap_or(0);
        r
    }
}

fn parse_headers(buf: &[u8], pad: usize) -> Result<Header, String> {
    let mut pos = pad;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let block = buf
            .get(pos..pos + 512)
            .ok_or_else(|| "no complete 512-byte header before the entry".to_owned())?;
        pos += 512;
        if block.iter().all(|&b| b == 0) {
            return Err("an end-of-archive block where a header belongs".into());
        }
        let h = tar::Header::from_byte_slice(block);
        let cksum = h
            .cksum()
            .map_err(|e| format!("header checksum field: {e}"))?;
        let sum: u32 = block[..148]
            .iter()
            .chain(&[b' '; 8])
            .chain(&block[156..])
            .map(|&b| u32::from(b))
            .sum();
        if cksum != sum {
            return Err(format!(
                "header checksum {cksum} does not match its bytes ({sum})"
            ));
        }
        let typeflag = block[156];
        let data_len = |h: &tar::Header| -> Result<usize, String> {
            let n = h.entry_size().map_err(|e| format!("size field: {e}"))?;
            usize::try_from(round512(n)).map_err(|_| "size field too large".to_owned())
        };
        match typeflag {
            b'x' | b'g' | b'L' | b'K' => {
                let size = usize::try_from(h.entry_size().map_err(|e| format!("size: {e}"))?)
                    .map_err(|_| "size field too large".to_owned())?;
                let data = buf
                    .get(pos..pos.saturating_add(size))
                    .ok_or_else(|| "an extended header's data is cut short".to_owned())?;
                pos = pos.saturating_add(data_len(h)?);
                match typeflag {
                    b'x' => {
                        for ext in tar::PaxExtensions::new(data) {
                            let ext = ext.map_err(|e| format!("PAX record: {e}"))?;
                            pax.push((ext.key_bytes().to_vec(), ext.value_bytes().to_vec()));
                        }
                    }
                    b'L' => long_name = Some(until_nul(data).to_vec()),
                    b'K' => long_link = Some(until_nul(data).to_vec()),
                    _ => {} // global PAX records: Docker never writes them
                }
            }
            _ => {
                let mut out = Header {
                    typeflag,
                    name: long_name.unwrap_or_else(|| h.path_bytes().into_owned()),
                    mode: h.mode().map_err(|e| format!("mode field: {e}"))? & 0o7777,
                    uid: h.uid().map_err(|e| format!("uid field: {e}"))?,
                    gid: h.gid().map_err(|e| format!("gid field: {e}"))?,
                    link: long_link.unwrap_or_else(|| {
                        h.link_name_bytes()
                            .map(std::borrow::Cow::into_owned)
                            .unwrap_or_default()
                    }),
                    dev_major: h.device_major().ok().flatten().unwrap_or(0),
                    dev_minor: h.device_minor().ok().flatten().unwrap_or(0),
                    xattrs: Vec::new(),
                };
                for (k, v) in pax {
                    let num = || -> Result<u64, String> {
                        std::str::from_utf8(&v)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(|| {
                                format!("PAX {} is not a number", String::from_utf8_lossy(&k))
                            })
                    };
                    match k.as_slice() {
                        b"path" => out.name = v,
                        b"linkpath" => out.link = v,
                        b"uid" => out.uid = num()?,
                        b"gid" => out.gid = num()?,
                        _ => {
                            if let Some(key) = k.strip_prefix(b"SCHILY.xattr.") {
                                out.xattrs
                                    .push((String::from_utf8_lossy(key).into_owned(), v));
                            }
                        }
                    }
                }
                return Ok(out);
            }
        }
    }
}

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// A tar name made relative to the layer root, as Docker's `filepath.Join(root, name)`
/// cleans it: `./bin/sh` and `bin/sh` are the same file, `./` is the root (empty).
/// `None` when the name climbs out of the root.
pub fn clean(name: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for p in name.split(|&b| b == b'/') {
        match p {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o4755);
        h.set_uid(1000);
        h.set_gid(50);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    #[test]
    fn names_are_cleaned_as_docker_joins_them() {
        assert_eq!(clean(b"./bin/busybox").unwrap(), b"bin/busybox");
        assert_eq!(clean(b"data/").unwrap(), b"data");
        assert_eq!(clean(b"./").unwrap(), b"");
        assert_eq!(clean(b"a/../b").unwrap(), b"b");
        assert!(clean(b"../etc/passwd").is_none());
    }

    #[test]
    fn lines_and_headers_are_read_back() {
        let h1 = header("data/", tar::EntryType::Directory, 0, None);
        let h2 = header("data/big", tar::EntryType::Regular, 6, None);
        let h3 = header("data/link", tar::EntryType::Symlink, 0, Some("big"));
        let enc = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut seg3 = vec![0u8; 506]; // padding of data/big
        seg3.extend_from_slice(&h3);
        let text = format!(
            "{{\"type\":2,\"payload\":\"{}\",\"position\":0}}\n\
             {{\"type\":1,\"name\":\"data/\",\"payload\":null,\"position\":1}}\n\
             {{\"type\":2,\"payload\":\"{}\",\"position\":2}}\n\
             {{\"type\":1,\"name\":\"data/big\",\"size\":6,\"payload\":\"YUw+7uLYEAA=\",\"position\":3}}\n\
             {{\"type\":2,\"payload\":\"{}\",\"position\":4}}\n\
             {{\"type\":1,\"name_raw\":\"{}\",\"payload\":null,\"position\":5}}\n\
             {{\"type\":2,\"payload\":\"\",\"position\":6}}\n",
            enc(&h1),
            enc(&h2),
            enc(&seg3),
            enc(b"data/link"),
        );
        let data = gz(&text);
        let mut reader = Reader::new(data.as_slice());
        let mut parser = HeaderParser::default();
        let mut files = Vec::new();
        while let Some(item) = reader.next_item().unwrap() {
            match item {
                Item::Segment(bytes) => parser.segment(&bytes),
                Item::File(entry) => {
                    let header = parser.file(&entry).unwrap();
                    files.push((entry.name, entry.size, entry.crc, header));
                }
            }
        }
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].3.typeflag, b'5');
        assert_eq!(files[1].2, Some(0x614c_3eee_e2d8_1000));
        assert_eq!(
            (files[1].3.mode, files[1].3.uid, files[1].3.gid),
            (0o4755, 1000, 50)
        );
        assert_eq!(files[2].0, b"data/link");
        assert_eq!(files[2].3.link, b"big");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "not json\n",
            "{\"type\":7}\n",
            "{\"type\":1}\n",
            "{\"type\":1,\"name\":\"a\",\"payload\":\"AAA=\"}\n",
        ] {
            let data = gz(text);
            let mut r = Reader::new(data.as_slice());
            assert!(r.next_item().is_err(), "{text}");
        }
        let mut r = Reader::new(&b"plain"[..]);
        assert!(r.next_item().is_err());
        let mut p = HeaderParser::default();
        p.segment(&[1u8; 700]);
        let f = FileEntry {
            name: b"x".to_vec(),
            size: 0,
            crc: None,
        };
        assert!(p.file(&f).is_err());
    }
}
