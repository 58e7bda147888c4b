"""Which kernel sources a vmlinux was built from (stdlib only: setup.py loads
this file by path to stamp the wheel's prebuilt kernel).

A wheel carries kernel_src/ and kernel_src/vmlinux built from exactly those
sources, with STAMP (vmlinux.sources) holding their digest; at run time the
prebuilt image is used while the sources still have that digest.
"""
import hashlib
import os

STAMP = "vmlinux.sources"
# what a kernel tree holds besides its sources: build products and the stamp
NOT_SOURCES = {"build", "vmlinux", STAMP, "__pycache__"}


def source_files(src_dir):
    """The kernel tree's source files, relative paths, sorted."""
    out = []
    for dirpath, dirnames, files in os.walk(src_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in NOT_SOURCES)
        rel = os.path.relpath(dirpath, src_dir)
        out += [os.path.normpath(os.path.join(rel, f)) for f in files
                if f not in NOT_SOURCES and not f.endswith((".o", ".d", ".map"))]
    return sorted(out)


def digest(src_dir):
    """sha256 over the tree's source files: their names and contents."""
    h = hashlib.sha256()
    for rel in source_files(src_dir):
        h.update(rel.encode() + b"\0")
        with open(os.path.join(src_dir, rel), "rb") as f:
            h.update(f.read() + b"\0")
    return h.hexdigest()


def stamp(src_dir):
    """Record that src_dir/vmlinux was built from the sources there now."""
    with open(os.path.join(src_dir, STAMP), "w") as f:
        f.write(digest(src_dir) + "\n")


def stamped(src_dir):
    """The digest a prebuilt src_dir/vmlinux was stamped with (None: not prebuilt)."""
    try:
        with open(os.path.join(src_dir, STAMP)) as f:
            return f.read().strip()
    except OSError:
        return None
