"""Wrong-width and NaN vectors never reach the cache or the output (issue 17, item 3): a server
that ignores `dimensions`, one wide chunk inside a narrow run, widths that change mid-run,
NaN and infinity, and bad entries an older version left in the cache."""

from __future__ import annotations

import base64
import json
import math
import struct

import pytest

from support.fake_openai import expected_vector

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")

TEXTS = [f"text number {i}" for i in range(40)]


def _source(tmp_path, texts=TEXTS):
    path = tmp_path / "in.txt"
    path.write_text("".join(t + "\n" for t in texts))
    return path


def _serve(openai, change):
    """Answer embeddings through `change(body, answer) -> answer`."""
    answer = openai.embeddings

    def changed(body):
        return change(body, answer)

    openai.embeddings = changed


def _ignoring_dimensions(when=lambda inputs: True):
    def change(body, answer):
        if when(body["input"]):
            body = {k: v for k, v in body.items() if k != "dimensions"}   # the model's own 1536
        return answer(body)
    return change


def _poisoning(bad_text: str, value: float):
    def change(body, answer):
        status, data, headers = answer(body)
        if status == 200:
            for item, text in zip(data["data"], body["input"], strict=True):
                if text == bad_text:
                    raw = bytearray(base64.b64decode(item["embedding"]))
                    raw[4:8] = struct.pack("<f", value)
                    item["embedding"] = base64.b64encode(bytes(raw)).decode()
        return status, data, headers
    return change


def _entries(cli) -> int:
    return cli("cache", "stats").json()["entries"]


def _cached(texts, dimensions) -> int:
    from openai_skill.jobs.bulk.cache import EmbeddingCache, default_path, text_key

    cache = EmbeddingCache(default_path())
    try:
        return len(cache.get_many("text-embedding-3-small", dimensions, [text_key(t) for t in texts]))
    finally:
        cache.close()


def test_a_server_that_ignores_dimensions_is_refused_and_nothing_is_cached(openai, cli, tmp_path):
    import numpy as np

    _serve(openai, _ignoring_dimensions())
    out, source = tmp_path / "v.npy", _source(tmp_path, TEXTS[:2])
    result = cli("embed", "--file", source, "--out", out, "--dimensions", 64)
    assert result.code == 4, result.err
    assert "1536 dimensions, not the 64 asked for" in result.err
    assert not out.exists() and _entries(cli) == 0

    openai.embeddings = type(openai).embeddings.__get__(openai)            # an honest server now
    again = cli("embed", "--file", source, "--out", out, "--dimensions", 64)
    assert again.code == 0, again.err
    assert again.json()["sent_texts"] == 2 and np.load(out).shape == (2, 64)


@pytest.mark.parametrize("where", ["stdout", "embed_many"])
def test_one_wide_chunk_inside_a_narrow_run_is_refused_everywhere(openai, cli, tmp_path, where):
    _serve(openai, _ignoring_dimensions(when=lambda inputs: TEXTS[25] in inputs))
    if where == "stdout":
        result = cli("embed", "--file", _source(tmp_path), "--dimensions", 256, "--batch-size", 10, "-k", 1)
        assert result.code == 4 and "not the 256 asked for" in result.err
        rows = [json.loads(line) for line in result.out.splitlines()]
        assert len(rows) <= 20 and all(len(row["embedding"]) == 256 for row in rows)
    else:
        import openai_skill
        from openai_skill.errors import UnexpectedResponseError

        vectors = []
        with pytest.raises(UnexpectedResponseError, match="not the 256 asked for"):
            for vector in openai_skill.embed_many(TEXTS, dimensions=256, max_inputs=10, concurrency=1):
                vectors.append(vector)
        assert len(vectors) <= 20 and all(len(v) == 256 for v in vectors)
    assert _cached(TEXTS[20:30], 256) == 0      # the wide chunk never reached the cache
    assert _cached(TEXTS[:20], 256) == 20       # the narrow ones before it did


def test_widths_that_change_mid_run_are_refused_without_dimensions(openai, cli, tmp_path):
    def change(body, answer):
        if TEXTS[15] in body["input"]:
            body = {**body, "dimensions": 512}
        return answer(body)

    _serve(openai, change)
    result = cli("embed", "--file", _source(tmp_path), "--out", tmp_path / "v.jsonl", "--batch-size", 10, "-k", 1)
    assert result.code == 4 and "512 and 1536 dimensions in one run" in result.err
    assert not (tmp_path / "v.jsonl").exists()
    assert _cached(TEXTS[10:20], None) == 0 and _cached(TEXTS[:10], None) == 10   # the odd chunk: never


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_before_npy_or_cache(openai, cli, tmp_path, value):
    import numpy as np

    _serve(openai, _poisoning(TEXTS[3], value))
    out, source = tmp_path / "v.npy", _source(tmp_path, TEXTS[:8])
    result = cli("embed", "--file", source, "--out", out, "--dimensions", 8)
    assert result.code == 4 and "NaN or infinity" in result.err
    assert not out.exists() and _entries(cli) == 0

    openai.embeddings = type(openai).embeddings.__get__(openai)
    again = cli("embed", "--file", source, "--out", out, "--dimensions", 8)
    assert again.code == 0, again.err
    assert np.load(out)[3].tolist() == expected_vector(TEXTS[3], 8)


def test_bad_entries_an_older_version_cached_are_fetched_again(openai, cli, tmp_path):
    from openai_skill.jobs.bulk.cache import EmbeddingCache, default_path, text_key

    cache = EmbeddingCache(default_path())
    cache.put_many("text-embedding-3-small", 8, [
        (text_key(TEXTS[0]), struct.pack("<1536f", *expected_vector(TEXTS[0], 1536))),   # wrong width
        (text_key(TEXTS[1]), struct.pack("<8f", math.nan, *expected_vector(TEXTS[1], 8)[1:])),
        (text_key(TEXTS[2]), struct.pack("<8f", *expected_vector(TEXTS[2], 8))),           # a good one
    ])
    cache.close()
    result = cli("embed", "--file", _source(tmp_path, TEXTS[:4]), "--out", tmp_path / "v.jsonl", "--dimensions", 8)
    assert result.code == 0, result.err
    assert result.json()["cached_texts"] == 1 and result.json()["sent_texts"] == 3
    rows = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [row["embedding"] for row in rows] == [pytest.approx(expected_vector(t, 8)) for t in TEXTS[:4]]


def test_the_finiteness_check_is_exact_at_the_float32_edges():
    from openai_skill.jobs.bulk.vectors import is_finite

    big = struct.pack("<4f", 3.4e38, -3.4e38, 2.0 ** 127, 1.0)          # finite, high byte 0x7f/0xff
    assert is_finite(big)
    for bad in (math.nan, math.inf, -math.inf):
        assert not is_finite(struct.pack("<4f", 0.5, bad, 2.0 ** 127, 1.0))
    assert not is_finite(b"\x01\x00\xc0\x7f")                            # a NaN with a payload
