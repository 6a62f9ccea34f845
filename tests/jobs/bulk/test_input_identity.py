"""What a text is, and which input a checkpoint belongs to (issue 17, item 11): a lone \\r is
part of its line (never a line break shifting every later index), a UTF-8 byte-order mark is not
part of the first text, and an edit that keeps the size and restores the time stamp is another
input (the checkpoint knows the content's hash)."""

from __future__ import annotations

import json
import os

import pytest

from support.fake_openai import expected_vector

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")

DIMS = 8


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _is_vector_of(row, text):
    return row["embedding"] == pytest.approx(expected_vector(text, DIMS), rel=1e-6)


def test_a_lone_carriage_return_stays_inside_its_line(openai, cli, tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes(b"first\rstill first\nsecond\r\nthird\n")
    out = tmp_path / "o.jsonl"
    result = cli("embed", "--file", source, "--out", out, "--dimensions", DIMS, "--no-cache")
    assert result.code == 0, result.err
    rows = _rows(out)
    assert [row["index"] for row in rows] == [0, 1, 2]
    texts = ["first\rstill first", "second", "third"]
    assert [_is_vector_of(row, text) for row, text in zip(rows, texts, strict=True)] == [True] * 3


@pytest.mark.parametrize("fmt", ["txt", "jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_text(openai, cli, tmp_path, fmt):
    source = tmp_path / f"in.{fmt}"
    lines = ["hello", "world"] if fmt == "txt" else [json.dumps({"text": "hello"}), json.dumps({"text": "world"})]
    source.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    out = tmp_path / "o.jsonl"
    result = cli("embed", "--file", source, "--out", out, "--dimensions", DIMS, "--no-cache")
    assert result.code == 0, result.err
    assert [_is_vector_of(row, text) for row, text in zip(_rows(out), ["hello", "world"], strict=True)] == [True, True]


def test_an_edit_with_the_same_size_and_time_stamp_is_not_resumed_with_stale_vectors(openai, cli, tmp_path):
    texts = [f"text number {i:02d}" for i in range(30)]
    source = tmp_path / "in.txt"
    source.write_text("".join(t + "\n" for t in texts))
    openai.fail_texts = {texts[25]}                     # chunk 0 (lines 1-10) finishes, then the run stops
    out = tmp_path / "o.jsonl"
    args = ("embed", "--file", source, "--out", out, "--dimensions", DIMS, "--batch-size", 10, "-k", 1,
            "--no-cache")
    assert cli(*args).code != 0
    assert (tmp_path / "o.jsonl.partial" / "journal").exists()

    stamp = os.stat(source)
    texts[0] = "TEXT NUMBER 00"                       # same length, other text, in the finished chunk
    source.write_text("".join(t + "\n" for t in texts))
    os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert os.stat(source).st_size == stamp.st_size
    openai.fail_texts = set()
    refused = cli(*args)
    assert refused.code == 2 and "different run" in refused.err

    again = cli(*args, "--restart")
    assert again.code == 0, again.err
    assert _is_vector_of(_rows(out)[0], "TEXT NUMBER 00")


def test_the_text_iterator_splits_on_newline_only(tmp_path):
    from openai_skill.jobs.bulk.texts import open_input, read_texts

    path = tmp_path / "in.txt"
    path.write_bytes(b"\xef\xbb\xbfa\rb\r\nc\n\ny\r\r\nd")
    with open_input(path) as handle:
        lines = list(handle)
    assert lines == ["a\rb\r\n", "c\n", "\n", "y\r\r\n", "d"]
    assert [t.text for t in read_texts(["\ufeffx\n", "y\r\r\n", "z"])] == ["x", "y\r", "z"]
