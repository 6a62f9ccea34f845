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
