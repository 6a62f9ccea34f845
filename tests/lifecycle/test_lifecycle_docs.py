"""One source of truth: the defaults and the lifecycle live in skill.yaml; the README's defaults
table, docs/models.md's shutdown table, SKILL.md, the CLI's help, the published schemas and the
jobs follow it (a change to the data without the docs fails here)."""

import re
from pathlib import Path

import openai_skill as skill
from openai_skill.lifecycle.table import Table
from openai_skill.manifest import load_manifest
from openai_skill.surfaces.cli import build_parser
from openai_skill.surfaces.exports.skill_md import render

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
MODELS_DOC = (REPO / "docs" / "models.md").read_text(encoding="utf-8")  # the whole lifecycle, for users who pick models
MANIFEST = load_manifest()
TABLE = Table(MANIFEST.lifecycle)
COMMANDS = {"chat": "chat-completion", "image": "generate-image", "embed": "create-embedding"}


def _section() -> str:
    """The README's Models part of Settings and limits."""
    return README.split("\n### Models\n", 1)[1].split("\n#", 1)[0]


def test_the_lifecycle_table_in_the_docs_is_skill_yamls():
    rows = re.findall(r"^\| (`[^|]+) \| (\d{4}-\d{2}-\d{2}) \| ([^|]+) \|$", MODELS_DOC, re.MULTILINE)
    expected = [(", ".join(f"`{m}`" for m in e["models"]), e["shutdown"],
                 " or ".join(f"`{m}`" for m in e["replacement"])) for e in MANIFEST.lifecycle["shutdowns"]]
    assert rows == expected
    assert f"(checked {MANIFEST.lifecycle['checked']})" in MODELS_DOC
    assert "](docs/models.md)" in _section()  # the README sends readers to it


def test_the_readme_defaults_table_is_skill_yamls():
    rows = re.findall(r"^\| ([a-z-]+) \| ([^|]+) \| `(OPENAI_SKILL_\w+)` \|$", _section(), re.MULTILINE)
    assert rows == [(action, TABLE.dated_list(spec["models"], quote="`"), spec["setting"])
                    for action, spec in MANIFEST.defaults.items()]


def test_skill_md_shows_the_dated_lists_never_a_day_s_pick():
    text = render()
    for spec in MANIFEST.defaults.values():
        assert f"`model` (default {TABLE.dated_list(spec['models'], quote='`')}, or `${spec['setting']}`)" in text
    assert "`model` (default `gpt-4o-mini` until 2027-01-14, then `gpt-6-luna`" in text


def test_the_cli_help_reads_the_list():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a.choices, dict)).choices
    for command, action in COMMANDS.items():
        model = next(a for a in subparsers[command]._actions if "--model" in a.option_strings)
        spec = MANIFEST.defaults[action]
        assert model.help.startswith(f"default {TABLE.dated_list(spec['models'])}, or ${spec['setting']}")


def test_the_published_schema_carries_the_default_in_force_and_the_list():
    for action, spec in MANIFEST.defaults.items():
        model = MANIFEST.action(action).input_schema["properties"]["model"]
        assert model["default"] in spec["models"]
        assert model["description"].endswith(f"Default: {TABLE.dated_list(spec['models'])} (or ${spec['setting']}).")
    # the schema files themselves name no default model: the list is in one place
    for path in (REPO / "schemas").glob("*.input.json"):
        assert '"default": "gpt' not in path.read_text() and '"default": "text-' not in path.read_text()


def test_no_default_model_is_written_in_the_code():
    for path in (REPO / "skill").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for spec in MANIFEST.defaults.values():
            for model in spec["models"]:
                assert f'"{model}"' not in text, f"{path.relative_to(REPO)} names {model}: read skill.yaml `defaults`"


def test_bulk_embeddings_use_the_default_in_force(tmp_path):
    from openai_skill.jobs.bulk.job import _Job

    job = _Job(api_key="sk-test-not-used-0000000000000000", cache=False)
    assert job.model == MANIFEST.defaults["create-embedding"]["models"][0]
    assert job.request.body["model"] == job.model
    mine = _Job(model="text-embedding-3-large", api_key="sk-test-not-used-0000000000000000", cache=False)
    assert mine.model == "text-embedding-3-large"


def test_bulk_embeddings_refuse_a_retired_setting_before_reading(monkeypatch, tmp_path, cli):
    monkeypatch.setenv("OPENAI_SKILL_EMBEDDING_MODEL", "gpt-4o-mini-2024-07-18")  # not an embedding model; dated
    monkeypatch.setenv("OPENAI_SKILL_TODAY", "2027-02-01")
    texts = tmp_path / "texts.txt"
    texts.write_text("a\nb\n")
    result = cli("embed", "--file", texts, "--dry-run")
    assert result.code == 2 and "OPENAI_SKILL_EMBEDDING_MODEL: gpt-4o-mini-2024-07-18 was shut down" in result.err
    assert skill.invoke("create-embedding", {"input": "x", "model": "text-embedding-3-large"}, dry_run=True)
