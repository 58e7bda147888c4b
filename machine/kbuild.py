"""Builds the guest kernel on demand.

ensure_kernel(path=None) -> str
  With no path: in a checkout, runs `make -C <project>/kernel_src` quietly
  (make itself decides what is stale) and returns the path of
  kernel_src/vmlinux.  Installed from a wheel, kernel_src/ holds the sources
  and a vmlinux prebuilt from exactly them (machine/ksources.py stamps it):
  that image while the sources are unchanged (no gcc needed; touched, or
  copied to the cache if read-only, when pip left it older than a source),
  else a build of the edited sources in a per-user cache folder
  (cache_dir()), with a progress line on stderr.
  With a path: returns it unchanged if the file exists (a user-supplied image
  is never rebuilt).  Raises KernelImageError with one line naming the
  missing Debian package when make/gcc/ld are absent, or with the tail of
  make's output when the build fails.

build(src_dir) -> str
  `make -C src_dir` for any kernel tree with a Makefile that makes
  src_dir/vmlinux (kernel_src, a copy of it, a user's own), under a lock so
  parallel test workers do not build one tree at once.
"""
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from . import ksources
from .errors import KernelImageError

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL_SRC = os.path.join(PROJECT_ROOT, "kernel_src")
VMLINUX = os.path.join(KERNEL_SRC, "vmlinux")

_TOOLS = (("make", "make"), ("gcc", "gcc"), ("ld", "binutils"))


def ensure_kernel(path=None) -> str:
    if path is not None:
        if not os.path.exists(path):
            raise KernelImageError("kernel image %s does not exist" % path)
        return path
    stamp = ksources.stamped(KERNEL_SRC)
    if stamp is None:
        return build(KERNEL_SRC)
    digest = ksources.digest(KERNEL_SRC)
    if digest == stamp and os.path.exists(VMLINUX):
        return _newer_than_sources(VMLINUX, digest)
    return _build_cached(digest)


def _newer_than_sources(vmlinux, digest):
    """The prebuilt image, with an mtime no older than any installed source.

    pip writes a wheel's files in archive order, kernel_src/'s folders after
    kernel_src/vmlinux, so the sources come out newer than the image and gdb
    says "Source file is more recent than executable" whenever the install
    crossed a second.  Touch the image; where it cannot be written (a system
    install), use a copy in the cache."""
    newest = max(os.stat(os.path.join(KERNEL_SRC, rel)).st_mtime
                 for rel in ksources.source_files(KERNEL_SRC))
    if os.stat(vmlinux).st_mtime >= newest:
        return vmlinux
    try:
        os.utime(vmlinux)
        return vmlinux
    except OSError:
        pass
    copy = os.path.join(cache_dir(), "prebuilt-" + digest[:16], "vmlinux")
    if not os.path.exists(copy):
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        tmp = copy + ".%d" % os.getpid()
        shutil.copyfile(vmlinux, tmp)
        os.replace(tmp, copy)
    return copy


def shipped_sources():
    """The installed kernel sources (a wheel's kernel_src), None in a checkout.
    gdb must be told (`set directories`): the prebuilt vmlinux names the
    folder it was built in, which is gone."""
    return KERNEL_SRC if ksources.stamped(KERNEL_SRC) is not None else None


def cache_dir():
    """Per-user folder for kernels built from edited installed sources."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kthread-machine")


def _build_cached(digest):
    """Build the installed kernel_src as edited, in the cache (site-packages stays as shipped)."""
    tree = os.path.join(cache_dir(), "kernel-" + digest[:16])
    vmlinux = os.path.join(tree, "vmlinux")
    os.makedirs(cache_dir(), exist_ok=True)
    with _locked(tree):
        if os.path.exists(vmlinux):
            return vmlinux
        print("kthread-machine: kernel_src differs from the prebuilt vmlinux; building it in %s"
              % tree, file=sys.stderr, flush=True)
        shutil.copytree(KERNEL_SRC, tree, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if n in ksources.NOT_SOURCES])
        return _make(tree)


@contextlib.contextmanager
def _locked(src_dir):
    """One build of a tree at a time (parallel test workers, two stubs starting)."""
    key = hashlib.sha1(src_dir.encode()).hexdigest()[:12]
    with open(os.path.join(tempfile.gettempdir(), f"kthread-kbuild-{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(src_dir) -> str:
    src_dir = os.path.abspath(src_dir)
    with _locked(src_dir):
        return _make(src_dir)


def _make(src_dir):
    if not os.path.exists(os.path.join(src_dir, "Makefile")):
        raise KernelImageError("%s has no Makefile: the kernel sources are missing"
                               % src_dir)
    for tool, pkg in _TOOLS:
        if shutil.which(tool) is None:
            raise KernelImageError("`%s` not found: install the Debian package `%s` "
                                   "to build the kernel" % (tool, pkg))
    name = os.path.basename(src_dir)
    r = subprocess.run(["make", "-s", "-C", src_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        tail = r.stdout.decode(errors="replace").strip().splitlines()[-15:]
        raise KernelImageError("`make -C %s` failed:\n" % name + "\n".join(tail))
    vmlinux = os.path.join(src_dir, "vmlinux")
    if not os.path.exists(vmlinux):
        raise KernelImageError("`make -C %s` did not produce %s" % (name, vmlinux))
    return vmlinux
