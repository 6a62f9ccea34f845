"""The Batch API end to end against a loopback OpenAI: create (checked per line, uploaded,
split over the per-file limits), status, wait, results joined by line with failed lines,
cancel and list. Every body sent and every answer given is checked against the spec."""

from __future__ import annotations

import json

import pytest

from support.canary import CANARY_KEY
from support.fake_openai import FAIL_MODEL, expected_vector
from openai_skill.client import Client

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")


@pytest.fixture(autouse=True)
def no_poll_wait(monkeypatch):
    from openai_skill.jobs.batch import api as batch

    waits = []
    monkeypatch.setattr(batch, "_sleep", waits.append)
    return waits


def _chat_inputs(path, contents, fail_lines=()):
    lines = []
    for number, content in enumerate(contents, start=1):
        data = {"messages": [{"role": "user", "content": content}]}
        if number in fail_lines:
            data["model"] = FAIL_MODEL
        lines.append(json.dumps(data))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_chat_batch_runs_and_joins_failed_lines_by_line(openai, cli, tmp_path, no_poll_wait):
    inputs = _chat_inputs(tmp_path / "in.jsonl", [f"question {i}" for i in range(1, 7)], fail_lines={2, 5})
    created = cli("batch", "create", "chat-completion", "--file", inputs)
    assert created.code == 0, created.err
    (entry,) = created.json()["batches"]
    assert entry["lines"] == "1-6" and entry["status"] == "validating"
    uploaded = openai.files[entry["input_file_id"]][1].decode().splitlines()
    first = json.loads(uploaded[0])
    assert first["custom_id"] == "line-1" and first["url"] == "/v1/chat/completions"
    assert first["body"]["model"] == "gpt-4o-mini"            # the schema's default, filled in
    assert openai.batches[entry["id"]]["completion_window"] == "24h"

    waited = cli("batch", "wait", entry["id"])
    assert waited.code == 0, waited.err
    assert waited.json()["batches"][0]["status"] == "completed"
    assert "6/6 requests, 2 failed" in waited.err
    assert no_poll_wait == [2.0, 3.0]                          # polls back off

    out = tmp_path / "results.jsonl"
    joined = cli("batch", "results", entry["id"], "--out", out, "--input", inputs)
    assert joined.code == 0, joined.err
    assert joined.json()["succeeded"] == 4 and joined.json()["failed"] == 2 and joined.json()["lines"] == 6
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["line"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["result"]["content"] == "echo: question 1" and rows[0]["result"]["finish_reason"] == "stop"
    assert rows[0]["input"]["messages"][0]["content"] == "question 1"
    assert rows[1]["result"] is None
    assert rows[1]["error"]["error"] == "NotFoundError" and rows[1]["error"]["status"] == 404
    assert "fail-model" in rows[1]["error"]["message"]
    assert rows[4]["error"]["code"] == "model_not_found"
    for text in (created.out, created.err, waited.out, waited.err, joined.out, out.read_text()):
        assert CANARY_KEY not in text


def test_a_bad_line_is_named_and_nothing_is_uploaded(openai, cli, tmp_path):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("\n".join([
        json.dumps({"messages": [{"role": "user", "content": "fine"}]}),
        json.dumps({"messages": [{"role": "user", "content": "hi"}], "temperature": 5}),
        "{oops",
        json.dumps({"messages": [{"role": "user", "content": "x"}], "stream": True}),
    ]) + "\n")
    result = cli("--json", "batch", "create", "chat-completion", "--file", inputs)
    assert result.code == 2
    paths = [p["path"] for p in json.loads(result.out)["error"]["problems"]]
    assert paths[0].startswith("line 2") and "temperature" in paths[0]
    assert any(p.startswith("line 3") for p in paths) and any(p.startswith("line 4") for p in paths)
    assert "line 2" in result.err
    assert openai.count("POST", "/v1/files") == 0 and openai.count("POST", "/v1/batches") == 0


def test_model_rules_apply_to_each_line(openai, tmp_path):
    from openai_skill.jobs.batch import api as batch

    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}], "model": "gpt-6-luna",
                                  "max_tokens": 50}) + "\n")
    (created,) = batch.create("chat-completion", inputs)
    body = json.loads(openai.files[created["input_file_id"]][1])["body"]
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body


def test_a_file_above_the_per_batch_limit_becomes_several_batches(openai, cli, tmp_path):
    inputs = _chat_inputs(tmp_path / "in.jsonl", [f"q{i}" for i in range(1, 8)], fail_lines={7})
    created = cli("batch", "create", "chat-completion", "--file", inputs, "--max-requests", 3)
    assert created.code == 0, created.err
    batches = created.json()["batches"]
    assert [b["lines"] for b in batches] == ["1-3", "4-6", "7-7"]
    assert openai.count("POST", "/v1/files") == 3
    ids = [b["id"] for b in batches]
    assert cli("batch", "wait", *ids).code == 0                 # each batch completes; line 7 fails inside it
    joined = cli("batch", "results", *ids)
    rows = [json.loads(line) for line in joined.out.splitlines()]
    assert [row["line"] for row in rows] == list(range(1, 8))
    assert [row["error"] is None for row in rows] == [True] * 6 + [False]


def test_embedding_inputs_are_split_at_the_input_limit(openai, tmp_path):
    from openai_skill.jobs.batch import api as batch
    from openai_skill.jobs.batch.inputs import Limits

    texts = [[f"t{i}a", f"t{i}b"] for i in range(5)]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"input": pair, "dimensions": 4}) + "\n" for pair in texts))
    created = batch.create("create-embedding", inputs, limits=Limits(embedding_inputs=4))
    assert [b["metadata"]["lines"] for b in created] == ["1-2", "3-4", "5-5"]
    for b in created:
        batch.wait(b["id"])
    rows = batch.results([b["id"] for b in created], inputs=inputs)
    assert [row["line"] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[3]["result"]["embeddings"] == [expected_vector("t3a", 4), expected_vector("t3b", 4)]
    assert rows[3]["input"] == {"input": ["t3a", "t3b"], "dimensions": 4}


@pytest.mark.parametrize("line, words", [("{oops", "not JSON (Expecting property name"),
                                         ('{"input": ' + "1" * 5000 + "}", "4300 digits"),
                                         ("[" * 100_000, "nested too deeply")])
def test_a_line_json_cannot_read_is_an_input_error_naming_it(line, words):
    from openai_skill.errors import InputError
    from openai_skill.jobs.batch.inputs import read_inputs

    [(number, error)] = read_inputs([line])
    assert number == 1 and isinstance(error, InputError)
    assert error.message.startswith("line 1: ") and words in error.message


def test_default_limits_split_past_50000_requests(openai, tmp_path):
    from openai_skill.jobs.batch.inputs import write_parts

    line = json.dumps({"input": "x", "dimensions": 4}) + "\n"
    parts = write_parts("create-embedding", [line] * 50_001, tmp_path, Client())
    assert [(p.first_line, p.last_line, p.requests) for p in parts] == [(1, 50_000, 50_000), (50_001, 50_001, 1)]
    assert parts[0].embedding_inputs == 50_000


def test_status_cancel_and_list(openai, cli, tmp_path):
    inputs = _chat_inputs(tmp_path / "in.jsonl", ["a", "b"])
    batch_id = cli("batch", "create", "chat-completion", "--file", inputs).json()["batches"][0]["id"]
    status = cli("batch", "status", batch_id).json()
    assert status["id"] == batch_id and status["request_counts"]["total"] == 2
    cancelled = cli("batch", "cancel", batch_id).json()
    assert cancelled["status"] == "cancelled"
    listed = cli("batch", "list", "--limit", 5).json()
    assert [b["id"] for b in listed["data"]] == [batch_id]
    waited = cli("batch", "wait", batch_id)
    assert waited.code == 4 and "cancelled" in waited.err
    joined = cli("batch", "results", batch_id, "--input", inputs)
    rows = [json.loads(line) for line in joined.out.splitlines()]
    assert [row["error"]["type"] for row in rows] == ["not_run", "not_run"]


def test_results_of_an_unfinished_batch_are_refused(openai, cli, tmp_path):
    inputs = _chat_inputs(tmp_path / "in.jsonl", ["a"])
    batch_id = cli("batch", "create", "chat-completion", "--file", inputs).json()["batches"][0]["id"]
    result = cli("batch", "results", batch_id)
    assert result.code == 4 and "wait" in result.err


def test_bad_ids_and_actions_never_reach_the_network(openai, cli):
    assert cli("batch", "status", "../files").code == 2
    assert cli("batch", "create", "generate-image", "--file", "x").code == 2
    assert openai.log == []


def test_the_python_api_is_openai_skill_batch(openai, tmp_path):
    import openai_skill

    inputs = _chat_inputs(tmp_path / "in.jsonl", ["hello"])
    (created,) = openai_skill.batch.create("chat-completion", inputs)
    done = openai_skill.batch.wait(created["id"])
    assert done["status"] == "completed"
    (row,) = openai_skill.batch.results(created["id"])
    assert row["result"]["content"] == "echo: hello"
    assert openai_skill.batch.list()["data"][0]["id"] == created["id"]
