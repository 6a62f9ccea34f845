"""No traceback, ever: odd input, odd settings, an output folder that cannot take the files,
a reader that goes away, and whatever else was not foreseen, each end as one clean error
with a documented exit code (and the error object on stdout with --json)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import openai_skill as skill
from support.canary import CANARY_KEY
from support.misbehaving import RawServer
from support.timing import CAP, wait_until
from support.images import make_png

HI = {"messages": [{"role": "user", "content": "hi"}]}
EXE = str(Path(sys.executable).parent / "openai-skill")


def clean(result, code):
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err + result.out
    assert CANARY_KEY not in result.out + result.err
    return result


def run_exe(args, *, stdin: bytes = b"", env: dict | None = None, prefix=(), **kwargs):
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([*prefix, EXE, *args], input=stdin, capture_output=True, env=full_env,
                          timeout=60, **kwargs)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


# -- input that is not plain JSON ---------------------------------------------------------------

@pytest.mark.parametrize("text, where", [
    ('{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', "NaN"),
    ('{"messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}', "Infinity"),
    ('{"messages": [{"role": "user", "content": "hi"}], "top_p": 1e999}', "top_p"),
    ('{"messages": [{"role": "user", "content": "\\ud800"}]}', "messages[0].content"),
    ('[' * 200_000 + ']' * 200_000, "nested"),
    ('{"messages": [{"role": "user", "content": "hi"}], "seed": ' + "9" * 5000 + '}', "digits"),
])
def test_input_that_is_not_plain_json_is_refused_before_sending(api, key, cli, text, where):
    result = clean(cli("--json", "run", "chat-completion", "--input", text), 2)
    error = result.json()["error"]
    assert error["type"] == "invalid_input" and where in json.dumps(error) + result.err
    assert len(api.log) == 0


@pytest.mark.parametrize("value, path", [
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": float("inf")}, "temperature"),
    ({"messages": [{"role": "user", "content": "a\udcffb"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi", 3: "x"}]}, "messages[0]"),
    ({"messages": [{"role": "user", "content": {1, 2}}]}, "messages[0].content"),
])
def test_python_values_json_cannot_carry_are_input_errors_with_a_path(api, key, value, path):
    data = {**HI, **value}
    with pytest.raises(skill.InputError) as caught:
        skill.invoke("chat-completion", data)
    assert path in [p["path"] for p in caught.value.problems], caught.value.problems
    assert len(api.log) == 0


def test_deep_nesting_from_python_is_an_input_error_not_a_recursion_error(api, key):
    deep = "x"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(skill.InputError, match="nested more than"):
        skill.invoke("chat-completion", {**HI, "stop": deep})
    assert len(api.log) == 0


def test_invalid_bytes_on_stdin_and_in_argv_are_input_errors(api):
    env = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": api.url_for("/v1")}
    code, out, err = run_exe(["--json", "run", "chat-completion"], stdin=b'{"messages": "\xff\xfe"}', env=env)
    assert code == 2 and "not valid UTF-8" in err and "Traceback" not in err
    assert json.loads(out)["error"]["type"] == "invalid_input"
    code, out, err = run_exe([b"chat", b"caf\xe9 au lait"], env=env)
    assert code == 2 and "not valid Unicode" in err and "Traceback" not in err
    assert len(api.log) == 0


def test_many_problems_are_capped_on_stderr_and_in_the_error(api, key, cli):
    bad = {"messages": [{"role": "nobody", "content": 1}] * 200_000}
    started = time.perf_counter()
    result = clean(cli("--json", "run", "chat-completion", "--input", json.dumps(bad)), 2)
    elapsed = time.perf_counter() - started
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("openai-skill: chat-completion: more than 50 problems")
    assert len(lines) == 1 + 10 + 1 and lines[-1] == "  ... 40 more (--json lists them)"
    assert len(result.json()["error"]["problems"]) == 50
    assert elapsed < 60 and len(api.log) == 0


# -- settings that are not numbers --------------------------------------------------------------

@pytest.mark.parametrize("args", [["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "-1"]])
def test_timeout_must_be_a_finite_number(api, key, cli, args):
    result = clean(cli("--json", "models", *args), 2)
    assert "finite number" in result.err and result.json()["error"]["type"] == "invalid_input"
    assert len(api.log) == 0


@pytest.mark.parametrize("name, value", [("OPENAI_SKILL_DEADLINE", "nan"), ("OPENAI_SKILL_DEADLINE", "inf"),
                                         ("OPENAI_SKILL_TIMEOUT", "NaN"), ("OPENAI_SKILL_MAX_RETRIES", "x")])
def test_settings_from_the_environment_refuse_nan_and_infinity(api, key, cli, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    result = clean(cli("--json", "models"), 2)
    assert name in result.err and len(api.log) == 0


@pytest.mark.parametrize("option", [{"deadline": float("nan")}, {"read_timeout": float("inf")},
                                    {"max_retries": "3"}, {"max_retries": True}, {"output_dir": 5},
                                    {"organization": 5}, {"base_url": ["https://x"]}])
def test_invoke_options_are_checked(api, key, option):
    with pytest.raises(skill.InputError):
        skill.invoke("list-models", {}, **option)
    assert len(api.log) == 0


def test_a_non_ascii_key_is_a_credentials_error_not_a_traceback(api, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-ключ0123456789abcdefghij")
    result = clean(cli("--json", "models"), 3)
    assert result.json()["error"]["type"] == "credentials" and "non-ASCII" in result.err
    assert "ключ" not in result.out + result.err
    assert len(api.log) == 0


# -- usage errors and unforeseen failures ------------------------------------------------------

def test_usage_errors_print_the_error_object_with_json(cli):
    result = clean(cli("--json", "models", "--no-such-option"), 2)
    error = result.json()["error"]
    assert error["type"] == "invalid_input" and "--no-such-option" in error["message"]


def test_an_unforeseen_exception_is_one_line_with_exit_1(api, key, cli, monkeypatch):
    from openai_skill.client import Client

    def broken(*args, **kwargs):
        raise RuntimeError(f"something odd happened\nwith {CANARY_KEY} in it")

    monkeypatch.setattr(Client, "invoke", broken)
    result = clean(cli("--json", "models"), 1)
    assert result.err.count("\n") == 1
    assert result.err.startswith("openai-skill: unexpected RuntimeError: something odd happened with [REDACTED]")
    assert result.json()["error"] == {"type": "internal_error", "error": "RuntimeError",
                                      "message": "unexpected RuntimeError: something odd happened with "
                                                 "[REDACTED] in it"}
    monkeypatch.setenv("OPENAI_SKILL_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli("models")


def test_a_reader_that_goes_away_is_not_a_traceback():
    """`openai-skill schema chat-completion | head -c1`: stdout closes under the writer."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    proc = subprocess.run([EXE, "schema", "chat-completion"], stdout=write_end, stderr=subprocess.PIPE,
                          timeout=60)
    os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""


def test_a_reader_that_goes_away_mid_output_is_not_a_traceback():
    shell = f"'{EXE}' schema chat-completion | head -c 10 >/dev/null; echo \"${{PIPESTATUS[0]}}\""
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() in ("0", "141") and "Traceback" not in proc.stderr, proc.stderr


# -- the image output folder --------------------------------------------------------------------

def image_answer(count: int = 1, png: bytes | None = None) -> dict:
    b64 = base64.b64encode(png or make_png()).decode()
    return {"created": 1764000000, "data": [{"b64_json": b64} for _ in range(count)]}


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("x"), "is not a folder"),
    (lambda p: None, "looks like a file name"),
])
def test_an_output_folder_that_is_a_file_is_refused_before_sending(api, key, cli, tmp_path, make, message):
    target = tmp_path / "out.png"
    make(target)
    for extra in ((), ("--dry-run",)):
        result = clean(cli("--json", "image", "a cat", "-m", "gpt-image-2", "-o", target, *extra), 2)
        assert message in result.err and result.json()["error"]["type"] == "invalid_input"
    assert len(api.log) == 0
    assert not target.is_dir()


def test_an_existing_folder_named_like_a_file_is_fine(openai, key, cli, tmp_path):
    target = tmp_path / "shots.png"
    target.mkdir()
    openai.reply("POST", "/images/generations", image_answer())
    result = clean(cli("image", "a cat", "-m", "gpt-image-2", "-o", target), 0)
    assert Path(result.json()["images"][0]["path"]).parent == target


def _without_root_powers():
    """Root writes into read-only folders anyway; drop that power for the child process."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to test a read-only folder as root")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner")


def test_a_read_only_output_folder_is_refused_before_sending(api, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    env = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": api.url_for("/v1")}
    for extra in ([], ["--dry-run"]):
        code, out, err = run_exe(["--json", "image", "a cat", "-m", "gpt-image-2", "-o", str(folder), *extra],
                                 env=env, prefix=_without_root_powers())
        assert code == 2, err
        assert "cannot write there (Permission denied)" in err and "Traceback" not in err
        assert json.loads(out)["error"]["type"] == "invalid_input"
    assert len(api.log) == 0 and list(folder.iterdir()) == []


def _file_size_limit(limit: int):
    def apply():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_full_disk_is_refused_before_sending(api, tmp_path):
    env = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": api.url_for("/v1")}
    code, out, err = run_exe(["image", "a cat", "-m", "gpt-image-2", "-o", str(tmp_path / "imgs")],
                             env=env, preexec_fn=_file_size_limit(1000))
    assert code == 2 and "cannot write there (File too large)" in err and "Traceback" not in err
    assert len(api.log) == 0


def test_a_write_that_fails_after_generation_keeps_the_images_in_the_result(openai, tmp_path):
    """The check passed (a small file fits) but the images do not: n=2 images, paid for,
    must come back as base64 with the reason, exit 6, and no partial files left behind."""
    png = make_png() + bytes(20_000)   # the type is read from the signature; the size is what matters
    openai.reply("POST", "/images/generations", image_answer(2, png))
    folder = tmp_path / "imgs"
    env = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": openai.url}
    code, out, err = run_exe(["image", "two cats", "-m", "gpt-image-2", "-n", "2", "-o", str(folder)],
                             env=env, preexec_fn=_file_size_limit(8192))
    assert code == 6, err
    assert "2 of 2 image(s) could not be saved (cannot write to" in err and "Traceback" not in err
    images = json.loads(out)["images"]
    assert [base64.b64decode(i["b64_json"]) for i in images] == [png, png]
    assert all(i["save_error"].endswith("File too large") for i in images)
    assert list(folder.iterdir()) == []
    assert len(openai.requests) == 1


def test_a_ledger_that_cannot_be_written_refuses_a_capped_call_before_sending(openai, tmp_path):
    """The same full disk with a spend cap set: where the reservation cannot be recorded (not even
    as the one journal line the running totals need), the call is refused (exit 7, the ledger
    named), never let through unchecked; the fake sees nothing. Without a cap (the test above)
    the ledger is never touched, so it cannot break the call."""
    env = {"OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": openai.url}
    assert run_exe(["budget", "set", "--daily", "100"], env=env)[0] == 0
    code, out, err = run_exe(["chat", "hi"], env=env, preexec_fn=_file_size_limit(100))  # < one journal line
    assert code == 7, err
    assert err.startswith("openai-skill: refused before sending: a spend cap is set and the spend ledger ")
    assert "check the folder's permissions and free space" in err and "Traceback" not in err
    assert len(openai.requests) == 0
    # Room for the journal's lines but not for the ledger: the reservation is recorded, so the
    # call goes out, and the ledger has it once it can be written again.
    openai.reply("POST", "/images/generations", image_answer(1, make_png()))
    code, out, err = run_exe(["image", "two cats", "-m", "gpt-image-2", "-o", str(tmp_path / "imgs")],
                             env=env, preexec_fn=_file_size_limit(8192))
    assert code == 0, err
    assert len(openai.requests) == 1
    code, out, err = run_exe(["usage", "--json"], env=env)
    assert code == 0 and json.loads(out)["totals"]["calls"] >= 1, err


def test_errors_all_is_written_out_and_complete():
    """errors.__all__ is a literal list (not computed from globals) naming every error class."""
    import ast
    import inspect

    from openai_skill import errors

    tree = ast.parse(inspect.getsource(errors))
    assigned = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__all__" for t in node.targets)]
    assert len(assigned) == 1 and isinstance(assigned[0], ast.List)
    assert all(isinstance(item, ast.Constant) for item in assigned[0].elts)
    classes = {name for name, obj in vars(errors).items()
               if isinstance(obj, type) and issubclass(obj, errors.SkillError)}
    assert sorted(errors.__all__) == sorted(classes)


def test_api_error_keeps_openai_type_as_api_type():
    from openai_skill.errors import ServerError

    error = ServerError("boom", status=500, api_type="server_error", code="c", param="p")
    assert (error.api_type, error.code, error.param) == ("server_error", "c", "p")
    assert error.to_dict()["api_type"] == "server_error"
    with pytest.raises(TypeError):
        ServerError("boom", type="server_error")  # the builtin's name is no keyword any more


def test_an_answer_with_nan_is_an_api_error_not_invalid_json_or_a_traceback(api, key, cli):
    api.expect_request("/v1/embeddings").respond_with_data(
        '{"object": "list", "model": "text-embedding-3-small", "data": [{"object": "embedding", '
        '"index": 0, "embedding": [0.5, NaN]}], "usage": {"prompt_tokens": 1, "total_tokens": 1}}',
        content_type="application/json")
    result = cli("--json", "embed", "hello")
    assert result.code == 4 and "Traceback" not in result.err, result.err
    assert "NaN" in result.err
    error = json.loads(result.out)["error"]     # stdout stays valid JSON
    assert error["type"] == "unexpected_response"


@pytest.mark.parametrize("args, code", [(["actions"], 1), (["--json", "models", "--timeout", "x"], 2),
                                        (["schema", "chat-completion"], 1)])
def test_stdout_on_a_full_disk_is_one_line_not_a_traceback(args, code):
    """`openai-skill ... > /dev/full`: the output cannot be written, and not even the error object."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run([EXE, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert "No space left on device" in proc.stderr


def test_ctrl_c_is_exit_130_with_the_error_object(key):
    """SIGINT while waiting for a slow answer: one line, exit 130, --json still answers. The signal
    is sent once the server holds the request (the CLI is then waiting for the answer, however
    slowly it started), and the server would stall for minutes: only the SIGINT ends the call."""
    server = RawServer(lambda conn, head, stop: stop.wait(300))  # reads the request, never answers
    env = {**os.environ, "OPENAI_API_KEY": CANARY_KEY, "OPENAI_BASE_URL": server.url()}
    proc = None
    try:
        proc = subprocess.Popen([EXE, "--json", "models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, text=True)
        wait_until(lambda: server.heads or proc.poll() is not None, "the request to reach the server")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=CAP)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        server.close()
    assert proc.returncode == 130, err
    assert err == "openai-skill: interrupted\n"
    assert json.loads(out)["error"]["type"] == "interrupted"


def test_one_field_one_problem_even_when_if_then_rules_restate_it(api, key, cli):
    bad = {"messages": [{"role": "system", "content": 1}], "temperature": 5}
    result = clean(cli("--json", "run", "chat-completion", "--input", json.dumps(bad)), 2)
    problems = result.json()["error"]["problems"]
    assert [p["path"] for p in problems] == ["messages[0].content", "temperature"]
    assert problems[0]["expected"] == "string or array or null"
    assert result.err.count("messages[0].content") == 1
