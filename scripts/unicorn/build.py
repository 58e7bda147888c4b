"""Install unicorn 2.1.4 patched to count guest instructions inline (issue 15) in this venv.

    .venv/bin/python scripts/unicorn/build.py      (scripts/setup.sh runs it)

The wheel is built from PyPI's pinned sdist with icount.diff applied, x86 only, once per
cache key (sdist, diff, build recipe), and kept in ~/.cache/kthread-machine/unicorn/KEY/
($XDG_CACHE_HOME is honoured), so a second run or a second clone costs nothing.  VENV/.unicorn
says what the venv holds: "icount-KEY" or "stock"; a venv without it holds what
`pip install -e .` gave it, PyPI's stock wheel.  When the build cannot be done, one line says
why and the venv keeps (or gets back) the stock wheel, on which the machine runs its block
clock; KTHREAD_UNICORN=stock skips the build on purpose.
"""
import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from machine.kbuild import cache_dir  # noqa: E402  (the project's per-user cache folder)

VERSION = "2.1.4"
SDIST = "unicorn-%s.tar.gz" % VERSION
SDIST_SHA256 = "00567a70e323f749b419cd86bee4f9115beab7ebba32194581c090cbb7c59cff"
DIFF = os.path.join(HERE, "icount.diff")
# Pre-seeds the CMake cache that unicorn's setup.py `cmake -B src/build_python` then reuses:
# setup.py forwards no architecture list, and x86 alone builds in a fraction of the time.
CMAKE = ["-DCMAKE_BUILD_TYPE=Release", "-DUNICORN_BUILD_TESTS=off", "-DUNICORN_ARCH=x86"]
TOOLS = ("cmake", "make", "gcc", "patch")
FALLBACK = "the machine falls back to PyPI's stock unicorn (slower: the block clock)"


class BuildError(Exception):
    """Why there is no patched wheel.  `lasting`: the same inputs would fail again, so the
    reason is remembered in the cache instead of rebuilding at every `make setup`."""

    def __init__(self, why, lasting=False):
        super().__init__(why)
        self.lasting = lasting


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cache_key(diff_bytes):
    """What the wheel is made of: the pinned sdist, the patch and the build recipe."""
    h = hashlib.sha256()
    for part in (SDIST_SHA256, hashlib.sha256(diff_bytes).hexdigest(), " ".join(CMAKE)):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def stamp_path(venv):
    return os.path.join(venv, ".unicorn")


def read_stamp(venv):
    try:
        with open(stamp_path(venv)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def write_stamp(venv, value):
    tmp = stamp_path(venv) + ".tmp"
    with open(tmp, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, stamp_path(venv))


def say(line):
    print("setup: " + line, file=sys.stderr, flush=True)


def run(cmd, log, why, lasting=False, **kw):
    """Run a build step with its output in `log`; a failure becomes BuildError(why)."""
    log.write("$ %s\n" % " ".join(cmd))
    log.flush()
    if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw).returncode != 0:
        raise BuildError("%s (log: %s)" % (why, log.name), lasting)


def pip(venv, *args):
    return [os.path.join(venv, "bin", "python"), "-m", "pip", "--disable-pip-version-check",
            *args]


def cached_wheel(root, key):
    """The wheel built for KEY, None if there is none yet; BuildError if its build failed."""
    found = glob.glob(os.path.join(root, key, "unicorn-*.whl"))
    if found:
        return found[0]
    failed = os.path.join(root, key + ".failed")
    if os.path.exists(failed):
        with open(failed) as f:
            raise BuildError("%s; rm %s to retry" % (f.read().strip(), failed))
    return None


def fetch_sdist(venv, root, tmp, log):
    """The pinned sdist, downloaded once into the cache and checked against its sha256."""
    sdist = os.path.join(root, SDIST)
    if os.path.exists(sdist) and sha256(sdist) == SDIST_SHA256:
        return sdist
    dl = os.path.join(tmp, "download")
    run(pip(venv, "download", "--no-binary", ":all:", "--no-deps", "--retries", "1",
            "--timeout", "30", "-d", dl, "unicorn==" + VERSION), log,
        "pip could not download unicorn==%s from PyPI (no network?)" % VERSION)
    got = os.path.join(dl, SDIST)
    digest = sha256(got) if os.path.exists(got) else "missing"
    if digest != SDIST_SHA256:
        raise BuildError("the downloaded %s has sha256 %s, not the pinned %s"
                         % (SDIST, digest, SDIST_SHA256))
    os.replace(got, sdist)
    return sdist


def build(venv, root, key):
    """Build the patched wheel into ROOT/KEY/ (a temp folder renamed when complete)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise BuildError("%s not found (Debian: apt-get install %s)"
                         % (", ".join(missing), " ".join(missing)))
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # two clones set up at once: one build
        wheel = cached_wheel(root, key)
        if wheel:
            return wheel
        start = time.monotonic()
        tmp = tempfile.mkdtemp(prefix=".build-%s-" % key, dir=root)
        try:
            with open(os.path.join(root, key + ".log"), "w") as log:
                sdist = fetch_sdist(venv, root, tmp, log)
                run(["tar", "xzf", sdist, "-C", tmp], log, "could not unpack " + sdist)
                tree = os.path.join(tmp, "unicorn-" + VERSION)
                run(["patch", "-p3", "--batch", "--fuzz=0", "-i", DIFF], log,
                    "%s does not apply to unicorn %s" % (os.path.relpath(DIFF), VERSION),
                    lasting=True, cwd=os.path.join(tree, "src"))
                run(["cmake", "-B", "src/build_python", "-S", "src", *CMAKE], log,
                    "cmake failed", lasting=True, cwd=tree)
                out = os.path.join(tmp, "wheel")
                run(pip(venv, "wheel", "--no-deps", "--no-cache-dir", "-w", out, "."), log,
                    "building the wheel failed", lasting=True, cwd=tree,
                    env=dict(os.environ, THREADS=str(len(os.sched_getaffinity(0)))))
            os.rename(out, os.path.join(root, key))
        except BuildError as e:
            if e.lasting:
                with open(os.path.join(root, key + ".failed"), "w") as f:
                    f.write(str(e) + "\n")
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    say("built the patched unicorn (icount) in %.0f s" % (time.monotonic() - start))
    return cached_wheel(root, key)


def install(venv, wheel, log_dir):
    with open(os.path.join(log_dir, "install.log"), "w") as log:
        run(pip(venv, "install", "--force-reinstall", "--no-deps", wheel), log,
            "pip could not install " + wheel)


def ensure_stock(venv):
    """Put PyPI's wheel back if the venv holds a patched one."""
    if read_stamp(venv) not in (None, "stock"):
        if subprocess.run(pip(venv, "install", "-q", "--force-reinstall", "--no-deps",
                              "--only-binary", "unicorn", "unicorn==" + VERSION)).returncode:
            sys.exit("setup: pip could not put PyPI's unicorn back in place of the patched one")
    write_stamp(venv, "stock")


def main(venv=sys.prefix):
    mode = os.environ.get("KTHREAD_UNICORN", "icount")
    if mode not in ("icount", "stock"):
        say("KTHREAD_UNICORN=%s: expected `stock` or nothing" % mode)
        return 2
    if mode == "stock":
        ensure_stock(venv)
        say("KTHREAD_UNICORN=stock: the patched unicorn is not built; " + FALLBACK)
        return 0
    with open(DIFF, "rb") as f:
        key = cache_key(f.read())
    if read_stamp(venv) == "icount-" + key:
        return 0
    root = os.path.join(cache_dir(), "unicorn")
    try:
        wheel = cached_wheel(root, key) or build(venv, root, key)
        install(venv, wheel, os.path.join(root, key))
    except BuildError as e:
        ensure_stock(venv)
        say("no patched unicorn: %s; %s" % (e, FALLBACK))
        return 0
    write_stamp(venv, "icount-" + key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
