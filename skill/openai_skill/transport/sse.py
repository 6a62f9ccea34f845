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
_EOL = r"\r\n|\r|\n"  # compiled on first use (re keeps it): importing this costs every CLI call
_BOM = "\ufeff"
# One line or one event is one chunk of JSON: a few KB, rarely more (a long tool-call
# argument arrives in many small chunks). These caps are far above that.
MAX_LINE_CHARS = 16 * 1024 * 1024
MAX_EVENT_CHARS = 16 * 1024 * 1024


class TooLong(ValueError):
    """A line or an event is longer than its cap."""


def iter_lines(pieces: Iterable[bytes | str], *, max_line: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Yield the lines of a body that arrives in `pieces` of any size, without line endings.

    Lines end at CRLF, LF or CR only (not at the other characters `str.splitlines` knows,
    such as U+2028, which may sit unescaped inside JSON), also when a CRLF or a multi-byte
    UTF-8 character is split across two pieces. A last line without an ending is yielded.
    Linear in the size of the body: each piece is searched once, and an unfinished line is
    kept as a list of parts until its end arrives. A line longer than `max_line` characters
    raises TooLong.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending: list[str] = []   # the start of a line whose end has not arrived yet
    pending_size = 0
    skip_lf = False  # the previous piece ended in CR: a LF starting this one belongs to it
    for piece in pieces:
        text = decoder.decode(piece) if isinstance(piece, bytes) else piece
        if not text:
            continue
        if skip_lf:
            text = text.removeprefix("\n")
        start = 0
        for match in re.finditer(_EOL, text):
            line = text[start:match.start()]
            if pending:
                line = "".join(pending) + line
                pending, pending_size = [], 0
            if len(line) > max_line:
                raise TooLong(f"an event-stream line is longer than the {max_line} character cap")
            yield line
            start = match.end()
        skip_lf = start > 0 and start == len(text) and text.endswith("\r")
        if start < len(text):
            pending.append(text[start:])
            pending_size += len(text) - start
            if pending_size > max_line:
                raise TooLong(f"an event-stream line is longer than the {max_line} character cap")
    rest = "".join(pending) + decoder.decode(b"", final=True)
    if rest:
        yield rest


def iter_events(lines: Iterable[bytes | str], *, max_event: int = MAX_EVENT_CHARS) -> Iterator[str]:
    """Yield the data of each server-sent event in `lines` (str or bytes, endings optional).

    `data:` with or without the space after the colon; several `data:` lines in one event are
    joined with newlines; lines starting with `:` are comments; other fields (`event`, `id`,
    `retry`) are ignored. An event still open when the lines run out is yielded as well
    (lenient: some servers omit the blank line after `data: [DONE]`). An event whose data is
    longer than `max_event` characters raises TooLong.
    """
    data: list[str] = []
    size = 0
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
                data, size = [], 0
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
            size += len(data[-1]) + 1
            if size > max_event:
                raise TooLong(f"an event is longer than the {max_event} character cap")
    if data:
        yield "\n".join(data)


def _strip_ending(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line
