"""Redaction: the key we hold is masked in every encoding an echo would use; nothing else is
ever changed (model output, paths, words that merely look like keys); key-shaped tokens are
masked only in text from the API's error bodies."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from support.canary import CANARY_KEY
from openai_skill import redaction
from openai_skill.errors import AuthenticationError, InputError
from openai_skill.redaction import (MASK, MAX_REMEMBERED, StreamRedactor, forget, redact,
                                    redact_untrusted, redact_value, remember)

# Ordinary text that the old `sk-...` pattern rewrote (`a ri[REDACTED], ta[REDACTED] ...`).
LOOKALIKES = [
    "a risk-free, task-based plan using sk-learn",
    "/home/me/disk-images/image-20250101-000000-1.png",
    "ask-me-anything desk-lamp mask-rcnn sk-learn sk-image sk-12",
    "Bearer of bad news: the bearer token was fine",
    "sk-this-is-a-lot-of-words-joined-by-dashes-not-a-key",
    "risk-assessment-and-mitigation-framework-v2",
    "***bold*** and sk-***",
]


@pytest.fixture(autouse=True)
def held():
    forget()
    remember(CANARY_KEY)
    yield CANARY_KEY
    forget()


def leaks(text: str, key: str = CANARY_KEY) -> list[str]:
    """Pieces of the key (or its base64) of 12+ characters found in `text`."""
    found = []
    raw = key.encode()
    sources = [key] + [base64.b64encode(b"\0" * s + raw).decode()[4 if s else 0:] for s in range(3)]
    for source in sources:
        for size in (12,):
            for i in range(len(source) - size + 1):
                if source[i:i + size] in text:
                    found.append(source[i:i + size])
    return found


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_are_never_changed(text):
    assert redact(text) == text
    assert redact_value({"content": text, "path": text}) == {"content": text, "path": text}
    stream = StreamRedactor()
    assert "".join(stream.feed(ch) for ch in text) + stream.flush() == text


def _b64_in_basic_auth(key: str, user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


ENCODINGS = {
    "as is": lambda k: k,
    "without the sk- prefix": lambda k: k[3:],
    "without the sk-proj- prefix": lambda k: k[8:],
    "base64": lambda k: base64.b64encode(k.encode()).decode(),
    "base64 without padding": lambda k: base64.b64encode(k.encode()).decode().rstrip("="),
    "url-safe base64": lambda k: base64.urlsafe_b64encode(k.encode()).decode(),
    "base64 at offset 1 (Basic a:key)": lambda k: _b64_in_basic_auth(k, "a"),
    "base64 at offset 2 (Basic ab:key)": lambda k: _b64_in_basic_auth(k, "ab"),
    "base64 of the unprefixed key": lambda k: base64.b64encode(k[3:].encode()).decode(),
    "percent-encoded base64": lambda k: quote(base64.b64encode(k.encode()).decode(), safe=""),
    "a long middle piece": lambda k: k[10:30],
    "in JSON": lambda k: json.dumps({"key": k}),
}


@pytest.mark.parametrize("name", ENCODINGS)
def test_every_encoding_of_the_held_key_is_masked(name):
    text = f"header: {ENCODINGS[name](CANARY_KEY)} trailer"
    out = redact(text)
    assert leaks(out) == [], (name, out)
    assert MASK in out and out.startswith("header: ") and out.endswith(" trailer")


def test_a_key_with_reserved_characters_is_masked_url_encoded_html_escaped_and_json_escaped():
    secret = 'vault&secret<value>"with/odd+chars%=x'
    remember(secret)
    for form in (secret, quote(secret, safe=""), html.escape(secret), json.dumps(secret)[1:-1]):
        out = redact(f"[{form}]")
        assert out == f"[{MASK}]", (form, out)


def test_openai_masked_echo_of_the_held_key_is_masked_anywhere():
    echo = f"{CANARY_KEY[:6]}***{CANARY_KEY[-4:]}"
    assert redact(f"Incorrect API key provided: {echo}.") == f"Incorrect API key provided: {MASK}."
    # an echo of some other key is not ours: only API text masks it (by its shape)
    other = "sk-zzz***9999"
    assert redact(other) == other
    assert redact_untrusted(f"provided: {other}.") == f"provided: {MASK}."


def test_api_text_masks_key_shapes_and_bearer_tokens_but_not_lookalikes():
    other_key = "sk-svcacct-" + "Q" * 40
    text = f"bad key {other_key}; Authorization: Bearer abcdefgh12345678; a risk-free sk-learn plan"
    out = redact_untrusted(text)
    assert other_key not in out and "abcdefgh12345678" not in out
    assert out.endswith("a risk-free sk-learn plan")
    for lookalike in LOOKALIKES[:3]:
        assert redact_untrusted(lookalike) == lookalike


def test_api_errors_mask_key_shapes_our_own_errors_do_not_touch_user_text():
    body = f"Incorrect API key provided: sk-abc***wxyz; full {base64.b64encode(CANARY_KEY.encode()).decode()}"
    error = AuthenticationError(f"HTTP 401 from api.openai.com: {body}", status=401)
    assert "sk-abc***wxyz" not in error.message and leaks(error.message) == []
    mine = InputError("messages[0].content: expected text, got 'sk-learn is a risk-free task-based pick'")
    assert mine.message.endswith("'sk-learn is a risk-free task-based pick'")


def test_a_key_split_across_stream_pieces_is_masked_at_every_split_point():
    text = f"the key is {CANARY_KEY} and that is all"
    for cut in range(1, len(text)):
        for second_cut in (cut, min(len(text), cut + 7)):
            stream = StreamRedactor()
            out = (stream.feed(text[:cut]) + stream.feed(text[cut:second_cut])
                   + stream.feed(text[second_cut:]) + stream.flush())
            assert out == f"the key is {MASK} and that is all", (cut, second_cut, out)


def test_prose_streams_through_without_waiting_for_more():
    stream = StreamRedactor()
    assert stream.feed("Hello there, ") == "Hello there, "
    assert stream.feed("world") == ""          # a word could still grow into a secret
    assert stream.feed("!") == "world!"


def _rebuilt_index(secrets) -> dict:
    """The window index built from every held secret at once: what each change must equal."""
    from collections import Counter

    index: dict = {}
    for secret in secrets:
        for window, entries in secret.windows.items():
            index.setdefault(window, Counter()).update(entries)
    return index


def test_each_change_keeps_the_index_equal_to_one_built_from_every_secret():
    import random
    from collections import Counter

    def check():
        held = redaction._held
        # (the order may lag the registry's: remembering a held key again only moves it in the queue)
        assert sorted(map(id, held.secrets)) == sorted(map(id, redaction._registry.values()))
        assert {w: Counter(e) for w, e in held.windows.items()} == _rebuilt_index(held.secrets)
        assert held.exact == tuple(f for x in held.secrets for f in x.exact)
        assert held.longest == max((x.longest for x in held.secrets), default=0)
        assert held.alphabet == frozenset().union(*(x.alphabet for x in held.secrets))

    forget()
    rng = random.Random(2026)
    # Keys that share long runs (one the prefix of another, two equal but for one character):
    # the same window, form and offset held by two secrets must outlive either one's removal.
    base = "sk-proj-" + "".join(rng.choice("abcdefghij0123456789") for _ in range(40))
    # Two keys that differ only in their first character share whole forms (a base64 at a shifted
    # alignment drops the group that holds it): the same (window, form, offset) twice in the index.
    related = [base, base[:30], base[:-1] + "Z", base + "-tail", "A" + base, "B" + base]
    others = ["sk-" + "".join(rng.choice("abcdef0123") for _ in range(30)) for _ in range(MAX_REMEMBERED)]
    for key in [*related, *others]:      # past the bound: the first ones go
        remember(key)
    check()
    for step in range(60):
        key = rng.choice(related + others[-8:] + [CANARY_KEY])
        remember(key) if rng.random() < 0.6 else forget(key)
        if step % 6 == 5:
            check()
    check()
    for key in [*related, *others, CANARY_KEY]:
        if key in redaction._registry:
            assert redact(f"<{key}>") == f"<{MASK}>", key
        elif key not in related:
            assert redact(f"<{key}>") == f"<{key}>", key
    forget()
    assert redaction._held.windows == {} and redact(base) == base


def test_the_registry_is_bounded_and_keeps_the_most_recent():
    forget()
    import secrets as random_secrets

    # One past the bound is enough to show it.
    secrets = [random_secrets.token_hex(16) for _ in range(MAX_REMEMBERED + 1)]
    for secret in secrets:
        remember(secret)
    assert redaction.remembered_count() == MAX_REMEMBERED
    assert redact(secrets[-1]) == MASK
    assert redact(secrets[0]) == secrets[0]     # the oldest went
    remember(secrets[1])     # re-remembering the oldest held moves it to the front of the queue...
    remember(CANARY_KEY)     # ...so the next one out is secrets[2]
    assert redaction.remembered_count() == MAX_REMEMBERED
    assert redact(secrets[1]) == MASK and redact(CANARY_KEY) == MASK
    assert redact(secrets[2]) == secrets[2]


def test_encodings_are_computed_once_per_secret_not_per_call(monkeypatch):
    calls = []
    real = redaction._encodings
    monkeypatch.setattr(redaction, "_encodings", lambda value: calls.append(value) or real(value))
    forget()
    remember(CANARY_KEY)
    for _ in range(50):
        redact(f"x {CANARY_KEY} y")
        remember(CANARY_KEY)
    assert calls == [CANARY_KEY]


def test_redaction_of_a_big_result_stays_fast():
    import time

    """Held as a ratio to linear work on the same data in the same test (serializing the
    result, one regular-expression scan of each text): 0.6-0.8x measured; a pass per held
    secret, or a quadratic scan, is many times that."""
    import re

    vector = [0.0123456789012345678 * i for i in range(3072)]
    result = {"embeddings": [vector] * 200, "model": "text-embedding-3-large"}
    text = "word " * 400_000 + CANARY_KEY
    image = base64.b64encode(bytes(range(256)) * 12_000).decode()  # a 4 MB inline image
    # CPU time of this thread: a loaded machine's preemption is not the code's cost.
    started = time.thread_time()
    assert redact_value(result) == result
    assert redact(text).endswith(MASK)
    first = time.thread_time() - started
    for number in range(MAX_REMEMBERED):   # one pass over the text, however many secrets are held
        remember(f"another-held-secret-{number:04d}-" + "q" * 30)
    started = time.thread_time()
    redact(text)                           # (the canary is no longer held: the cost is the point)
    assert redact(image) == image
    redacting = first + time.thread_time() - started
    started = time.thread_time()
    json.dumps(result)
    for scanned in (text, text, image):
        re.findall(r"[A-Za-z0-9_-]{20,}", scanned)
    baseline = time.thread_time() - started
    print(f"\nredacting {redacting:.2f} s, {redacting / baseline:.2f}x the linear baseline")
    assert redacting < 5 * baseline


# -- through the CLI, against a loopback server ---------------------------------------------

def chat_answer(content: str) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1764000000, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}


def test_chat_and_chat_full_print_the_model_output_unchanged(openai, key, cli):
    text = LOOKALIKES[0] + " — saved under disk-images/"
    openai.reply("POST", "/chat/completions", chat_answer(text))
    plain = cli("chat", text)
    full = cli("chat", "--full", text)
    assert plain.code == full.code == 0, (plain.err, full.err)
    assert plain.out == text + "\n"
    assert full.json()["content"] == text


def test_chat_and_chat_full_both_mask_the_held_key_in_model_output(openai, key, cli):
    openai.reply("POST", "/chat/completions", chat_answer(f"your key is {key}, base64 "
                                                          f"{base64.b64encode(key.encode()).decode()}"))
    plain = cli("chat", "what is my key")
    full = cli("chat", "--full", "what is my key")
    assert leaks(plain.out + plain.err) == [] and leaks(full.out + full.err) == []
    assert plain.out.strip() == full.json()["content"] == f"your key is {MASK}, base64 {MASK}"


def test_image_paths_under_a_lookalike_folder_are_reported_as_written(openai, key, cli, tmp_path):
    from support.images import make_png

    b64 = base64.b64encode(make_png()).decode()
    openai.reply("POST", "/images/generations", {"created": 1764000000, "data": [{"b64_json": b64}]})
    folder = tmp_path / "disk-images"
    result = cli("image", "a cat", "-m", "gpt-image-2", "-o", folder)
    assert result.code == 0, result.err
    path = result.json()["images"][0]["path"]
    assert path.startswith(str(folder.resolve()) + "/")
    assert Path(path).read_bytes() == make_png()


def test_argparse_echo_of_a_pasted_key_is_masked_but_words_are_not(cli):
    pasted = "sk-proj-" + "A1b2C3d4" * 6
    result = cli("models", pasted, "risk-free")
    assert result.code == 2
    assert pasted not in result.err and "risk-free" in result.err


def test_a_text_too_short_to_hold_any_masked_form_is_passed_over_as_the_full_search_would():
    """redact() returns texts shorter than _SHORTEST_MASKED at once; the full search finds
    nothing in any of them either (the key's own pieces, stars, character references)."""
    from hypothesis import given, settings, strategies as st

    remember(CANARY_KEY)
    pieces = st.sampled_from([CANARY_KEY[:i] for i in range(1, 9)] + [CANARY_KEY[-i:] for i in range(1, 9)]
                             + ["***", "*", "&#", "&#45;", "&#x2D;", "%2D", "-", "sk-"])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(pieces, max_size=4).map("".join))
    def check(text):
        if len(text) < redaction._SHORTEST_MASKED:
            assert redact(text) == text == redaction._apply(text, redaction._spans(text, redaction._held))

    check()
    assert redaction._SHORTEST_MASKED == redaction.MIN_SECRET_CHARS == 8
