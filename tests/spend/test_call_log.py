"""The call log: every call of every surface is a row of the ledger (success or failure, priced
or not, a cap set or not), with no key and no text unless text logging is asked for; the journal
that carries rows without SQLite loses none to concurrent writers, folders or SIGKILL."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

import openai_skill
from openai_skill.errors import APIConnectionError, InputError
from openai_skill.spend import Cost, Guard
from openai_skill.spend import journal as jr
from openai_skill.spend.caps import LEDGER_NAME
from openai_skill.spend.ledger import Ledger
from support.canary import CANARY_KEY
from support.mcp_client import run_session, server_env

PROMPT = "PROMPT-MARKER-7f3a what is a fox"
OUTPUT = "OUTPUT-MARKER-91c2 a small canid"
ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
          "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                       "message": {"role": "assistant", "content": OUTPUT, "refusal": None}}],
          "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}}
ERROR = {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}


def _folder():
    return Guard().journal_file().parent


def _rows() -> list[dict]:
    return Guard().ledger.rows()


def _raw() -> bytes:
    """Every byte the call log keeps: the journal, the ledger and its -wal/-shm, asides."""
    folder = _folder()
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("spend."))


def test_every_surface_records_its_row_with_no_cap_set(openai, key, cli, tmp_path):
    openai.reply("POST", "/chat/completions", ANSWER)
    assert cli("chat", "hi").code == 0
    openai_skill.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]})
    source = tmp_path / "in.txt"
    source.write_text("".join(f"text {i}\n" for i in range(30)))
    assert cli("embed", "--file", source, "--out", tmp_path / "v.jsonl", "--batch-size", 10, "-k", 1,
               "--no-cache").code == 0
    lines = tmp_path / "b.jsonl"
    lines.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}], "max_tokens": 10}) + "\n")
    created = cli("batch", "create", "chat-completion", "--file", lines)
    assert created.code == 0, created.err

    async def body(session):
        return await session.call_tool("openai_chat_completion", {"messages": [{"role": "user", "content": "hi"}]})

    assert not run_session(body, server_env(openai.url), tmp_path, tmp_path / "mcp-err.txt").is_error
    assert not (_folder() / LEDGER_NAME).exists()      # no cap: rows wait in the journal, no SQLite yet
    rows = _rows()                                       # reading folds them in
    assert [(r["surface"], r["action"], r["status"]) for r in rows] == [
        ("cli", "chat-completion", "settled"), ("python", "chat-completion", "settled"),
        *[("bulk", "create-embedding", "settled")] * 3, ("batch", "chat-completion", "reserved"),
        ("mcp", "chat-completion", "settled")]
    chat = rows[0]
    assert chat["model"] == "gpt-4o-mini" and chat["request_id"] == "req_200_chat/completions"
    assert (chat["input_tokens"], chat["cached_tokens"], chat["output_tokens"]) == (10, 0, 4)
    assert chat["settled_usd"] == pytest.approx((10 * 0.15 + 4 * 0.60) / 1e6)
    assert chat["reserved_usd"] > chat["settled_usd"] and chat["priced"] == 1 and chat["latency_s"] > 0
    assert rows[5]["ref"] == f"batch:{created.json()['batches'][0]['id']}" and rows[5]["reserved_usd"] > 0
    assert not jr.journal_path(Guard().ledger.path).exists()   # folded and removed


def test_failed_and_refused_calls_are_rows_with_their_error_type(openai, key, cli, monkeypatch):
    openai.reply("POST", "/chat/completions", ERROR, status=400)
    assert cli("chat", "hi").code != 0
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")   # nothing listens: no answer at all
    with pytest.raises(APIConnectionError):
        openai_skill.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]}, max_retries=0)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert cli("chat", "hi").code != 0                                # no key: nothing left this machine
    monkeypatch.setenv("OPENAI_SKILL_BUDGET_PER_CALL", "0.0000001")
    assert cli("chat", "hi").code == 7
    got = [(r["status"], r["error"], r["settled_usd"]) for r in _rows()]
    assert got == [("failed", "BadRequestError", 0.0), ("left", "APIConnectionError", None),
                   ("failed", "CredentialsError", 0.0), ("refused", "BudgetError", 0.0)]
    left = _rows()[1]
    assert left["reserved_usd"] > 0                    # may have been billed: it counts at its worst case


def test_neither_the_key_nor_the_text_reaches_the_log_unless_text_logging_is_on(openai, key, cli, monkeypatch):
    openai.reply("POST", "/chat/completions", ANSWER)
    prompt = f"{PROMPT} and my key is {CANARY_KEY}"
    assert cli("chat", prompt).code == 0
    forms = [CANARY_KEY.encode(), base64.b64encode(CANARY_KEY.encode()), CANARY_KEY.encode().hex().encode(),
             CANARY_KEY[8:40].encode()]
    for stage in ("journal", "ledger"):
        raw = _raw()
        assert raw and not any(form in raw for form in forms), stage
        assert b"PROMPT-MARKER" not in raw and b"OUTPUT-MARKER" not in raw, stage
        _rows()                                        # the second pass reads the ledger the fold wrote
    monkeypatch.setenv("OPENAI_SKILL_LOG_TEXT", "1")
    assert cli("chat", prompt).code == 0
    assert b"PROMPT-MARKER" in _raw()                  # in the journal, before any fold
    row = _rows()[-1]
    assert PROMPT in row["prompt_text"] and OUTPUT in row["output_text"]
    raw = _raw()
    assert b"PROMPT-MARKER" in raw and not any(form in raw for form in forms)
    assert _rows()[0]["prompt_text"] is None            # the first call was made with text logging off


def test_text_logging_with_a_cap_set_stores_it_on_the_reservation(openai, key, cli, monkeypatch):
    openai.reply("POST", "/chat/completions", ANSWER)
    monkeypatch.setenv("OPENAI_SKILL_LOG_TEXT", "1")
    monkeypatch.setenv("OPENAI_SKILL_BUDGET_DAILY", "5")
    assert cli("chat", PROMPT).code == 0
    (row,) = _rows()
    assert row["status"] == "settled" and PROMPT in row["prompt_text"] and row["output_text"] == OUTPUT


def test_disabling_the_log_writes_nothing(openai, key, cli, monkeypatch):
    openai.reply("POST", "/chat/completions", ANSWER)
    monkeypatch.setenv("OPENAI_SKILL_CALL_LOG", "0")
    assert cli("chat", "hi").code == 0 and cli("models").code == 0
    assert not _folder().exists() or not any(p.name.startswith("spend.") for p in _folder().iterdir())
    monkeypatch.setenv("OPENAI_SKILL_CALL_LOG", "maybe")
    result = cli("chat", "hi")
    assert result.code == 2 and "OPENAI_SKILL_CALL_LOG: expected 1 or 0" in result.err


def test_files_are_0600(openai, key, cli, monkeypatch):
    openai.reply("POST", "/chat/completions", ANSWER)
    assert cli("chat", "hi").code == 0
    journal = Guard().journal_file()
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    monkeypatch.setenv("OPENAI_SKILL_BUDGET_DAILY", "5")
    guard = Guard()
    with guard.hold(Cost(0.01, "worst_case", "2026-12-02"), surface="python", action="chat-completion",
                    hold_seconds=5) as held:
        files = sorted(p.name for p in journal.parent.iterdir() if p.name.startswith("spend.sqlite3"))
        assert files == ["spend.sqlite3", "spend.sqlite3-shm", "spend.sqlite3-wal"]   # open: all three exist
        assert all(stat.S_IMODE((journal.parent / f).stat().st_mode) == 0o600 for f in files)
        held.settle(Cost(0.001, "usage", "2026-12-02"))
    guard.close()


# --- the journal itself ---

def _record(i, made_at=None, **extra):
    return {"made_at": time.time() if made_at is None else made_at, "surface": "python",
            "action": "chat-completion", "status": "settled", "settled_usd": 0.001, "reserved_usd": 0.002,
            "priced": 1, "request_id": f"r{i}", **extra}


def test_torn_and_altered_lines_are_skipped_and_the_records_after_them_kept(tmp_path):
    book = Ledger(tmp_path / LEDGER_NAME, env={})
    jr.append(book.journal, _record(1))
    whole = jr.encode(_record(2))
    with open(book.journal, "ab") as f:
        f.write(whole[: len(whole) // 2])                    # a writer killed mid-write
    jr.append(book.journal, _record(3))
    altered = jr.encode(_record(4)).replace(b'"r4"', b'"r5"')  # the CRC no longer matches
    with open(book.journal, "ab") as f:
        f.write(altered + b"not a record\n" + b"\x1e{}\t00000000\n")
    jr.append(book.journal, _record(6, made_at="yesterday"))  # a record missing a valid time
    # Whole, but a column of the wrong type: that column is dropped, the row kept.
    jr.append(book.journal, _record(7, input_tokens="10", output_tokens=True, latency_s="fast",
                                    model=["x"]))
    rows = book.rows()
    assert [r["request_id"] for r in rows] == ["r1", "r3", "r7"]
    assert [rows[2][name] for name in ("input_tokens", "output_tokens", "latency_s", "model")] == [None] * 4


def test_a_line_over_the_size_cap_is_skipped_and_the_next_record_read(tmp_path):
    book = Ledger(tmp_path / LEDGER_NAME, env={})
    with open(book.journal, "wb") as f:
        f.write(b"x" * (jr.MAX_LINE_BYTES + 10) + b"\n")
    jr.append(book.journal, _record(1))
    jr.append(book.journal, _record(2))
    assert [r["request_id"] for r in book.rows()] == ["r1", "r2"]


def test_retention_drops_old_rows_once_a_day_and_keeps_open_reservations(tmp_path):
    now = time.mktime((2026, 12, 2, 12, 0, 0, 0, 0, 0))
    clock = [now]
    book = Ledger(tmp_path / LEDGER_NAME, env={"OPENAI_SKILL_CALL_LOG_DAYS": "30"}, clock=lambda: clock[0])
    day = 86400.0
    for i, (age, status) in enumerate([(40, "settled"), (40, "reserved"), (20, "settled"), (100, "left")]):
        jr.append(book.journal, _record(i, made_at=now - age * day, status=status))
    jr.append(book.journal, _record(9, made_at=now - 1 * day))   # this month: kept whatever the setting
    assert [r["request_id"] for r in book.rows()] == ["r1", "r2", "r9"]
    jr.append(book.journal, _record(7, made_at=now - 50 * day))
    assert "r7" in [r["request_id"] for r in book.rows()]        # retention ran today already
    clock[0] += day
    assert [r["request_id"] for r in book.rows()] == ["r1", "r2", "r9"]
    assert [r["request_id"] for r in book.rows(since=now - 10 * day)] == ["r9"]
    book.close()
    with pytest.raises(InputError, match="OPENAI_SKILL_CALL_LOG_DAYS"):
        Ledger(tmp_path / LEDGER_NAME, env={"OPENAI_SKILL_CALL_LOG_DAYS": "0"}).rows()


def test_the_retention_default_is_the_one_skill_yaml_states():
    from openai_skill.manifest import load_manifest

    declared = load_manifest().raw["environment"]
    assert f"default {jr.DEFAULT_DAYS}" in declared[jr.ENV_DAYS]
    assert {jr.ENV_LOG, jr.ENV_TEXT, jr.ENV_DAYS} <= set(declared)


APPENDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from openai_skill.spend import Guard
    from openai_skill.spend import journal
    name, start, count, fold_every = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    guard = Guard()
    path = guard.journal_file()
    print("ready", flush=True)
    while time.time() < start:
        time.sleep(0.001)
    i = 0
    while count < 0 or i < count:
        assert journal.append(path, {"made_at": time.time(), "surface": "python", "action": "chat-completion",
                                     "status": "settled", "request_id": f"{name}-{i}"}) is not None
        i += 1
        if i == 1:
            print("appended", flush=True)   # the killing test kills only after this
        if fold_every and i % fold_every == 0:
            guard.ledger.fold()
""")


def _appender(name, start, count, fold_every):
    return subprocess.Popen([sys.executable, "-c", APPENDER, name, str(start), str(count), str(fold_every)],
                            stdout=subprocess.PIPE, text=True)


def test_eight_processes_appending_and_folding_at_once_lose_no_row_and_count_none_twice(tmp_path):
    start = time.time() + 2.0
    procs = [_appender(f"w{k}", start, 150, 40 if k % 2 else 0) for k in range(8)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.communicate(timeout=180)
        assert proc.returncode == 0
    ids = [r["request_id"] for r in _rows()]
    assert sorted(ids) == sorted(f"w{k}-{i}" for k in range(8) for i in range(150))


def test_rows_survive_writers_killed_mid_write_and_mid_fold(tmp_path):
    for round_ in range(6):
        proc = _appender(f"k{round_}", 0, -1, 25)        # appends and folds until killed
        try:
            assert proc.stdout.readline().strip() == "ready"
            # Killed once it has appended (however slowly it started: a fixed 0.3 s could pass
            # before the first append on a loaded machine), at a point that varies by round.
            assert proc.stdout.readline().strip() == "appended"
            time.sleep(0.1 * round_)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
    book = Ledger(Guard().ledger.path, env={})
    rows = book.rows()
    assert book._write(lambda conn: conn.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"
    by_writer: dict = {}
    for row in rows:
        name, i = row["request_id"].split("-")
        by_writer.setdefault(name, []).append(int(i))
    assert len(by_writer) == 6
    for seen in by_writer.values():                      # each writer's records: all of them, once each
        assert sorted(seen) == list(range(len(seen))) and seen
    assert not [p for p in book.path.parent.iterdir() if p.name.endswith(jr.ASIDE_SUFFIX)]
    assert len(book.rows()) == len(rows)                 # a second read folds nothing twice


FOLDER = "import sys; from openai_skill.spend.ledger import Ledger; Ledger(sys.argv[1], env={}).fold()"


def test_a_writer_whose_journal_is_folded_away_before_it_locks_writes_into_the_new_one(tmp_path, monkeypatch):
    book = Ledger(tmp_path / LEDGER_NAME, env={})
    jr.append(book.journal, _record(1))
    real, folded = jr.lock_file, []

    def fold_first(fd, deadline):
        if not folded:   # between this writer's open and its lock, another process folds the journal away
            folded.append(subprocess.run([sys.executable, "-c", FOLDER, str(book.path)], timeout=60).returncode)
        return real(fd, deadline)

    monkeypatch.setattr(jr, "lock_file", fold_first)
    assert jr.append(book.journal, _record(2)) is not None
    monkeypatch.undo()
    assert folded == [0] and [r["request_id"] for r in book.rows()] == ["r1", "r2"]


def test_a_folder_killed_after_its_commit_does_not_count_its_rows_twice(tmp_path, monkeypatch):
    book = Ledger(tmp_path / LEDGER_NAME, env={})
    jr.append(book.journal, _record(1))
    monkeypatch.setattr(type(book.journal), "unlink", lambda self, *a, **k: None)   # "killed" before removing
    assert len(book.rows()) == 1
    (aside,) = [p for p in book.path.parent.iterdir() if p.name.endswith(jr.ASIDE_SUFFIX)]
    monkeypatch.undo()
    jr.append(book.journal, _record(2))
    assert [r["request_id"] for r in book.rows()] == ["r1", "r2"] and not aside.exists()
    jr.append(book.journal, _record(3))
    assert len(book.rows()) == 3                          # and the names of removed asides are forgotten
    assert book._write(lambda conn: conn.execute("SELECT COUNT(*) FROM journal_folded").fetchone()[0]) == 1


def test_a_journal_past_its_cap_drops_rows_instead_of_growing(tmp_path, monkeypatch):
    path = tmp_path / jr.JOURNAL_NAME
    monkeypatch.setattr(jr, "MAX_JOURNAL_BYTES", 300)
    sizes = [jr.append(path, _record(i)) for i in range(5)]
    assert sizes[0] and None in sizes and path.stat().st_size < 300 + len(jr.encode(_record(0)))


def test_a_writer_folds_the_journal_when_it_grows(openai, key, monkeypatch):
    openai.reply("POST", "/chat/completions", ANSWER)
    monkeypatch.setattr(jr, "FOLD_BYTES", 800)          # a few rows
    client = openai_skill.Client()
    for _ in range(6):
        client.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]})
    ledger = client.guard.ledger.path
    journal = jr.journal_path(ledger)
    assert ledger.exists() and (not journal.exists() or os.path.getsize(journal) < 800)
    assert len(client.guard.ledger.rows()) == 6


def test_a_writer_holding_the_journal_open_never_writes_into_a_file_already_folded(tmp_path, monkeypatch):
    from openai_skill.spend import fold

    book = Ledger(tmp_path / LEDGER_NAME, env={})
    jr.append(book.journal, _record(1))                 # this process now holds the journal open
    real = fold.read_aside

    def append_once_read(aside):
        got = real(aside)
        # The folder has read the file, not yet committed nor removed it: a writer holding it
        # open must go to the journal again, or this row is lost with the aside.
        jr.append(book.journal, _record(2))
        return got

    monkeypatch.setattr(fold, "read_aside", append_once_read)
    book.fold()
    monkeypatch.undo()
    assert [r["request_id"] for r in book.rows()] == ["r1", "r2"]


LOCKER = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
          "fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('locked')")


def test_a_writer_holding_the_journal_open_leaves_no_part_of_it_locked_between_calls(tmp_path):
    path = tmp_path / jr.JOURNAL_NAME
    for i in range(3):
        assert jr.append(path, _record(i)) is not None
    # Another process (a writer, a folder) locks the whole file at once: nothing of ours is left.
    done = subprocess.run([sys.executable, "-c", LOCKER, str(path)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "locked", done.stderr


FORKER = textwrap.dedent("""
    import os, sys, time
    from openai_skill.spend import journal
    path = sys.argv[1]
    assert journal.append(path, {"made_at": time.time(), "surface": "python", "action": "a", "status": "settled",
                                 "request_id": "parent"})
    journal._LOCK.acquire()          # as a writer thread of this process would, at the fork
    pid = os.fork()
    if pid == 0:
        os.closerange(3, 1024)       # as a daemon does, before it opens files of its own
        mine = os.open(path + ".mine", os.O_WRONLY | os.O_CREAT, 0o600)
        start = time.monotonic()
        size = journal.append(path, {"made_at": time.time(), "surface": "python", "action": "a",
                                     "status": "settled", "request_id": "child"})
        fast = time.monotonic() - start < 2
        still_mine = os.path.samestat(os.fstat(mine), os.stat(path + ".mine"))   # not closed nor reused by us
        os._exit(0 if size and fast and still_mine else 1)
    journal._LOCK.release()
    print(os.waitpid(pid, 0)[1])
""")


def test_a_forked_child_writes_at_once_and_leaves_the_descriptors_it_opens_alone(tmp_path):
    path = tmp_path / jr.JOURNAL_NAME
    done = subprocess.run([sys.executable, "-c", FORKER, str(path)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "0", done.stderr
    assert [r["request_id"] for r in jr.records(path)] == ["parent", "child"]


def test_a_writer_holding_the_journal_open_writes_to_the_file_named_journal_when_it_writes(tmp_path, monkeypatch):
    path = tmp_path / jr.JOURNAL_NAME
    aside = tmp_path / f"{jr.JOURNAL_NAME}.0{jr.ASIDE_SUFFIX}"
    real, read = jr.lock_file, []

    def folder_first(fd, deadline):
        if not read:   # before this writer locks its kept fd, a folder renames the file and reads it
            os.rename(path, aside)
            read.append(list(jr.records(aside)))   # and removes it only after its commit
        return real(fd, deadline)

    jr.append(path, _record(1))                          # the journal is now open in this process
    monkeypatch.setattr(jr, "lock_file", folder_first)
    assert jr.append(path, _record(2)) is not None
    monkeypatch.undo()
    assert [r["request_id"] for r in read[0]] == ["r1"]
    assert [r["request_id"] for r in jr.records(aside)] == ["r1"]    # nothing written after its read
    assert [r["request_id"] for r in jr.records(path)] == ["r2"]


def test_a_line_is_byte_for_byte_the_format_every_version_reads_and_writes():
    record = {"made_at": 1796212345.125, "surface": "mcp", "action": "chat-completion", "model": "gpt-4o-mini",
              "priced": 1, "reserved_usd": 0.0099456, "settled_usd": 4.05e-06, "status": "settled",
              "request_id": 'req_\u00e9"\\\n', "latency_s": 0.0012, "input_tokens": 10}
    # As the encoder before the journal was kept open wrote it (and every reader reads).
    line = (b'\x1e{"made_at":1796212345.125,"surface":"mcp","action":"chat-completion","model":"gpt-4o-mini",'
            b'"priced":1,"reserved_usd":0.0099456,"settled_usd":4.05e-06,"status":"settled",'
            b'"request_id":"req_\\u00e9\\"\\\\\\n","latency_s":0.0012,"input_tokens":10}\t010cb0c3\n')
    assert jr.encode(record) == line
    assert jr.decode(line) == {**record, "priced": 1, "input_tokens": 10}
    with pytest.raises(ValueError):
        jr.encode({**record, "settled_usd": float("nan")})   # no row rather than a line JSON cannot read


def test_a_reused_client_writes_each_row_into_the_journal_of_the_config_folder_it_was_made_in(openai, key, tmp_path,
                                                                                            monkeypatch):
    openai.reply("POST", "/chat/completions", ANSWER)
    client = openai_skill.Client()
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    homes = [tmp_path / "a", tmp_path / "b", tmp_path / "a"]
    for home in homes:                                   # an MCP server follows OPENAI_SKILL_HOME
        monkeypatch.setenv("OPENAI_SKILL_HOME", str(home))
        client.invoke("chat-completion", chat)
    assert [len(list(jr.records(home / jr.JOURNAL_NAME))) for home in homes[:2]] == [2, 1]


FOLD_IN_BACKGROUND = ("import sys; from openai_skill.spend.ledger import Ledger; "
                      "Ledger(sys.argv[1], env={}).fold()")


def test_a_folder_waits_for_the_writer_that_found_the_journal_before_it_was_renamed(tmp_path, monkeypatch):
    book = Ledger(tmp_path / LEDGER_NAME, env={})
    jr.append(book.journal, _record(1))
    real, folder = jr._named, []

    def folder_renames_now(info, name):
        named = real(info, name)
        if not folder:   # this writer holds the lock and has checked the name: a folder starts now
            folder.append(subprocess.Popen([sys.executable, "-c", FOLD_IN_BACKGROUND, str(book.path)]))
            deadline = time.monotonic() + 60
            while book.journal.exists() and time.monotonic() < deadline:
                time.sleep(0.005)   # renamed aside: the folder now wants this writer's lock
            with pytest.raises(subprocess.TimeoutExpired):
                folder[0].wait(timeout=1.5)   # it waits (without the lock it would read and finish)
        return named

    monkeypatch.setattr(jr, "_named", folder_renames_now)
    assert jr.append(book.journal, _record(2)) is not None
    monkeypatch.undo()
    assert folder[0].wait(timeout=60) == 0
    assert [r["request_id"] for r in book.rows()] == ["r1", "r2"]


def test_a_journal_folder_the_writer_creates_is_the_users_alone(tmp_path):
    path = tmp_path / "new" / jr.JOURNAL_NAME
    assert jr.append(path, _record(1)) is not None
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_process_opens_the_journal_once_for_many_rows_and_holds_one_at_a_time(tmp_path, monkeypatch):
    opened = []
    real = jr._open
    monkeypatch.setattr(jr, "_open", lambda name: opened.append(name) or real(name))
    path = tmp_path / jr.JOURNAL_NAME
    for i in range(5):
        jr.append(path, _record(i))
    assert opened == [str(path)]                           # kept open: no open (nor close) per row
    before = len(os.listdir("/proc/self/fd"))
    for i in range(20):                                    # another config folder each time
        jr.append(tmp_path / f"home{i}" / jr.JOURNAL_NAME, _record(i))
    assert len(os.listdir("/proc/self/fd")) <= before     # the one before is closed, none piles up
