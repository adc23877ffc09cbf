#!/usr/bin/env python3
"""Hostile inputs that once broke dockscope, rebuilt from a real captured root.

Each starts from sample-roots/<name>/root.tar.gz (written by a real dockerd) and is
broken on purpose in one way. Python 3 standard library only; the output depends only
on the arguments.

    make.py bbolt SRC.db OUT.db [--pages 320]
        A real bbolt file (volumes/metadata.db) whose root leaf is replaced by one page
        plus overflow pages holding 65,535 elements that all point at the same bytes:
        a reader copying each element's value reads the file thousands of times over.
    make.py archive KIND SAMPLE.tar.gz OUT [--mb N] [--count N] [--gzip]
        The sample's entries, plus:
          pax-sparse  a PAX sparse 1.0 entry for volumes/metadata.db whose stored data
                      (N MiB) is far larger than its real size (4 KiB);
          pax-header  a PAX extended header of N MiB before an ordinary entry;
          hardlinks   one 16 MiB file outside the layer dirs and COUNT hard links to it;
          many-files  COUNT files of 16 MiB outside the layer dirs.
        OUT is a plain tar, or gzip-compressed with --gzip (the bytes are zeros: the
        compressed archive is about a thousandth of what it claims).
    make.py deep-chain ROOT DEPTH
        In an unpacked root, a directory chain DEPTH levels deep (with a file at the
        bottom) in the read-write layer of the first container (sorted by id).
"""

import argparse
import gzip
import io
import os
import struct
import sys
import tarfile

MAGIC = 0xED0CDAED


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for x in b:
        h ^= x
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def hostile_bbolt(src, out, pages):
    raw = bytearray(open(src, "rb").read())
    ps = struct.unpack_from("<I", raw, 16 + 8)[0]
    assert struct.unpack_from("<I", raw, 16)[0] == MAGIC, "not a bbolt file"
    # The root page of the newer meta becomes the hostile leaf.
    metas = []
    for m in (0, ps):
        txid = struct.unpack_from("<Q", raw, m + 16 + 48)[0]
        root = struct.unpack_from("<Q", raw, m + 16 + 16)[0]
        metas.append((txid, root))
    root = max(metas)[1]
    total = max(len(raw) // ps, root + pages)
    raw.extend(b"\0" * (total * ps - len(raw)))
    p = root * ps
    count = 0xFFFF
    data = 16 + count * 16
    assert data < pages * ps, "more pages needed"
    vsize = pages * ps - data - 8
    raw[p:p + pages * ps] = b"\0" * (pages * ps)
    struct.pack_into("<QHHI", raw, p, root, 0x02, count, pages - 1)
    for i in range(count):
        e = 16 + i * 16
        struct.pack_into("<IIII", raw, p + e, 0, data - e, 8, vsize)
    raw[p + data:p + data + 8] = b"volumes\0"
    # Both metas: page count covers the file, checksum redone.
    for m in (0, ps):
        struct.pack_into("<Q", raw, m + 16 + 40, total)
        struct.pack_into("<Q", raw, m + 16 + 56, fnv1a64(raw[m + 16:m + 16 + 56]))
    open(out, "wb").write(raw)


class Zeros(io.RawIOBase):
    """n zero bytes, optionally after a prefix, without holding them."""

    def __init__(self, n, prefix=b""):
        self.left = n
        self.prefix = prefix

    def readable(self):
        return True

    def readinto(self, b):
        if self.prefix:
            k = min(len(b), len(self.prefix))
            b[:k] = self.prefix[:k]
            self.prefix = self.prefix[k:]
            self.left -= k
            return k
        k = min(len(b), self.left)
        b[:k] = bytes(k)
        self.left -= k
        return k


def hostile_archive(kind, sample, out, mb, count, compress):
    raw = open(out, "wb")
    stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) if compress else raw
    dst = tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT)
    src = tarfile.open(sample, "r:gz")
    for m in src:
        if kind == "pax-sparse" and m.name.endswith("volumes/metadata.db"):
            continue
        f = src.extractfile(m) if m.isfile() else None
        # Written back whole: sparse members become regular ones, keeping what a
        # reader needs (xattrs) and dropping the source's sparse bookkeeping.
        m.pax_headers = {
            k: v for k, v in m.pax_headers.items()
            if not k.startswith("GNU.sparse") and k != "hdrcharset"
        }
        if m.issparse():
            m.type = tarfile.REGTYPE
            m.sparse = None
        dst.addfile(m, f)
    mib = 1 << 20
    if kind == "pax-sparse":
        real = 4096
        stored = mb * mib
        mapping = b"1\n0\n%d\n" % real
        mapping += b"\0" * (512 - len(mapping))
        ti = tarfile.TarInfo("./GNUSparseFile.0/metadata.db")
        ti.size = stored
        ti.mode = 0o600
        ti.pax_headers = {
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.name": "./volumes/metadata.db",
            "GNU.sparse.realsize": str(real),
        }
        dst.addfile(ti, io.BufferedReader(Zeros(stored, mapping)))
    elif kind == "pax-header":
        # One PAX record of N MiB, written as it streams (never held whole).
        body = mb * mib
        key = b" comment="
        digits = len(str(body))
        value = body - digits - len(key) - 1
        assert len(str(body)) == digits
        hdr = tarfile.TarInfo("./PaxHeaders/after-a-huge-header")
        hdr.type = tarfile.XHDTYPE
        hdr.size = body
        stream.write(hdr.tobuf(format=tarfile.USTAR_FORMAT))
        stream.write(str(body).encode() + key)
        chunk = b"x" * mib
        left = value
        while left:
            k = min(left, len(chunk))
            stream.write(chunk[:k])
            left -= k
        stream.write(b"\n")
        stream.write(b"\0" * (-body % 512))
        dst.offset += 512 + body + (-body % 512)
        ti = tarfile.TarInfo("./plugins/after-a-huge-header")
        ti.size = 0
        dst.addfile(ti)
    elif kind == "hardlinks":
        ti = tarfile.TarInfo("./plugins/body")
        ti.size = 16 * mib
        dst.addfile(ti, io.BufferedReader(Zeros(ti.size)))
        for i in range(count):
            ln = tarfile.TarInfo("./plugins/link-%05d" % i)
            ln.type = tarfile.LNKTYPE
            ln.linkname = "./plugins/body"
            dst.addfile(ln)
    elif kind == "many-files":
        for i in range(count):
            ti = tarfile.TarInfo("./plugins/big-%05d" % i)
            ti.size = 16 * mib
            dst.addfile(ti, io.BufferedReader(Zeros(ti.size)))
    else:
        sys.exit("unknown kind " + kind)
    dst.close()
    if compress:
        stream.close()
    raw.close()


def deep_chain(root, depth):
    mounts = os.path.join(root, "image/overlay2/layerdb/mounts")
    cid = sorted(os.listdir(mounts))[0]
    mount_id = open(os.path.join(mounts, cid, "mount-id")).read().strip()
    diff = os.path.join(root, "overlay2", mount_id, "diff")
    fd = os.open(diff, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            try:
                os.mkdir("d", dir_fd=fd)
            except FileExistsError:
                pass
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        wfd = os.open("leaf", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=fd)
        os.write(wfd, b"at the bottom\n")
        os.close(wfd)
    finally:
        os.close(fd)
    print(os.path.join("overlay2", mount_id, "diff"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bbolt")
    b.add_argument("src")
    b.add_argument("out")
    b.add_argument("--pages", type=int, default=320)
    a = sub.add_parser("archive")
    a.add_argument("kind", choices=["pax-sparse", "pax-header", "hardlinks", "many-files"])
    a.add_argument("sample")
    a.add_argument("out")
    a.add_argument("--mb", type=int, default=64)
    a.add_argument("--count", type=int, default=16)
    a.add_argument("--gzip", action="store_true")
    d = sub.add_parser("deep-chain")
    d.add_argument("root")
    d.add_argument("depth", type=int)
    args = ap.parse_args()
    if args.cmd == "bbolt":
        hostile_bbolt(args.src, args.out, args.pages)
    elif args.cmd == "archive":
        hostile_archive(args.kind, args.sample, args.out, args.mb, args.count, args.gzip)
    else:
        deep_chain(args.root, args.depth)


if __name__ == "__main__":
    main()
