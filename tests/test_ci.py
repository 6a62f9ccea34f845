"""`.ci/run` is what CI runs on a clean clone: it must stay in step with the README's test
command, build its environment fresh every run, and make checks that need outside files fail
rather than skip."""

import re
import shlex

import pytest

from support.ci import need_beside_repo
from support import REPO

CI_RUN = REPO / ".ci" / "run"


def readme_test_command() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    intro = readme.split("Install the test dependencies and run the tests", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", intro).group(1)


def ci_commands() -> list[str]:
    """The lines .ci/run executes (comments and blank lines dropped)."""
    lines = (line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_ci_runs_the_readmes_test_command_word_for_word_and_last():
    command = readme_test_command()
    assert command == "pip install '.[test]' && pytest"
    assert ci_commands()[-1] == command


def test_ci_builds_its_virtual_environment_in_a_fresh_temporary_folder():
    commands = ci_commands()
    venv_lines = [line for line in commands if re.search(r"-m venv\b", line)]
    assert len(venv_lines) == 1
    (target,) = [word for word in shlex.split(venv_lines[0]) if word.startswith("$")]
    variable = target.strip('"${}')
    made = [line for line in commands if line.startswith(f"{variable}=")]
    assert made and "mktemp -d" in made[0], "the venv folder must be new each run (mktemp -d)"
    assert not any(".venv" in line for line in commands), "never reuse the README's .venv"
    assert any(line.startswith("trap ") and f"${variable}" in line for line in commands), "remove it afterwards"
    activate = commands.index(next(line for line in commands if "/bin/activate" in line))
    assert commands.index(venv_lines[0]) < activate < len(commands) - 1


def test_ci_treats_itself_as_ci_and_stops_on_the_first_failure():
    commands = ci_commands()
    assert commands[0] == "set -euo pipefail"
    assert any(line.startswith('export CI="${CI:-true}"') for line in commands)
    assert CI_RUN.stat().st_mode & 0o111, ".ci/run must be executable"


def test_a_missing_file_beside_the_repo_skips_on_a_clone_but_fails_in_ci(tmp_path, monkeypatch):
    missing = tmp_path / "shared" / "nothing.txt"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nothing.txt"):
        need_beside_repo(missing, "a file")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        need_beside_repo(missing, "a file")
    missing.parent.mkdir()
    missing.write_text("here")
    assert need_beside_repo(missing, "a file") == missing
