"""One sweep at a time per repository: an flock on .dvc/tmp/mcuforge-sweep.lock.

The kernel drops the lock when its process ends, however it ends (kill -9 included), so a
stale lock file never needs removing by hand; the file only says who holds it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from pathlib import Path

from mcuforge.errors import McuforgeError

LOCK = Path(".dvc/tmp/mcuforge-sweep.lock")


@contextlib.contextmanager
def sweep_lock(repo: str | Path):
    """Hold the repository's sweep lock, or fail at once naming the sweep that holds it."""
    path = Path(repo) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown process"
            raise McuforgeError(f"another sweep is running in {Path(repo).resolve()} ({holder}; lock "
                                f"{path}): wait for it to finish, then run this one again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}: {' '.join(sys.argv)}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
