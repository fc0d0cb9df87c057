"""The files a run touches: paths the reader names, what the cache keys on, work folders, records.

A path parameter is resolved against the folder the command ran in (never the repository's), a
file or folder a run reads is keyed by its contents, and a run killed outright leaves a work folder
that the next run clears.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from clipbook.book.parameters import ParameterError

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: the process's umask, for files written through temporary names


def resolve_path(value: str) -> str:
    """A file or folder a parameter names, as an absolute path against the folder the command ran
    in ("" stays "": none). A bare name that is no file there (a shipped frequency file's name) is
    kept as given: the chapter knows its names and reports any other as missing."""
    if not value:
        return value
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~name" of no user: a name like any other
        path = Path(value)
    if path.is_absolute():
        return str(path)
    if path.exists() or len(path.parts) > 1 or value.startswith((".", "~")):
        return str(Path.cwd() / path)
    return value


def input_digest(value: str) -> str:
    """What a run read from a file or folder: a file's SHA-256, a folder's listing with each file's
    size and modification time (a data set of many gigabytes is never read just to key a cache;
    touching a file counts as a change), "missing" when neither exists."""
    path = Path(value)
    h = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    elif path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            h.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    else:
        return "missing"
    return h.hexdigest()


def check_published(slug: str, stem: str, output: Path, parameters: dict, published: Path) -> None:
    """Refuse an output in the ``published`` chapters' folder other than chapter ``stem``'s own
    default run: the book shows what lies there, by name (another chapter's page, or a smoke run in
    place of the default one, would be published as the chapter)."""
    if output.resolve().parent == published.resolve() and (output.name != f"{stem}.ipynb" or parameters):
        raise ParameterError(f"{output} is in the published chapters' folder {published}, which only the default "
                             f"run of each chapter writes (`run {slug}` with no parameters); write elsewhere")


STALE = ".pid"
"""The file in a run's work folder that names the process running it."""


def clear_stale_runs(folder: Path) -> list[Path]:
    """Work folders a killed run left in ``folder`` (its process is gone): removed, with their kernel
    connection files; returns what was removed. A live run's folder is left alone."""
    removed = []
    for work in folder.glob(".[0-9][0-9]_*-*"):
        pid_file = work / STALE
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            pid = None
        if work.is_dir() and (pid is None or not _alive(pid)) and (pid is not None or _older_than(work, 3600)):
            shutil.rmtree(work, ignore_errors=True)
            removed.append(work)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _older_than(path: Path, seconds: float) -> bool:
    return time.time() - path.stat().st_mtime > seconds


def _atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file of a unique name, so that concurrent writers never collide."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o666 & ~_UMASK)  # a temporary file is private (0600); the record is not
    os.replace(tmp.name, path)
