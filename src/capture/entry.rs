//! One archive entry, serialized: an optional PAX extended header with its records,
//! then the ustar header and the body, each padded to 512-byte blocks, exactly as
//! `tar::Builder::append` lays them out.

use crate::root::{FileKind, Meta};
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

/// What an entry holds besides its header.
pub enum Body<'a> {
    Dir,
    MountPoint,
    /// The bytes (redacted ones included).
    Contents(&'a [u8]),
    Omitted,
    Symlink(&'a [u8]),
    /// The archive path of the first name of the inode.
    HardLink(&'a [u8]),
    Special,
}

/// Digits of `n` in decimal, into the end of `buf`; returns where they start.
fn digits(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// One PAX record: `<length> <key>=<value>\n`, the length counting itself.
pub fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    let mut buf = [0u8; 20];
    loop {
        let n = buf.len() - digits(len as u64, &mut buf);
        if n + body == len {
            break;
        }
        len = n + body;
    }
    let at = digits(len as u64, &mut buf);
    out.extend_from_slice(&buf[at..]);
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// A record whose value is a number.
fn pax_number(out: &mut Vec<u8>, key: &str, n: u64) {
    let mut buf = [0u8; 20];
    let at = digits(n, &mut buf);
    pax_record(out, key, &buf[at..]);
}

/// A record whose value is formatted (at most 64 bytes).
fn pax_fmt(out: &mut Vec<u8>, key: &str, args: std::fmt::Arguments<'_>) {
    let mut buf = [0u8; 64];
    let mut cur = io::Cursor::new(&mut buf[..]);
    if cur.write_fmt(args).is_ok() {
        let n = cur.position() as usize;
        pax_record(out, key, &buf[..n]);
    }
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

fn set_path_bytes(h: &mut tar::Header, path: &[u8]) -> io::Result<()> {
    h.set_path(std::path::Path::new(OsStr::from_bytes(path)))
}

/// A path `tar::Header::set_path` copies as it is: relative, no empty, `.` or `..`
/// component, no NUL (a trailing `/` is kept).
fn plain(path: &[u8]) -> bool {
    if path.first().is_none_or(|&b| b == b'/') || path.contains(&0) {
        return false;
    }
    let body = path.strip_suffix(b"/").unwrap_or(path);
    !body.is_empty()
        && body
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// The header's path, as `set_path` writes it; the paths the capture writes (plain,
/// at most 100 bytes) are copied straight into the name field.
fn set_path_fast(h: &mut tar::Header, path: &[u8]) -> io::Result<()> {
    if path.len() <= 100 && plain(path) {
        if let Some(u) = h.as_ustar_mut() {
            u.name[..path.len()].copy_from_slice(path);
            u.name[path.len()..].fill(0);
            return Ok(());
        }
    }
    set_path_bytes(h, path)
}

/// `v` in octal, right-aligned with leading zeros and a NUL last, as tar's setters
/// write a number that fits.
fn octal(dst: &mut [u8], mut v: u64) {
    let n = dst.len();
    dst[n - 1] = 0;
    for d in dst[..n - 1].iter_mut().rev() {
        *d = b'0' + (v & 7) as u8;
        v >>= 3;
    }
}

/// Does `v` take the octal form in a field of `len` bytes (tar's rule)?
fn fits_octal(v: u64, len: usize) -> bool {
    v < 8_589_934_592 && (v < 2_097_152 || len != 8)
}

/// Mode, owner, mtime and size of a new ustar header, as tar's setters write them.
fn set_numbers(h: &mut tar::Header, mode: u32, uid: u64, gid: u64, mtime: u64, size: u64) {
    let fast = h.as_ustar_mut().is_some_and(|u| {
        if fits_octal(uid, 8) && fits_octal(gid, 8) && fits_octal(mtime, 12) && fits_octal(size, 12)
        {
            octal(&mut u.mode, u64::from(mode));
            octal(&mut u.uid, uid);
            octal(&mut u.gid, gid);
            octal(&mut u.mtime, mtime);
            octal(&mut u.size, size);
            true
        } else {
            false
        }
    });
    if !fast {
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(mtime);
        h.set_size(size);
    }
}

/// Append one entry to `out` (whose length is a multiple of 512). `pax` is scratch
/// space, reused between calls.
pub fn append(
    out: &mut Vec<u8>,
    pax: &mut Vec<u8>,
    path: &[u8],
    meta: &Meta,
    xattrs: &[(String, Vec<u8>)],
    body: &Body<'_>,
) -> io::Result<()> {
    pax.clear();
    let mut h = tar::Header::new_ustar();
    if meta.mtime_nsec != 0 || meta.mtime < 0 {
        pax_fmt(
            pax,
            "mtime",
            format_args!("{}.{:09}", meta.mtime, meta.mtime_nsec),
        );
    }
    let mut sparse_path = Vec::new();
    let mut header_path = path;
    let mut dir_path = Vec::new();
    let mut data: &[u8] = &[];
    match body {
        Body::Dir | Body::MountPoint => {
            h.set_entry_type(tar::EntryType::Directory);
            dir_path.reserve(path.len() + 1);
            dir_path.extend_from_slice(path);
            dir_path.push(b'/');
            header_path = &dir_path;
            pax_number(pax, "DOCKSCOPE.size", meta.len);
            if matches!(body, Body::MountPoint) {
                pax_record(pax, "DOCKSCOPE.mountpoint", b"1");
            }
        }
        Body::Contents(bytes) => {
            h.set_entry_type(tar::EntryType::Regular);
            // the live st_size, which the size walk counted, where the bytes
            // written differ (redacted, or changed since the lstat)
            if bytes.len() as u64 != meta.len {
                pax_number(pax, "DOCKSCOPE.size", meta.len);
            }
            data = bytes;
        }
        Body::Omitted => {
            h.set_entry_type(tar::EntryType::Regular);
            // GNU tar's PAX sparse format 0.1: the real name, size and map ("1
            // region: at the end, 0 bytes") in records, no body at all.
            pax_record(pax, "GNU.sparse.major", b"0");
            pax_record(pax, "GNU.sparse.minor", b"1");
            pax_record(pax, "GNU.sparse.name", path);
            pax_number(pax, "GNU.sparse.size", meta.len);
            pax_record(pax, "GNU.sparse.numblocks", b"1");
            pax_fmt(pax, "GNU.sparse.map", format_args!("{},0", meta.len));
            pax_record(pax, "DOCKSCOPE.omitted", b"1");
            let (parent, base) = match path.iter().rposition(|&b| b == b'/') {
                Some(i) => (&path[..i], &path[i + 1..]),
                None => (&b""[..], path),
            };
            sparse_path.reserve(parent.len() + base.len() + 17);
            sparse_path.extend_from_slice(parent);
            sparse_path.extend_from_slice(b"/GNUSparseFile.0/");
            sparse_path.extend_from_slice(base);
            header_path = &sparse_path;
        }
        Body::Symlink(target) => {
            h.set_entry_type(tar::EntryType::Symlink);
            if h.set_link_name_literal(target).is_err() {
                pax_record(pax, "linkpath", target);
            }
        }
        Body::HardLink(first) => {
            h.set_entry_type(tar::EntryType::Link);
            if h.set_link_name_literal(first).is_err() {
                pax_record(pax, "linkpath", first);
            }
        }
        Body::Special => {
            h.set_entry_type(match meta.kind {
                FileKind::BlockDevice => tar::EntryType::Block,
                FileKind::Fifo => tar::EntryType::Fifo,
                _ => tar::EntryType::Char,
            });
            let (major, minor) = (rustix::fs::major(meta.rdev), rustix::fs::minor(meta.rdev));
            h.set_device_major(major)?;
            h.set_device_minor(minor)?;
        }
    }
    if !matches!(body, Body::HardLink(_)) {
        if let Some(d) = meta.disk {
            pax_number(pax, "DOCKSCOPE.disk", d);
        }
    }
    for (k, v) in xattrs {
        pax_record(pax, &format!("SCHILY.xattr.{k}"), v);
    }
    if set_path_fast(&mut h, header_path).is_err() {
        pax_record(pax, "path", header_path);
        set_path_bytes(&mut h, b"dockscope-long-name")?;
    }
    set_numbers(
        &mut h,
        meta.mode & 0o7777,
        u64::from(meta.uid),
        u64::from(meta.gid),
        u64::try_from(meta.mtime).unwrap_or(0),
        data.len() as u64,
    );
    h.set_cksum();
    if !pax.is_empty() {
        let mut x = tar::Header::new_ustar();
        x.set_entry_type(tar::EntryType::XHeader);
        x.set_path("PaxHeader")?;
        x.set_mode(0o644);
        x.set_size(pax.len() as u64);
        x.set_cksum();
        out.extend_from_slice(x.as_bytes());
        out.extend_from_slice(pax);
        pad(out);
    }
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    pad(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for value in [
            &b""[..],
            &b"x"[..],
            &[b'a'; 5][..],
            &[b'b'; 94][..],
            &[b'b'; 95][..],
            &[b'c'; 995][..],
            &[b'c'; 9990][..],
        ] {
            let mut out = Vec::new();
            pax_record(&mut out, "k", value);
            let text = String::from_utf8(out.clone()).unwrap();
            let n: usize = text.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(n, out.len(), "{text:?}");
        }
    }

    #[test]
    fn fast_header_fields_match_the_tar_crates() {
        let long = format!("docker/{}/x", "a".repeat(95));
        let paths = [
            "docker",
            "docker/",
            "docker/overlay2/abc/diff/etc/passwd",
            "docker/overlay2/abc/diff/dir/",
            &long,
            &"b".repeat(100),
            &"c".repeat(101),
            "docker/./x",
            "docker/../x",
            "docker//x",
            "/docker/x",
            "docker/..x/.y",
        ];
        for p in paths {
            let mut want = tar::Header::new_ustar();
            let w = set_path_bytes(&mut want, p.as_bytes());
            let mut got = tar::Header::new_ustar();
            let g = set_path_fast(&mut got, p.as_bytes());
            assert_eq!(w.is_ok(), g.is_ok(), "{p}");
            assert_eq!(want.as_bytes()[..], got.as_bytes()[..], "{p}");
        }
        for (mode, uid, gid, mtime, size) in [
            (0o644, 0, 0, 0, 0),
            (0o7777, 1000, 100, 1_700_000_000, 12345),
            (0o755, 2_097_151, 2_097_152, 8_589_934_591, 8_589_934_592),
            (0o600, 4_294_967_295, 65534, 1 << 40, u64::MAX),
        ] {
            let mut want = tar::Header::new_ustar();
            want.set_mode(mode);
            want.set_uid(uid);
            want.set_gid(gid);
            want.set_mtime(mtime);
            want.set_size(size);
            let mut got = tar::Header::new_ustar();
            set_numbers(&mut got, mode, uid, gid, mtime, size);
            assert_eq!(
                want.as_bytes()[..],
                got.as_bytes()[..],
                "{mode:o} {uid} {mtime} {size}"
            );
        }
    }

    #[test]
    fn numbers_are_plain_decimal() {
        for n in [0u64, 7, 10, 512, 1 << 40, u64::MAX] {
            let mut out = Vec::new();
            pax_number(&mut out, "DOCKSCOPE.disk", n);
            let mut want = Vec::new();
            pax_record(&mut want, "DOCKSCOPE.disk", n.to_string().as_bytes());
            assert_eq!(out, want);
        }
    }
}
