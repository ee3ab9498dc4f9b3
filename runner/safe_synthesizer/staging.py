"""Temporary local staging folders (``$TMPDIR/safe-synth-*``) of runs without ``--work-dir``.

A run writes everything to a staging folder first and publishes it to its output from there; the
folder is removed once the run has published, whether it succeeded or failed. This module makes and
removes them and remembers the ones this process made, so a test session can check that none is
left behind (:func:`leftover_staging_dirs`).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

STAGING_PREFIX = "safe-synth-"

_lock = threading.Lock()
_made: set[Path] = set()


def new_staging_dir() -> Path:
    """A new, empty staging folder under the system temporary directory."""
    path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX))
    with _lock:
        _made.add(path)
    return path


def remove_staging_dir(path: Path) -> None:
    """Remove a staging folder and everything in it (missing or half-removed folders are fine)."""
    shutil.rmtree(path, ignore_errors=True)
    if not path.exists():
        with _lock:
            _made.discard(path)


def leftover_staging_dirs() -> list[Path]:
    """Staging folders this process made that still exist."""
    with _lock:
        return sorted(p for p in _made if p.exists())
