"""tools/mutate.py stays usable as the code moves: every group still names modules that exist,
operator mutants really change the code, and a curated bug whose text is gone is reported."""

import ast
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
    for group in mutate.GROUPS:
        first, rest = mutate.test_files(group)
        assert first, f"{group}: none of its mapped test files exists"


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
    monkeypatch.setattr(mutate, "CURATED", [("a.py", "present()", "absent()", "x"), ("a.py", "gone()", "", "y")])
    fresh, stale = mutate.curated_mutants({"a.py": "present()\n"}, {"a.py": "g"})
    assert fresh.source == "absent()\n" and not fresh.status
    assert stale.status == "stale"
