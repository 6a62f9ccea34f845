"""The per-origin cache of what GET /models said: round trip, null versus no field, other date
forms, bounded, atomic, private, and ignored (never an error) when missing or corrupt."""

import json
import stat
from datetime import date

import pytest

import openai_skill as skill
from openai_skill.config import config_folder
from openai_skill.lifecycle import learned
from support.openai_data import HI
from support.lifecycle import entry

OPENAI = "https://api.openai.com"
GATEWAY = "https://gateway.example"


def test_round_trip_keeps_null_apart_from_no_field():
    learned.record(OPENAI, [entry("gpt-6-luna", None), entry("gpt-4o-mini", "2027-01-14"),
                            {"id": "x-no-field", "object": "model", "created": 1, "owned_by": "me"}])
    found = learned.load(OPENAI)
    assert found.ids == ("gpt-6-luna", "gpt-4o-mini", "x-no-field")
    assert found.says("gpt-6-luna") == (True, None)              # the server: no shutdown
    assert found.says("gpt-4o-mini") == (True, date(2027, 1, 14))
    assert found.says("x-no-field") == (False, None)             # silent: the built-in table applies
    assert learned.load(GATEWAY) is None                         # keyed by origin


@pytest.mark.parametrize("value, day", [(1799971200, date(2027, 1, 15)), ("2027-01-14T00:00:00Z", date(2027, 1, 14))])
def test_gateways_unix_times_and_timestamps_are_dates(value, day):
    learned.record(GATEWAY, [entry("m", value)])
    assert learned.load(GATEWAY).says("m") == (True, day)


@pytest.mark.parametrize("value", ["soon", True, ["2027-01-14"], {"date": "x"}])
def test_a_date_that_cannot_be_read_says_nothing(value):
    learned.record(GATEWAY, [entry("m", value), entry("n", None)])
    found = learned.load(GATEWAY)
    assert found.says("m") == (False, None) and "m" in found.ids and found.says("n") == (True, None)


def test_one_origin_replaces_only_its_own_entry():
    learned.record(OPENAI, [entry("a", None)])
    learned.record(GATEWAY, [entry("b", "2027-02-01")])
    learned.record(OPENAI, [entry("c", None)])
    assert learned.load(OPENAI).ids == ("c",) and learned.load(GATEWAY).ids == ("b",)


def test_bounded_in_origins_and_models():
    for n in range(learned.MAX_ORIGINS + 4):
        learned.record(f"https://o{n}.example", [entry("m", None)], now=_at(n))
    kept = json.loads(learned.path().read_text())["origins"]
    assert len(kept) == learned.MAX_ORIGINS and "https://o0.example" not in kept  # the oldest go
    assert f"https://o{learned.MAX_ORIGINS + 3}.example" in kept
    learned.record(OPENAI, [entry(f"m{i}", None) for i in range(learned.MAX_MODELS + 500)]
                   + [entry("x" * (learned.MAX_ID_CHARS + 1), None)])
    found = learned.load(OPENAI)
    assert len(found.ids) == learned.MAX_MODELS and all(len(i) <= learned.MAX_ID_CHARS for i in found.ids)
    assert learned.path().stat().st_size <= learned.MAX_FILE_BYTES


def _at(n):
    from datetime import datetime, timedelta, timezone

    return datetime(2026, 12, 2, tzinfo=timezone.utc) + timedelta(minutes=n)


def test_written_atomically_private_and_in_the_config_folder():
    learned.record(OPENAI, [entry("a", None)])
    path = learned.path()
    assert path.parent == config_folder()[0] and path.name == "models.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(learned.TEMP_PREFIX)] == []


@pytest.mark.parametrize("content", [b"not json", b'{"version": 2, "origins": {}}', b"[]", b'{"version": 1}',
                                     b'{"version": 1, "origins": {"https://api.openai.com": {"ids": 5}}}',
                                     b'{"version": 1, "origins": {"https://api.openai.com": '
                                     b'{"ids": [], "shutdowns": {"a": "never"}}}}',
                                     b"\xff\xfe", b"[" * 100_000])
def test_a_corrupt_file_is_ignored_and_then_replaced(content):
    path = learned.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    assert learned.load(OPENAI) is None
    # a call still goes out (dry run), judged by the built-in table alone
    assert skill.invoke("chat-completion", {"messages": HI}, dry_run=True)["request"]["body"]["model"] == "gpt-4o-mini"
    learned.record(OPENAI, [entry("a", None)])
    assert learned.load(OPENAI).ids == ("a",)


def test_a_file_too_large_or_not_a_file_is_ignored():
    path = learned.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b" " * (learned.MAX_FILE_BYTES + 1))
    assert learned.load(OPENAI) is None
    path.unlink()
    path.mkdir()
    assert learned.load(OPENAI) is None
    learned.record(OPENAI, [entry("a", None)])  # cannot replace a folder: dropped, no error
    assert path.is_dir()


def test_a_folder_that_cannot_be_made_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("the config folder would have to be inside this file")
    monkeypatch.setenv("OPENAI_SKILL_HOME", str(blocker / "openai-skill"))  # root cannot write there either
    learned.record(OPENAI, [entry("a", None)])
    assert learned.load(OPENAI) is None and blocker.read_text().startswith("the config")


def test_every_list_models_answer_refreshes_the_cache(openai, key):
    from openai_skill.urls import origin_of

    openai.reply("GET", "/models", {"object": "list", "data": [entry("gpt-6-luna", "2027-03-01"),
                                                               entry("gpt-image-2", None)]})
    result = skill.invoke("list-models")
    assert result["models"][0]["shutdown_date"] == "2027-03-01"
    found = learned.load(origin_of(openai.url))
    assert found.says("gpt-6-luna") == (True, date(2027, 3, 1)) and found.ids == ("gpt-6-luna", "gpt-image-2")
    assert learned.load(OPENAI) is None  # the loopback server's list is its own


def test_the_same_list_on_the_same_day_is_not_written_again():
    from datetime import datetime, timezone

    morning, evening = (datetime(2026, 12, 2, h, tzinfo=timezone.utc) for h in (8, 20))
    learned.record(OPENAI, [entry("a", None)], now=morning)
    before = learned.path().stat()
    learned.record(OPENAI, [entry("a", None)], now=evening)          # nothing new: no write
    assert learned.path().stat().st_ino == before.st_ino and learned.load(OPENAI).seen == "2026-12-02T08:00:00Z"
    learned.record(OPENAI, [entry("a", "2027-01-01")], now=evening)  # a new date: written at once
    assert learned.load(OPENAI).says("a") == (True, date(2027, 1, 1))
    learned.record(OPENAI, [entry("a", "2027-01-01")], now=datetime(2026, 12, 3, tzinfo=timezone.utc))
    assert learned.load(OPENAI).seen == "2026-12-03T00:00:00Z"       # and once a day, to say it is fresh


def test_a_list_is_built_once_per_change_of_the_file_even_by_another_process():
    learned.record(OPENAI, [entry("a", None), entry("b", "2027-01-14")])
    first = learned.load(OPENAI)
    assert learned.load(OPENAI) is first                               # the file unchanged: the same list
    # Another process rewrites the file (a different size, so its stamp differs at any clock grain).
    document = json.loads(learned.path().read_bytes())
    document["origins"][OPENAI]["ids"] = ["a", "b", "c-new"]
    learned.path().write_text(json.dumps(document))
    again = learned.load(OPENAI)
    assert again is not first and again.ids == ("a", "b", "c-new") and again.says("b") == (True, date(2027, 1, 14))
    assert learned.load(GATEWAY) is None and learned.load(OPENAI) is again
