"""Echoes of the key that were not masked (issue 16, item 8), and MCP success results (item 14).

Hex (also of `Bearer <key>`), base32, HTML decimal and hex character references, upper case,
base64 of base64 and 15-character pieces all reached CLI output and MCP `isError` text; and
a successful MCP result was not masked at all. Each echo is masked now, through the CLI and
the MCP result builder too; text that merely resembles one is left alone.
"""

from __future__ import annotations

import base64
import json

import pytest

from support.canary import CANARY_KEY
from openai_skill.redaction import MASK, StreamRedactor, forget, redact, redact_untrusted, remember

BEARER = f"Bearer {CANARY_KEY}"


def _refs(text: str, fmt: str, which=lambda ch: True) -> str:
    return "".join(fmt.format(ord(ch)) if which(ch) else ch for ch in text)


ECHOES = {
    "hex": CANARY_KEY.encode().hex(),
    "upper-case hex": CANARY_KEY.encode().hex().upper(),
    "hex of the Bearer header": BEARER.encode().hex(),
    "upper-case hex of the Bearer header": BEARER.encode().hex().upper(),
    "base32": base64.b32encode(CANARY_KEY.encode()).decode(),
    "base32 inside a longer text": base64.b32encode(b"user:" + CANARY_KEY.encode()).decode(),
    "lower-case base32": base64.b32encode(CANARY_KEY.encode()).decode().lower(),
    "HTML decimal references": _refs(CANARY_KEY, "&#{};"),
    "HTML hex references": _refs(CANARY_KEY, "&#x{:x};"),
    "HTML upper-case hex references without ;": _refs(CANARY_KEY, "&#X{:X}"),
    "only the dashes as &#45;": _refs(CANARY_KEY, "&#{};", lambda ch: ch == "-"),
    "upper case": CANARY_KEY.upper(),
    "lower case": CANARY_KEY.lower(),
    "base64 of base64": base64.b64encode(base64.b64encode(CANARY_KEY.encode())).decode(),
    "base64 of base64 of the Bearer header": base64.b64encode(base64.b64encode(BEARER.encode())).decode(),
    "15-character pieces": " ".join(CANARY_KEY[i:i + 15] for i in range(0, len(CANARY_KEY), 15)),
    "12-character pieces": " | ".join(CANARY_KEY[i:i + 12] for i in range(0, len(CANARY_KEY), 12)),
}


def _leaked(out: str) -> list[str]:
    """Runs of 12 characters of the key that survived, in any case and under any encoding
    this test used (decoded back)."""
    key = CANARY_KEY.lower()
    text = out.lower()
    pieces = [key[i:i + 12] for i in range(0, len(key) - 11)]
    return [p for p in pieces if p in text]


@pytest.fixture(autouse=True)
def held():
    forget()
    remember(CANARY_KEY)
    yield
    forget()


# What may stay of an echo of `Bearer <key>`: the encoding of `Bearer ` (and a character).
BEARER_LEADS = {"hex of the Bearer header": "42656172657220",
                "upper-case hex of the Bearer header": "42656172657220",
                "base64 of base64 of the Bearer header": "UW1WaGNtVnlJSE5y"}


@pytest.mark.parametrize("name", ECHOES)
def test_each_echo_is_masked(name):
    echo = ECHOES[name]
    out = redact(f"got: {echo} (end)")
    assert MASK in out and out.startswith("got: ") and out.endswith(" (end)"), out
    lead = BEARER_LEADS.get(name, "")
    survivors = [chunk.strip(" |") for chunk in out[len("got: "):-len(" (end)")].split(MASK)]
    assert all(len(c) < 12 or (lead and c.lower() == lead.lower()) for c in survivors), (name, out)
    assert _leaked(out) == [], (name, out)


@pytest.mark.parametrize("name", ["hex", "HTML decimal references", "upper case", "15-character pieces"])
def test_each_echo_is_masked_in_a_stream_at_every_split(name):
    text = f"a {ECHOES[name]} b"
    for split in range(1, len(text), 7):
        stream = StreamRedactor()
        out = stream.feed(text[:split]) + stream.feed(text[split:]) + stream.flush()
        assert MASK in out and _leaked(out) == [], (name, split, out)


# (The canary holds `0123456789` and the alphabet in order: data that holds those runs too,
# `bytes(range(256))` say, shares real pieces with it. Random bytes do not.)
_NOISE = __import__("random").Random(16).randbytes(6000)
LOOKALIKES = [
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "RISK-FREE TASK-BASED PLAN USING SK-LEARN",
    "JBSWY3DPEHPK3PXP is base32 of something else",
    "&#60;b&#62;bold&#60;/b&#62; &#x26; more",
    "another key sk-proj-OTHERqZ7vW2mX9pL4kT8rN3sY6hJ1gF5dB0cQ in a result",
    base64.b64encode(_NOISE).decode(),
    base64.b32encode(_NOISE).decode(),
    _NOISE.hex(),
    _NOISE.hex().upper(),
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_what_only_resembles_an_echo_is_left_alone(text):
    assert redact(text) == text


def test_the_cli_masks_every_echo_in_an_api_error(openai, key, cli):
    body = {"error": {"message": " ; ".join(f"{name}: {echo}" for name, echo in ECHOES.items()),
                      "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
    openai.reply("GET", "/models", body, status=401)
    result = cli("models", "--json")
    assert result.code == 3
    assert _leaked(result.out + result.err) == [], result.err


def test_mcp_error_and_success_results_mask_every_echo():
    from openai_skill.errors import APIError
    from openai_skill.surfaces.mcp.results import error_result, success_result

    message = " ; ".join(ECHOES.values())
    failed = error_result(APIError(message))
    assert _leaked(json.dumps(failed)) == []
    answer = {"content": f"Sure, your key is {CANARY_KEY} or {ECHOES['hex']}", "finish_reason": "stop",
              "model": "gpt-4o-mini", "usage": {"total_tokens": 3}, "request_id": "req_1", "tool_calls": None}
    done = success_result("chat-completion", answer)
    assert _leaked(json.dumps(done)) == [] and done["structuredContent"]["finish_reason"] == "stop"
    assert done["content"][0]["text"] == f"Sure, your key is {MASK} or {MASK}"
    assert done["structuredContent"]["content"] == f"Sure, your key is {MASK} or {MASK}"


def test_untrusted_text_still_masks_shapes_and_held_echoes_together():
    text = f"Bearer {CANARY_KEY.upper()} and {ECHOES['hex of the Bearer header']}"
    out = redact_untrusted(text)
    assert _leaked(out) == [] and out.count(MASK) >= 2
