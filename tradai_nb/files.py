"""Files: reading one a user named (only a regular file, of bounded size, as UTF-8 text, every problem a sentence),
and writing one atomically."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from tradai_nb.errors import UnreadableFileError


def read_text(path: str | os.PathLike, max_bytes: int) -> str:
    """The file's text. Raises UnreadableFileError (its `problem` completes "<path> ...", its `reason` one of
    missing, folder, not-regular, too-large, not-utf8, unreadable) for anything else: a folder, a device such as
    /dev/zero, a named pipe (never waited on), a file over max_bytes, bytes that are not UTF-8."""
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer; it is refused below like any non-regular file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UnreadableFileError("does not exist", "missing") from None
    except IsADirectoryError:
        raise UnreadableFileError("is a folder", "folder") from None
    except NotADirectoryError:
        raise UnreadableFileError(f"cannot exist: {Path(path).parent} is not a folder", "missing") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        raise UnreadableFileError(f"cannot be read ({getattr(exc, 'strerror', None) or exc})", "unreadable") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableFileError("is a folder", "folder")
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError("is not a regular file (a device, pipe or socket)", "not-regular")
        if info.st_size > max_bytes:
            raise UnreadableFileError(f"is {info.st_size:,} bytes, more than {max_bytes:,}", "too-large")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        raise UnreadableFileError(f"cannot be read ({exc.strerror or exc})", "unreadable") from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:  # grew while being read
        raise UnreadableFileError(f"is more than {max_bytes:,} bytes", "too-large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UnreadableFileError(
            f"is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} (line {line}) cannot be decoded",
            "not-utf8",
        ) from None


def write_atomically(path: Path, content: bytes, *, mode: int | None = None) -> None:
    """Write to a uniquely named temporary file beside the target, fsync, rename it over, fsync the folder: readers
    never see half a file, and a crash leaves the old file or the new one. The file is the owner's only (0600)
    unless mode says otherwise. A failed write leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(path: Path) -> None:
    """Make the names in a folder durable: a renamed or created file's new name is durable only once its folder is."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
