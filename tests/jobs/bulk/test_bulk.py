"""Bulk embeddings end to end against a loopback OpenAI: order, output formats, resumption
after SIGKILL, the cache, rate limits and a 429 storm, over-long inputs named by line."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.canary import CANARY_KEY
from support.fake_openai import RateLimits, expected_vector

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")

DIMS = 8


def _lines(n: int, prefix: str = "text") -> list[str]:
    return [f"{prefix} number {i}" for i in range(n)]


def _write_txt(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _f32(values) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _assert_vectors(rows: list[dict], texts: list[str], dims: int = DIMS) -> None:
    """Each row holds exactly its own text's float32 vector (JSON carries 9 significant digits)."""
    assert len(rows) == len(texts)
    for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
        assert _f32(row["embedding"]) == _f32(expected_vector(text, dims)), f"row {i} holds another text's vector"


def test_a_file_comes_back_in_input_order_though_chunks_finish_out_of_order(openai, cli, tmp_path):
    texts = _lines(1000)
    openai.slow_texts = {texts[0]}          # the first chunk answers last
    source = _write_txt(tmp_path / "in.txt", texts)
    out = tmp_path / "out.jsonl"
    result = cli("embed", "--file", source, "--out", out, "--dimensions", DIMS, "--batch-size", 100,
                 "-k", 4, "--no-cache")
    assert result.code == 0, result.err
    rows = _read_jsonl(out)
    assert [row["index"] for row in rows] == list(range(1000))
    _assert_vectors(rows, texts)
    summary = result.json()
    assert summary["texts"] == 1000 and summary["chunks"] == 10 and summary["requests"] == 10
    assert summary["sent_texts"] == 1000 and summary["dimensions"] == DIMS
    assert openai.count("POST", "/v1/embeddings") == 10
    assert 2 <= openai.max_in_flight <= 4
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_jsonl_input_keeps_ids_and_npy_output_is_a_matrix(openai, tmp_path):
    import numpy as np
    from openai_skill.jobs.bulk import embed_file

    texts = _lines(300)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"doc-{i}", "body": t}) + "\n" for i, t in enumerate(texts)))
    embed_file(source, tmp_path / "v.jsonl", field="body", dimensions=DIMS, max_inputs=64, cache=False)
    rows = _read_jsonl(tmp_path / "v.jsonl")
    assert [row["id"] for row in rows] == [f"doc-{i}" for i in range(300)]
    _assert_vectors(rows, texts)
    summary = embed_file(source, tmp_path / "v.npy", field="body", dimensions=DIMS, max_inputs=64, cache=False)
    matrix = np.load(tmp_path / "v.npy")
    assert matrix.shape == (300, DIMS) and matrix.dtype == np.float32
    assert matrix[17].tolist() == expected_vector(texts[17], DIMS)
    assert summary["output_format"] == "npy"


def test_without_out_vectors_stream_to_stdout_in_order(openai, cli, tmp_path):
    texts = _lines(250)
    openai.slow_texts = {texts[0]}
    result = cli("embed", "--file", "-", "--dimensions", DIMS, "--batch-size", 50, "--no-cache",
                 stdin="".join(t + "\n" for t in texts))
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [row["index"] for row in rows] == list(range(250))
    _assert_vectors(rows, texts)
    assert "embedded 250 texts" in result.err
    assert CANARY_KEY not in result.out + result.err


def test_requests_carry_base64_and_stay_within_the_limits(openai, tmp_path):
    from openai_skill.jobs.bulk import embed_file

    texts = ["x" * 3000 + str(i) for i in range(200)]   # 600 kB: the token budget splits it
    embed_file(_write_txt(tmp_path / "in.txt", texts), tmp_path / "o.jsonl", dimensions=DIMS, cache=False)
    assert openai.count("POST", "/v1/embeddings") == 3      # 83 + 83 + 34 texts of 3001+ bytes
    _assert_vectors(_read_jsonl(tmp_path / "o.jsonl"), texts)


# --- resumption -----------------------------------------------------------------------------

def test_a_run_killed_with_sigkill_resumes_without_paying_twice(openai, tmp_path):
    texts = _lines(2000)
    openai.latency = 0.03
    source = _write_txt(tmp_path / "in.txt", texts)
    out = tmp_path / "out.jsonl"
    journal = tmp_path / "out.jsonl.partial" / "journal"
    exe = Path(sys.executable).parent / "openai-skill"
    args = [str(exe), "embed", "--file", str(source), "--out", str(out), "--dimensions", str(DIMS),
            "--batch-size", "25", "-k", "2", "--no-cache"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count("\n") >= 11:  # header + 10 chunks
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    finished = {json.loads(line)["chunk"] for line in journal.read_text().splitlines()[1:] if line.endswith("}")}
    assert 10 <= len(finished) < 80
    sent_before = openai.embedding_inputs

    openai.latency = 0
    done = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed_texts"] >= len(finished) * 25
    assert openai.embedding_inputs - sent_before == 2000 - summary["resumed_texts"]
    rows = _read_jsonl(out)
    assert [row["index"] for row in rows] == list(range(2000))
    _assert_vectors(rows, texts)
    assert not journal.parent.exists()
    assert CANARY_KEY not in done.stdout + done.stderr


def test_a_changed_input_is_not_mixed_with_an_old_checkpoint(openai, tmp_path, cli):
    from openai_skill.jobs.bulk.checkpoint import Checkpoint

    source = _write_txt(tmp_path / "in.txt", _lines(10))
    out = tmp_path / "o.jsonl"
    Checkpoint(out, {"input": {"path": "elsewhere"}}).close()
    result = cli("embed", "--file", source, "--out", out, "--dimensions", DIMS)
    assert result.code == 2 and "different run" in result.err
    assert openai.count("POST", "/v1/embeddings") == 0
    result = cli("embed", "--file", source, "--out", out, "--dimensions", DIMS, "--restart")
    assert result.code == 0, result.err
    assert len(_read_jsonl(out)) == 10


# --- cache ----------------------------------------------------------------------------------

def test_repeated_texts_are_never_sent_twice(openai, cli, tmp_path):
    texts = _lines(300) + _lines(300)[:100]        # 100 repeats inside the same input
    source = _write_txt(tmp_path / "in.txt", texts)
    first = cli("embed", "--file", source, "--out", tmp_path / "a.jsonl", "--dimensions", DIMS)
    assert first.code == 0, first.err
    assert first.json()["sent_texts"] == 300
    assert openai.embedding_inputs == 300
    second = cli("embed", "--file", source, "--out", tmp_path / "b.jsonl", "--dimensions", DIMS)
    assert second.json()["cached_texts"] == 400 and second.json()["sent_texts"] == 0
    assert openai.embedding_inputs == 300
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    _assert_vectors(_read_jsonl(tmp_path / "b.jsonl"), texts)

    other_dims = cli("embed", "--file", source, "--out", tmp_path / "c.jsonl", "--dimensions", 4)
    assert other_dims.json()["sent_texts"] == 300           # the key includes dimensions
    no_cache = cli("embed", "--file", source, "--out", tmp_path / "d.jsonl", "--dimensions", DIMS, "--no-cache")
    assert no_cache.json()["sent_texts"] == 300 and no_cache.json()["cached_texts"] == 0  # repeats: once a request
    assert openai.embedding_inputs == 900

    stats = cli("cache", "stats").json()
    assert stats["entries"] == 600
    assert {(m["dimensions"], m["entries"]) for m in stats["by_model"]} == {(DIMS, 300), (4, 300)}
    assert Path(stats["path"]).is_relative_to(Path(os.environ["XDG_CONFIG_HOME"]))
    assert cli("cache", "clear").json()["removed"] == 600
    assert cli("cache", "stats").json()["entries"] == 0


def test_embed_many_yields_vectors_in_order_and_uses_the_cache(openai):
    import openai_skill

    texts = _lines(120)
    vectors = list(openai_skill.embed_many(iter(texts), dimensions=DIMS, max_inputs=16, concurrency=3))
    assert vectors == [expected_vector(t, DIMS) for t in texts]
    again = list(openai_skill.embed_many(texts[:50], dimensions=DIMS))
    assert again == vectors[:50]
    assert openai.embedding_inputs == 120


def test_embed_many_names_a_bad_text_and_checks_options_first(openai):
    import openai_skill
    from openai_skill.errors import InputError

    with pytest.raises(InputError) as caught:
        list(openai_skill.embed_many(["fine", "  ", "ok"], dimensions=DIMS, cache=False))
    assert caught.value.problems[0]["path"] == "text 2"
    with pytest.raises(InputError, match="dimensions"):
        openai_skill.embed_many(["a"], dimensions=0)
    with pytest.raises(InputError, match="concurrency"):
        openai_skill.embed_many(["a"], concurrency=0)
    assert openai.count("POST", "/v1/embeddings") == 0


# --- rate limits --------------------------------------------------------------------------

def test_the_rate_limit_it_is_told_is_never_exceeded(openai, tmp_path):
    from openai_skill.jobs.bulk import embed_file

    openai.limits = RateLimits(requests=3, tokens=10_000_000, window=0.15)
    texts = _lines(300)
    summary = embed_file(_write_txt(tmp_path / "in.txt", texts), tmp_path / "o.jsonl", dimensions=DIMS,
                         max_inputs=20, concurrency=3, cache=False)
    assert openai.count("POST", "/v1/embeddings", 429) == 0
    assert openai.count("POST", "/v1/embeddings", 200) == 15
    assert summary["rate_limit_waits"] > 0
    assert summary["seconds"] >= 4 * 0.15          # 15 requests, 3 a window: at least 4 resets
    _assert_vectors(_read_jsonl(tmp_path / "o.jsonl"), texts)


@pytest.fixture
def backoffs(monkeypatch):
    """The retry policy's backoff, recorded and shortened (the policy itself is tested in test_retry)."""
    from openai_skill import retry

    asked = []
    real = retry.retry_delay

    def quick(attempt, headers=None, **kw):
        asked.append(attempt)
        return min(real(attempt, headers, **kw), 0.002)

    monkeypatch.setattr(retry, "retry_delay", quick)
    return asked


def test_a_429_storm_is_ridden_out_with_backoff(openai, tmp_path, backoffs):
    from openai_skill.jobs.bulk import embed_file

    openai.storm = 25                 # more 429s than the core's 2 retries per call absorb
    openai.storm_wait_ms = 5
    texts = _lines(200)
    summary = embed_file(_write_txt(tmp_path / "in.txt", texts), tmp_path / "o.jsonl", dimensions=DIMS,
                         max_inputs=20, concurrency=4, cache=False, max_retries=1)
    assert openai.count("POST", "/v1/embeddings", 429) == 25
    assert openai.count("POST", "/v1/embeddings", 200) == 10
    assert summary["rate_limited"] >= 1
    assert backoffs and max(backoffs) >= 1                    # the core's retries, then the engine's rounds
    _assert_vectors(_read_jsonl(tmp_path / "o.jsonl"), texts)


def test_an_endless_429_fails_with_the_rate_limit_error(openai, tmp_path, cli, backoffs):
    openai.storm = 10_000
    openai.storm_wait_ms = 1
    source = _write_txt(tmp_path / "in.txt", _lines(5))
    result = cli("embed", "--file", source, "--out", tmp_path / "o.jsonl", "--max-retries", 0, "--no-cache")
    assert result.code == 4 and "Rate limit" in result.err
    assert openai.count("POST", "/v1/embeddings", 429) == 9   # one try + DEFAULT_RATE_ROUNDS
    # the core asks the policy once per attempt (attempt 0, no retries left); the engine once per round
    assert sorted(backoffs) == [0] * 9 + list(range(8))
    assert not (tmp_path / "o.jsonl").exists()


# --- bad input: named by line, never sent ---------------------------------------------------

def test_an_over_long_input_is_reported_by_line_before_anything_is_sent(openai, cli, tmp_path):
    texts = _lines(5)
    texts[3] = "word " * 8000                 # 40 kB: far over 8192 tokens
    source = _write_txt(tmp_path / "in.txt", texts)
    result = cli("--json", "embed", "--file", source, "--out", tmp_path / "o.jsonl")
    assert result.code == 2
    assert "line 4" in result.err and "too long" in result.err
    assert json.loads(result.out)["error"]["problems"][0]["path"] == "line 4"
    assert openai.count("POST", "/v1/embeddings") == 0


def test_blank_lines_and_bad_json_are_all_listed_by_line(openai, cli, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "a"}\n\n{"text": "b"}\n{"text": 5}\n')
    result = cli("embed", "--file", source, "--out", tmp_path / "o.jsonl")
    assert result.code == 2
    assert "line 2" in result.err and "line 4" in result.err
    assert openai.count("POST", "/v1/embeddings") == 0


def test_a_text_the_api_refuses_as_too_long_is_named(openai, cli, tmp_path):
    texts = _lines(30)
    texts[12] = "y" * 9000                     # under our estimate's limit, refused by the server
    openai.fail_texts = {texts[12]}
    source = _write_txt(tmp_path / "in.txt", texts)
    result = cli("embed", "--file", source, "--out", tmp_path / "o.jsonl", "--batch-size", 10, "--no-cache")
    assert result.code == 2
    assert "line 13" in result.err and "lines 11-20" in result.err


def test_texts_and_file_together_are_refused(openai, cli, tmp_path):
    source = _write_txt(tmp_path / "in.txt", ["a"])
    assert cli("embed", "hello", "--file", source).code == 2
    assert cli("embed").code == 2


def test_positional_embed_still_works(openai, cli):
    result = cli("embed", "hello", "--dimensions", DIMS)
    assert result.code == 0, result.err
    assert result.json()["embedding"] == expected_vector("hello", DIMS)


def test_the_formatting_helper_does_not_outlive_a_killed_run(openai, tmp_path):
    """Wide vectors are formatted in a helper process; SIGKILL of the run must not orphan it."""
    openai.latency = 0.05
    source = _write_txt(tmp_path / "in.txt", _lines(3000))
    exe = Path(sys.executable).parent / "openai-skill"
    proc = subprocess.Popen([str(exe), "embed", "--file", str(source), "--out", str(tmp_path / "o.jsonl"),
                             "--dimensions", "128", "--batch-size", "256", "-k", "2", "--no-cache"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    helpers = []
    deadline = time.monotonic() + 60
    while not helpers and time.monotonic() < deadline:
        helpers = [pid for pid in _children(proc.pid) if b"spawn_main" in _cmdline(pid)]
        time.sleep(0.02)
    assert helpers, "no formatting helper started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    gone = time.monotonic() + 60     # a cap: the loop ends as soon as the helper is gone
    while time.monotonic() < gone and any(_alive(pid) for pid in helpers):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in helpers), "the helper outlived the killed run"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
    except OSError:
        return False
    return state != "Z"
