"""Installed as users install it: a regular (non-editable) install carries skill.yaml and
the schemas, and the installed `openai-skill` works from a folder that is not the repo; and
the test run refuses an installed copy that is not this checkout's code (support/install_guard.py)."""

import json
import os
import shutil
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
from support.openai_data import MODEL_IDS, MODELS
from openai_skill.manifest import bundle_from_sources
from support import REPO, install_guard


def _installed_copy(folder: Path) -> Path:
    """What a wheel of this checkout installs, laid out by hand in `folder`: the package's .py
    files, skill.yaml, prices.yaml, SKILL.md and schemas/ inside it, and the generated _bundle.json."""
    package = REPO / "skill" / "openai_skill"
    copy = folder / "site-packages" / "openai_skill"
    for source in package.rglob("*.py"):
        if "__pycache__" not in source.parts:
            target = copy / source.relative_to(package)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    shutil.copyfile(REPO / "skill.yaml", copy / "skill.yaml")
    shutil.copyfile(REPO / "prices.yaml", copy / "prices.yaml")
    shutil.copyfile(REPO / "SKILL.md", copy / "SKILL.md")
    shutil.copytree(REPO / "schemas", copy / "schemas")
    (copy / "_bundle.json").write_text(json.dumps(bundle_from_sources(REPO)))
    return copy


def test_the_guard_accepts_the_checkout_itself_and_an_exact_copy(tmp_path):
    # a development install (pip install -e): the imported package is the checkout's folder
    assert install_guard.problem(REPO / "skill" / "openai_skill") is None
    # a regular install of this very checkout (what CI installs): an identical copy
    assert install_guard.differences(_installed_copy(tmp_path)) == []


def test_the_guard_refuses_a_stale_bundle_left_in_a_development_checkout(tmp_path):
    repo = tmp_path / "checkout"  # a copy of the checkout, installed in development mode
    shutil.copytree(REPO / "skill" / "openai_skill", repo / "skill" / "openai_skill",
                    ignore=shutil.ignore_patterns("__pycache__", "_bundle.json"))
    for name in ("skill.yaml", "prices.yaml", "SKILL.md"):
        shutil.copyfile(REPO / name, repo / name)
    shutil.copytree(REPO / "schemas", repo / "schemas")
    package = repo / "skill" / "openai_skill"
    assert install_guard.differences(package, repo) == []
    old = bundle_from_sources(repo)
    (package / "_bundle.json").write_text(json.dumps(old))  # what an old build left: harmless while fresh
    assert install_guard.differences(package, repo) == []
    (repo / "skill.yaml").write_text((repo / "skill.yaml").read_text().replace("version: 0.1.0", "version: 0.2.0"))
    assert install_guard.differences(package, repo) == [
        "_bundle.json: an old build left a stale one in the checkout's package folder (it is read instead of "
        "skill.yaml): delete it"]


def test_the_guard_refuses_an_installed_copy_that_is_not_this_checkout(tmp_path):
    copy = _installed_copy(tmp_path)
    (copy / "retry.py").write_text((copy / "retry.py").read_text() + "\nPLANTED = True\n")  # an old build
    (copy / "schemas" / "list-models.input.json").unlink()
    (copy / "transport" / "files.py").write_text("# a module since renamed in the checkout\n")
    bundle = json.loads((copy / "_bundle.json").read_text())
    bundle["manifest"]["version"] = "0.0.1"
    (copy / "_bundle.json").write_text(json.dumps(bundle))
    assert install_guard.differences(copy) == [
        "retry.py: differs",
        "schemas/list-models.input.json: in the checkout, not in the installed copy",
        "transport/files.py: in the installed copy only (gone from the checkout)",
        "_bundle.json: not made from this checkout's skill.yaml, prices.yaml and schemas/",
    ]
    message = install_guard.problem(copy)
    assert message.startswith("the tests would run an installed openai_skill that is not this checkout's code")
    assert f"installed: {copy}" in message and "pip install -e '.[test]'" in message


def test_a_stale_install_stops_the_run_before_any_test(tmp_path):
    """End to end: pytest, with a stale copy of the package first on its path, refuses to start;
    with OPENAI_SKILL_MUTATING=1 (tools/mutate.py's runs) it runs."""
    copy = _installed_copy(tmp_path)
    (copy / "errors.py").write_text((copy / "errors.py").read_text() + "\nPLANTED = True\n")
    env = {**os.environ, "PYTHONPATH": str(copy.parent)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_retry.py"]
    refused = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout[-2000:]
    assert "errors.py: differs" in refused.stderr and "passed" not in refused.stdout + refused.stderr
    env[install_guard.MUTATING] = "1"
    allowed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert allowed.returncode == 0 and " passed" in allowed.stdout, allowed.stdout[-2000:]


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
    # the bundle is skill.yaml, every schema file and the price table, as the files hold them
    assert bundle["manifest"] == yaml.safe_load((REPO / "skill.yaml").read_text(encoding="utf-8"))
    assert bundle["schemas"] == {f"schemas/{p.name}": json.loads(p.read_text(encoding="utf-8"))
                                 for p in (REPO / "schemas").glob("*.json")}
    assert bundle["prices"] == yaml.safe_load((REPO / "prices.yaml").read_text(encoding="utf-8"))
    # The price table reaches the installed package: in the bundle the code reads, and beside skill.yaml.
    assert "openai_skill/prices.yaml" in names and bundle["prices"]["as_of"] and bundle["prices"]["chat"]
    assert "openai-skill = openai_skill._cli_entry:main" in entry_points   # Ctrl-C handled before the CLI loads


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
    assert [m["id"] for m in json.loads(result.out)["models"]] == MODEL_IDS
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
