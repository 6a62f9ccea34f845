"""tools/mutate.py stays usable as the code moves: every group still names modules that exist,
operator mutants really change the code, and a curated bug whose text is gone is reported."""

import ast
import fnmatch
import importlib.util
import sys

import pytest
from support import REPO



@pytest.fixture(scope="module")
def mutate():
    spec = importlib.util.spec_from_file_location("mutate_tool", REPO / "tools" / "mutate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_every_group_names_existing_modules_and_tests(mutate):
    texts, groups = mutate.core_modules(None)
    assert set(groups.values()) == set(mutate.GROUPS)
    modules = [p.relative_to(mutate.SOURCE).as_posix() for p in mutate.SOURCE.rglob("*.py")]
    for group, (globs, tests) in mutate.GROUPS.items():
        assert [g for g in globs if not fnmatch.filter(modules, g)] == [], f"{group}: a module glob matches nothing"
        assert [t for t in tests if not (mutate.TESTS / t).is_file()] == [], f"{group}: a mapped test file is gone"
        first, rest = mutate.test_files(group)
        assert first and rest and not set(first) & set(rest)
    assert [t for t in mutate.SLOW_TESTS if not (mutate.TESTS / t).is_file()] == []
    # the second stage runs the rest of the tree, subfolders included, but neither the slow files nor helpers
    first, rest = mutate.test_files("retry")
    assert "tests/transport/test_sizes.py" in rest and "tests/jobs/bulk/test_bulk.py" not in rest
    assert not [f for f in first + rest if "/support/" in f]


def test_every_curated_mutant_still_matches_the_code(mutate):
    texts, groups = mutate.core_modules(None)
    stale = [f"{m.id}: {m.what}" for m in mutate.curated_mutants(texts, groups) if m.status == "stale"]
    assert stale == []


def test_test_runs_turn_the_stale_install_guard_off(mutate):
    """The runs it starts test a copy it changed on purpose: tests/conftest.py must not refuse them."""
    from support import install_guard

    assert mutate.MUTATING == install_guard.MUTATING
    assert mutate._test_env()[install_guard.MUTATING] == "1"
    assert install_guard.session_problem({install_guard.MUTATING: "1"}) is None


def test_operator_mutants_change_the_code_and_stay_valid_python(mutate):
    source = ('"""doc"""\n'
              'LIMIT = 8\n'
              'def keep(x, items):\n'
              '    """doc"""\n'
              '    if x >= LIMIT and not items:\n'
              '        raise ValueError(x)\n'
              '    return min(x, 2) + 1\n')
    found = mutate.operator_mutants("m.py", "g", source)
    kinds = [m.what for m in found]
    assert kinds == ["8 -> 9", ">= -> >", "drop `not`", "and -> or", "raise -> pass", "2 -> 3", "min -> max",
                     "1 -> 2", "+ -> -", "return None"]
    baseline = ast.dump(ast.parse(source))
    for index in range(len(found)):
        mutated = mutate.operator_source("m.py", source, index)
        assert ast.dump(ast.parse(mutated)) != baseline


def test_pragma_no_mutate_and_log_calls_are_left_alone(mutate):
    source = "def f(log):\n    log.debug('x')\n    return 1  # pragma: no mutate\n"
    assert mutate.operator_mutants("m.py", "g", source) == []


def test_curated_mutants_that_no_longer_match_are_stale(mutate, monkeypatch):
    monkeypatch.setattr(mutate, "CURATED", [("a.py", "present()", "absent()", "x"), ("a.py", "gone()", "", "y"),
                                            ("moved/away.py", "x", "y", "z"), ("retry.py", "x", "y", "not selected")])
    fresh, stale, gone = mutate.curated_mutants({"a.py": "present()\n"}, {"a.py": "g"})
    assert fresh.source == "absent()\n" and not fresh.status
    assert stale.status == "stale"
    assert gone.status == "stale" and "the module is gone" in gone.what  # retry.py exists: only not selected
