"""The spend guard in the jobs: bulk embeddings reserve per request (a cap stops a run between
requests, nothing past it is sent); `batch create` reserves the whole batch's worst case at the
Batch price before any upload, and `batch results` settles it from the answers' usage."""

from __future__ import annotations

import json

import pytest

from openai_skill.spend import Guard

# The loopback OpenAI (the `openai` fixture) with the canary key set.
pytestmark = pytest.mark.usefixtures("key")


@pytest.fixture(autouse=True)
def no_poll_wait(monkeypatch):
    from openai_skill.jobs.batch import api as batch

    monkeypatch.setattr(batch, "_sleep", lambda seconds: None)


def test_bulk_reserves_per_request_and_a_cap_stops_the_run_between_requests(openai, cli, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(f"text number {i}" for i in range(1000)) + "\n")
    # One request of 100 texts is at most ~1,600 bytes: $0.000032 at $0.02 per 1M tokens.
    assert cli("budget", "set", "--daily", "0.00004").code == 0
    result = cli("embed", "--file", source, "--out", tmp_path / "out.jsonl", "--batch-size", 100, "-k", 1,
                 "--no-cache")
    assert result.code == 7, result.err
    assert "refused before sending: the daily cap is" in result.err
    rows = Guard().ledger.rows()
    refused = [r for r in rows if r["status"] == "refused"]   # the call log keeps the refusal too
    assert [(r["surface"], r["error"], r["settled_usd"]) for r in refused] == [("bulk", "BudgetError", 0.0)]
    rows = [r for r in rows if r["status"] != "refused"]
    sent = openai.count("POST", "/v1/embeddings")
    assert 1 <= sent < 10 and len(rows) == sent              # every request reserved, none past the cap
    assert all(r["surface"] == "bulk" and r["status"] == "settled" for r in rows)
    assert sum(r["settled_usd"] for r in rows) <= 0.00004
    assert all(r["settled_usd"] < r["reserved_usd"] for r in rows)  # settled from usage, below the bound


def _chat_lines(path, n):
    path.write_text("\n".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}], "max_tokens": 100})
                              for i in range(n)) + "\n")
    return path


def test_batch_create_reserves_the_whole_batch_and_refuses_before_any_upload(openai, cli, tmp_path):
    inputs = _chat_lines(tmp_path / "in.jsonl", 5)
    assert cli("budget", "set", "--per-call", "0.0001").code == 0
    refused = cli("batch", "create", "chat-completion", "--file", inputs)
    assert refused.code == 7 and "per-call cap is $0.000100" in refused.err.replace("$0.0001 ", "$0.000100 ")
    assert openai.files == {} and openai.batches == {}


def test_batch_lines_are_priced_only_while_a_cap_is_set_or_the_call_log_is_on(openai, cli, tmp_path, monkeypatch):
    from openai_skill.client import Client
    from openai_skill.jobs.batch.api import worst_of
    from openai_skill.jobs.batch.inputs import write_parts

    lines = _chat_lines(tmp_path / "in.jsonl", 3).read_text().splitlines()
    (tmp_path / "a").mkdir()
    monkeypatch.setenv("OPENAI_SKILL_CALL_LOG", "0")
    unpriced = write_parts("chat-completion", lines, tmp_path / "a", Client())
    assert worst_of(unpriced, "chat-completion").usd is None     # a cap set meanwhile refuses it
    assert cli("budget", "set", "--daily", "100").code == 0
    (tmp_path / "b").mkdir()
    priced = write_parts("chat-completion", lines, tmp_path / "b", Client())
    each = [Client().worst_case("chat-completion", Client().prepare("chat-completion", json.loads(line)).params,
                                batch=True).usd for line in lines]
    assert worst_of(priced, "chat-completion").usd == pytest.approx(sum(each)) and all(each)
    from openai_skill.spend.caps import caps_path, ledger_path

    caps_path(ledger_path()).unlink()                             # no cap again (as a person's `budget clear`)
    monkeypatch.delenv("OPENAI_SKILL_CALL_LOG")                  # the call log records the estimate too
    (tmp_path / "c").mkdir()
    logged = write_parts("chat-completion", lines, tmp_path / "c", Client())
    assert worst_of(logged, "chat-completion").usd == pytest.approx(sum(each))


def test_batch_results_settle_the_reservation_at_the_batch_price(openai, cli, tmp_path):
    assert cli("budget", "set", "--monthly", "100").code == 0
    inputs = _chat_lines(tmp_path / "in.jsonl", 4)
    created = cli("batch", "create", "chat-completion", "--file", inputs)
    assert created.code == 0, created.err
    (entry,) = created.json()["batches"]
    (row,) = Guard().ledger.rows()
    assert row["surface"] == "batch" and row["status"] == "reserved" and row["ref"] == f"batch:{entry['id']}"
    assert cli("batch", "wait", entry["id"]).code == 0
    joined = cli("batch", "results", entry["id"], "--out", tmp_path / "out.jsonl", "--input", inputs)
    assert joined.code == 0, joined.err
    each = (5 * 0.15 + 3 * 0.60) / 1e6 * 0.5                 # the fake's usage, gpt-4o-mini, Batch price
    assert joined.json()["cost"]["usd"] == round(4 * each, 8) and joined.json()["cost"]["batch"] is True
    (row,) = Guard().ledger.rows()
    assert row["status"] == "settled" and row["settled_usd"] == pytest.approx(4 * each)
    assert row["reserved_usd"] > row["settled_usd"]


def _quick_retries(monkeypatch):
    from openai_skill.transport import call

    monkeypatch.setattr(call, "_sleep", lambda seconds: None)


def test_a_refused_upload_settles_the_batch_reservation_at_nothing(openai, cli, tmp_path, monkeypatch):
    _quick_retries(monkeypatch)
    assert cli("budget", "set", "--daily", "100").code == 0
    real = openai.upload
    openai.upload = lambda *args: (400, {"error": {"message": "file too large", "type": "invalid_request_error",
                                                   "param": None, "code": None}}, {})
    try:
        refused = cli("batch", "create", "chat-completion", "--file", _chat_lines(tmp_path / "in.jsonl", 3))
    finally:
        openai.upload = real
    assert refused.code == 4 and openai.batches == {}
    (row,) = Guard().ledger.rows()
    assert (row["status"], row["settled_usd"], row["error"]) == ("failed", 0.0, "BadRequestError")


def test_a_create_that_may_have_made_its_batch_keeps_the_worst_case(openai, cli, tmp_path, monkeypatch):
    # An answered error is usually not billed, but a 5xx to a create may come after the batch
    # was made; when the lookup for it fails too, the reservation must not settle at $0.
    _quick_retries(monkeypatch)
    assert cli("budget", "set", "--daily", "100").code == 0
    create, route = openai.create_batch, openai.route

    def made_then_500(body):
        create(body)
        return 500, {"error": {"message": "upstream hiccup", "type": "server_error", "param": None,
                               "code": None}}, {}

    def no_list(method, path, *args):
        if method == "GET" and path.rstrip("/").endswith("/batches"):
            return 500, b'{"error": {"message": "down", "type": "server_error"}}', "application/json", {}
        return route(method, path, *args)

    openai.create_batch, openai.route = made_then_500, no_list
    result = cli("batch", "create", "chat-completion", "--file", _chat_lines(tmp_path / "in.jsonl", 3),
                 "--max-retries", 1)
    assert result.code == 4 and len(openai.batches) == 1, result.err
    (row,) = Guard().ledger.rows()
    assert (row["status"], row["settled_usd"]) == ("left", None) and row["reserved_usd"] > 0
    assert Guard().ledger.summary()["caps"]["daily"]["spent_usd"] == pytest.approx(row["reserved_usd"], abs=1e-8)
