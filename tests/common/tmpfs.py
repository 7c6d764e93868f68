"""Small tmpfs mounts for the full-disk tests (root only): a mount for a `with` block, always
unmounted at its end, and a ballast file that fills one to a chosen number of free bytes.
"""
import contextlib
import errno
import os
import subprocess

from harness import Fail


def can_mount():
    """Whether this process may mount (root); the tests print "skipped: ..." otherwise."""
    return os.geteuid() == 0


@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of `size` ("8m") mounted on `path` (created if missing) for the block; unmounted
    (lazily, so that a process still holding a file there cannot keep it) whatever happens."""
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True)
    if p.returncode != 0:
        raise Fail(f"cannot mount a tmpfs on {path}: {p.stderr.decode(errors='replace')}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave=0, name="ballast"):
    """Appends zeros to PATH/NAME until at most `leave` bytes are free on its file system, or it
    is full; returns the ballast's path (remove it to give the room back)."""
    target = os.path.join(path, name)
    chunk = b"\0" * (256 << 10)
    with open(target, "ab", buffering=0) as f:
        while free_bytes(path) > leave:
            try:
                f.write(chunk[:max(1, min(len(chunk), free_bytes(path) - leave))])
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    return target
