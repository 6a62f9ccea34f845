"""skill.yaml's lifecycle table: well-formed data, lookups by id and glob, the shutdown day
itself counting as gone, a server's own dates winning for its origin, and replacement chains."""

from datetime import date, timedelta

import pytest

from openai_skill.lifecycle import table as table_module
from openai_skill.lifecycle.learned import Learned
from openai_skill.lifecycle.table import Table
from openai_skill.lifecycle.table import utc_today as real_utc_today   # before conftest replaces it
from openai_skill.manifest import load_manifest

MANIFEST = load_manifest()
TABLE = Table(MANIFEST.lifecycle)
ORIGIN = "https://api.openai.com"


@pytest.mark.parametrize("seconds", [0, 86399.999, 86400, 1e9, 1798761599.999, 1798761600, 4102444800.5])
def test_todays_utc_date_is_the_clocks_day_even_next_to_midnight(monkeypatch, seconds):
    from datetime import datetime, timezone

    class Clock:
        now = seconds

        def time(self):
            return self.now

    clock = Clock()
    monkeypatch.setattr(table_module, "time", clock)
    assert real_utc_today() == datetime.fromtimestamp(seconds, timezone.utc).date()
    clock.now = seconds + 86400          # the kept date is not reused on the next day
    assert real_utc_today() == datetime.fromtimestamp(seconds + 86400, timezone.utc).date()


def test_the_data_is_well_formed():
    data = MANIFEST.lifecycle
    assert data["source"].startswith("https://") and date.fromisoformat(data["checked"])
    assert data["warn_days"] == 30
    seen = set()
    for entry in data["shutdowns"]:
        assert set(entry) == {"models", "shutdown", "replacement"}, entry
        assert isinstance(entry["shutdown"], str) and date.fromisoformat(entry["shutdown"])  # quoted in YAML
        assert entry["models"] and entry["replacement"], entry
        assert not seen & set(entry["models"]), f"listed twice: {seen & set(entry['models'])}"
        seen |= set(entry["models"])


@pytest.mark.parametrize("model, day, replacement", [
    ("dall-e-3", "2026-05-12", ("gpt-image-2",)),
    ("gpt-image-1", "2026-10-23", ("gpt-image-2",)),
    ("gpt-image-1.5", "2026-12-01", ("gpt-image-2.6-sunburst", "gpt-image-2.6-flare")),
    ("o3-2025-04-16", "2026-12-11", ("gpt-5.6-sol",)),          # a dated snapshot, by glob
    ("gpt-5-mini", "2026-12-11", ("gpt-6.1-terra",)),
    ("gpt-4o-mini-2024-07-18", "2027-01-14", ("gpt-6-luna",)),
])
def test_built_in_lookup_by_id_and_glob(model, day, replacement):
    found = TABLE.built_in(model)
    assert (found.date.isoformat(), found.replacement) == (day, replacement)


@pytest.mark.parametrize("model", ["gpt-6-luna", "gpt-image-2", "gpt-image-2.6-flare", "text-embedding-3-small",
                                   "gpt-5-mini-tuned", "o3-mini-x", "my-finetune"])
def test_models_without_an_announced_date(model):
    assert TABLE.built_in(model) is None


def test_the_shutdown_day_itself_is_gone_the_day_before_is_not():
    found = TABLE.built_in("gpt-4o-mini")
    assert not found.begun(found.date - timedelta(days=1)) and found.days_left(found.date - timedelta(days=1)) == 1
    assert found.begun(found.date) and found.begun(found.date + timedelta(days=400))


def test_a_servers_own_dates_win_for_its_origin():
    today = date(2026, 12, 2)
    listed = Learned(ORIGIN, "2026-12-02T00:00:00Z", ("dall-e-3", "gpt-6-luna", "gpt-4o-mini", "gpt-5-mini"),
                     {"dall-e-3": None, "gpt-6-luna": date(2026, 12, 20), "gpt-5-mini": date(2027, 3, 1)})
    assert TABLE.shutdown("dall-e-3", listed) is None                          # kept on dedicated capacity
    assert TABLE.shutdown("gpt-6-luna", listed).date == date(2026, 12, 20)     # announced after the release
    assert TABLE.shutdown("gpt-6-luna", listed).learned is True
    postponed = TABLE.shutdown("gpt-5-mini", listed)
    assert postponed.date == date(2027, 3, 1) and postponed.replacement == ("gpt-6.1-terra",)
    assert TABLE.shutdown("gpt-4o-mini", listed).date == date(2027, 1, 14)      # listed without a date: built-in
    assert TABLE.shutdown("gpt-image-1", listed).date == date(2026, 10, 23)     # not listed: built-in
    assert TABLE.live("dall-e-3", today, listed) and not TABLE.live("dall-e-3", today)


def test_a_replacement_that_is_itself_gone_is_followed():
    o1_mini = TABLE.built_in("o1-mini")
    assert TABLE.replacements(o1_mini, date(2026, 10, 22)) == ["o4-mini"]       # o4-mini still served then
    assert TABLE.replacements(o1_mini, date(2026, 12, 2)) == ["gpt-5.6-sol", "gpt-5.6-terra"]
    chat_latest = TABLE.built_in("chatgpt-4o-latest")
    assert TABLE.replacements(chat_latest, date(2026, 12, 2)) == ["gpt-5.6-sol"]


def test_a_chain_that_loops_stops():
    table = Table({"shutdowns": [{"models": ["a"], "shutdown": "2020-01-01", "replacement": ["b"]},
                                 {"models": ["b"], "shutdown": "2020-01-01", "replacement": ["a"]}]})
    assert table.replacements(table.built_in("a"), date(2026, 1, 1)) in (["a"], ["b"])


def test_first_live_and_the_dated_list():
    models = ["gpt-4o-mini", "gpt-6-luna"]
    assert TABLE.first_live(models, date(2027, 1, 13)) == "gpt-4o-mini"
    assert TABLE.first_live(models, date(2027, 1, 14)) == "gpt-6-luna"
    assert TABLE.first_live(["dall-e-3", "gpt-image-1"], date(2026, 12, 2)) == "gpt-image-1"  # none live: the last
    assert TABLE.dated_list(models) == "gpt-4o-mini until 2027-01-14, then gpt-6-luna"
    assert TABLE.dated_list(["gpt-5-mini"], quote="`") == "`gpt-5-mini` (shuts down 2026-12-11)"
    assert TABLE.dated_list(["gpt-image-2"]) == "gpt-image-2"
