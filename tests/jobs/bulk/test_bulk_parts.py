"""The bulk engine's pure parts: reading, packing, token estimates, vectors, checkpoint,
cache and the rate limiter, each without a server."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from openai_skill.errors import InputError, UnexpectedResponseError
from openai_skill.jobs.bulk import packing, vectors
from openai_skill.jobs.bulk.cache import EmbeddingCache, text_key
from openai_skill.jobs.bulk.checkpoint import Checkpoint, folder_for
from openai_skill.jobs.bulk.ratelimit import RateLimiter, parse_duration
from openai_skill.jobs.bulk.texts import Text, format_for, read_texts, scan


# --- reading -----------------------------------------------------------------------------

def test_txt_lines_keep_their_line_numbers():
    texts = list(read_texts(["alpha\n", "beta\r\n", "gamma"], "txt"))
    assert [(t.line, t.text, t.id) for t in texts] == [(1, "alpha", None), (2, "beta", None), (3, "gamma", None)]


def test_jsonl_reads_the_named_field_and_id():
    lines = ['{"id": "a", "body": "one"}\n', '{"body": "two", "id": 7}\n', '{"body": "three"}\n']
    texts = list(read_texts(lines, "jsonl", field="body"))
    assert [(t.line, t.text, t.id) for t in texts] == [(1, "one", "a"), (2, "two", 7), (3, "three", None)]


@pytest.mark.parametrize("fmt, lines, where, words", [
    ("txt", ["ok\n", "   \n"], "line 2", "empty line"),
    ("jsonl", ['{"text": "ok"}\n', "{not json\n"], "line 2", "not JSON"),
    ("jsonl", ['{"text": ""}\n'], "line 1.text", "non-empty string"),
    ("jsonl", ['{"txt": "x"}\n'], "line 1.text", "non-empty string"),
    ("jsonl", ['{"text": "x", "id": [1]}\n'], "line 1.id", "string or an integer"),
    ("jsonl", ['["text"]\n'], "line 1", "JSON object"),
    # valid JSON that json.loads still refuses: one InputError each, not an internal error
    ("jsonl", ['{"text": "x", "id": ' + "1" * 5000 + "}\n"], "line 1", "4300 digits"),
    ("jsonl", ["[" * 100_000 + "\n"], "line 1", "nested too deeply"),
])
def test_a_bad_line_is_named(fmt, lines, where, words):
    with pytest.raises(InputError) as caught:
        list(read_texts(lines, fmt))
    assert caught.value.problems[0]["path"] == where
    assert words in caught.value.message


def test_scan_reports_every_bad_line_up_to_a_cap():
    lines = ["ok\n", "\n", "fine\n", " \n"] + ["\n"] * 30
    with pytest.raises(InputError) as caught:
        scan(lines, "txt")
    problems = caught.value.problems
    assert [p["path"] for p in problems[:2]] == ["line 2", "line 4"]
    assert len(problems) == 20
    assert "32 bad lines" in caught.value.message and "12 more" in caught.value.message


def test_scan_counts_texts_and_refuses_an_empty_input():
    assert scan(["a\n", "b\n"], "txt") == 2
    with pytest.raises(InputError, match="no texts"):
        scan([], "txt")


def test_format_from_name_or_option():
    assert format_for("docs.jsonl") == "jsonl"
    assert format_for("docs.NDJSON") == "jsonl"
    assert format_for("docs.txt") == "txt"
    assert format_for(None) == "txt"
    assert format_for("x.txt", "jsonl") == "jsonl"
    with pytest.raises(InputError, match="csv"):
        format_for("x", "csv")


# --- token estimates and packing ----------------------------------------------------------

def test_token_bound_is_utf8_length():
    assert packing.token_bound("abc") == 3
    assert packing.token_bound("é") == 2
    assert packing.token_bound("日本") == 6


def test_token_estimate_above_the_bound_uses_dense_bytes_per_token():
    assert packing.token_estimate("a" * 8192) == 8192
    assert packing.token_estimate("a" * 9000) == 3000
    assert packing.token_estimate("a" * 24577) == 8193


def _texts(sizes):
    return [Text(i + 1, "x" * size) for i, size in enumerate(sizes)]


def test_pack_splits_at_the_input_count_in_order():
    chunks = list(packing.pack(_texts([1] * 5000), max_inputs=2048))
    assert [len(c.texts) for c in chunks] == [2048, 2048, 904]
    assert [c.first for c in chunks] == [0, 2048, 4096]
    assert [c.number for c in chunks] == [0, 1, 2]
    assert chunks[1].texts[0].line == 2049


def test_pack_splits_at_the_token_budget_never_above_it():
    chunks = list(packing.pack(_texts([8000] * 70), token_budget=100_000))
    assert [len(c.texts) for c in chunks] == [12, 12, 12, 12, 12, 10]
    assert all(c.tokens <= 100_000 for c in chunks)
    assert sum(len(c.texts) for c in chunks) == 70


def test_default_budget_stays_below_the_api_limit():
    chunks = list(packing.pack(_texts([8192] * 100)))
    assert max(c.tokens for c in chunks) <= packing.DEFAULT_TOKEN_BUDGET < packing.MAX_TOKENS_PER_REQUEST
    assert len(chunks[0].texts) == packing.DEFAULT_TOKEN_BUDGET // 8192


def test_an_over_long_input_is_reported_by_line_not_truncated():
    texts = _texts([10, 10, 30_000, 10])
    with pytest.raises(InputError) as caught:
        list(packing.pack(texts))
    assert caught.value.problems[0]["path"] == "line 3"
    assert "line 3" in caught.value.message and "10000 tokens" in caught.value.message


@pytest.mark.parametrize("inputs, budget", [(0, 1000_000), (2049, 250_000), (10, 300_000), (10, 100)])
def test_limits_out_of_range_are_refused(inputs, budget):
    with pytest.raises(InputError):
        list(packing.pack(_texts([1]), max_inputs=inputs, token_budget=budget if budget != 1000_000 else 250_000))


# --- vectors --------------------------------------------------------------------------------

def test_base64_float32_decodes_exactly():
    values = [0.5, -1.25, 3.0e-8, 123456.78125]
    raw = struct.pack("<4f", *values)
    data = vectors.decode_base64(base64.b64encode(raw).decode())
    assert data == raw
    assert vectors.to_floats(data) == [struct.unpack("<f", struct.pack("<f", v))[0] for v in values]


@pytest.mark.parametrize("raw", ["not base64!", base64.b64encode(b"abc").decode(), ""])
def test_bad_base64_is_an_unexpected_response(raw):
    with pytest.raises(UnexpectedResponseError):
        vectors.decode_base64(raw)


def test_float_lists_become_the_same_bytes():
    assert vectors.from_floats([0.5, -2.0]) == struct.pack("<2f", 0.5, -2.0)
    with pytest.raises(UnexpectedResponseError):
        vectors.from_floats(["a"])


def test_json_line_round_trips_every_float32():
    values = [0.1, -0.333333343, 1e-7, 7.0]
    data = struct.pack("<4f", *values)
    line = vectors.jsonl_line(5, None, data)
    parsed = json.loads(line)
    assert line.endswith("\n") and list(parsed) == ["index", "embedding"] and parsed["index"] == 5
    assert struct.pack("<4f", *parsed["embedding"]) == data
    assert json.loads(vectors.jsonl_line(0, "doc-1", data))["id"] == "doc-1"


def test_nan_is_refused():
    with pytest.raises(UnexpectedResponseError, match="NaN"):
        vectors.json_array(struct.pack("<2f", 1.0, float("nan")))


def test_npy_header_is_what_numpy_reads(tmp_path):
    import numpy as np
    rows = [struct.pack("<3f", i, i + 0.5, -i) for i in range(4)]
    path = tmp_path / "m.npy"
    path.write_bytes(vectors.npy_header(4, 3) + b"".join(rows))
    matrix = np.load(path)
    assert matrix.dtype == np.float32 and matrix.shape == (4, 3)
    assert matrix[2].tolist() == [2.0, 2.5, -2.0]
    assert len(vectors.npy_header(4, 3)) % 64 == 0


# --- checkpoint ---------------------------------------------------------------------------

HEADER = {"input": {"path": "/in.txt", "size": 10}, "model": "m", "dimensions": 8}


def test_checkpoint_assembles_in_chunk_order_atomically(tmp_path):
    out = tmp_path / "out.jsonl"
    cp = Checkpoint(out, HEADER)
    cp.record(2, 4, 1, b"c\n")
    cp.record(0, 0, 2, b"a\nA\n")
    cp.record(1, 2, 2, b"b\nB\n")
    assert not out.exists()
    cp.assemble(3, prefix=b"#\n")
    assert out.read_bytes() == b"#\na\nA\nb\nB\nc\n"
    assert not folder_for(out).exists()


def test_checkpoint_resumes_and_skips_finished_chunks(tmp_path):
    out = tmp_path / "out.jsonl"
    cp = Checkpoint(out, HEADER)
    cp.record(1, 2, 2, b"b\n")
    cp.close()
    again = Checkpoint(out, HEADER)
    assert again.done(1, 2, 2) and not again.done(0, 0, 2)
    again.record(0, 0, 2, b"a\n")
    again.assemble(2)
    assert out.read_bytes() == b"a\nb\n"


def test_a_torn_tail_from_a_kill_is_dropped(tmp_path):
    out = tmp_path / "out.jsonl"
    cp = Checkpoint(out, HEADER)
    cp.record(0, 0, 1, b"a\n")
    cp.close()
    folder = folder_for(out)
    with open(folder / "spool", "ab") as spool:
        spool.write(b"half-written chunk")          # killed before its journal line
    with open(folder / "journal", "ab") as journal:
        journal.write(b'{"chunk": 1, "first": 1, "co')  # killed mid-line
    again = Checkpoint(out, HEADER)
    assert sorted(again.records) == [0]
    again.record(1, 1, 1, b"b\n")
    again.assemble(2)
    assert out.read_bytes() == b"a\nb\n"


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    Checkpoint(out, HEADER).close()
    with pytest.raises(InputError, match="different run") as caught:
        Checkpoint(out, {**HEADER, "dimensions": 16})
    assert "dimensions" in caught.value.problems[0]["given"]


def test_a_chunk_covering_other_texts_is_refused(tmp_path):
    cp = Checkpoint(tmp_path / "o", HEADER)
    cp.record(0, 0, 5, b"x")
    with pytest.raises(InputError, match="other texts"):
        cp.done(0, 0, 4)


def test_assemble_refuses_missing_chunks(tmp_path):
    cp = Checkpoint(tmp_path / "o", HEADER)
    cp.record(1, 2, 2, b"b")
    with pytest.raises(InputError, match=r"\[0\]"):
        cp.assemble(2)


# --- cache --------------------------------------------------------------------------------

def test_cache_is_keyed_by_model_dimensions_and_text(tmp_path):
    cache = EmbeddingCache(tmp_path / "c" / "e.sqlite3")
    a, b = text_key("alpha"), text_key("beta")
    cache.put_many("m1", None, [(a, b"\x01" * 8)])
    cache.put_many("m1", 256, [(a, b"\x02" * 8)])
    cache.put_many("m2", None, [(b, b"\x03" * 8)])
    assert cache.get_many("m1", None, [a, b]) == {a: b"\x01" * 8}
    assert cache.get_many("m1", 256, [a]) == {a: b"\x02" * 8}
    assert cache.get_many("m2", None, [a]) == {}
    stats = cache.stats()
    assert stats["entries"] == 3
    assert [(m["model"], m["dimensions"], m["entries"]) for m in stats["by_model"]] == [
        ("m1", None, 1), ("m1", 256, 1), ("m2", None, 1)]
    assert cache.clear() == 3
    assert cache.stats()["entries"] == 0


def test_cache_lookups_span_more_keys_than_one_select(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite3")
    keys = [text_key(str(i)) for i in range(1300)]
    cache.put_many("m", 8, [(k, k[:4]) for k in keys[::2]])
    found = cache.get_many("m", 8, keys)
    assert len(found) == 650 and found[keys[10]] == keys[10][:4]


def test_cache_persists_across_opens(tmp_path):
    path = tmp_path / "e.sqlite3"
    EmbeddingCache(path).put_many("m", None, [(text_key("t"), b"abcd")])
    assert EmbeddingCache(path).get_many("m", None, [text_key("t")]) == {text_key("t"): b"abcd"}


# --- rate limiter -------------------------------------------------------------------------

@pytest.mark.parametrize("text, seconds", [("1s", 1.0), ("20ms", 0.02), ("6m0s", 360.0), ("59.9s", 59.9),
                                           ("1h2m3s", 3723.0), ("2.5", 2.5), ("soon", None), ("", None)])
def test_reset_durations(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def _limits(requests, tokens, reset="1s"):
    return {"x-ratelimit-remaining-requests": str(requests), "x-ratelimit-remaining-tokens": str(tokens),
            "x-ratelimit-reset-requests": reset, "x-ratelimit-reset-tokens": reset,
            "x-ratelimit-limit-requests": "100", "x-ratelimit-limit-tokens": "10000"}


def test_limiter_waits_for_the_reset_when_requests_run_out():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(_limits(1, 10_000, reset="2s"))
    first = limiter.acquire(10)
    assert clock.slept == []
    limiter.release(first)
    limiter.acquire(10)
    limiter.release(10, _limits(0, 9_000, reset="2s"))
    limiter.acquire(10)                       # none left: waits until the window resets
    assert clock.slept == [2.0]


def test_limiter_counts_tokens_in_flight():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(_limits(50, 1000, reset="500ms"))
    limiter.acquire(600)
    assert clock.slept == []
    limiter.acquire(600)                      # 600 + 600 > 1000 left: wait for the token reset
    assert clock.slept == [0.5]


def test_a_request_larger_than_the_window_reserves_the_window():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(_limits(50, 10_000))
    assert limiter.acquire(50_000) == 10_000


def test_pause_holds_every_worker():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.pause(1.5)
    limiter.acquire(1)
    assert clock.slept == [1.5]


def test_without_a_report_requests_go_through():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(10):
        limiter.acquire(100_000)
    assert clock.slept == []


# --- JSONL formatting (in a helper process for wide vectors) -----------------------------

def test_jsonl_from_the_helper_process_is_the_same_bytes_in_the_same_order():
    from openai_skill.jobs.bulk.formatting import MIN_DIMENSIONS_FOR_HELPER, MIN_TEXTS_FOR_HELPER, jsonl_payloads

    dims, size = MIN_DIMENSIONS_FOR_HELPER, MIN_TEXTS_FOR_HELPER
    chunks = []
    for number in range(5):
        texts = [Text(number * size + i + 1, f"t{number}-{i}", f"id-{number}-{i}") for i in range(size)]
        vectors = [struct.pack(f"<{dims}f", *([number + i / 1000] * dims)) for i in range(size)]
        chunks.append((packing.Chunk(number, number * size, texts, 0), vectors))
    here = [(c.number, payload) for c, _v, payload in jsonl_payloads(chunks, helper=False)]
    helped = [(c.number, payload) for c, _v, payload in jsonl_payloads(chunks, helper=True)]
    assert helped == here
    first = json.loads(here[3][1].split(b"\n")[0])
    assert first["id"] == "id-3-0" and first["embedding"] == [3.0] * dims
