"""`batch results` counts what the batch held, not what its files happen to hold (issue 17,
item 4): lines an expired or cancelled batch never ran are reported missing even without
--input (from the batch's metadata, or its request_counts), and an output that cannot be joined
safely (a custom_id answered twice, a line that is not JSON) is exit 4 with nothing written."""

from __future__ import annotations

import json

import pytest

# Every test here talks to the loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")



@pytest.fixture(autouse=True)
def no_poll_wait(monkeypatch):
    from openai_skill.jobs.batch import api as batch

    monkeypatch.setattr(batch, "_sleep", lambda seconds: None)


def _ran(openai, cli, tmp_path, lines: int = 5) -> tuple[str, str]:
    """A finished batch of `lines` chat inputs: (its id, its output file id)."""
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}]}) + "\n"
                              for i in range(1, lines + 1)))
    batch_id = cli("batch", "create", "chat-completion", "--file", inputs).json()["batches"][0]["id"]
    assert cli("batch", "wait", batch_id).code == 0
    return batch_id, openai.batches[batch_id]["output_file_id"]


def _edit_output(openai, file_id: str, edit) -> None:
    record, content = openai.files[file_id]
    openai.files[file_id] = (record, edit(content.decode().splitlines()).encode())


def _expired_after(openai, batch_id: str, file_id: str, kept: set[int]) -> None:
    """As if the batch expired having run only the lines in `kept`."""
    _edit_output(openai, file_id, lambda rows: "".join(
        row + "\n" for row in rows if int(json.loads(row)["custom_id"].split("-")[1]) in kept))
    openai.batches[batch_id].update(status="expired", request_counts={"total": 5, "completed": len(kept), "failed": 0})


def test_lines_an_expired_batch_never_ran_are_missing_without_input(openai, cli, tmp_path):
    batch_id, file_id = _ran(openai, cli, tmp_path)
    _expired_after(openai, batch_id, file_id, kept={1, 2, 4})
    out = tmp_path / "r.jsonl"
    result = cli("batch", "results", batch_id, "--out", out)
    assert result.code == 0, result.err
    summary = result.json()
    assert (summary["lines"], summary["succeeded"], summary["failed"], summary["missing"]) == (5, 3, 0, 2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["line"] for row in rows] == [1, 2, 3, 4, 5]
    assert [row["error"]["type"] for row in rows if row["error"]] == ["not_run", "not_run"]
    assert "input" not in rows[2]

    listed = cli("batch", "results", batch_id)               # stdout: the same lines
    assert [json.loads(line)["line"] for line in listed.out.splitlines()] == [1, 2, 3, 4, 5]


def test_a_batch_without_our_metadata_is_counted_from_request_counts(openai, cli, tmp_path):
    batch_id, file_id = _ran(openai, cli, tmp_path)
    _expired_after(openai, batch_id, file_id, kept={1, 2, 4})
    openai.batches[batch_id]["metadata"] = {"action": "chat-completion"}   # not one of our line ranges
    summary = cli("batch", "results", batch_id, "--out", tmp_path / "r.jsonl").json()
    assert (summary["lines"], summary["succeeded"], summary["missing"]) == (5, 3, 2)


def test_a_custom_id_answered_twice_is_exit_4_and_nothing_is_written(openai, cli, tmp_path):
    batch_id, file_id = _ran(openai, cli, tmp_path, lines=3)
    _edit_output(openai, file_id, lambda rows: "".join(row + "\n" for row in rows + [rows[1]]))
    out = tmp_path / "r.jsonl"
    result = cli("batch", "results", batch_id, "--out", out)
    assert result.code == 4, result.err
    assert "'line-2' is answered twice" in result.err and "line 4" in result.err
    assert not out.exists()


@pytest.mark.parametrize("bad", ['{"custom_id": "line-9", "respo', '["not", "an object"]', '{"id": "x"}',
                                 b"\xff\xfe not utf-8".decode("latin1")])
def test_a_corrupt_output_line_is_exit_4_naming_it(openai, cli, tmp_path, bad):
    batch_id, file_id = _ran(openai, cli, tmp_path, lines=3)
    _edit_output(openai, file_id, lambda rows: "".join(row + "\n" for row in rows[:2] + [bad] + rows[2:]))
    if bad.startswith("\xff"):
        record, content = openai.files[file_id]
        openai.files[file_id] = (record, content.replace(bad.encode(), b"\xff\xfe not utf-8"))
    result = cli("--json", "batch", "results", batch_id, "--out", tmp_path / "r.jsonl")
    assert result.code == 4, result.err
    assert f"{file_id} line 3 is not" in result.err and "a bug" not in result.err
    assert json.loads(result.out)["error"]["type"] == "unexpected_response"
    assert not (tmp_path / "r.jsonl").exists()
