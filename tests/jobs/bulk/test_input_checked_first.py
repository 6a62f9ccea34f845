"""stdin is checked whole before anything is paid for (issue 17, item 7): it is spooled into the
run's 0700 folder and scanned like a file, so a bad line at the end, or bytes that are not UTF-8,
are exit 2 naming the line with no request sent; the same bytes piped again resume a run.
Real CLI processes (raw bytes on stdin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.fake_openai import expected_vector

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")

TEXTS = [f"text number {i}" for i in range(1200)]


def _embed(tmp_path, stdin: bytes, *extra):
    args = [str(Path(sys.executable).parent / "openai-skill"), "embed", "--file", "-", "--dimensions", "8",
            "--batch-size", "50", "-k", "2", "--no-cache", *map(str, extra)]
    return subprocess.run(args, input=stdin, capture_output=True, env=dict(os.environ), cwd=tmp_path, timeout=60)


def _body(texts) -> bytes:
    return "".join(t + "\n" for t in texts).encode()


def test_a_blank_line_at_the_end_of_stdin_is_refused_before_anything_is_sent(openai, tmp_path):
    done = _embed(tmp_path, _body(TEXTS) + b"\n" + b"one more\n", "--out", tmp_path / "o.jsonl")
    assert done.returncode == 2, done.stderr
    assert b"line 1201: empty line" in done.stderr
    assert openai.embedding_inputs == 0 and openai.count("POST", "/v1/embeddings") == 0
    assert not (tmp_path / "o.jsonl.partial").exists()


def test_bytes_that_are_not_utf8_on_stdin_are_an_input_error_naming_the_line(openai, tmp_path):
    for extra in ([], ["--out", tmp_path / "o.jsonl"]):
        done = _embed(tmp_path, _body(TEXTS[:900]) + b"caf\xe9 au lait\n" + _body(TEXTS[900:]), *extra)
        assert done.returncode == 2, done.stderr
        assert b"line 901: not UTF-8 text" in done.stderr and b"a bug" not in done.stderr
        assert done.stdout == b"" or b"error" not in done.stdout
    assert openai.embedding_inputs == 0


def test_stdin_is_spooled_privately_and_the_same_bytes_resume(openai, tmp_path):
    openai.fail_texts = {TEXTS[700]}                     # the run stops at chunk 14, after paying for some
    out = tmp_path / "o.jsonl"
    first = _embed(tmp_path, _body(TEXTS), "--out", out, "-k", "1")
    assert first.returncode != 0
    folder = tmp_path / "o.jsonl.partial"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["journal", "lock", "spool"]   # the stdin spool: gone
    paid = openai.embedding_inputs

    openai.fail_texts = set()
    again = _embed(tmp_path, _body(TEXTS), "--out", out)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["resumed_texts"] == 700 and openai.embedding_inputs - paid == 500
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["index"] for row in rows] == list(range(len(TEXTS)))
    assert all(row["embedding"] == pytest.approx(expected_vector(text, 8), rel=1e-6)
               for row, text in zip(rows, TEXTS, strict=True))

    other = _embed(tmp_path, _body(TEXTS[:10]), "--out", tmp_path / "p.jsonl")
    assert other.returncode == 0
    stale = tmp_path / "p.jsonl.partial"
    stale.mkdir()
    (stale / "journal").write_text(json.dumps({"format": "x"}) + "\n")
    refused = _embed(tmp_path, _body(TEXTS[:10]), "--out", tmp_path / "p.jsonl")
    assert refused.returncode == 2 and b"cannot be verified" in refused.stderr   # no MAC: not ours
