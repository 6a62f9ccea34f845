"""A hostile gateway's ids never become paths or URLs (issue 16, item 1).

`batch results` once named its download after the server's `output_file_id`: an absolute
path or `../` replaced any file the user can write. Every id from an answer (the batch's own
id, its file ids, an uploaded file's id) is now checked before it touches a URL; downloads go
to names we choose; a malformed output file is an API error and the temp folder goes too.
"""

from __future__ import annotations

import json
import os

import pytest

from support.canary import CANARY_KEY

BATCH_ID = "batch_abc123"


def _batch(**fields) -> dict:
    return {"id": BATCH_ID, "object": "batch", "endpoint": "/v1/embeddings", "status": "completed",
            "input_file_id": "file-in", "completion_window": "24h", "created_at": 1,
            "metadata": {"action": "create-embedding"}, **fields}


@pytest.fixture
def victim(tmp_path):
    """A file the user cares about, and a private temp folder to see what is left behind."""
    target = tmp_path / "home" / ".bashrc"
    target.write_text("the user's own settings\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    return target, temp


def _hostile_ids(target) -> list:
    return [str(target), "../../home/.bashrc", "file-1/../../x", "file%2F..%2F..", "file?x=1", "file#x",
            ".", "..", "", "file\nx", "a" * 201, 7, ["file-1"], {"id": "file-1"}]


@pytest.mark.parametrize("field", ["output_file_id", "error_file_id"])
def test_a_hostile_file_id_writes_nothing_and_fetches_nothing(api, key, cli, victim, monkeypatch, field):
    target, temp = victim
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    for hostile in _hostile_ids(target):
        api.clear()
        api.expect_request(f"/v1/batches/{BATCH_ID}").respond_with_json(_batch(**{field: hostile}))
        # Whatever the gateway is asked for, it would send a payload meant to land in the target.
        api.expect_request(f"/v1/files/{hostile}/content" if isinstance(hostile, str) else "/never").respond_with_data(
            "export EVIL=1\n")
        result = cli("batch", "results", BATCH_ID, "--out", target.parent / "out.jsonl", "--json")
        assert result.code == 4, (hostile, result.out, result.err)
        error = result.json()["error"]
        assert error["error"] == "UnexpectedResponseError" and field in error["message"], error
        assert "is not an id" in error["message"]
        assert target.read_text() == "the user's own settings\n", hostile
        assert not (target.parent / "out.jsonl").exists()
        assert [r.path for r, _ in api.log] == [f"/v1/batches/{BATCH_ID}"], hostile   # no file was asked for
        assert os.listdir(temp) == [], hostile                                        # and no temp folder left
        assert CANARY_KEY not in result.out + result.err


def test_a_good_file_id_is_downloaded_to_a_name_we_choose(api, key, cli, victim, monkeypatch):
    target, temp = victim
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    line = {"custom_id": "line-1", "response": {"status_code": 200, "request_id": "req_1", "body": {
        "object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 1, "total_tokens": 1},
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}]}}}
    api.expect_request(f"/v1/batches/{BATCH_ID}").respond_with_json(_batch(output_file_id="file-out_1"))
    api.expect_request("/v1/files/file-out_1/content").respond_with_data(json.dumps(line) + "\n")
    out = target.parent / "out.jsonl"
    result = cli("batch", "results", BATCH_ID, "--out", out)
    assert result.code == 0, result.err
    assert result.json()["succeeded"] == 1
    assert json.loads(out.read_text())["result"]["embeddings"] == [[0.5, 0.25]]
    assert os.listdir(temp) == []
    assert not (temp / "file-out_1").exists() and not (target.parent / "file-out_1").exists()


@pytest.mark.parametrize("body", ["not json at all\n", "[1, 2]\n", '{"custom_id": "line-1"}\nnot json\n'])
def test_a_malformed_output_file_is_an_api_error_and_leaves_nothing(api, key, cli, victim, monkeypatch, body):
    target, temp = victim
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    api.expect_request(f"/v1/batches/{BATCH_ID}").respond_with_json(_batch(output_file_id="file-out"))
    api.expect_request("/v1/files/file-out/content").respond_with_data(body)
    out = target.parent / "out.jsonl"
    result = cli("batch", "results", BATCH_ID, "--out", out)
    assert result.code == 4, result.err   # an API error, not "a bug"
    assert "output_file_id file-out" in result.err and "a bug" not in result.err
    assert not out.exists() and os.listdir(temp) == []


@pytest.mark.parametrize("command", [("status", BATCH_ID), ("cancel", BATCH_ID), ("wait", BATCH_ID),
                                     ("results", BATCH_ID)])
def test_a_batch_object_with_another_or_a_hostile_id_is_refused(api, key, cli, command):
    for answered in ("batch_other", "../../x", "batch\x1b[2Jx"):
        api.clear()
        api.expect_request(f"/v1/batches/{BATCH_ID}").respond_with_json(_batch(id=answered))
        api.expect_request(f"/v1/batches/{BATCH_ID}/cancel").respond_with_json(_batch(id=answered))
        result = cli("batch", *command)
        assert result.code == 4, (command, answered, result.err)
        assert "\x1b" not in result.out + result.err


def test_an_uploaded_file_id_that_is_not_an_id_creates_no_batch(api, key, cli, tmp_path):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"input": "hello"}) + "\n")
    api.expect_request("/v1/files", method="POST").respond_with_json(
        {"id": "../batches", "object": "file", "bytes": 1, "created_at": 1, "filename": "x", "purpose": "batch"})
    result = cli("batch", "create", "create-embedding", "--file", inputs)
    assert result.code == 4 and "uploaded file id" in result.err, result.err
    assert [r.path for r, _ in api.log] == ["/v1/files"]


@pytest.mark.parametrize("path", ["/files/../batches", "/files/a%2F..", "/files/x?y", "/files//x", "files", "/",
                                  "/files/\u00e9"])
def test_no_request_is_built_for_a_path_that_is_not_plain_segments(path):
    from openai_skill.client import Client
    from openai_skill.errors import InsecureTransportError

    with pytest.raises(InsecureTransportError, match="API path"):
        Client(base_url="http://127.0.0.1:9/v1").endpoint("GET", path)
