"""Masking secrets in the text the skill emits (messages, results, streamed text, dry runs).

Two rules, each applied where it belongs:
- `redact`: the secrets we hold (the key in use, vault values; registered with `remember`)
  are masked wherever they appear, in any of the encodings an echo would use: as is,
  without a prefix (any run of MIN_FRAGMENT_CHARS of it), base64 (standard or URL-safe,
  padded or not, at any byte alignment, and base64 of base64), base32, hex (of the key, so
  of `Bearer <key>` too), percent-encoded, HTML- or JSON-escaped, HTML numeric character
  references (`&#45;`, `&#x2d;`, for some characters or all), in any letter case, and
  OpenAI's masked echo (`sk-abc***wxyz`). Nothing else is touched: model output, paths and
  user text that merely look like a key (`sk-learn`, `risk-free`, `disk-images`) come out
  byte for byte.
- `redact_untrusted`: text that comes from the API's error bodies may also echo keys we do
  not hold (another key of the user's, a gateway's token), so key-shaped tokens and bearer
  tokens are masked there too (`APIError` applies it; the CLI also applies it to argparse's
  echo of stray arguments and to unforeseen exceptions). Never apply it to results.

The registry is bounded (MAX_REMEMBERED, least recently remembered out first) so a
long-lived MCP server or dashboard stays small, and every secret's encodings are computed
once, when it is remembered, not on each call.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections import OrderedDict
from urllib.parse import quote

MASK = "[REDACTED]"
MIN_SECRET_CHARS = 8        # shorter values are too likely to occur by chance to be masked
MAX_REMEMBERED = 32         # a process holds a handful of keys; the oldest goes first
MIN_FRAGMENT_CHARS = 12     # a run this long shared with a secret (or an encoding) is masked
# Text is probed every WINDOW_CHARS characters against an index of every WINDOW_CHARS-long
# piece of every held encoding: a shared run of 2*WINDOW_CHARS-1 or more always contains a
# probed window, so one pass finds them all, whatever the number of secrets held.
WINDOW_CHARS = 6
# Matching ignores ASCII letter case (an upper-cased echo, upper-case hex): text and forms are
# compared through this length-preserving table, so spans map back one to one.
_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# An HTML numeric character reference, decimal or hex (`&#45;`, `&#x2D;`), `;` optional.
# (Compiled on first use, as the patterns below: only text with `&#` in it needs it.)
_CHAR_REF = r"&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});?"
MAX_ECHO_SIDE_CHARS = 64    # how far around a `***` run the masked echo's ends are looked for
MIN_ECHO_PREFIX = 3         # `sk-` at least before the stars
MIN_ECHO_CHARS = 6          # and more than a bare `sk-***` around them

# The patterns are compiled on first use (re keeps them): most calls never need one, and every
# CLI call imports this module.
# A key-shaped token in API text: `sk-` at a word start, then either a run long enough to be
# a key or any run with `*` in it (a masked echo). "risk-free" and "sk-learn" do not match.
_KEY_SHAPE = r"(?<![A-Za-z0-9_])sk-[A-Za-z0-9_*-]+"
MIN_KEY_SHAPE_CHARS = 20
# Long opaque tokens after "Bearer" (another gateway's key shape).
_BEARER = r"(?i)(bearer\s+)[^\s\"',;]{8,}"
_STARS = r"\*{3,}"
_ECHO_CHARS = r"[A-Za-z0-9_-]*"
_SHORTEST_MASKED = min(MIN_SECRET_CHARS, MIN_FRAGMENT_CHARS, MIN_ECHO_CHARS + 3)


class _Secret:
    """One held secret and the strings its echoes would contain, precomputed."""

    __slots__ = ("value", "exact", "windows", "alphabet", "longest")

    def __init__(self, value: str):
        self.value = value
        forms = list(dict.fromkeys(f.translate(_FOLD) for f in _encodings(value)))
        # Short forms are masked only whole; long ones by any run of MIN_FRAGMENT_CHARS.
        self.exact = tuple(f for f in forms if len(f) < MIN_FRAGMENT_CHARS)
        # {window: ((form, offset), ...)}: grouped once here, so adding or dropping this secret
        # touches each distinct window once ("x" * 65536 has 93 of them, two million occurrences).
        grouped: dict = {}
        for form in forms:
            if len(form) >= MIN_FRAGMENT_CHARS:
                for i in range(len(form) - WINDOW_CHARS + 1):
                    grouped.setdefault(form[i:i + WINDOW_CHARS], []).append((form, i))
        self.windows = {window: tuple(entries) for window, entries in grouped.items()}
        letters = "".join(forms)
        self.alphabet = frozenset(letters + letters.upper() + "&#;xX")   # what a split echo may end with
        self.longest = max(len(f) for f in forms)


class _Held:
    """What redact() reads: replaced whole on every change, so it needs no lock. (A plain
    class: a NamedTuple runs `exec` at import, ~0.2 ms of every CLI call.)"""

    __slots__ = ("secrets", "windows", "exact", "alphabet", "longest")

    def __init__(self, secrets: tuple = (), windows: dict | None = None, exact: tuple = (),
                 alphabet: frozenset = frozenset(), longest: int = 0):
        self.secrets = secrets
        self.windows = {} if windows is None else windows  # window -> ((form, offset), ...)
        self.exact = exact
        self.alphabet = alphabet
        self.longest = longest


def _changed(held: _Held, secrets: tuple, added=(), dropped=()) -> _Held:
    """`held` with the `added` secrets' windows indexed and the `dropped` ones' taken out, for
    the registry's `secrets` now. The index is copied (at C speed) and only the changed
    secrets' windows are touched: rebuilding it from every secret's windows made a `remember`
    near MAX_REMEMBERED cost ~0.1-0.3 s. The same index as one built from every secret (tested)."""
    windows = dict(held.windows)
    for secret in dropped:
        for window, gone in secret.windows.items():
            current = windows[window]
            if current is gone or current == gone:   # no other secret has this window: the usual case
                del windows[window]
                continue
            counts: dict = {}
            for entry in gone:
                counts[entry] = counts.get(entry, 0) + 1
            kept = []
            for entry in current:   # each of its entries once: another secret's equal ones stay
                if counts.get(entry):
                    counts[entry] -= 1
                else:
                    kept.append(entry)
            if kept:
                windows[window] = tuple(kept)
            else:
                del windows[window]
    for secret in added:
        for window, entries in secret.windows.items():
            current = windows.get(window)
            windows[window] = entries if current is None else current + entries
    return _Held(secrets, windows, tuple(f for s in secrets for f in s.exact),
                 frozenset().union(*(s.alphabet for s in secrets)),
                 max((s.longest for s in secrets), default=0))


def _html_escaped(text: str) -> str:
    """`html.escape(text)` (quotes included), without importing `html` (its entity table costs
    ~1 ms at every start, for a function this small)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def _encodings(value: str) -> list[str]:
    raw = value.encode("utf-8", "surrogatepass")
    forms = [value, quote(value, safe=""), _html_escaped(value),
             json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]]
    cores = _aligned(raw, base64.b64encode, 3, 4)
    for core in cores:
        forms += [core, core.replace("+", "-").replace("/", "_"), quote(core, safe="")]
        forms += _aligned(core.encode("ascii"), base64.b64encode, 3, 4)   # base64 of base64
    forms += _aligned(raw, base64.b32encode, 5, 8)
    forms.append(raw.hex())   # byte-aligned: also inside the hex of `Bearer <key>` or any longer text
    return list(dict.fromkeys(f for f in forms if len(f) >= MIN_SECRET_CHARS))


def _aligned(raw: bytes, encode, group_bytes: int, group_chars: int) -> list[str]:
    """`raw`'s encoding at each byte alignment inside a longer encoded text: the leading group
    mixes in the bytes before it, so it is dropped (the padding is kept: it is part of the
    echo when the key ends the text)."""
    out = []
    for shift in range(group_bytes):
        encoded = encode(b"\0" * shift + raw).decode("ascii")
        out.append(encoded[group_chars:] if shift else encoded)
    return out


_lock = threading.Lock()
_registry: OrderedDict[str, _Secret] = OrderedDict()
_held = _Held()


def _after_fork_in_child() -> None:
    # The lock may have been held by a thread that the child does not have.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def remember(secret: str | None) -> None:
    """Mask this value (and its encodings and long fragments) from now on."""
    global _held
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS:
        return
    with _lock:
        if secret in _registry:
            _registry.move_to_end(secret)
            return
        added = _registry[secret] = _Secret(secret)
        dropped = []
        while len(_registry) > MAX_REMEMBERED:
            dropped.append(_registry.popitem(last=False)[1])
        _held = _changed(_held, tuple(_registry.values()), (added,), dropped)


def forget(secret: str | None = None) -> None:
    """Stop masking `secret` (or every secret): for a server done with a caller's key, and tests."""
    global _held
    with _lock:
        if secret is None:
            _registry.clear()
            _held = _Held()
            return
        dropped = _registry.pop(secret, None)
        if dropped is not None:
            _held = _changed(_held, tuple(_registry.values()), dropped=(dropped,))


def remembered_count() -> int:
    return len(_held.secrets)


def redact(text: str) -> str:
    """`text` with every held secret, in any of its encodings, masked; nothing else changed."""
    # Shorter than any held form (MIN_SECRET_CHARS), fragment (MIN_FRAGMENT_CHARS) or masked
    # echo (MIN_ECHO_CHARS and three stars) can be: nothing to look for. Most strings of a
    # result are such ("assistant", "stop", its keys), and every result is masked string by string.
    if not text or not _held.secrets or not isinstance(text, str) or len(text) < _SHORTEST_MASKED:
        return text
    return _apply(text, _spans(text, _held))


def redact_untrusted(text: str) -> str:
    """For text that may quote keys we do not hold (API error bodies): held secrets,
    key-shaped tokens (`sk-` and 17+ more characters, or with `*`) and bearer tokens masked."""
    if not text or not isinstance(text, str):
        return text
    # Shapes first: a held secret masked inside a token would hide the token's shape.
    text = re.sub(_BEARER, lambda m: m.group(1) + MASK, re.sub(_KEY_SHAPE, _mask_key_shape, text))
    return redact(text)


def redact_value(value):
    """A JSON-like value with `redact` applied to every string (keys included); numbers,
    booleans and None as they are. Used on results before they are printed."""
    if isinstance(value, str):
        return redact(value)
    if not _held.secrets:
        return value
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


class StreamRedactor:
    """`redact` for text that arrives in pieces: a secret split across pieces is still masked.

    Text is held back only while it could still be part of a secret (a trailing run of
    characters that occur in some held encoding, at most the longest encoding), so ordinary
    prose flows through at once.
    """

    def __init__(self):
        self._buffer = ""

    def feed(self, piece: str) -> str:
        held = _held
        text = self._buffer + piece
        if not held.secrets:
            self._buffer = ""
            return text
        cut = len(text)
        while cut > 0 and text[cut - 1] in held.alphabet:
            cut -= 1
        cut = max(cut, len(text) - held.longest + 1)
        spans = _spans(text, held)
        for start, end in spans:
            if start < cut < end:
                cut = end
        self._buffer = text[cut:]
        return _apply(text[:cut], [(s, min(e, cut)) for s, e in spans if s < cut])

    def flush(self) -> str:
        text, self._buffer = self._buffer, ""
        return redact(text)


def _spans(text: str, held: _Held) -> list[tuple[int, int]]:
    """Merged (start, end) ranges of `text` that belong to a held secret (in any letter case,
    and through HTML numeric character references)."""
    found = _raw_spans(text.translate(_FOLD), held)
    if "&#" in text:
        decoded, where = _decode_char_refs(text)
        found += [(where[start], where[end]) for start, end in _raw_spans(decoded.translate(_FOLD), held)]
    if "***" in text:
        found += _masked_echoes(text, held.secrets)
    return _merged(found)


def _decode_char_refs(text: str) -> tuple[str, list[int]]:
    """`text` with numeric character references decoded, and for each decoded position (and
    the end) the position in `text` it came from."""
    out, where, last = [], [], 0
    for match in re.finditer(_CHAR_REF, text):
        for i in range(last, match.start()):
            out.append(text[i])
            where.append(i)
        ref = match.group().rstrip(";")[2:]
        code = int(ref[1:], 16) if ref[:1] in "xX" else int(ref)
        out.append(chr(code) if 0 < code <= 0x10FFFF else "\ufffd")
        where.append(match.start())
        last = match.end()
    for i in range(last, len(text)):
        out.append(text[i])
        where.append(i)
    where.append(len(text))   # a span ending before decoded position k ends where k starts in `text`
    return "".join(out), where


def _raw_spans(text: str, held: _Held) -> list[tuple[int, int]]:
    found = []
    for form in held.exact:
        start = text.find(form)
        while start != -1:
            found.append((start, start + len(form)))
            start = text.find(form, start + 1)
    index, covered = held.windows, 0
    for probe in range(0, len(text) - WINDOW_CHARS + 1, WINDOW_CHARS):
        entries = index.get(text[probe:probe + WINDOW_CHARS])
        if not entries or probe + WINDOW_CHARS <= covered:
            continue
        for form, offset in entries:
            span = _extend(text, probe, form, offset)
            if span[1] - span[0] >= MIN_FRAGMENT_CHARS:
                found.append(span)
                covered = max(covered, span[1])
    return found


def _merged(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _extend(text: str, start: int, form: str, offset: int) -> tuple[int, int]:
    """The longest run around text[start:] that matches `form` around `offset`."""
    left = 0
    while start - left > 0 and offset - left > 0 and text[start - left - 1] == form[offset - left - 1]:
        left += 1
    right = WINDOW_CHARS
    while (start + right < len(text) and offset + right < len(form)
           and text[start + right] == form[offset + right]):
        right += 1
    return start - left, start + right


def _masked_echoes(text: str, held) -> list[tuple[int, int]]:
    """OpenAI's 401 echo of a held key: its first characters, stars, its last ones."""
    found = []
    echo_chars = re.compile(_ECHO_CHARS)
    for stars in re.finditer(_STARS, text):
        head = _trailing_run(text[max(0, stars.start() - MAX_ECHO_SIDE_CHARS):stars.start()])
        after = echo_chars.match(text, stars.end(), stars.end() + MAX_ECHO_SIDE_CHARS)
        tail = after.group() if after else ""  # never None (`*` matches the empty string); for the types
        if len(head) < MIN_ECHO_PREFIX or len(head) + len(tail) < MIN_ECHO_CHARS:
            continue
        for secret in held:
            if secret.value.startswith(head) and secret.value.endswith(tail):
                found.append((stars.start() - len(head), stars.end() + len(tail)))
                break
    return found


def _trailing_run(text: str) -> str:
    i = len(text)
    echo_chars = re.compile(_ECHO_CHARS)
    while i > 0 and echo_chars.fullmatch(text[i - 1]):
        i -= 1
    return text[i:]


def _apply(text: str, spans) -> str:
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)


def _mask_key_shape(match: re.Match) -> str:
    token = match.group()
    return MASK if "*" in token or len(token) >= MIN_KEY_SHAPE_CHARS else token
