"""Installed as users install it: a regular (non-editable) install carries skill.yaml and
the schemas, and the installed `openai-skill` works from a folder that is not the repo."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import openai_skill as skill
from conftest import CANARY_KEY
from openai_skill.manifest import bundle_from_sources

REPO = Path(__file__).resolve().parent.parent
MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "system"}]}


def test_tests_run_against_the_installed_package_not_the_checkout():
    installed = Path(skill.__file__).resolve().parent
    assert installed != REPO / "skill", "install with `pip install .` (not -e) so tests see what users get"
    assert (installed / "skill.yaml").is_file() and (installed / "_bundle.json").is_file()
    assert sorted(p.name for p in (installed / "schemas").glob("*.json")) == sorted(
        p.name for p in (REPO / "schemas").glob("*.json"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("openai_skill-*.whl")
    return built


def test_wheel_carries_manifest_schemas_and_bundle(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        bundle = json.loads(zf.read("openai_skill/_bundle.json"))
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "openai_skill/skill.yaml" in names and "openai_skill/SKILL.md" in names
    assert {f"openai_skill/schemas/{p.name}" for p in (REPO / "schemas").glob("*.json")} <= names
    assert "openai_skill/_build_hook.py" not in names
    # The import name is openai_skill only: no top-level `skill` package to collide with PyPI's `skill`.
    assert {n.split("/")[0] for n in names if not n.startswith("openai_skill-")} == {"openai_skill"}
    assert not any(n.startswith(("tests/", "schemas/")) or n == "skill.yaml" for n in names)
    assert bundle == bundle_from_sources(REPO)
    assert "openai-skill = openai_skill.surfaces.cli:main" in entry_points


def test_installed_command_from_another_folder(openai, installed_cli, tmp_path):
    openai.reply("GET", "/models", MODELS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": openai.server.url_for("/v1")}
    result = installed_cli("models", env=env, cwd=elsewhere)
    assert result.code == 0, result.err
    assert json.loads(result.out)["models"][0]["id"] == "gpt-4o-mini"
    assert CANARY_KEY not in result.out + result.err
    assert openai.requests[0].headers["Authorization"] == f"Bearer {CANARY_KEY}"


def test_python_dash_m_and_version(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "openai_skill", "--version"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"openai-skill {skill.__version__}"
    # and no `skill` package is importable from outside the checkout
    proc = subprocess.run([sys.executable, "-c", "import skill"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 1 and "No module named 'skill'" in proc.stderr


def test_installed_dry_run_needs_no_key_and_no_network(installed_cli, tmp_path):
    result = installed_cli("run", "list-models", "--dry-run", cwd=tmp_path)
    assert result.code == 0
    assert json.loads(result.out)["request"]["url"] == "https://api.openai.com/v1/models"
