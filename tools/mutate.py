#!/usr/bin/env python3
"""Mutation testing: plant one realistic bug at a time in the INSTALLED package, run the tests
that should notice, and report the bugs the suite misses, with a score per module.

It needs a regular (non-editable) install in a virtual environment of its own: a development
install (`pip install -e`) IS the checkout, and mutating it would edit your working files.

    python3 -m venv /tmp/venv-mutate && . /tmp/venv-mutate/bin/activate
    pip install '.[test]'                            # a copy of the checkout (again after each edit)
    python tools/mutate.py --list                   # the mutants, nothing run
    python tools/mutate.py                          # a fixed sample of each core module (+ curated)
    python tools/mutate.py --all --group redaction  # every mutant of one group
    python tools/mutate.py --id retry.py#12 --show  # one mutant, with pytest's output
    python tools/mutate.py --json mutation.json     # also write the results
    python tools/mutate.py --coverage cover.json    # first only the tests that run the line (pytest-cov)

Why not mutmut: mutmut 3 copies the source tree into `mutants/` and puts it first on sys.path,
but our tests import the installed `openai_skill` (the wheel maps the repo folder
`skill/openai_skill/` to that name) and many tests run the installed `openai-skill` command in
a subprocess. Neither sees `mutants/`. So this tool mutates the installed file itself (and
deletes its cached bytecode), which is exactly the code every test runs, in-process or not,
and restores it afterwards. The test runs it starts set OPENAI_SKILL_MUTATING=1: otherwise
tests/conftest.py would stop them, as it stops any run whose installed copy differs from the
checkout (tests/support/install_guard.py).

Mutants come from two sources:
  - operators, generated from the current code with `ast` (so the list never goes stale):
    comparisons (< <=, == !=, in / not in, is / is not), and/or, dropped `not`, numbers
    (n -> n+1, x -> 2x), True/False, `return X` -> `return None`, `raise` -> `pass`, a dropped
    call statement, + -, * /, min/max. Lines marked `# pragma: no mutate` are skipped.
  - CURATED: hand-written bugs that operators cannot express (a header name, a dropped
    rstrip, a missing fsync). One whose text or module is no longer in the code is reported
    STALE (tests/test_mutate_tool.py fails on one).

Each mutant runs the tests mapped to its group (GROUPS), stopping at the first failure; with
--confirm a survivor then runs the rest of the fast suite too (about a minute each). A mutant
that hangs past the time limit counts as killed. To use both cores, run two instances on
different --group sets, each from its own venv (each mutates its own installed copy). Not part
of `.ci/run`: a campaign takes tens of minutes.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "skill" / "openai_skill"
TESTS = REPO / "tests"
MUTATING = "OPENAI_SKILL_MUTATING"  # tests/support/install_guard.py: the guard is off while set to 1

# group -> (module globs under skill/openai_skill/, the tests that should catch its bugs, run
# first, as paths under tests/; the tree mirrors the package: tests/transport/ tests transport/)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "settings": (["config.py"],
                 ["test_settings.py", "test_docs.py", "transport/test_http.py", "actions/test_actions.py"]),
    "request building": (["transport/request.py"],
                         ["actions/test_actions.py", "input/test_model_rules.py", "transport/test_http.py",
                          "test_settings.py", "secrets/test_key_sources.py", "transport/test_request.py",
                          "test_edges.py", "test_readme_examples.py"]),
    "URL judge": (["urls.py"], ["test_urls.py", "secrets/test_vault_origins.py", "test_settings.py", "test_edges.py",
                                "transport/test_http.py", "test_fast_paths.py", "jobs/batch/test_batch_server_ids.py"]),
    "model rules": (["input/model_rules.py"], ["input/test_model_rules.py", "test_edges.py", "actions/test_actions.py",
                                               "input/test_validation.py"]),
    "validation and fast check": (["input/validation.py", "input/fast_check.py", "input/json_values.py"],
                                  ["input/test_validation.py", "input/test_fast_check.py", "input/test_json_values.py",
                                   "input/test_properties.py", "test_edges.py",
                                   "input/test_model_rules.py", "actions/test_actions.py"]),
    "redaction": (["redaction.py"], ["test_redaction.py", "test_edges.py", "surfaces/cli/test_failures.py",
                                     "transport/test_http.py", "secrets/test_key_sources.py",
                                     "surfaces/cli/test_vault_cli.py"]),
    "key sources": (["secret.py", "secrets/sources.py", "secrets/binding.py"],
                    ["secrets/test_key_sources.py", "test_client.py", "test_redaction.py",
                     "secrets/test_vault_origins.py", "surfaces/cli/test_vault_cli.py", "test_edges.py",
                     "transport/test_bound_key_tls.py", "transport/test_fork.py", "surfaces/mcp/test_mcp_parts.py"]),
    "client": (["client.py"], ["test_client.py", "transport/test_http.py", "jobs/test_spend_jobs.py",
                               "lifecycle/test_model_choice.py", "transport/test_cancel_switch.py", "test_edges.py",
                               "actions/test_actions.py", "test_robustness.py", "surfaces/cli/test_doctor.py",
                               "jobs/batch/test_batch.py"]),
    "keychain": (["secrets/keychain.py"], ["secrets/test_keychain.py", "surfaces/cli/test_keychain_cli.py",
                                           "transport/test_bound_key_tls.py", "test_fast_paths.py"]),
    "atomic write": (["atomic.py"], ["test_atomic.py", "secrets/test_vault_files.py", "spend/test_spend_guard.py",
                                     "secrets/test_vault_store.py", "secrets/test_keychain.py"]),
    "retry": (["retry.py"], ["test_retry.py", "transport/test_http.py", "test_settings.py"]),
    "HTTP client": (["transport/http.py", "transport/call.py", "transport/body.py", "transport/error_map.py",
                     "transport/sse.py", "transport/download.py", "transport/session.py", "transport/deadline.py",
                     "transport/file_transfer.py"],
                    ["transport/test_http.py", "test_edges.py", "test_settings.py", "surfaces/cli/test_failures.py",
                     "transport/test_sse.py", "surfaces/cli/test_streaming_cli.py", "actions/test_image_files.py",
                     "transport/test_sizes.py", "transport/test_session.py", "transport/test_deadline.py",
                     "transport/test_transport_failures.py", "test_docs.py"]),
    "result shaping": (["actions/*.py"], ["actions/test_actions.py", "test_edges.py", "actions/test_image_files.py",
                                          "transport/test_sse.py", "surfaces/cli/test_streaming_cli.py",
                                          "actions/test_reasoning_usage.py", "test_readme_examples.py"]),
    "lifecycle": (["lifecycle/*.py"], ["lifecycle/test_lifecycle_table.py", "lifecycle/test_model_choice.py",
                                       "lifecycle/test_learned_models.py", "input/test_model_rules.py",
                                       "surfaces/cli/test_doctor.py"]),
    "vault format": (["secrets/vault_format.py", "secrets/crypto.py", "secrets/names.py"],
                     ["secrets/test_vault_format.py", "secrets/test_vault_origins.py", "secrets/test_vault_store.py",
                      "surfaces/cli/test_vault_cli.py", "secrets/test_vault_properties.py", "test_edges.py"]),
    "vault store": (["secrets/store.py", "secrets/disk.py", "secrets/locking.py", "secrets/master_key.py",
                     "secrets/rotation.py", "secrets/rollback.py"],
                    ["secrets/test_vault_store.py", "surfaces/cli/test_vault_cli.py", "secrets/test_vault_files.py",
                     "secrets/test_vault_origins.py", "secrets/test_provider.py", "secrets/test_key_sources.py",
                     "secrets/test_vault_concurrency.py", "test_edges.py"]),
    # Before "spend guard", whose glob would take spend/usage.py first.
    "usage views": (["spend/usage.py", "surfaces/cli/usage.py", "surfaces/dashboard/usage_page.py",
                     "surfaces/mcp/openai_usage.py"],
                    ["spend/test_usage.py", "surfaces/cli/test_usage_cli.py", "surfaces/dashboard/test_usage_page.py",
                     "surfaces/mcp/test_openai_usage.py"]),
    "bulk checkpoint": (["jobs/bulk/checkpoint.py", "jobs/bulk/private_folder.py", "jobs/bulk/seal.py",
                         "jobs/bulk/run_lock.py"],
                        ["jobs/bulk/test_checkpoint_journal.py", "jobs/bulk/test_private_checkpoint.py",
                         "jobs/bulk/test_bulk_parts.py",
                         "jobs/bulk/test_one_run_per_output.py", "jobs/bulk/test_input_checked_first.py",
                         "jobs/bulk/test_input_identity.py", "jobs/bulk/test_bulk.py"]),
    "spend guard": (["spend/*.py"],
                    ["spend/test_prices.py", "spend/test_spend_guard.py", "spend/test_spend_ledger.py",
                     "spend/test_call_log.py", "spend/test_totals.py",
                     "surfaces/cli/test_budget_cli.py", "jobs/test_spend_jobs.py", "actions/test_actions.py",
                     "surfaces/cli/test_streaming_cli.py", "test_robustness.py"]),
}
# Left out of the second stage: slow, and about packaging, architecture or other surfaces.
SLOW_TESTS = {"test_packaging.py", "test_architecture.py", "test_mutate_tool.py", "test_lint.py",
              "surfaces/mcp/test_mcp_server.py", "surfaces/mcp/test_setup_integration.py",
              "surfaces/exports/test_skill_md.py", "surfaces/exports/test_tool_exports.py",
              "jobs/bulk/test_bulk.py", "jobs/bulk/test_bulk_parts.py", "jobs/batch/test_batch.py",
              "surfaces/dashboard/test_dashboard_browser.py", "surfaces/test_openclaw.py"}

# Hand-written bugs: (module, exact text, replacement, what a user would see).
CURATED: list[tuple[str, str, str, str]] = [
    ("config.py", '.rstrip("/")', "", "a trailing slash on OPENAI_BASE_URL doubles the path's slash"),
    ("config.py", 'values["deadline"] = _number(ENV_DEADLINE', '_ignored = _number(ENV_DEADLINE',
     "OPENAI_SKILL_DEADLINE ignored"),
    ("config.py", 'values["output_dir"] = env[ENV_OUTPUT_DIR]', "pass", "OPENAI_SKILL_OUTPUT_DIR ignored"),
    ("config.py", 'values["read_timeout"] = _number(ENV_TIMEOUT', 'values["connect_timeout"] = _number(ENV_TIMEOUT',
     "OPENAI_SKILL_TIMEOUT sets the connect timeout"),
    ("transport/request.py", '"OpenAI-Organization"', '"OpenAI-Org"', "organization header misnamed"),
    ("transport/request.py", '"OpenAI-Project"', '"OpenAI-Project-Id"', "project header misnamed"),
    ("retry.py", "RETRY_STATUSES = frozenset({408, 409, 429})", "RETRY_STATUSES = frozenset({408, 429})",
     "409 conflicts not retried"),
    ("retry.py", "0 < asked <= MAX_RETRY_AFTER", "0 < asked", "a server's 10-minute Retry-After obeyed"),
    ("redaction.py", "_html_escaped(value),", "", "an HTML-escaped echo of the key is printed as is"),
    ("atomic.py", "os.fsync(f.fileno())", "f.fileno()",
     "the temp file is not fsynced before the rename"),
    ("atomic.py", "    fsync_folder(path.parent)", "    pass",
     "the folder is not fsynced after the rename"),
    ("atomic.py", "os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)", "os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC)",
     "the new file is readable by other users (0777 less the umask, not 0600)"),
    ("secrets/vault_format.py", "if not hmac.compare_digest(expected, vf.mac):\n            raise VaultAuthError()",
     "pass", "the vault's MAC is never checked"),
    ("secrets/vault_format.py", 'aad = ENTRY_AAD_PREFIX[version] + vault_id + name.encode("ascii")',
     "aad = ENTRY_AAD_PREFIX[version] + vault_id", "an entry is not bound to its name: two can be swapped"),
    # The key is registered for masking where it becomes a Secret (it used to be in transport/call.py).
    ("secret.py", "        remember(value)  # before any message could quote it\n", "",
     "the key in use is not masked where it is echoed"),
    ("lifecycle/table.py", "return today >= self.date", "return today > self.date",
     "a model is still sent on its shutdown day (OpenAI has turned it off that day)"),
    ("urls.py", "return address is not None and address.is_loopback",
     "return address is not None and (address.is_loopback or address.is_private)",
     "plain http to a private address (10.x, 192.168.x) carries the key in clear"),
    ("actions/chat.py", 'out["reasoning_tokens"] = int(reasoning)', "pass", "reasoning tokens dropped from usage"),
    ("spend/ledger.py", 'conn = self._connection()\n                conn.execute("BEGIN IMMEDIATE")',
     'conn = self._connection()\n                conn.execute("BEGIN")',
     "two processes both read the room left under a cap before either reserves it"),
    ("spend/ledger.py", "os.O_RDWR | os.O_CREAT, 0o600", "os.O_RDWR | os.O_CREAT, 0o644",
     "the ledger is readable by other users"),
    ("spend/caps.py", "FILE_MODE = 0o600", "FILE_MODE = 0o644", "the caps file is readable by other users"),
    ("spend/prices.py", 'row.get("cached_input", row["input"])', 'row.get("cached_input", 0.0)',
     "cached tokens without a sourced price are charged nothing (an underestimate)"),
    ("spend/estimate.py", 'len(_UTF8_JSON.encode(text).encode("utf-8"))',
     "len(_UTF8_JSON.encode(text))", "input bounded by characters, not UTF-8 bytes (non-ASCII text "
     "underestimated)"),
    ("spend/__init__.py", "        if not env_set and not os.path.exists(caps_file):",
     "        if not os.path.exists(caps_file):", "a cap in the environment alone is ignored"),
    ("spend/__init__.py", '            if not env_set and not read_caps(Path(caps_file))["caps"]:',
     "            if not env_set:", "a broken ledger lets a call through while a stored cap is set"),
    ("spend/__init__.py", "        if where != self._where:", "        if self._where is None:",
     "a long-lived client keeps the caps file of the config folder it started with"),
    ("spend/schema.py", 'if "locked" not in str(exc) or time.monotonic() > give_up:', "if True:",
     "two processes making a new ledger at once: the one SQLite tells 'locked' fails instead of trying again"),
    ("spend/schema.py", "UPDATE spent SET usd = usd - COALESCE(OLD.settled_usd, OLD.reserved_usd)\n"
     "        WHERE period IN ('day:' || OLD.day, 'month:' || OLD.month);\n    UPDATE", "UPDATE",
     "a settled call counts its worst case and its real cost against the caps"),
    ("spend/journal.py", "                if not _named(mine, name):\n"
     "                    _close_kept()   # the lock goes with it\n                    continue\n", "",
     "a writer whose journal a folder renamed aside writes into a file already folded: its row is lost"),
    ("spend/journal.py", "FILE_MODE = 0o600", "FILE_MODE = 0o644", "the call journal is readable by other users"),
    ("spend/fold.py", '        conn.execute("INSERT INTO journal_folded(name) VALUES (?)", (aside.name,))\n', "",
     "a folder killed between its commit and removing the journal has its rows counted twice"),
    ("spend/fold.py", "AND month < ? AND status != 'reserved'", "AND month < ?",
     "retention silently drops an open reservation (a batch not yet fetched)"),
    ("spend/__init__.py", "                Hold(log=log).refuse(exc)        # a cap refused it",
     "                pass  #", "a call a cap refused leaves no row in the call log"),
]

SWAP_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
SWAP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
          ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
          ast.Div: "/"}
QUIET_CALLS = {"debug", "info", "warning", "log"}  # dropping a log line changes no behaviour


@dataclass
class Mutant:
    id: str             # module#n (operator) or module@n (curated)
    group: str
    module: str         # path under skill/openai_skill/
    line: int
    what: str
    end_line: int = 0
    source: str = field(repr=False, default="")
    status: str = ""    # killed / survived / timeout / stale
    stage: int = 0      # 0: the tests that run the line, 1: the group's tests, 2: the rest of the fast suite
    killed_by: str = ""
    seconds: float = 0.0


class _Operators(ast.NodeTransformer):
    """Walks a module in a fixed order; numbers every possible mutation; applies number `target`."""

    def __init__(self, lines: list[str], target: int = -1):
        self.lines, self.target, self.count, self.found = lines, target, 0, []

    def _offer(self, node, what: str) -> bool:
        line = getattr(node, "lineno", 0)
        if line and "pragma: no mutate" in self.lines[line - 1]:
            return False
        index = self.count
        self.count += 1
        self.found.append((line, getattr(node, "end_lineno", line) or line, what))
        return index == self.target

    # annotations are strings at run time here (`from __future__ import annotations`): skip
    def visit_FunctionDef(self, node):
        node.returns = None
        for arg in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
            arg.annotation = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node):
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_Assign(self, node):
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return node
        self.generic_visit(node)
        return node

    def visit_JoinedStr(self, node):  # f-strings: only the formatted expressions
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                value.value = self.visit(value.value)
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swap = SWAP_COMPARE.get(type(op))
            if swap and self._offer(node, f"{SYMBOL[type(op)]} -> {SYMBOL[swap]}"):
                node.ops[i] = swap()
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._offer(node, f"{type(node.op).__name__.lower()} -> {other.__name__.lower()}"):
            node.op = other()
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._offer(node, "drop `not`"):
            return node.operand
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        swap = SWAP_BINOP.get(type(node.op))
        if swap and not _is_text(node.left) and self._offer(node, f"{SYMBOL[type(node.op)]} -> {SYMBOL[swap]}"):
            node.op = swap()
        return node

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool):
            if self._offer(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, (int, float)):
            new = value + 1 if isinstance(value, int) else (value * 2 if value else 1.0)
            if self._offer(node, f"{value!r} -> {new!r}"):
                return ast.copy_location(ast.Constant(new), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            other = "max" if node.func.id == "min" else "min"
            if self._offer(node, f"{node.func.id} -> {other}"):
                node.func = ast.copy_location(ast.Name(other, ast.Load()), node.func)
        return node

    def visit_Return(self, node):
        self.generic_visit(node)
        returns_value = node.value is not None and not (isinstance(node.value, ast.Constant)
                                                         and node.value.value is None)
        if returns_value and self._offer(node, "return None"):
            node.value = ast.copy_location(ast.Constant(None), node.value)
        return node

    def visit_Raise(self, node):
        self.generic_visit(node)
        if self._offer(node, "raise -> pass"):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Expr(self, node):
        self.generic_visit(node)
        call = node.value
        if isinstance(call, ast.Call):
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if name not in QUIET_CALLS and self._offer(node, f"drop the call {ast.unparse(call.func)}(...)"):
                return ast.copy_location(ast.Pass(), node)
        return node


def _is_text(node) -> bool:
    return isinstance(node, (ast.JoinedStr,)) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _strip_docstrings(tree: ast.Module) -> None:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body[0] = ast.copy_location(ast.Pass(), body[0]) if len(body) == 1 else body[0]


def operator_mutants(module: str, group: str, text: str) -> list[Mutant]:
    lines = text.splitlines()
    survey = _Operators(lines)
    survey.visit(ast.parse(text))
    mutants = []
    for index, (line, end_line, what) in enumerate(survey.found):
        mutants.append(Mutant(f"{module}#{index}", group, module, line, what, end_line))
    return mutants


def operator_source(module: str, text: str, index: int) -> str:
    tree = ast.parse(text)
    applier = _Operators(text.splitlines(), target=index)
    tree = ast.fix_missing_locations(applier.visit(tree))
    return ast.unparse(tree) + "\n"


def curated_mutants(modules: dict[str, str], groups: dict[str, str]) -> list[Mutant]:
    out = []
    for n, (module, find, replace, what) in enumerate(CURATED):
        if module not in modules:
            if not (SOURCE / module).is_file():  # renamed, moved or split: CURATED must follow
                out.append(Mutant(f"{module}@{n}", "(none)", module, 0, what + " (the module is gone: update CURATED)",
                                  status="stale"))
            continue  # a module of a group not selected: not this run's business
        text = modules[module]
        count = text.count(find)
        line = text[: text.find(find)].count("\n") + 1 if count else 0
        mutant = Mutant(f"{module}@{n}", groups[module], module, line, what, line + find.count("\n"))
        if count != 1:
            mutant.status = "stale"
            mutant.what += f" (text found {count} times: update CURATED)"
        else:
            mutant.source = text.replace(find, replace)
        out.append(mutant)
    return out


def core_modules(selected_groups: set[str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """{module: source text}, {module: group} for the modules the groups name that exist."""
    texts, groups = {}, {}
    for group, (globs, _tests) in GROUPS.items():
        if selected_groups and group not in selected_groups:
            continue
        for path in sorted(SOURCE.rglob("*.py")):
            rel = path.relative_to(SOURCE).as_posix()
            if any(fnmatch.fnmatch(rel, g) for g in globs) and rel not in groups:
                texts[rel] = path.read_text(encoding="utf-8")
                groups[rel] = group
    return texts, groups


def installed_root() -> Path:
    spec = importlib.util.find_spec("openai_skill")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("openai_skill is not installed in this Python: pip install '.[test]' first")
    root = Path(list(spec.submodule_search_locations)[0])
    if root.resolve() == SOURCE.resolve():
        sys.exit("openai_skill is installed in editable mode: mutating it would edit the checkout itself. "
                 "Use a venv of its own with a regular install: python3 -m venv /tmp/venv-mutate && "
                 ". /tmp/venv-mutate/bin/activate && pip install '.[test]'")
    return root


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    cached = Path(importlib.util.cache_from_source(str(path)))
    cached.unlink(missing_ok=True)  # a same-second, same-size rewrite would reuse stale bytecode


def _test_env() -> dict:
    """The environment of the test runs: the stale-install guard (tests/conftest.py) off, since
    the installed copy differs from the checkout on purpose."""
    return {**os.environ, MUTATING: "1"}


def _pytest(files: list[str], timeout: float) -> tuple[str, str]:
    """('passed'|'failed'|'timeout', first failing test) for one pytest run, stopping at the first failure."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               "-o", "addopts=--import-mode=importlib", *files]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=_test_env())
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "timeout", f"no answer within {timeout:.0f} s"
    except BaseException:  # interrupted: end the test run it started (its own session) too
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    if proc.returncode == 0:
        return "passed", ""
    if proc.returncode == 5:  # no tests collected: the mapping names no existing file
        return "passed", ""
    failed = re.search(r"^(?:FAILED|ERROR) (\S+)", out, re.MULTILINE)
    return "failed", failed.group(1) if failed else out.strip().splitlines()[-1][:200]


def _fast_test_files() -> list[str]:
    """Every test file under tests/ but the slow ones, as paths under tests/."""
    found = (p.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py") if "support" not in p.parts)
    return sorted(rel for rel in found if rel not in SLOW_TESTS)


def test_files(group: str) -> tuple[list[str], list[str]]:
    first = [f"tests/{name}" for name in GROUPS[group][1] if (TESTS / name).exists()]
    rest = [f"tests/{rel}" for rel in _fast_test_files() if f"tests/{rel}" not in first]
    return first, rest


def coverage_map(root: Path, timeout: float) -> dict[str, dict[int, list[str]]]:
    """{module: {line: [test ids]}}: which tests run each line of the installed package, in
    the pytest process (lines run only by a subprocess, the installed CLI, are not seen)."""
    import tempfile

    try:
        import coverage
    except ImportError:
        sys.exit("--coverage needs pytest-cov: pip install pytest-cov")
    data_file = Path(tempfile.mkdtemp(prefix="mutate-cov-")) / ".coverage"
    files = [f"tests/{rel}" for rel in _fast_test_files()]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               "-o", "addopts=--import-mode=importlib", "--cov=openai_skill", "--cov-context=test", "--cov-report=",
               *files]
    print(f"measuring which tests run which lines ({len(files)} test files)...", flush=True)
    subprocess.run(command, cwd=REPO, env={**_test_env(), "COVERAGE_FILE": str(data_file)},
                   stdout=subprocess.DEVNULL, timeout=timeout * 4)
    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    out: dict[str, dict[int, list[str]]] = {}
    for measured in data.measured_files():
        path = Path(measured)
        if not path.is_relative_to(root):
            continue
        lines = out.setdefault(path.relative_to(root).as_posix(), {})
        for line, contexts in data.contexts_by_lineno(measured).items():
            tests = sorted({c.rsplit("|", 1)[0] for c in contexts if c})
            if tests:
                lines[int(line)] = tests
    return out


def covering_tests(mutant: Mutant, cover: dict, group_first: list[str]) -> list[str]:
    """The tests that run the mutated lines, the group's own test files first."""
    lines = cover.get(mutant.module, {})
    found = sorted({t for n in range(mutant.line, max(mutant.end_line, mutant.line) + 1)
                    for t in lines.get(n, ())})
    return sorted(found, key=lambda t: (t.split("::")[0] not in group_first, t))


def run_mutant(mutant: Mutant, root: Path, original: str, timeout: float, show: bool, confirm: bool,
               cover: dict | None = None, quick: bool = False) -> None:
    target = root / mutant.module
    started = time.monotonic()
    try:
        _write(target, mutant.source)
        first, rest = test_files(mutant.group)
        stages = []
        if cover is not None:
            covering = covering_tests(mutant, cover, first)
            # Too many ids (a line every test runs): the group's files are as quick to run.
            if covering and len(covering) <= 400:
                stages.append((0, covering))
        if not (quick and stages):
            stages += [(1, first), (2, rest if confirm else [])]
        for stage, files in stages:
            if not files:
                continue
            result, detail = _pytest(files, timeout)
            if show:
                print(f"  stage {stage}: {result} {detail}")
            if result != "passed":
                mutant.status = "killed" if result == "failed" else "timeout"
                mutant.stage, mutant.killed_by = stage, detail
                break
        else:
            mutant.status = "survived"
    finally:
        _write(target, original)
        mutant.seconds = round(time.monotonic() - started, 1)


def report(mutants: list[Mutant]) -> str:
    rows = {}
    for m in mutants:
        if m.status == "stale":
            continue
        row = rows.setdefault(m.module, [m.group, 0, 0])
        row[1] += 1
        row[2] += m.status in ("killed", "timeout")
    lines = [f"{'module':<28} {'group':<26} {'killed':>7} {'of':>4} {'score':>6}"]
    for module, (group, total, killed) in sorted(rows.items(), key=lambda kv: (kv[1][0], kv[0])):
        lines.append(f"{module:<28} {group:<26} {killed:>7} {total:>4} {100 * killed / total:>5.0f}%")
    total = sum(r[1] for r in rows.values())
    killed = sum(r[2] for r in rows.values())
    if total:
        lines.append(f"{'all':<28} {'':<26} {killed:>7} {total:>4} {100 * killed / total:>5.0f}%")
    survivors = [m for m in mutants if m.status == "survived"]
    if survivors:
        lines.append("\nsurvived:")
        lines += [f"  {m.id:<34} line {m.line:<4} {m.what}" for m in survivors]
    stale = [m for m in mutants if m.status == "stale"]
    if stale:
        lines.append("\nstale curated mutants:")
        lines += [f"  {m.id}: {m.what}" for m in stale]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", choices=sorted(GROUPS), help="only these groups (repeatable)")
    parser.add_argument("--module", action="append", help="only these modules under skill/openai_skill/ (repeatable)")
    parser.add_argument("--id", action="append", help="only these mutant ids (repeatable)")
    parser.add_argument("--all", action="store_true", help="every operator mutant, not a sample")
    parser.add_argument("--sample", type=int, default=12, help="operator mutants per module (default 12)")
    parser.add_argument("--seed", type=int, default=2026, help="the sample's seed (default 2026)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per pytest run (default 300)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--confirm", action="store_true", help="run the rest of the fast suite on survivors")
    parser.add_argument("--coverage", metavar="FILE",
                        help="run first only the tests that run the mutated line (needs pytest-cov); the map of "
                             "which tests run which lines is measured once and kept in FILE (reused if present)")
    parser.add_argument("--quick", action="store_true",
                        help="with --coverage: stop after the covering tests when a line has any (rerun the "
                             "survivors without --quick to give them the group's tests too)")
    parser.add_argument("--show", action="store_true", help="print each stage's outcome")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)

    texts, groups = core_modules(set(args.group or []) or None)
    if args.module:
        texts = {m: t for m, t in texts.items() if m in args.module}
    mutants: list[Mutant] = []
    rng = random.Random(args.seed)
    for module, text in texts.items():
        found = operator_mutants(module, groups[module], text)
        if not args.all and not args.id and len(found) > args.sample:
            found = sorted(rng.sample(found, args.sample), key=lambda m: int(m.id.split("#")[1]))
        mutants += found
    mutants += curated_mutants(texts, groups)
    if args.id:
        mutants = [m for m in mutants if m.id in args.id]
    if args.list:
        for m in mutants:
            print(f"{m.id:<34} {m.group:<26} line {m.line:<4} {m.what}")
        print(f"{len(mutants)} mutants")
        return 0

    root = installed_root()
    differs = [m for m in texts if (root / m).read_text(encoding="utf-8") != texts[m]]
    if differs:
        sys.exit(f"the installed package differs from the checkout ({', '.join(differs)}): "
                 "pip install --no-deps --force-reinstall . first")
    # Restore the installed file however the run ends (a background job ignores SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cover = None
    if args.coverage:
        cover_file = Path(args.coverage)
        if cover_file.exists():
            cover = {module: {int(line): tests for line, tests in lines.items()}
                     for module, lines in json.loads(cover_file.read_text()).items()}
        else:
            cover = coverage_map(root, args.timeout)
            cover_file.write_text(json.dumps(cover))
    print(f"{len(mutants)} mutants over {len(texts)} modules; the installed copy at {root} is mutated "
          "one file at a time and restored", flush=True)
    for n, mutant in enumerate(mutants, 1):
        if mutant.status == "stale":
            continue
        if not mutant.source:
            mutant.source = operator_source(mutant.module, texts[mutant.module], int(mutant.id.split("#")[1]))
        run_mutant(mutant, root, texts[mutant.module], args.timeout, args.show, args.confirm, cover, args.quick)
        print(f"[{n}/{len(mutants)}] {mutant.status:<8} {mutant.id:<34} line {mutant.line:<4} {mutant.what}"
              + (f"  <- {mutant.killed_by}" if mutant.killed_by else "") + f"  ({mutant.seconds} s)", flush=True)
        if args.json:  # after every mutant, so an interrupted campaign keeps what it measured
            Path(args.json).write_text(json.dumps([{k: v for k, v in asdict(m).items() if k != "source"}
                                                   for m in mutants if m.status], indent=2) + "\n")
    print()
    print(report(mutants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
