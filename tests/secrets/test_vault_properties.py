"""Property tests (Hypothesis): the vault parser and the secret provider's stdin never raise
anything but their own errors, whatever bytes they are given (issue 8, "Prove it").

OPENAI_SKILL_HYPOTHESIS_PROFILE=long runs a deeper search (as in tests/input/test_properties.py); the
example counts are set here, per test, so they hold whichever module loaded a profile first."""

from __future__ import annotations

import base64
import io
import json
import os
import sys

import pytest

from hypothesis import HealthCheck, example, given, settings, strategies as st

from openai_skill.errors import InputError
from openai_skill.secrets.provider import parse_request, respond
from openai_skill.secrets.vault_format import Vault, VaultAuthError, VaultFormatError, parse
from support.vault_fixture import CONTENTS, FIXTURES, FIXTURES_V2

LONG = os.environ.get("OPENAI_SKILL_HYPOTHESIS_PROFILE") == "long"
EXAMPLES = settings(max_examples=2000 if LONG else 60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
pytestmark = pytest.mark.timeout(0 if LONG else 120)  # the long run takes minutes

KEY = base64.b64decode(CONTENTS["master_key_b64"])
VALID = [(FIXTURES / "keyfile" / "vault").read_bytes(), (FIXTURES_V2 / "keyfile" / "vault").read_bytes()]
LINE_PIECES = [b"openai-skill-vault v1", b"openai-skill-vault v2", b"id ", b"master raw", b"master key-file",
               b"master env-key", b"master scrypt 10 8 1 ", b"wrap ", b"generation 3", b"entry ", b"mac ",
               b"https://api.openai.com", b",", b" ", b"2026-01-01T00:00:00Z", b"A" * 22 + b"==", b"\n", b"\r\n"]


def _opens_or_refuses(data: bytes) -> None:
    """Parse and open with the right key: a vault, or one of the two vault errors; nothing else."""
    try:
        vault = Vault.open(data, KEY)
    except (VaultFormatError, VaultAuthError):
        return
    for name in vault.entries:
        try:
            vault.get(name)
        except VaultAuthError:
            pass


@EXAMPLES
@given(st.binary(max_size=2048))
def test_parse_of_any_bytes_raises_only_its_own_error(data):
    try:
        parse(data)
    except VaultFormatError:
        pass


@st.composite
def mutated_vault(draw):
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "splice"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40) | st.sampled_from(LINE_PIECES))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 80))]
        else:
            lines = bytes(data).split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@EXAMPLES
@given(mutated_vault())
def test_open_of_a_mutated_vault_raises_only_vault_errors(data):
    _opens_or_refuses(data)


@EXAMPLES
@given(st.lists(st.lists(st.sampled_from(LINE_PIECES) | st.binary(max_size=12), max_size=6), max_size=12))
def test_open_of_vault_shaped_text_raises_only_vault_errors(lines):
    _opens_or_refuses(b"\n".join(b"".join(parts) for parts in lines) + b"\n")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=5), max_leaves=20)
REQUESTS = st.fixed_dictionaries({"protocolVersion": st.sampled_from([1, 1.0, "1", True, 2, None])},
                                 optional={"provider": JSON, "ids": st.lists(st.text(max_size=300) | JSON,
                                                                              max_size=8) | JSON})


@EXAMPLES
@given(st.text(max_size=1000) | JSON.map(json.dumps) | REQUESTS.map(json.dumps)
       | st.integers(1, 5000).map(lambda depth: "[" * depth + "]" * depth))
@example("[" * 5000)  # deeper than the interpreter's recursion limit, always tried
def test_provider_request_parsing_raises_only_input_error(text):
    try:
        ids = parse_request(text)
    except InputError as exc:
        assert exc.message.startswith("secret-provider: ")
        return
    assert json.loads(respond(text, {}.get))["errors"] == {i: {"code": "NOT_FOUND"} for i in ids}


@EXAMPLES  # function_scoped_fixture allowed: stdin is replaced per example
@given(st.binary(max_size=600) | st.integers(1, 5000).map(lambda depth: b"{\"a\":" * depth))
@example(b"[" * 5000)
@example(b"\xff\xfe{")
def test_provider_cli_stdin_of_any_bytes_is_an_answer_or_one_clean_error(monkeypatch, data):
    """The real stdin decodes strictly when PYTHONIOENCODING says so: bytes that are not UTF-8 too."""
    for errors in ("strict", "surrogateescape"):
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=errors)
        from openai_skill.surfaces.cli import main

        monkeypatch.setattr(sys, "stdin", stdin)
        code = main(["secret-provider"])
        assert code in (0, 2)
