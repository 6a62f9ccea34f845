"""Installed as users install it: a regular (non-editable) install carries skill.yaml and
the schemas, and the installed `openai-skill` works from a folder that is not the repo."""

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the test extra installs tomli
    import tomli as tomllib

import openai_skill as skill
from support.canary import CANARY_KEY
from support.openai_data import MODELS
from support import REPO



def test_tests_run_against_the_installed_package_not_the_checkout():
    installed = Path(skill.__file__).resolve().parent
    if installed == REPO / "skill" / "openai_skill":
        # A development install (`pip install -e`, docs/CONTRIBUTING.md) is the checkout by
        # design. CI installs the wheel (tests/test_ci.py pins its command to
        # `pip install '.[test]'`), and there this test runs in full.
        pytest.skip("development install (pip install -e): CI checks the installed wheel")
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
    # the bundle is skill.yaml and every schema file, as the files hold them
    assert bundle["manifest"] == yaml.safe_load((REPO / "skill.yaml").read_text(encoding="utf-8"))
    assert bundle["schemas"] == {f"schemas/{p.name}": json.loads(p.read_text(encoding="utf-8"))
                                 for p in (REPO / "schemas").glob("*.json")}
    assert "openai-skill = openai_skill.surfaces.cli:main" in entry_points


def test_wheel_ships_the_py_typed_marker(wheel):
    # PEP 561: type checkers read an installed package's annotations only when it has this
    # (empty) marker; without it, a user's mypy sees openai_skill as untyped.
    with zipfile.ZipFile(wheel) as zf:
        assert "openai_skill/py.typed" in zf.namelist()


def test_installed_command_from_another_folder(openai, installed_cli, tmp_path):
    openai.reply("GET", "/models", MODELS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": openai.url}
    result = installed_cli("models", env=env, cwd=elsewhere)
    assert result.code == 0, result.err
    assert [m["id"] for m in json.loads(result.out)["models"]] == ["dall-e-3", "gpt-4o-mini", "text-embedding-3-small"]
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


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    proc = subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = out.glob("openai_skill-*.tar.gz")
    return built


def _sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as tf:
        # Every member sits under openai_skill-VERSION/; compare repository-relative paths.
        return {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}


def test_sdist_include_lists_only_paths_that_exist():
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["sdist"][
        "include"]
    assert [path for path in include if not (REPO / path).exists()] == []


def test_sdist_carries_what_users_need(sdist):
    names = _sdist_names(sdist)
    tracked = subprocess.run(["git", "ls-files", "skill", "schemas", "tests"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    # Outside a git checkout (an unpacked sdist), compare with the tree instead.
    tracked = tracked or [str(p.relative_to(REPO)) for root in ("skill", "schemas", "tests")
                          for p in (REPO / root).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    expected = {"pyproject.toml", "README.md", "LICENSE", "skill.yaml", *tracked}
    if (REPO / "SKILL.md").exists():
        expected.add("SKILL.md")
    assert sorted(expected - names) == []
    assert "skill/openai_skill/secrets/VAULT-FORMAT.md" in names and "tests/contract/openai-spec-subset.json" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith((".venv/", "build/", ".pytest_cache/"))]
    with tarfile.open(sdist) as tf:
        license_text = tf.extractfile(next(m for m in tf.getmembers() if m.name.endswith("/LICENSE"))).read()
    assert license_text.startswith(b"MIT License\n\nCopyright (c) 2026 openai-skill contributors\n")


def test_a_wheel_built_from_the_sdist_matches_the_one_built_from_the_repo(sdist, wheel, tmp_path):
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.glob("openai_skill-*")
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(unpacked)],
                   check=True, capture_output=True, timeout=300)
    (from_sdist,) = out.glob("openai_skill-*.whl")
    with zipfile.ZipFile(from_sdist) as a, zipfile.ZipFile(wheel) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        assert a.read("openai_skill/_bundle.json") == b.read("openai_skill/_bundle.json")


def test_metadata_declares_the_license_and_urls(wheel):
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        names = zf.namelist()
    assert "License-Expression: MIT" in metadata
    assert "Project-URL: OpenAI API reference, https://platform.openai.com/docs/api-reference" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
