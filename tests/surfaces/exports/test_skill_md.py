"""SKILL.md: generated from skill.yaml and the schemas, valid for OpenClaw and for the Agent
Skills specification (checked by the real `skills-ref validate`), and its commands really work."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.agent_clients import agent_tool
from support.canary import CANARY_KEY
from contract.spec import load_fixture
from openai_skill import errors
from openai_skill.manifest import load_manifest
from openai_skill.surfaces.exports.skill_md import EXIT_ADVICE, MAX_DESCRIPTION, render
from support import REPO

SKILL_MD = REPO / "SKILL.md"
SPEC_TOP_LEVEL = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}


def _frontmatter(text: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "SKILL.md must start with a --- frontmatter block"
    return yaml.safe_load(match.group(1))


def test_committed_skill_md_is_what_the_generator_makes():
    assert SKILL_MD.read_text(encoding="utf-8") == render(), "run `openai-skill skill-md --write`"


def test_skill_md_command_writes_and_checks(cli, tmp_path):
    committed = SKILL_MD.read_text(encoding="utf-8")  # the reviewed file (kept fresh by the test above)
    out = tmp_path / "SKILL.md"
    assert cli("skill-md", "--write", out).code == 0
    assert out.read_text(encoding="utf-8") == committed
    assert cli("skill-md", "--check", out).code == 0
    out.write_text(committed.replace("# OpenAI", "# OpenAI (edited by hand)"), encoding="utf-8")
    result = cli("skill-md", "--check", out)
    assert result.code == 2 and "skill-md --write" in result.err
    printed = cli("skill-md")
    assert printed.code == 0 and printed.out == committed


def test_the_installed_package_carries_skill_md():
    from openai_skill.manifest import source_root

    # In a wheel, beside skill.yaml inside the package; in a development install, the checkout's.
    assert (source_root() / "SKILL.md").read_text(encoding="utf-8") == SKILL_MD.read_text(encoding="utf-8")


def test_frontmatter_is_valid_for_the_spec_and_for_openclaw():
    meta = _frontmatter(render())
    manifest = load_manifest()
    assert set(meta) <= SPEC_TOP_LEVEL  # skills-ref rejects any other top-level key
    assert meta["name"] == manifest.name == "openai"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", meta["name"]) and len(meta["name"]) <= 64
    assert "\n" not in meta["description"] and 0 < len(meta["description"]) < MAX_DESCRIPTION
    claw = meta["metadata"]["openclaw"]
    assert claw["requires"] == {"bins": ["openai-skill"]}  # gated on the command only, never on the key
    assert claw["primaryEnv"] == manifest.credential["env"] == "OPENAI_API_KEY"
    assert claw["emoji"]
    assert claw["install"] == [{"id": "uv", "kind": "uv", "package": "openai-skill", "bins": ["openai-skill"],
                                "label": "Install openai-skill (uv)"}]
    declared = {v["name"]: v for v in claw["envVars"]}
    assert list(declared) == list(manifest.raw["environment"])
    assert all(v["required"] is False and v["description"] for v in declared.values())


def test_every_environment_variable_the_code_reads_is_declared():
    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "skill").rglob("*.py"))
    read = set(re.findall(r'"(OPENAI_[A-Z_]+)"', code))
    assert read, "no environment variables found: the pattern is stale"
    declared = set(load_manifest().raw["environment"])
    assert read - declared == set(), "declare them under `environment:` in skill.yaml"
    # and nothing declared that the code no longer reads (the key's name comes from skill.yaml)
    # the key's variable and the default-model settings are named in skill.yaml, read through it
    through_data = {load_manifest().credential["env"], *(d["setting"] for d in load_manifest().defaults.values())}
    unread = {n for n in declared if f'"{n}"' not in code} - through_data
    assert unread == set()


def test_no_key_shaped_text_for_scanners():
    text = render()
    assert not re.search(r"sk-[A-Za-z0-9_-]{6,}", text)
    assert len(text.splitlines()) < 500


def test_every_action_has_its_exact_command_and_every_exit_code_its_advice():
    text = render()
    for action in load_manifest().actions.values():
        assert f"openai-skill run {action.id} <<'JSON'\n" in text
        assert f"`openai-skill schema {action.id}`" in text
    used = {cls.exit_code for cls in vars(errors).values()
            if isinstance(cls, type) and issubclass(cls, errors.SkillError) and cls is not errors.SkillError}
    assert set(EXIT_ADVICE) == used | {errors.EXIT_OK}
    for code in EXIT_ADVICE:
        assert re.search(rf"^\| {code} \|", text, re.MULTILINE)


def _commands(text: str) -> dict:
    """action id -> the shell block SKILL.md gives for it."""
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return {re.search(r"run (\S+)", b).group(1): b for b in blocks}


REPLIES = {
    "chat-completion": ("POST", "/chat/completions", "chat-completion.json"),
    "generate-image": ("POST", "/images/generations", "images-gpt-image-1-b64.json"),
    "list-models": ("GET", "/models", "models-list.json"),
    "create-embedding": ("POST", "/embeddings", "embeddings-float.json"),
}


@pytest.mark.parametrize("action", list(REPLIES))
def test_the_commands_skill_md_gives_work_as_written(action, openai, key, tmp_path):
    import json

    method, path, fixture = REPLIES[action]
    openai.reply(method, path, load_fixture(fixture))
    block = _commands(render())[action]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["sh", "-c", block], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["request_id"] == f"req_200_{path.strip('/')}"
    if action == "generate-image":
        saved = Path(result["images"][0]["path"])
        assert saved.parent == tmp_path / "openai-images" and saved.read_bytes().startswith(b"\x89PNG")
    assert CANARY_KEY not in proc.stdout + proc.stderr


def _skill_folder(tmp_path, text: str) -> Path:
    folder = tmp_path / "openai"  # skills-ref requires the folder's name to equal `name:`
    folder.mkdir()
    (folder / "SKILL.md").write_text(text, encoding="utf-8")
    return folder


def test_skills_ref_validate_passes(tmp_path):
    skills_ref = agent_tool("skills-ref")
    folder = _skill_folder(tmp_path, SKILL_MD.read_text(encoding="utf-8"))
    proc = subprocess.run([skills_ref, "validate", str(folder)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Valid skill: {folder}" in proc.stdout


def test_skills_ref_really_checks(tmp_path):
    """The validator is not a rubber stamp: an OpenClaw-only key at the top level fails."""
    skills_ref = agent_tool("skills-ref")
    text = render().replace("metadata:\n", "homepage: https://example.invalid\nmetadata:\n", 1)
    folder = _skill_folder(tmp_path, text)
    proc = subprocess.run([skills_ref, "validate", str(folder)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Unexpected fields in frontmatter: homepage" in proc.stdout + proc.stderr
    shutil.rmtree(folder)
