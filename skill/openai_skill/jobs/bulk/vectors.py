"""Embedding vectors on the wire, in the cache and in output files. Pure.

With `encoding_format: base64` OpenAI sends each embedding as base64 of little-endian
float32 (about 4x fewer bytes than JSON numbers); we keep it as those bytes (`array('f')`
on a little-endian machine) until it is written, so nothing is converted twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import sys
import threading
from array import array

from ...errors import UnexpectedResponseError

FLOAT32_BYTES = 4
NPY_MAGIC = b"\x93NUMPY"
NPY_VERSION = b"\x01\x00"
NPY_ALIGN = 64                 # header padded so the data starts aligned, as numpy writes it
FLOAT_FORMAT = "%.9g"          # 9 significant digits round-trip every float32 exactly
_BIG_ENDIAN = sys.byteorder == "big"


def decode_base64(raw: str) -> bytes:
    """Little-endian float32 bytes from the API's base64 string."""
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise UnexpectedResponseError("an embedding is not valid base64") from None
    if len(data) % FLOAT32_BYTES or not data:
        raise UnexpectedResponseError(f"an embedding has {len(data)} bytes, not a whole number of float32")
    return data


def from_floats(values) -> bytes:
    """Little-endian float32 bytes from a list of numbers (encoding_format float)."""
    if not isinstance(values, list) or not values:
        raise UnexpectedResponseError("an embedding is not a list of numbers")
    try:
        packed = array("f", values)
    except TypeError:
        raise UnexpectedResponseError("an embedding is not a list of numbers") from None
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


# Little-endian float32: the high byte of each value is every 4th byte from index 3. A NaN or an
# infinity has all 8 exponent bits set, so its high byte is 0x7f or 0xff; finite values with
# such a high byte (magnitude >= 2**127) are rare enough to be checked one by one.
_HIGH_BYTE = slice(FLOAT32_BYTES - 1, None, FLOAT32_BYTES)


def is_finite(data: bytes) -> bool:
    """Whether every float32 of `data` is a number (no NaN, no infinity)."""
    high = data[_HIGH_BYTE]
    if b"\x7f" not in high and b"\xff" not in high:
        return True   # the common case, at memory speed
    values = array("f")
    values.frombytes(data)
    # float32 values are below 3.5e38, so a double sum of them cannot overflow: it is finite
    # exactly when every value is.
    return math.isfinite(sum(values))


class Shape:
    """The one vector width of a run, and the finiteness of every vector, checked before a
    vector is cached or written. The width is `dimensions` when the request sets it; else the
    first vector's (so a run never mixes two widths). Safe to share between threads."""

    def __init__(self, dimensions: int | None):
        self.asked = dimensions
        self.width: int | None = dimensions * FLOAT32_BYTES if dimensions else None
        self._lock = threading.Lock()

    @property
    def dimensions(self) -> int | None:
        return self.width // FLOAT32_BYTES if self.width else None

    def check(self, vectors: list, request_id: str | None = None) -> None:
        """Raise UnexpectedResponseError unless every vector has the run's width and is finite."""
        for vector in vectors:
            problem = self.problem(vector)
            if problem:
                raise UnexpectedResponseError(f"the embeddings answer {problem}; nothing of it was "
                                              "cached or written", request_id=request_id)

    def fits(self, vector: bytes) -> bool:
        """Whether a vector from the cache may be used (else it is fetched again)."""
        return self.problem(vector) is None

    def problem(self, vector: bytes, *, adopt: bool = True) -> str | None:
        if self.width is None and adopt:
            with self._lock:
                if self.width is None:
                    self.width = len(vector)
        if self.width is not None and len(vector) != self.width:
            got = len(vector) // FLOAT32_BYTES
            if self.asked:
                return (f"holds a vector of {got} dimensions, not the {self.asked} asked for (does the "
                        "server ignore `dimensions`?)")
            return f"holds vectors of {got} and {self.dimensions} dimensions in one run"
        if not is_finite(vector):
            return "holds NaN or infinity in a vector"
        return None


def to_floats(data: bytes) -> list[float]:
    values = array("f")
    values.frombytes(data)
    if _BIG_ENDIAN:
        values.byteswap()
    return values.tolist()


_FORMATS: dict[int, str] = {}


def json_array(data: bytes) -> str:
    """The vector as a JSON array text, each float32 in at most 9 significant digits."""
    values = to_floats(data)
    template = _FORMATS.get(len(values))
    if template is None:  # one format call per vector is about twice as fast as one per float
        template = _FORMATS[len(values)] = ",".join([FLOAT_FORMAT] * len(values))
    text = template % tuple(values)
    # "nan" or "inf": not JSON, and never a real embedding (the substring test first: it is cheap)
    if "n" in text and any(not math.isfinite(value) for value in values):
        raise UnexpectedResponseError("an embedding holds NaN or infinity")
    return "[" + text + "]"


def jsonl_line(ordinal: int, ident, data: bytes) -> str:
    """One output line: `{"id": ..., "embedding": [...]}`, or `"index"` when the input had no id."""
    key = "index" if ident is None else "id"
    value = ordinal if ident is None else ident
    return f'{{"{key}":{json.dumps(value, ensure_ascii=False)},"embedding":{json_array(data)}}}\n'


def npy_header(rows: int, dimensions: int) -> bytes:
    """The .npy (format 1.0) header for a C-order little-endian float32 matrix."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows:d}, {dimensions:d}), }}"
    used = len(NPY_MAGIC) + len(NPY_VERSION) + 2 + len(text) + 1
    text += " " * (-used % NPY_ALIGN) + "\n"
    return NPY_MAGIC + NPY_VERSION + len(text).to_bytes(2, "little") + text.encode("latin1")
