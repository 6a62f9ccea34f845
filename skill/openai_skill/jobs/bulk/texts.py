"""Reading the texts to embed, one at a time, so memory stays flat whatever the input size.

Formats: `txt` (one text per line) and `jsonl` (one JSON object per line; the text in a
field, `text` by default, and an optional `id` that the output carries instead of the
index). A problem names its 1-based line number; `scan` collects them for the whole input
before anything is sent.

Lines end at "\n" only (a "\r\n" ending loses its "\r" too): a lone "\r" inside a text is
part of it, never a line break that would shift every later index. A UTF-8 byte-order mark
at the start of the input is not part of the first text (`open_input`). Bytes that are not
UTF-8 are an InputError naming their line (`undecodable`, on the rare failing path only: the
common path decodes in bulk). `file_sha256` is how a checkpoint knows its input: by content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ...errors import InputError
from ...input.problems import problem as _problem

FORMATS = ("txt", "jsonl")
DEFAULT_FIELD = "text"
ID_FIELD = "id"
MAX_REPORTED_PROBLEMS = 20   # an input with thousands of bad lines: the first ones say enough


@dataclass(frozen=True, slots=True)
class Text:
    line: int                      # 1-based line number in the input
    text: str
    id: str | int | None = None    # from the jsonl `id` field, if any


def format_for(path: str | None, given: str | None = None) -> str:
    """The input format: `given`, else from the file name (`.jsonl`/`.ndjson` -> jsonl), else txt."""
    if given:
        if given not in FORMATS:
            raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {given!r}",
                             problems=[_problem("format", f"one of {', '.join(FORMATS)}", repr(given),
                                                f"unknown input format {given!r}")])
        return given
    if path and path.lower().endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "txt"


BOM = b"\xef\xbb\xbf"
HASH_BLOCK = 1024 * 1024


def open_input(path):
    """An input file as text lines: split at "\n" only, a leading byte-order mark dropped."""
    return open(path, encoding="utf-8-sig", newline="\n")


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def undecodable(path, source: str) -> InputError:
    """The InputError for the first line of `path` that is not UTF-8 (after a UnicodeDecodeError)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                message = f"line {number}: not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line)"
                return InputError(f"{source}: {message}", problems=[_problem(
                    f"line {number}", "UTF-8 text", f"the byte 0x{raw[exc.start]:02x}", message)])
    return InputError(f"{source}: not UTF-8 text")


def line_text(number: int, raw: str) -> str:
    """Line `number` without its ending: one "\n", then one "\r" (never a "\r" inside)."""
    if number == 1 and raw.startswith("\ufeff"):
        raw = raw[1:]
    if raw.endswith("\n"):
        raw = raw[:-1]
    return raw[:-1] if raw.endswith("\r") else raw


def _items(lines: Iterable[str], fmt: str, field: str):
    parse = _parse_jsonl if fmt == "jsonl" else _parse_txt
    for number, raw in enumerate(lines, start=1):
        yield parse(number, line_text(number, raw), field)


def read_texts(lines: Iterable[str], fmt: str = "txt", field: str = DEFAULT_FIELD) -> Iterator[Text]:
    """Yield each input line as a Text; raise InputError naming the first bad line."""
    for item in _items(lines, fmt, field):
        if isinstance(item, dict):
            raise InputError(item["message"], problems=[item])
        yield item


def scan(lines: Iterable[str], fmt: str = "txt", field: str = DEFAULT_FIELD, check=None) -> int:
    """Check every line without keeping any; return the number of texts or raise InputError
    listing the first MAX_REPORTED_PROBLEMS problems (each with its line number).
    `check(text)` may add a problem of its own (a dict) for a line that parsed."""
    problems: list[dict] = []
    count = bad = 0
    for item in _items(lines, fmt, field):
        if check is not None and isinstance(item, Text):
            item = check(item) or item
        if isinstance(item, dict):
            bad += 1
            if len(problems) < MAX_REPORTED_PROBLEMS:
                problems.append(item)
        else:
            count += 1
    if problems:
        more = f" (and {bad - len(problems)} more)" if bad > len(problems) else ""
        head = (problems[0]["message"] if bad == 1
                else f"{bad} bad lines in the input{more}; first: {problems[0]['message']}")
        raise InputError(head, problems=problems)
    if count == 0:
        raise InputError("the input has no texts to embed",
                         problems=[_problem("input", "at least one line of text", "an empty input",
                                            "the input has no texts to embed")])
    return count


def _parse_txt(number: int, line: str, field: str):
    if not line.strip():
        return _problem(f"line {number}", "a non-empty text", repr(line),
                        f"line {number}: empty line (the API rejects empty inputs)")
    return Text(number, line)


def _parse_jsonl(number: int, line: str, field: str):
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return _problem(f"line {number}", "a JSON object", _show(line),
                        f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return _problem(f"line {number}", "a JSON object", _show(line), f"line {number}: the JSON is nested too deeply")
    except ValueError as exc:  # an integer with thousands of digits (Python's int conversion limit)
        return _problem(f"line {number}", "a JSON object", _show(line), f"line {number}: not JSON ({exc})")
    if not isinstance(item, dict):
        return _problem(f"line {number}", "a JSON object", _show(line), f"line {number}: expected a JSON object")
    text = item.get(field)
    if not isinstance(text, str) or not text.strip():
        given = "nothing" if field not in item else _show(json.dumps(text))
        return _problem(f"line {number}.{field}", "a non-empty string", given,
                        f"line {number}: field {field!r} must be a non-empty string")
    ident = item.get(ID_FIELD)
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (str, int))):
        return _problem(f"line {number}.{ID_FIELD}", "a string or an integer", _show(json.dumps(ident)),
                        f"line {number}: field {ID_FIELD!r} must be a string or an integer")
    return Text(number, text, ident)


def _show(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
