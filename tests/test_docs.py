"""The README is driven by the same sources as the code: it fails here when an action, a
command, an environment variable or an exit code is added without being documented."""

import re
from pathlib import Path

from openai_skill import errors
from openai_skill.surfaces.cli import build_parser
from openai_skill.manifest import load_manifest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_action_and_mcp_tool_is_documented():
    for action in load_manifest().actions.values():
        assert action.id in README and action.mcp_tool in README


def _subcommands(parser) -> dict:
    return next((a.choices for a in parser._actions if isinstance(a.choices, dict)), {})


def test_every_command_is_documented():
    for name, sub in _subcommands(build_parser()).items():
        assert f"`{name}" in README, name
        for child in _subcommands(sub):
            assert f"`{name} {child}" in README, f"{name} {child}"


def test_every_environment_variable_the_code_reads_is_documented():
    names = set()
    for path in (REPO / "skill").rglob("*.py"):
        names |= set(re.findall(r'"(OPENAI_[A-Z_]+)"', path.read_text(encoding="utf-8")))
    assert names, "no environment variables found: the pattern is stale"
    missing = sorted(name for name in names if name not in README)
    assert not missing


def test_exit_code_table_matches_the_code():
    documented = {int(code) for code in re.findall(r"^\| ([0-9]) \|", README, re.MULTILINE)}
    used = {errors.EXIT_OK, errors.EXIT_USAGE, errors.EXIT_CREDENTIALS, errors.EXIT_API, errors.EXIT_NETWORK}
    used |= {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.SkillError) and cls is not errors.SkillError}
    assert documented == used
