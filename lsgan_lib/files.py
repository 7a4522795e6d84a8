"""Writing the files the project publishes or caches: whole or not at all.

:func:`write_atomically` writes a file's new content to a temporary file in the same folder and moves it into place
with ``os.replace`` only once every byte is on disk; when anything fails — a full disk, a read-only folder, a parent
that is a file — the temporary file is removed, the file already at that path is left byte for byte as it was, and
one :class:`WriteFailed` says in one line what happened and what to do. New files get the permissions of any new file
(``0o666`` less the umask), so a results cache shared by a group stays readable to it.

Executed notebooks, ``book/claims.md`` and ``book/intro.md``, results-cache entries, the converted datasets and a
sweep's files all go through it. :func:`file_sha256` is the content hash the dataset decode cache is keyed by.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

# errno → what to do about it (the rest: check the folder)
_FIXES = {
    errno.ENOSPC: "free space on that disk, or write to another one",
    errno.EDQUOT: "free space within your disk quota, or write to another disk",
    errno.EACCES: "make the folder writable, or write to another one",
    errno.EPERM: "make the folder writable, or write to another one",
    errno.EROFS: "the disk is mounted read-only: write to another one",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EEXIST: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "a folder of that name is in the way: remove it or choose another path",
}


class WriteFailed(OSError):
    """A file could not be written (disk full, read-only folder, a file where a folder should be). The file that was
    at its path, if any, is unchanged. ``reason`` is the system's words for the cause, ``fix`` what to do."""

    def __init__(self, path: Path, reason: str, fix: str):
        super().__init__(f"cannot write {path}: {reason}; the file there before (if any) is unchanged. Fix: {fix}")
        self.path, self.reason, self.fix = Path(path), reason, fix


class _RecordingWriter:
    """A binary file that remembers the ``OSError`` its ``write`` raised: torch turns it into a ``RuntimeError``
    ("unexpected pos …") that no longer says the disk is full."""

    def __init__(self, handle: BinaryIO):
        self._handle = handle
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            self.error = error
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _failure(path: Path, error: BaseException) -> WriteFailed:
    if isinstance(error, OSError):
        reason = error.strerror or str(error) or type(error).__name__
        fix = _FIXES.get(error.errno, f"check that {path.parent} exists, is a folder and can be written")
    else:  # torch's RuntimeError from a short write whose OSError was not seen (e.g. raised by close)
        reason = f"the write stopped short ({type(error).__name__}: {' '.join(str(error).split())[:200]})"
        fix = f"check the free space and permissions of {path.parent}"
    return WriteFailed(path, reason, fix)


def write_atomically(path: Path | str, content: str | bytes | Callable[[BinaryIO], Any]) -> Path:
    """Write ``content`` (text as UTF-8, bytes, or a function that writes to the binary file it is given) to ``path``:
    to a temporary file in the same folder (created with its parents), synced, then moved into place. Any failure to
    write raises :class:`WriteFailed` after removing the temporary file; ``path`` is then unchanged. Other errors (a
    bug in ``content``) propagate as they are, with the temporary file removed too. Returns ``path``."""
    path = Path(path)
    temporary = None
    writer = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as handle:
            writer = _RecordingWriter(handle)
            if callable(content):
                content(writer)
            else:
                writer.write(content.encode() if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~umask())  # mkstemp creates 0600; a new file gets the umask's permissions
        os.replace(temporary, path)
        temporary = None
    except (OSError, RuntimeError) as error:
        raise _failure(path, writer.error if writer is not None and writer.error is not None else error) from None
    finally:
        if temporary is not None:
            try:
                os.remove(temporary)
            except OSError:
                pass
    return path


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
