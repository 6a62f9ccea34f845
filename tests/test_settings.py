"""Settings read from the environment change what the skill does: each test observes the
effect (where files land, what is on the wire, a timeout or deadline that fires, how many
attempts are made), so a setting the code ignores fails here."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from support.openai_data import MODELS
from support.images import PNG_BYTES

STALL_SECONDS = 120  # far longer than any timeout under test (released at teardown: it costs nothing)


@pytest.fixture
def stalling(monkeypatch, key):
    """A threaded loopback server whose /v1/models answers only after STALL_SECONDS (released
    at teardown); OPENAI_BASE_URL points at it."""
    release = threading.Event()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.url_for("/v1"))

    def handler(request):
        release.wait(STALL_SECONDS)
        return Response(json.dumps(MODELS), content_type="application/json")

    server.expect_request("/v1/models").respond_with_handler(handler)
    yield server
    release.set()
    server.clear()
    server.stop()


def test_openai_skill_deadline_ends_a_stalled_call(stalling, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_DEADLINE", "1.5")
    started = time.monotonic()
    result = cli("models")
    elapsed = time.monotonic() - started
    assert result.code == 5, result.out
    assert "1.5 s deadline" in result.err
    assert elapsed < 30  # neither the 120 s stall nor the read timeout (600 s) ended it: the deadline did


def test_openai_skill_timeout_is_the_read_timeout(stalling, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_TIMEOUT", "0.5")
    monkeypatch.setenv("OPENAI_SKILL_MAX_RETRIES", "0")
    result = cli("models")
    assert result.code == 5, result.out
    assert "0.5 s read timeout" in result.err
    assert len(stalling.log) <= 1


def test_the_timeout_option_beats_the_environment(stalling, cli, monkeypatch):
    monkeypatch.setenv("OPENAI_SKILL_TIMEOUT", "600")
    monkeypatch.setenv("OPENAI_SKILL_MAX_RETRIES", "0")
    result = cli("models", "--timeout", "0.4")
    assert result.code == 5 and "0.4 s read timeout" in result.err


@pytest.mark.parametrize("setting, attempts", [(None, 3), ("0", 1), ("3", 4)])
def test_openai_skill_max_retries_sets_the_number_of_attempts(openai, key, cli, monkeypatch, setting, attempts):
    if setting is not None:
        monkeypatch.setenv("OPENAI_SKILL_MAX_RETRIES", setting)
    overloaded = {"message": "The server is overloaded.", "type": "server_error", "param": None, "code": None}
    openai.reply("GET", "/models", {"error": overloaded},
                 status=503, headers={"retry-after-ms": "1"})  # a 1 ms wait, so retries cost no time
    result = cli("models")
    assert result.code == 4
    assert len(openai.requests) == attempts


def _one_png_answer(openai):
    openai.reply("POST", "/images/generations", {
        "created": 1745841812, "data": [{"b64_json": base64.b64encode(PNG_BYTES).decode()}],
        "usage": {"input_tokens": 9, "input_tokens_details": {"image_tokens": 0, "text_tokens": 9},
                  "output_tokens": 272, "total_tokens": 281}})


def test_openai_skill_output_dir_is_where_images_land(openai, key, cli, monkeypatch, isolated):
    target = isolated / "elsewhere" / "pictures"
    monkeypatch.setenv("OPENAI_SKILL_OUTPUT_DIR", str(target))
    _one_png_answer(openai)
    result = cli("image", "a red square", "-m", "gpt-image-2")
    assert result.code == 0, result.err
    (saved,) = result.json()["images"]
    assert saved["path"].startswith(str(target.resolve()) + "/")
    assert [p.read_bytes() for p in target.iterdir()] == [PNG_BYTES]
    assert not (isolated / "work" / "openai-images").exists()


def test_without_a_setting_images_land_in_openai_images_in_the_working_folder(openai, key, cli, isolated):
    _one_png_answer(openai)
    result = cli("image", "a red square", "-m", "gpt-image-2")
    assert result.code == 0, result.err
    default = isolated / "work" / "openai-images"
    assert [p.read_bytes() for p in default.iterdir()] == [PNG_BYTES]


def test_the_output_dir_option_beats_the_environment(openai, key, cli, monkeypatch, isolated):
    monkeypatch.setenv("OPENAI_SKILL_OUTPUT_DIR", str(isolated / "from-env"))
    _one_png_answer(openai)
    assert cli("image", "a red square", "-m", "gpt-image-2", "-o", "from-flag").code == 0
    assert not (isolated / "from-env").exists()
    assert len(list((isolated / "work" / "from-flag").iterdir())) == 1


@pytest.mark.parametrize("suffix", ["/v1/", "/v1//"])
def test_a_trailing_slash_on_the_base_url_is_dropped(openai, key, cli, monkeypatch, suffix):
    monkeypatch.setenv("OPENAI_BASE_URL", openai.url_for("/").rstrip("/") + suffix)
    openai.reply("GET", "/models", MODELS)
    result = cli("models")
    assert result.code == 0, result.err
    assert [r.path for r in openai.requests] == ["/v1/models"]
    dry = cli("run", "list-models", "--dry-run")
    assert dry.json()["request"]["url"] == openai.url_for("/v1/models")


def test_organization_and_project_headers_are_sent_only_when_set(openai, key, cli, monkeypatch):
    openai.reply("GET", "/models", MODELS)
    assert cli("models").code == 0
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_env")
    assert cli("models").code == 0
    first, second = openai.requests
    assert "OpenAI-Organization" not in first.headers and "OpenAI-Project" not in first.headers
    assert (second.headers["OpenAI-Organization"], second.headers["OpenAI-Project"]) == ("org-env", "proj_env")


def test_default_timeouts_reach_the_socket(openai, key, cli, monkeypatch):
    """The read timeout the socket gets is the documented default (600 s, connect 5 s). A long
    deadline is set so that a default deadline, if any, cannot shorten it."""
    monkeypatch.setenv("OPENAI_SKILL_DEADLINE", "100000")
    seen: list = []
    original = socket.socket.settimeout

    def record(sock, value):
        seen.append(value)
        return original(sock, value)

    monkeypatch.setattr(socket.socket, "settimeout", record)
    openai.reply("GET", "/models", MODELS)
    assert cli("models").code == 0
    timeouts = {round(v, 1) for v in seen if v is not None}
    assert 600.0 in timeouts and 5.0 in timeouts, seen


@pytest.mark.parametrize("name, value, expected", [
    ("OPENAI_SKILL_TIMEOUT", "soon", "a number"),
    ("OPENAI_SKILL_DEADLINE", "-1", "> 0"),
    ("OPENAI_SKILL_MAX_RETRIES", "2.5", "an integer"),
])
def test_a_malformed_setting_is_refused_naming_it_before_anything_is_sent(openai, key, cli, monkeypatch,
                                                                          name, value, expected):
    monkeypatch.setenv(name, value)
    result = cli("models")
    assert result.code == 2
    assert expected in result.err and (name in result.err or name.split("_SKILL_")[1].lower() in result.err)
    assert openai.requests == []


def test_a_negative_deadline_is_refused_with_the_zero_that_disables_it_named():
    from openai_skill.config import Settings
    from openai_skill.errors import InputError

    with pytest.raises(InputError) as info:
        Settings.from_env({}, deadline=-1)
    assert str(info.value) == "deadline: expected a finite number of seconds > 0 (or 0 for none), got -1"
    with pytest.raises(InputError) as info:
        Settings.from_env({}, read_timeout=-1)
    assert "(or 0 for none)" not in str(info.value)
    assert Settings.from_env({}, deadline=0).deadline is None
