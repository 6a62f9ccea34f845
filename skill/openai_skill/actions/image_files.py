"""Writing generated images to disk: decode, check the real type, pick a safe unique name.

Three guarantees, each tested in tests/actions/test_image_files.py:
- only bytes that really are PNG, JPEG or WebP (by their signature, not by what the API
  claims) are written, with the matching extension;
- a file is never overwritten: names are claimed with O_CREAT|O_EXCL, so two concurrent
  saves of the same stem get `<stem>.png` and `<stem>-2.png`, never one clobbering the other;
- a name never leaves the output folder: the stem is reduced to `[A-Za-z0-9._-]` (no
  separators, no leading dot), and the final path is checked to sit directly in the folder.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UnexpectedResponseError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
RIFF_TAG = b"RIFF"
WEBP_TAG = b"WEBP"
WEBP_TAG_OFFSET = 8  # "RIFF" + 4-byte little-endian size, then "WEBP"

# (extension, MIME type) per detected format.
PNG = ("png", "image/png")
JPEG = ("jpg", "image/jpeg")
WEBP = ("webp", "image/webp")

DEFAULT_STEM = "image"
# Room for "-NNNNN.webp" while staying far below the 255-byte file-name limit.
MAX_STEM_LENGTH = 100
MAX_NAME_ATTEMPTS = 10_000
DIR_MODE = 0o755
FILE_MODE = 0o644

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_DASH_RUN = re.compile(r"-{2,}")

__all__ = ["save_image", "decode_b64_image", "default_stem", "detect_image_type", "sanitize_stem",
           "check_output_dir"]


def detect_image_type(data: bytes) -> tuple[str, str] | None:
    """Return (extension, MIME type) from the file signature, or None if it is not an image we write."""
    if data.startswith(PNG_SIGNATURE):
        return PNG
    if data.startswith(JPEG_SIGNATURE):
        return JPEG
    if data.startswith(RIFF_TAG) and data[WEBP_TAG_OFFSET:WEBP_TAG_OFFSET + len(WEBP_TAG)] == WEBP_TAG:
        return WEBP
    return None


def sanitize_stem(stem: str) -> str:
    """Reduce `stem` to a plain file-name stem: ASCII letters, digits, '.', '_' and '-' only.

    Accents are folded (`café` -> `cafe`), every other run of characters (separators, spaces,
    other scripts) becomes one '-', leading dots and dashes go (no hidden files, nothing that
    reads as a command-line option), and the result is capped at MAX_STEM_LENGTH.
    Falls back to DEFAULT_STEM when nothing usable is left.
    """
    folded = unicodedata.normalize("NFKD", str(stem)).encode("ascii", "ignore").decode("ascii")
    cleaned = _DASH_RUN.sub("-", _UNSAFE_RUN.sub("-", folded))
    cleaned = cleaned.lstrip(".-")[:MAX_STEM_LENGTH].rstrip(".-")
    return cleaned or DEFAULT_STEM


def default_stem(created: int, index: int) -> str:
    """`image-<YYYYmmdd-HHMMSS UTC>-<index>` from the response's `created` time."""
    if isinstance(created, bool) or not isinstance(created, int):
        raise UnexpectedResponseError(f"the image response has no valid 'created' time: {created!r}")
    try:
        moment = datetime.fromtimestamp(created, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise UnexpectedResponseError(
            f"the image response has no valid 'created' time: {created!r}") from None
    return f"{DEFAULT_STEM}-{moment:%Y%m%d-%H%M%S}-{int(index)}"


def decode_b64_image(b64: str) -> bytes:
    """Strictly decode an image's `b64_json`: any character outside the base64 alphabet,
    bad padding or an empty value is an UnexpectedResponseError."""
    if not isinstance(b64, str) or not b64:
        raise UnexpectedResponseError("the image response carries no base64 data (b64_json is empty or not a string)")
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnexpectedResponseError(f"the image response's b64_json is not valid base64 ({exc})") from None
    if not data:
        raise UnexpectedResponseError("the image response's b64_json decodes to nothing")
    return data


def save_image(data: bytes, out_dir: Path, stem: str) -> dict:
    """Write `data` into `out_dir` as `<stem>.<ext>` (or `<stem>-2.<ext>`, … if taken).

    The type comes from the bytes themselves; anything that is not PNG, JPEG or WebP is
    refused with UnexpectedResponseError and nothing is written. `out_dir` is created if
    missing. Returns {"path": absolute path, "bytes": size, "mime_type": ...}.
    """
    kind = detect_image_type(data)
    if kind is None:
        head = bytes(data[:8]).hex(" ") if data else "nothing"
        raise UnexpectedResponseError(
            f"the image data is not PNG, JPEG or WebP ({len(data)} bytes starting with {head}); "
            "nothing was written")
    ext, mime_type = kind
    folder = Path(out_dir).expanduser()
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    folder = folder.resolve()
    base = sanitize_stem(stem)
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        name = f"{base}.{ext}" if attempt == 1 else f"{base}-{attempt}.{ext}"
        path = folder / name
        # Defense in depth: sanitize_stem already removed every separator.
        if path.parent.resolve() != folder or path.name != name:
            raise ValueError(f"refusing to write outside {folder}: {name!r}")
        try:
            fd = os.open(path, _EXCLUSIVE_CREATE, FILE_MODE)
        except FileExistsError:
            continue
        _write_all(fd, path, data)
        return {"path": str(path), "bytes": len(data), "mime_type": mime_type}
    raise FileExistsError(f"no free file name for {base!r} in {folder} after {MAX_NAME_ATTEMPTS} attempts")


# O_EXCL makes the name claim atomic; O_NOFOLLOW (where it exists) refuses a planted
# symlink even though O_EXCL already fails on any existing entry, symlinks included.
_EXCLUSIVE_CREATE = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def _write_all(fd: int, path: Path, data: bytes) -> None:
    """Write every byte to the freshly claimed file; on failure remove the partial file."""
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


# -- before a paid call: can the output folder take the files? --------------------------------

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
PROBE_BYTES = 4096             # written, synced and removed: proves the disk takes data
MIN_FREE_BYTES = 4 * 1024 * 1024   # below this, even one image may not fit
PROBE_PREFIX = ".openai-skill-probe-"


def check_output_dir(out_dir) -> None:
    """Raise InputError unless image files can be written into `out_dir` (or the folder
    that will be created there). Run before anything is sent, dry runs included.

    A name that looks like an image file (`-o out.png`) is refused unless that folder
    already exists: `-o` takes a folder, and silently creating one named out.png is a surprise.
    """
    from ..errors import InputError

    folder = Path(out_dir).expanduser()
    shown = str(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"output folder {shown}: it exists and is not a folder; "
                         "give a folder with -o / output_dir")
    if not folder.exists() and folder.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"output folder {shown}: looks like a file name; -o / output_dir takes a "
                         "folder, the file names are chosen for you (create the folder first to "
                         "use that name)")
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"output folder {shown}: {existing} is not a folder, so it cannot be created")
    problem = _write_probe(existing)
    if problem:
        raise InputError(f"output folder {shown}: cannot write there ({problem}); nothing was sent")


def _write_probe(folder: Path) -> str | None:
    """Why files cannot be written into `folder`, or None. Root ignores permission bits,
    so only a real write (synced, then removed) tells a read-only or full disk."""
    try:
        usage = os.statvfs(folder)
        if usage.f_bavail * usage.f_frsize < MIN_FREE_BYTES:
            return f"only {usage.f_bavail * usage.f_frsize} bytes free"
    except (OSError, AttributeError):  # no statvfs (Windows): the probe decides
        pass
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=folder)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    try:
        written = 0
        while written < PROBE_BYTES:  # a short write is how a file-size limit shows first
            written += os.write(fd, b"\0" * (PROBE_BYTES - written))
        os.fsync(fd)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    finally:
        os.close(fd)
        try:
            os.unlink(name)
        except OSError:
            pass
    return None
