"""The fast paths behind issue 14, item 5 (a cold `openai-skill chat` near a bare `requests`
process, a reused Client near a bare Session, MCP calls near the SDK's own cost), each held to
the behaviour it replaces: the command table against the full parser, the plain-call parser
against argparse, the hand-written records and string helpers against the library functions
they stand in for, the modules a plain call leaves unimported, the watchdog's fewer wake-ups
against its deadlines. No timing here: benchmarks/run.py measures; these check that the fast
paths say what the slow ones say."""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import html
import io
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings, strategies as st

from support.canary import CANARY_KEY
from openai_skill.client import Prepared
from openai_skill.config import Settings
from openai_skill.input.model_rules import glob_matches
from openai_skill.manifest import Action, load_manifest
from openai_skill.redaction import _html_escaped
from openai_skill.surfaces.cli import COMMANDS, GROUPS, build_parser, command_named
from openai_skill.surfaces.cli import actions as cli_actions
from openai_skill.surfaces.cli.commands import SUPPRESS
from openai_skill.transport.http import ApiResponse
from openai_skill.transport.request import ApiRequest
from openai_skill.urls import ORIGIN_PATTERN, _origin_shape


def _subparsers(parser) -> argparse._SubParsersAction:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub


def test_the_command_table_names_every_command_of_the_full_parser_once():
    full = _subparsers(build_parser()).choices
    assert list(full) == list(COMMANDS)  # the same commands, in --help's order
    assert set(COMMANDS.values()) == set(GROUPS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_named_command_gets_the_parser_the_full_one_has(command):
    partial = _subparsers(build_parser(command)).choices
    assert command in partial and all(COMMANDS[name] == COMMANDS[command] for name in partial)
    full = _subparsers(build_parser()).choices
    assert partial[command].format_help() == full[command].format_help()


@pytest.mark.parametrize("argv, command", [
    (["chat", "hi"], "chat"), (["--json", "models"], "models"), (["--json", "--json", "run", "x"], "run"),
    (["--help"], None), (["-h", "chat"], None), (["--version"], None), (["--js", "chat"], None),
    (["chatt", "hi"], None), ([], None), (["--json"], None), (["--", "chat"], None),
])
def test_the_command_is_named_only_when_it_is_certain(argv, command):
    assert command_named(argv) == command


def test_suppress_is_argparses():
    assert SUPPRESS == argparse.SUPPRESS


# --- the plain-call parser against argparse ---

_PLAIN = [command for command in cli_actions.DECLARED if command != "embed"]  # embed: argparse's alone
_VALUES = st.sampled_from(["hi", "", "gpt-4o", "x y", "2", "0", "-1", "1.5", "nan", "inf", "-", "--", "url",
                           "b64_json", "12abc", "-h", "--model=x", "@in.json", "chat-completion", "1e3"])


@st.composite
def _command_lines(draw):
    command = draw(st.sampled_from(_PLAIN))
    func, parents, own = cli_actions.DECLARED[command]
    options = [name for group in (*parents, own) for names, _spec in group for name in names if name.startswith("-")]
    tokens = st.one_of(st.sampled_from(options + ["--json", "--help", "--mod", "-x", "--", "--version"]), _VALUES)
    head = ["--json"] * draw(st.integers(0, 2)) + [command]
    return head + draw(st.lists(tokens, max_size=7))


def _argparse(argv):
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return vars(build_parser().parse_args(argv))
    except (SystemExit, Exception):  # usage errors (our InputError), --help and --version exit
        return None


@settings(max_examples=600, deadline=None)
@given(_command_lines())
def test_a_plain_call_parses_as_argparse_parses_it(argv):
    plain = cli_actions.parse_plain(argv, command_named(argv))
    if plain is not None:
        assert vars(plain) == _argparse(argv), argv


@pytest.mark.parametrize("argv", [
    ["chat", "hi"], ["--json", "chat", "hi", "-m", "gpt-4o", "--max-tokens", "20", "--temperature", "0.5"],
    ["chat", "--system", "be brief", "hi", "--stream", "--json", "--timeout", "30", "--max-retries", "0"],
    ["models"], ["models", "--json"], ["run", "chat-completion", "-i", "{}", "--dry-run"],
    ["image", "a cat", "-n", "1", "--response-format", "b64_json", "-o", "out", "--inline"],
    ["schema", "chat-completion", "--output"], ["actions"],
])
def test_the_calls_agents_make_are_plain(argv):
    plain = cli_actions.parse_plain(argv, command_named(argv))
    assert plain is not None and vars(plain) == _argparse(argv)


def test_a_plain_chat_call_imports_neither_argparse_nor_what_it_does_not_use(tmp_path):
    code = ("import sys; from openai_skill.surfaces.cli import main; code = main(['chat', 'hi', '--dry-run']); "
            "print(code, sorted(m for m in ('argparse', 'dataclasses', 'inspect', 'html', 'difflib', "
            "'jsonschema', 'requests', 'openai_skill.surfaces.cli.parser', 'openai_skill.surfaces.cli.vault', "
            "'openai_skill.surfaces.cli.jobs', 'openai_skill.surfaces.exports.tools', 'openai_skill.secrets.store')"
            " if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []"


# How many of our modules a plain chat call (answered, no cap set) imports: each costs ~0.36 M
# instructions to find and load before its body runs (benchmarks/run.py: cold chat vs the
# floor). A change that adds one to this path raises the figure here on purpose: make it lazy,
# or say in the commit what the call gains for it. 44 -> 46 for the call log (issue 18): the
# journal that records the call and the estimate that gives its row a worst case.
PLAIN_CHAT_MODULES_AT_MOST = 46


def test_a_plain_chat_call_loads_few_of_our_modules_and_no_pricing_or_ledger(openai, key, tmp_path):
    code = ("import json, sys; from openai_skill.surfaces.cli import main; code = main(['chat', 'hi']); "
            "print(json.dumps([code, sorted(m for m in sys.modules "
            "if m.startswith('openai_skill') or m == 'sqlite3')]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    code, ours = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code == 0
    # The call log records each call's worst case (spend.estimate) in its journal line; the
    # ledger (and SQLite) is opened only while a cap is set, or when the journal is folded.
    assert "openai_skill.spend.journal" in ours
    assert not {"openai_skill.spend.ledger", "openai_skill.spend.fold", "sqlite3"} & set(ours)
    assert len(ours) <= PLAIN_CHAT_MODULES_AT_MOST, ours


# --- the hand-written stand-ins against what they replace ---

@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab-.5*", max_size=8), st.text(alphabet="ab-.5", max_size=10))
def test_glob_matches_is_fnmatchcase(glob, name):
    assert glob_matches(name, glob) == fnmatch.fnmatchcase(name, glob)


@pytest.mark.parametrize("name", ["gpt-5", "gpt-5.1", "o3-mini-2025", "o4-mini", "dall-e-3", "x"])
def test_glob_matches_agrees_on_the_manifests_globs(name):
    for rules in load_manifest().model_rules.values():
        for rule in rules:
            for glob in rule["models"]:
                assert glob_matches(name, glob) == fnmatch.fnmatchcase(name, glob), (name, glob)


@given(st.text())
def test_html_escaped_is_html_escape(text):
    assert _html_escaped(text) == html.escape(text)


def test_records_are_immutable_and_compared_by_value():
    chat = load_manifest().action("chat-completion")
    with pytest.raises(AttributeError, match="immutable"):
        chat.path = "/elsewhere"
    with pytest.raises(TypeError):
        hash(chat)
    assert chat == Action(*(getattr(chat, name) for name in Action._fields)) and chat != load_manifest().action(
        "list-models")
    assert repr(chat).startswith("Action(id='chat-completion', method='POST', path='/chat/completions'")
    with pytest.raises(TypeError, match="missing field 'summary'"):
        Action("a", "GET", "/a", "tool")

    settings_ = Settings()
    with pytest.raises(AttributeError, match="immutable"):
        settings_.max_retries = 5
    assert settings_ == Settings() and hash(settings_) == hash(Settings())
    assert settings_.with_values(max_retries=5) != settings_
    assert pickle.loads(pickle.dumps(settings_)) == settings_
    assert repr(settings_).startswith("Settings(base_url='https://api.openai.com/v1', organization=None")

    request = ApiRequest("GET", "https://api.openai.com/v1/models")
    assert request == ApiRequest("GET", "https://api.openai.com/v1/models")
    response = ApiResponse(200, {"x-secret-header": "h"}, {"ok": True}, "req_1")
    assert "x-secret-header" not in repr(response)
    with pytest.raises(AttributeError, match="immutable"):
        response.data = {}

    prepared = Prepared(chat, {"a": 1}, request)
    action, params, built, warnings = prepared
    assert (action, params, built, warnings) == (prepared.action, prepared.params, prepared.request, ())
    assert prepared._fields == ("action", "params", "request", "warnings")


_ORIGIN_TEXT = st.one_of(
    st.text(alphabet="ab0-.:[]/9fZ_", max_size=12).map(lambda rest: "https://" + rest),
    st.text(alphabet="ab0-.:[]/9f", max_size=12).map(lambda rest: "http://" + rest),
    st.builds(lambda host, port: f"https://{host}{port}", st.text(alphabet="a.-", min_size=250, max_size=256),
              st.sampled_from(["", ":1", ":0", ":65535", ":123456", ":"])),
    st.builds(lambda inner: f"http://[{inner}]:8", st.text(alphabet="0f:.", min_size=0, max_size=48)),
    st.text(max_size=12),
)


@settings(max_examples=800, deadline=None)
@given(_ORIGIN_TEXT)
# the edges of an IPv6 literal's length (2 to 45 characters inside the brackets), always tried
@example("http://[::]:8")
@example("http://[:]:8")
@example("http://[" + "0" * 45 + "]:8")
@example("http://[" + "0" * 46 + "]:8")
@example("https://[" + "f" * 45 + "]")
@example("http://[g::1]:8")
def test_the_origin_shape_is_the_patterns(text):
    assert _origin_shape(text) == bool(re.fullmatch(ORIGIN_PATTERN, text))


def test_a_client_answered_by_the_environment_never_loads_the_keychain_or_vault_modules(tmp_path):
    code = ("import sys; from openai_skill.client import Client; "
            "print(Client().key_for('https://api.openai.com/v1').source, "
            "sorted(m for m in sys.modules if m.startswith('openai_skill.secrets.') and m not in "
            "('openai_skill.secrets.sources', 'openai_skill.secrets.binding')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "OPENAI_API_KEY": CANARY_KEY, "OPENAI_SKILL_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["OPENAI_API_KEY", "[]"]


def test_the_keychain_source_is_named_as_the_keychain_names_itself(tmp_path):
    from openai_skill.secrets.keychain import WHERE
    from openai_skill.secrets.sources import KeyChain

    chain = KeyChain.default({"OPENAI_SKILL_HOME": str(tmp_path)})
    assert chain.sources[-1].name == WHERE
    assert chain.sources[-1].key_for("https://api.openai.com") is None  # no record: silent


def test_a_plain_call_inside_a_process_leaves_the_garbage_collector_as_it_was(cli, openai, key):
    import gc

    openai.reply("GET", "/models", {"object": "list", "data": []})
    assert gc.isenabled()
    assert cli("models").code == 0
    assert gc.isenabled()
    gc.disable()
    try:
        assert cli("models").code == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_plain_call_as_the_whole_process_closes_the_spend_ledger_before_exit(cli, installed_cli, openai, key):
    """The CLI process freezes the collector when its call is done (no collection at exit), so
    what only that collection would have closed is closed first: with a cap set, the ledger's
    SQLite connection (in a reference cycle) is closed and its WAL checkpointed, as before."""
    import gc

    assert installed_cli("budget", "set", "--daily", "5").code == 0  # no connection left open here
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "openai-skill"
    done = installed_cli("chat", "hi")
    assert done.code == 0, done.err
    assert (folder / "spend.sqlite3").is_file() and not (folder / "spend.sqlite3-wal").exists()
    assert gc.get_freeze_count() == 0  # in someone else's process nothing is frozen
    assert cli("chat", "hi").code == 0 and gc.get_freeze_count() == 0


def test_the_watchdog_monitor_is_woken_only_for_a_dog_that_expires_sooner(monkeypatch):
    """A reused client's next call expires after the one the monitor already sleeps toward, so
    it needs no wake-up; one that expires sooner gets one, and is still cut on time."""
    import socket
    import time

    from openai_skill.transport import deadline

    monitor = deadline._monitor  # the process's own (one thread: tests/test_session.py counts them)
    woken = []
    notify = monitor.cond.notify
    monkeypatch.setattr(monitor.cond, "notify", lambda *a: (woken.append(1), notify(*a)))
    pairs = [socket.socketpair() for _ in range(3)]
    late = deadline.Watchdog(deadline._clock() + 30)
    later = deadline.Watchdog(deadline._clock() + 40)
    soon = deadline.Watchdog(deadline._clock() + 0.3)
    try:
        late.attach(pairs[0][0])
        for _ in range(200):  # until the monitor sleeps toward `late` (or a sooner dog)
            with monitor.cond:
                if monitor.wakes_at is not None and monitor.wakes_at <= late.deadline_at:
                    break
            time.sleep(0.01)
        woken.clear()
        later.attach(pairs[1][0])
        assert woken == []
        soon.attach(pairs[2][0])
        assert woken == [1]
        pairs[2][0].settimeout(5)  # a monitor that never fires fails the test instead of hanging it
        assert pairs[2][0].recv(10) == b"" and soon.fired == deadline.DEADLINE
        assert late.fired is None and later.fired is None
    finally:
        for dog in (late, later, soon):
            dog.close()
        for a, b in pairs:
            a.close()
            b.close()


def test_kept_url_judgments_refuse_every_time_and_answer_as_before():
    from openai_skill import urls
    from openai_skill.errors import InsecureTransportError

    for _ in range(2):  # a refusal is judged (and raised) again, never kept
        with pytest.raises(InsecureTransportError, match="only https is allowed"):
            urls.check_transport("http://example.com/v1")
        with pytest.raises(InsecureTransportError):
            urls.origin_of("https://user:pw@example.com/v1")
    for odd in (None, 42, ["https://x"]):  # not text: judged, not kept (and never a TypeError)
        with pytest.raises(InsecureTransportError):
            urls.check_transport(odd)
        assert urls.uses_plain_http(odd) is False
    assert urls.origin_of("https://API.example.com:443/v1/x") == "https://api.example.com"
    assert urls.origin_of("https://API.example.com:443/v1/x") == urls._origin_of("https://API.example.com:443/v1/x")
    assert urls.uses_plain_http("http://127.0.0.1:9/v1") and not urls.uses_plain_http("https://a.example/v1")


def test_a_watchdog_after_a_stale_wake_up_time_is_still_cut_on_time(monkeypatch):
    """The monitor's planned wake-up was computed with another clock (a test's fake one, far in
    the past of the real one): a new watchdog cannot count on it and wakes the monitor."""
    import socket
    import time

    from openai_skill.transport import deadline

    a, b = socket.socketpair()
    try:
        with deadline._monitor.cond:
            deadline._monitor.wakes_at = 1000.0  # as a fake clock left it; the real one is far ahead
        dog = deadline.Watchdog(deadline._clock() + 0.3)
        dog.attach(a)
        a.settimeout(60)   # a monitor left asleep ends in a timeout error, not a hang
        started = time.monotonic()
        assert a.recv(10) == b"" and dog.fired == deadline.DEADLINE
        assert time.monotonic() - started < 30
    finally:
        dog.close()
        a.close()
        b.close()
