"""Writing files so that a crash, a full disk or a failed step leaves the old content or the new,
never half of either, and with the permissions the user's umask asks for.

Every file abgate publishes (reports, decision.json, the flag file) is written here: content is
staged in a temp file beside its target (same file system, so `os.replace` is atomic), fsynced,
given the mode a plain `open()` would give a new file, swapped in, and the directory fsynced so
the rename survives a power loss.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def new_file_mode() -> int:
    """The mode `open()` gives a new file under the process's umask (0o666 & ~umask).

    `tempfile.mkstemp` always creates 0600 files; a report or flag file renamed from one would
    be unreadable to the web server or flagd running as another user. Read from /proc where it
    can be (setting the umask to read it back is not thread-safe).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_directory(directory: Path) -> None:
    """Make renames in `directory` durable (POSIX only; elsewhere the rename is the best we get)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stage(target: Path, content: bytes, mode: int | None = None) -> Path:
    """Write `content` to an fsynced temp file beside `target` with `mode` (default: the
    umask's, see `new_file_mode`), ready for an atomic `os.replace`; return its path."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), new_file_mode() if mode is None else mode)
            os.fsync(handle.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def write_atomically(files: Mapping[Path, bytes], mode: int | None = None) -> None:
    """Replace every target with its content, or leave every target as it was.

    All contents are staged first (where disk-full and permission errors happen), then swapped
    in with os.replace. If a swap fails, the targets already swapped get their old bytes back and
    the new ones are removed, so files published together (a report and its decision.json) never
    disagree.
    """
    previous = {path: path.read_bytes() if path.exists() else None for path in files}
    staged: dict[Path, Path] = {}
    replaced: list[Path] = []
    try:
        for path, content in files.items():
            staged[path] = stage(path, content, mode)
        for path, temp in staged.items():
            os.replace(temp, path)
            replaced.append(path)
    except BaseException:
        for temp in staged.values():
            temp.unlink(missing_ok=True)
        for path in reversed(replaced):
            _restore(path, previous[path], mode)
        raise
    for directory in {path.parent for path in files}:
        fsync_directory(directory)


def _restore(path: Path, old: bytes | None, mode: int | None) -> None:
    """Put a target back as it was: its old bytes, or no file at all."""
    if old is None:
        path.unlink(missing_ok=True)
        return
    os.replace(stage(path, old, mode), path)
