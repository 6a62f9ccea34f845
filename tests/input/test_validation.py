"""Invalid input: a clear error naming the field, exit code 2, and nothing on the wire."""

import json

import pytest

import openai_skill as skill
from openai_skill import InputError
from support.openai_data import HI


BAD_INPUTS = [
    ("chat-completion", {"messages": []}, "messages", "at least 1 item"),
    ("chat-completion", {}, "messages", "required"),
    ("chat-completion", {"messages": "hi"}, "messages", "expected array"),
    ("chat-completion", {"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "robot"),
    ("chat-completion", {"messages": [{"role": "user"}]}, "messages[0].content", "required"),
    ("chat-completion", {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "required"),
    ("chat-completion", {"messages": HI, "temprature": 1}, "temprature", "did you mean 'temperature'"),
    ("chat-completion", {"messages": HI, "max_tokens": 0}, "max_tokens", ">= 1"),
    ("chat-completion", {"messages": HI, "max_tokens": "10"}, "max_tokens", "expected integer"),
    ("chat-completion", {"messages": HI, "temperature": 2.5}, "temperature", "<= 2"),
    ("chat-completion", {"messages": HI, "model": ""}, "model", "non-empty"),
    ("chat-completion", {"messages": HI, "response_format": {"type": "json_schema"}}, "response_format.json_schema",
     "required"),
    ("chat-completion", {"messages": HI, "model": "gpt-6-luna", "temperature": 0.5}, "temperature",
     "reasoning_effort"),
    ("chat-completion", {"messages": HI, "model": "o3-mini"}, "model", "shut down on 2026-10-23"),
    ("chat-completion", {"messages": HI, "model": "o3-deep-research"}, "model", "Responses API"),
    ("generate-image", {}, "prompt", "required"),
    ("generate-image", {"prompt": "   "}, "prompt", "not blank"),
    ("generate-image", {"prompt": "x", "n": 11}, "n", "<= 10"),
    ("generate-image", {"prompt": "x", "size": "big"}, "size", "\"auto\" or WIDTHxHEIGHT"),
    ("generate-image", {"prompt": "x", "size": "640x480"}, "size", "at least 655,360 pixels"),
    ("generate-image", {"prompt": "x", "model": "dall-e-3", "n": 2}, "model", "use gpt-image-2"),
    ("generate-image", {"prompt": "x", "model": "gpt-image-2", "style": "vivid"}, "style", "gpt-image-2"),
    ("list-models", {"limit": 5}, "limit", "unknown field"),
    ("create-embedding", {"input": ""}, "input", "not blank"),
    ("create-embedding", {"input": []}, "input", "at least 1 item"),
    ("create-embedding", {"input": ["a"] * 2049}, "input", "at most 2048"),
    ("create-embedding", {"input": "x", "dimensions": 0}, "dimensions", ">= 1"),
    ("create-embedding", {"input": "x", "encoding_format": "int8"}, "encoding_format", "one of"),
]


@pytest.mark.parametrize("action, data, field, words", BAD_INPUTS)
def test_invalid_input_is_refused_before_the_network(api, key, action, data, field, words):
    with pytest.raises(InputError) as info:
        skill.invoke(action, data)
    messages = {p["path"]: p["message"] for p in info.value.problems}
    assert field in messages, messages
    assert words in messages[field]
    assert len(api.log) == 0  # the server saw nothing


@pytest.mark.parametrize("action, data, field, words", BAD_INPUTS)
def test_cli_exits_2_naming_the_field(api, key, cli, action, data, field, words):
    result = cli("--json", "run", action, "--input", json.dumps(data))
    assert result.code == 2
    assert field in result.err and "Traceback" not in result.err
    error = result.json()["error"]
    assert error["type"] == "invalid_input"
    assert any(p["path"] == field for p in error["problems"])
    assert len(api.log) == 0


def test_problem_carries_path_expected_and_given():
    with pytest.raises(InputError) as info:
        skill.invoke("chat-completion", {"messages": [{"role": "robot", "content": "x"}]})
    (problem,) = info.value.problems
    assert problem == {
        "path": "messages[0].role",
        "expected": 'one of "system", "developer", "user", "assistant", "tool"',
        "given": 'string "robot"',
        "message": 'messages[0].role: expected one of "system", "developer", "user", "assistant", '
                   '"tool", got string "robot"',
    }


def test_every_problem_is_listed(cli):
    result = cli("run", "chat-completion", "--input",
                 json.dumps({"messages": [], "temperature": 9, "colour": "red"}))
    assert result.code == 2
    assert "3 problems" in result.err
    for field in ("messages", "temperature", "colour"):
        assert f"  - {field}" in result.err


@pytest.mark.parametrize("raw, words", [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object"),
                                        ("@/nonexistent/file.json", "cannot read the file")])
def test_unreadable_input_exits_2(api, key, cli, raw, words):
    result = cli("run", "chat-completion", "--input", raw)
    assert result.code == 2 and words in result.err
    assert len(api.log) == 0


def test_unknown_action_names_the_valid_ones(cli):
    result = cli("run", "chat-completions", "--input", "{}")
    assert result.code == 2
    assert "unknown action 'chat-completions'" in result.err and "chat-completion," in result.err


def test_input_from_file_and_stdin(cli, tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"messages": HI}))
    from_file = cli("run", "chat-completion", "--dry-run", "--input", f"@{path}")
    from_stdin = cli("run", "chat-completion", "--dry-run", stdin=json.dumps({"messages": HI}))
    assert from_file.code == from_stdin.code == 0
    assert from_file.json() == from_stdin.json()
    assert from_file.json()["request"]["body"]["messages"] == HI


def test_dry_run_prints_the_exact_request_without_network(api, key, cli):
    result = cli("run", "chat-completion", "--dry-run", "--input", json.dumps({"messages": HI}))
    assert result.code == 0
    request = result.json()["request"]
    assert request["method"] == "POST"
    assert request["url"] == api.url_for("/v1/chat/completions")
    assert request["headers"]["Authorization"] == "Bearer [REDACTED]"
    assert request["body"] == {"messages": HI, "model": "gpt-4o-mini", "max_tokens": 1024}
    assert key not in result.out + result.err
    assert len(api.log) == 0


def test_usage_errors_exit_2(cli):
    assert cli("run").code == 2
    assert cli("chat").code == 2
    assert cli("nonsense-command").code == 2


def test_a_key_pasted_as_a_stray_argument_is_not_echoed(cli):
    from support.canary import CANARY_KEY

    result = cli("models", CANARY_KEY)
    assert result.code == 2 and "unrecognized arguments" in result.err
    assert CANARY_KEY not in result.out + result.err
