"""The tree is the architecture: imports go one way (import-linter's contracts in
pyproject.toml), no module imports another that imports it back, and modules stay small."""

import os
import subprocess
import sys

import grimp
from support import REPO

MAX_MODULE_LINES = 400


def test_import_linter_contracts_hold_on_the_installed_package():
    # Through this interpreter (not whatever `lint-imports` PATH finds): the package it sees.
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    proc = subprocess.run([sys.executable, "-c", code, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def _cycles(graph) -> list[list[str]]:
    """Every import cycle between modules (lazy imports inside functions included)."""
    found, state, stack = [], {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph.modules):
        if module not in state:
            visit(module)
    return found


def test_no_import_cycles():
    graph = grimp.build_graph("openai_skill", include_external_packages=False)
    # The package root is the lazy facade over everything; cycles through it are not layering.
    for module in list(graph.modules):
        if module == "openai_skill":
            graph.remove_module(module)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    class Graph:
        modules = {"a", "b", "c"}

        @staticmethod
        def find_modules_directly_imported_by(m):
            return {"a": {"b"}, "b": {"c"}, "c": {"a"}}[m]

    assert _cycles(Graph) == [["a", "b", "c", "a"]]


def test_no_module_is_too_long_to_read_in_one_sitting():
    long = {str(p.relative_to(REPO)): n for p in (REPO / "skill").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}
