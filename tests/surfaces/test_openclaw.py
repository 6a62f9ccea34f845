"""The real OpenClaw 2026.9.6 CLI, under a temporary HOME: the skill installs and is eligible
once `openai-skill` is on PATH; docs/agents.md's openclaw.json makes `secrets audit --allow-exec`
clean with a vault in key-file and in passphrase mode; `mcp add` probes and saves the server
and `mcp probe` lists the four tools, setup_integration and openai_usage."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.agent_clients import agent_tool
from support.canary import CANARY_KEY
from support import REPO

AGENTS_DOC = (REPO / "docs" / "agents.md").read_text(encoding="utf-8")  # the openclaw.json users copy
TOOLS = ["openai__openai_chat_completion", "openai__openai_generate_image", "openai__openai_list_models",
         "openai__openai_create_embedding", "openai__setup_integration", "openai__openai_usage"]
PASSPHRASE = "fake-canary-passphrase-for-tests"

pytestmark = pytest.mark.timeout(300)  # each openclaw command starts Node (2-10 s on 2 cores)


def _installed_exe() -> str:
    """The absolute, non-symlink path OpenClaw requires for exec providers and MCP servers."""
    return os.path.realpath(Path(sys.executable).parent / "openai-skill")


@pytest.fixture
def openclaw(isolated):
    """openclaw(*args, with_skill_on_path=True, env=None) -> CompletedProcess, with HOME = the test's home."""
    exe = agent_tool("openclaw")

    def run(*args, with_skill_on_path=True, env=None, check_json=False):
        path = [str(Path(_installed_exe()).parent)] if with_skill_on_path else []
        full_env = {"HOME": os.environ["HOME"], "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
                    "PATH": os.pathsep.join(path + ["/usr/bin", "/bin"]), "NO_COLOR": "1", **(env or {})}
        proc = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, env=full_env,
                              cwd=isolated / "work", timeout=240)
        assert CANARY_KEY not in proc.stdout + proc.stderr
        return proc

    return run


def _clean_copy(target: Path) -> Path:
    """The repository's tracked files (what a fresh clone has): `skills install` copies the whole
    folder it is given, and a working tree carries .venv, caches and build output."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, timeout=60)
    names = [n for n in listed.stdout.decode().split("\0") if n] if listed.returncode == 0 else ["SKILL.md"]
    for name in names:
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_skill_installs_and_is_eligible_only_with_the_command_on_path(openclaw, tmp_path):
    repo = _clean_copy(tmp_path / "openai-skill-repo")
    installed = openclaw("skills", "install", repo, "--as", "openai")
    assert installed.returncode == 0, installed.stderr
    assert "Installed openai from path" in installed.stdout

    missing = json.loads(openclaw("skills", "info", "openai", "--json", with_skill_on_path=False).stdout)
    assert missing["eligible"] is False and missing["modelVisible"] is False
    assert missing["missing"]["bins"] == ["openai-skill"] and missing["missing"]["env"] == []

    ready = json.loads(openclaw("skills", "info", "openai", "--json").stdout)
    assert ready["eligible"] is True and ready["modelVisible"] is True
    assert ready["missing"] == {"bins": [], "anyBins": [], "env": [], "config": [], "os": []}
    assert ready["primaryEnv"] == "OPENAI_API_KEY"  # what lets skills.entries.openai.apiKey reach the skill
    assert ready["description"] == re.search(r'^description: "(.*)"$', (REPO / "SKILL.md").read_text(),
                                             re.MULTILINE).group(1)
    assert Path(ready["filePath"]).read_text() == (REPO / "SKILL.md").read_text()


def _documented_openclaw_json(command: str, drop_pass_env: bool = False) -> str:
    block = re.search(r"<!-- openclaw.json -->\n```json\n(.*?)```", AGENTS_DOC, re.DOTALL).group(1)
    config = json.loads(block)
    provider = config["secrets"]["providers"]["openai-skill"]
    assert provider["command"] == "/absolute/path/to/openai-skill"
    provider["command"] = command
    if drop_pass_env:
        del provider["passEnv"]
    return json.dumps(config, indent=2)


def _write_config(text: str) -> None:
    folder = Path(os.environ["HOME"]) / ".openclaw"
    folder.mkdir(exist_ok=True)
    (folder / "openclaw.json").write_text(text)


def _audit(openclaw, *flags, env=None) -> tuple[int, dict]:
    proc = openclaw("secrets", "audit", *flags, "--json", env=env)
    return proc.returncode, json.loads(proc.stdout)


def test_secrets_audit_is_clean_with_the_documented_config_and_a_key_file_vault(openclaw, installed_cli):
    assert installed_cli("setup", stdin=CANARY_KEY).code == 0
    _write_config(_documented_openclaw_json(_installed_exe()))

    code, report = _audit(openclaw, "--allow-exec")
    assert code == 0 and report["status"] == "clean", report
    assert report["resolution"] == {"refsChecked": 1, "skippedExecRefs": 0, "resolvabilityComplete": True}

    # Without --allow-exec the exec ref is skipped and "clean" proves nothing (docs/agents.md says so).
    code, skipped = _audit(openclaw)
    assert code == 0 and skipped["status"] == "clean" and skipped["resolution"]["skippedExecRefs"] == 1

    # And the reason for passEnv: OpenClaw starts the provider with an empty environment.
    _write_config(_documented_openclaw_json(_installed_exe(), drop_pass_env=True))
    code, report = _audit(openclaw, "--allow-exec")
    assert code != 0 and report["status"] == "unresolved"
    assert "NOT_FOUND" in report["findings"][0]["message"]


def test_secrets_audit_is_clean_with_a_passphrase_vault(openclaw, installed_cli):
    made = installed_cli("setup", "--passphrase", stdin=CANARY_KEY,
                         env={"OPENAI_SKILL_VAULT_PASSPHRASE": PASSPHRASE})
    assert made.code == 0 and json.loads(made.out)["master_key"] == "passphrase"
    _write_config(_documented_openclaw_json(_installed_exe()))

    code, report = _audit(openclaw, "--allow-exec", env={"OPENAI_SKILL_VAULT_PASSPHRASE": PASSPHRASE})
    assert code == 0 and report["status"] == "clean", report
    assert report["resolution"]["refsChecked"] == 1

    code, report = _audit(openclaw, "--allow-exec")  # the passphrase is not in OpenClaw's environment
    assert code != 0 and report["status"] == "unresolved"


def test_mcp_add_probes_and_saves_then_probe_lists_the_five_tools(openclaw):
    added = openclaw("mcp", "add", "openai", "--command", _installed_exe(), "--arg", "mcp")
    assert added.returncode == 0, added.stderr
    assert 'Saved MCP server "openai"' in added.stdout
    saved = json.loads((Path(os.environ["HOME"]) / ".openclaw" / "openclaw.json").read_text())
    assert saved["mcp"]["servers"]["openai"] == {"command": _installed_exe(), "args": ["mcp"]}

    probe = openclaw("mcp", "probe", "openai", "--json")
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert sorted(report["tools"]) == sorted(TOOLS)
    assert report["servers"]["openai"]["tools"] == len(TOOLS) and report["diagnostics"] == []
