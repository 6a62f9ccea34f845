"""Server-sent events: pure parsing, no I/O.

`iter_lines` splits raw body pieces into lines and `iter_events` turns lines into event data
(the SSE rules: `data:` fields joined by newlines, `:` comments skipped, a blank line ends an
event). Folding chat chunks into a response is the chat action's job (`actions/chat.py`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

DONE = "[DONE]"
_EOL = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


def iter_lines(pieces: Iterable[bytes | str]) -> Iterator[str]:
    """Yield the lines of a body that arrives in `pieces` of any size, without line endings.

    Lines end at CRLF, LF or CR only (not at the other characters `str.splitlines` knows,
    such as U+2028, which may sit unescaped inside JSON), also when a CRLF or a multi-byte
    UTF-8 character is split across two pieces. A last line without an ending is yielded.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    skip_lf = False  # the previous piece ended in CR: a LF starting this one belongs to it
    for piece in pieces:
        text = decoder.decode(piece) if isinstance(piece, bytes) else piece
        if not text:
            continue
        if skip_lf:
            text = text.removeprefix("\n")
        buffer += text
        start = 0
        for match in _EOL.finditer(buffer):
            yield buffer[start:match.start()]
            start = match.end()
        skip_lf = start > 0 and start == len(buffer) and buffer.endswith("\r")
        buffer = buffer[start:]
    buffer += decoder.decode(b"", final=True)
    if buffer:
        yield buffer


def iter_events(lines: Iterable[bytes | str]) -> Iterator[str]:
    """Yield the data of each server-sent event in `lines` (str or bytes, endings optional).

    `data:` with or without the space after the colon; several `data:` lines in one event are
    joined with newlines; lines starting with `:` are comments; other fields (`event`, `id`,
    `retry`) are ignored. An event still open when the lines run out is yielded as well
    (lenient: some servers omit the blank line after `data: [DONE]`).
    """
    data: list[str] = []
    first = True
    for raw in lines:
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        line = _strip_ending(line)
        if first:
            line = line.removeprefix(_BOM)
            first = False
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _strip_ending(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line
