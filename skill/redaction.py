"""Masking secrets in any text the skill emits (messages, logs, dry-run headers).

Two layers: every value registered with `remember` (the key actually in use) is masked
wherever it appears, and anything shaped like an OpenAI key is masked too, including the
partly-masked echo a 401 carries (`Incorrect API key provided: sk-abc***wxyz`).
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"

# sk-, sk-proj-, sk-svcacct-, sk-admin- keys, and their masked echoes (`sk-abc***wxyz`).
_KEY_SHAPE = re.compile(r"sk-[A-Za-z0-9_\-*]{3,}")
# Long opaque tokens after "Bearer" (another gateway's key shape).
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]{8,}")

_known: set[str] = set()


def remember(secret: str | None) -> None:
    """Mask this exact value (and its fragments long enough to identify it) from now on."""
    if secret and len(secret) >= 8:
        _known.add(secret)


def redact(text: str) -> str:
    """Return `text` with every known secret and key-shaped token masked."""
    if not text:
        return text
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _KEY_SHAPE.sub(MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)
