"""The tests must run the code of this checkout. A development install (`pip install -e
'.[test]'`) is the checkout itself; a regular install (CI installs the built wheel) is a copy,
and a copy left from an older checkout would make the suite pass or fail on code that is no
longer there. tests/conftest.py calls `session_problem()` when the session starts and stops
the run, naming the files, if the imported openai_skill is such a stale copy.

tools/mutate.py plants bugs in the installed copy on purpose: it sets OPENAI_SKILL_MUTATING=1
for the test runs it starts, which turns this guard off."""

from __future__ import annotations

import json
import os
from pathlib import Path

from support import REPO

MUTATING = "OPENAI_SKILL_MUTATING"
CHECKOUT_PACKAGE = REPO / "skill" / "openai_skill"
SHOWN = 12  # differing files named in the message; the count says how many more
FIX = ("pip install -e '.[test]'  (a development install: the tests then see every edit), or, to test "
       "a regular install, pip install --force-reinstall --no-deps .  (a fresh copy of this checkout)")


def _files(root: Path) -> set[str]:
    """The paths, relative to `root`, of what the wheel copies from the checkout: the package's
    .py files, skill.yaml, prices.yaml, SKILL.md and schemas/*.json (the wheel carries all but
    the first inside the package)."""
    found = {p.relative_to(root).as_posix() for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    found |= {f"schemas/{p.name}" for p in (root / "schemas").glob("*.json")}
    found |= {name for name in ("skill.yaml", "prices.yaml", "SKILL.md") if (root / name).is_file()}
    return found


def differences(installed: Path, repo: Path = REPO) -> list[str]:
    """How the installed package folder differs from the checkout `repo`, one line a file
    (empty when it is the checkout itself, or an exact copy of it)."""
    package = repo / "skill" / "openai_skill"
    if installed.resolve() == package.resolve():
        # A development install: the checkout itself. Only a _bundle.json left in it by an old
        # build could make it run other data: load_manifest() prefers one to skill.yaml.
        if (package / "_bundle.json").is_file() and _stale_bundle(package, repo):
            return ["_bundle.json: an old build left a stale one in the checkout's package folder "
                    "(it is read instead of skill.yaml): delete it"]
        return []
    expected = {rel: package / rel for rel in _files(package) if rel.endswith(".py")}
    expected["skill.yaml"] = repo / "skill.yaml"
    expected["prices.yaml"] = repo / "prices.yaml"
    expected["SKILL.md"] = repo / "SKILL.md"
    expected.update({f"schemas/{p.name}": p for p in (repo / "schemas").glob("*.json")})
    present = _files(installed)
    lines = []
    for rel in sorted(expected.keys() | present):
        if rel not in present:
            lines.append(f"{rel}: in the checkout, not in the installed copy")
        elif rel not in expected:
            lines.append(f"{rel}: in the installed copy only (gone from the checkout)")
        elif (installed / rel).read_bytes() != expected[rel].read_bytes():
            lines.append(f"{rel}: differs")
    lines += _bundle_differences(installed, repo)
    return lines


def _bundle_differences(installed: Path, repo: Path) -> list[str]:
    """The wheel's _bundle.json (skill.yaml and the schemas as one document, made by
    tools/build_hook.py) is what the installed package reads: it must hold today's files."""
    if not (installed / "_bundle.json").is_file():
        return ["_bundle.json: missing from the installed copy (the wheel build makes it)"]
    if _stale_bundle(installed, repo):
        return ["_bundle.json: not made from this checkout's skill.yaml, prices.yaml and schemas/"]
    return []


def _stale_bundle(folder: Path, repo: Path) -> bool:
    from openai_skill.manifest import bundle_from_sources

    return json.loads((folder / "_bundle.json").read_text(encoding="utf-8")) != bundle_from_sources(repo)


def problem(installed: Path, repo: Path = REPO) -> str | None:
    """The message that stops the test run, or None when `installed` is this checkout's code."""
    found = differences(installed, repo)
    if not found:
        return None
    listing = "\n".join(f"  - {line}" for line in found[:SHOWN])
    more = f"\n  ... and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return (f"the tests would run an installed openai_skill that is not this checkout's code:\n"
            f"  installed: {installed}\n  checkout:  {repo}\n{listing}{more}\n"
            f"Fix: {FIX}.")


def session_problem(env=os.environ) -> str | None:
    """The guard for the imported package, off while tools/mutate.py runs the tests."""
    if env.get(MUTATING) == "1":
        return None
    import openai_skill

    return problem(Path(openai_skill.__file__).resolve().parent)
