"""Keeping the lifecycle data current: the one test that reads the real date, on purpose.

It fails 30 days ahead of a date in skill.yaml's `lifecycle` that needs an edit, so the data
cannot rot silently on a quiet day in CI:
- a default (skill.yaml `defaults`) about to lose its last live model: add the successor
  OpenAI names to the list;
- a model the committed docs (README.md, SKILL.md, docs/, schemas/) name without its shutdown date
  nearby (in the same paragraph, table or code block; in a schema, the same line): say when, or
  stop naming it.
The checks themselves are tested on made-up data, so this test can fail."""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
import re

from openai_skill.lifecycle.table import Table
from openai_skill.manifest import load_manifest

REPO = Path(__file__).resolve().parents[2]
WINDOW = timedelta(days=30)
MANIFEST = load_manifest()


def real_today() -> date:
    return datetime.now(timezone.utc).date()


def defaults_running_out(table: Table, defaults: dict, today: date) -> list[str]:
    """Each action whose default list has no model that lives past today + 30 days."""
    found = []
    for action, spec in defaults.items():
        survivors = [m for m in spec["models"] if table.live(m, today + WINDOW)]
        if not survivors:
            last = table.built_in(spec["models"][-1])
            found.append(f"{action}: the default list {spec['models']} ends on {last.date} with no live successor; "
                         "add the model OpenAI names to skill.yaml `defaults`")
    return found


def blocks(path: Path, text: str) -> list[str]:
    """The units a date must share with a model's name: a schema's lines, a Markdown file's
    paragraphs (a table or a code block without blank lines is one)."""
    return text.splitlines() if path.suffix == ".json" else re.split(r"\n\s*\n", text)


def undated_mentions(table: Table, docs: dict, today: date) -> list[str]:
    """Each (doc, model) where a model retiring by today + 30 days (or already retired) is
    named in a block that does not give its shutdown date."""
    found = []
    ids = {model for globs, _day, _repl in table.entries for model in globs if "*" not in model}
    for path, text in docs.items():
        for block in blocks(path, text):
            for model in sorted(ids):
                shutdown = table.built_in(model)
                if shutdown.date > today + WINDOW:
                    continue
                if re.search(rf"(?<![\w.-]){re.escape(model)}(?![\w-]|\.\w)", block) \
                        and shutdown.date.isoformat() not in block:
                    found.append(f"{path.name}: {model} (shuts down {shutdown.date}) is named without its date "
                                 f"in: {' '.join(block.split())[:120]!r}")
    return found


def committed_docs() -> dict:
    paths = [REPO / "README.md", REPO / "SKILL.md", *sorted((REPO / "docs").glob("*.md")),
             *sorted((REPO / "schemas").glob("*.json"))]
    return {path: path.read_text(encoding="utf-8") for path in paths}


def test_no_default_is_about_to_run_out_of_live_models():
    assert defaults_running_out(Table(MANIFEST.lifecycle), MANIFEST.defaults, real_today()) == []


def test_the_docs_give_the_date_of_every_model_near_or_past_its_shutdown():
    assert undated_mentions(Table(MANIFEST.lifecycle), committed_docs(), real_today()) == []


# --- the checks can fail ---------------------------------------------------------------------

TODAY = date(2030, 6, 1)
MADE_UP = Table({"shutdowns": [
    {"models": ["old-a"], "shutdown": "2030-06-20", "replacement": ["new-b"]},
    {"models": ["new-b"], "shutdown": "2030-06-25", "replacement": ["newer-c"]},
    {"models": ["far-d"], "shutdown": "2031-01-01", "replacement": ["x"]},
]})


def test_a_default_list_running_out_is_caught():
    assert defaults_running_out(MADE_UP, {"chat": {"models": ["old-a", "newer-c"]}}, TODAY) == []
    assert defaults_running_out(MADE_UP, {"chat": {"models": ["far-d"]}}, TODAY) == []
    caught = defaults_running_out(MADE_UP, {"chat": {"models": ["old-a", "new-b"]}}, TODAY)
    assert len(caught) == 1 and caught[0].startswith("chat: the default list ['old-a', 'new-b'] ends on 2030-06-25")
    assert defaults_running_out(MADE_UP, {"chat": {"models": ["new-b"]}}, TODAY - timedelta(days=10)) == []  # 34 days


def test_an_undated_mention_is_caught_and_a_dated_one_is_not():
    docs = {Path("README.md"): "Use `old-a` for speed.\n\nThe new-b model (until 2030-06-25) works.\n\n"
                               "| far-d | fine |\n\nold-a-turbo and new-b.2 are other models.",
            Path("x.json"): '"examples": ["new-b"],\n"description": "new-b until 2030-06-25"'}
    caught = undated_mentions(MADE_UP, docs, TODAY)
    assert caught == [
        "README.md: old-a (shuts down 2030-06-20) is named without its date in: 'Use `old-a` for speed.'",
        "x.json: new-b (shuts down 2030-06-25) is named without its date in: '\"examples\": [\"new-b\"],'"]
