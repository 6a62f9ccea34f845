"""Boundaries and branches that mutation testing (`tools/mutate.py`) found unguarded: each test
here failed against a planted bug that the rest of the suite let through."""

from __future__ import annotations


import pytest
from jsonschema import Draft202012Validator

import openai_skill as skill
from support.canary import CANARY_KEY
from support.lifecycle import serve
from support.misbehaving import read_next_request
from support.openai_data import HI
from openai_skill import redaction
from openai_skill.input.fast_check import conforms
from openai_skill.input.model_rules import apply_model_rules
from openai_skill.transport.request import ApiRequest
from openai_skill.errors import InsecureTransportError
from openai_skill.urls import host_of
from openai_skill.secret import Secret

SECRET = Secret(CANARY_KEY, "the test")  # what a key source hands the transport


def body(data: dict) -> dict:
    return skill.invoke("chat-completion", data, dry_run=True)["request"]["body"]


def test_an_explicit_max_completion_tokens_drops_the_default_max_tokens():
    sent = body({"messages": HI, "model": "gpt-4o-mini", "max_completion_tokens": 50})
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent


@pytest.mark.parametrize("explicit, kept", [({"a"}, "a"), ({"b"}, "b")])
def test_of_an_exclusive_pair_the_given_one_stays_and_the_others_default_goes(explicit, kept):
    # Rules are data: the engine must honour any pair, not only the one skill.yaml has today
    # (whose second member has no default).
    rules = [{"models": ["*"], "exclusive": [["a", "b"]]}]
    params = {"model": "m", "a": 1, "b": 2}
    assert apply_model_rules("x", params, frozenset(explicit), rules) == {"model": "m", kept: params[kept]}


def test_a_rename_onto_a_field_already_given_drops_the_old_name():
    rules = [{"models": ["*"], "rename": {"old": "new"}}]
    assert apply_model_rules("x", {"model": "m", "old": 1, "new": 2}, frozenset({"old", "new"}), rules) == {
        "model": "m", "new": 2}
    assert apply_model_rules("x", {"model": "m", "old": 1}, frozenset({"old"}), rules) == {"model": "m", "new": 1}


@pytest.mark.parametrize("data, path, expected", [
    ({"messages": []}, "messages", "at least 1 item"),
    ({"messages": HI, "temperature": [1]}, "temperature", "number 0-2 or a numeric string from 0 to 2"),
])
def test_what_was_expected_is_worded_exactly(data, path, expected):
    with pytest.raises(skill.InputError) as caught:
        body(data)
    assert [(p["path"], p["expected"]) for p in caught.value.problems] == [(path, expected)]


@pytest.mark.parametrize("value", [{"a": 1}, {"b": 1}, {"a": 1, "b": 2}, {}])
def test_the_fast_check_counts_one_of_like_jsonschema(value):
    schema = {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert conforms(schema, value) == Draft202012Validator(schema).is_valid(value)


@pytest.fixture
def held_canary():
    redaction.remember(CANARY_KEY)
    yield
    redaction.forget(CANARY_KEY)


def test_a_masked_echo_needs_six_characters_of_the_held_key(held_canary):
    # OpenAI echoes a rejected key as its first characters, stars and its last ones.
    assert redaction.redact("key sk-p***RY here") == f"key {redaction.MASK} here"   # 4 + 2 characters
    assert redaction.redact("key sk-p***Y here") == "key sk-p***Y here"              # 4 + 1: too little to tell


def test_a_masked_echo_at_the_very_start_of_the_text_is_masked(held_canary):
    assert redaction.redact("sk-p***RY was rejected") == f"{redaction.MASK} was rejected"


def test_short_or_non_text_secrets_are_not_remembered():
    before = redaction.remembered_count()
    redaction.remember(None)
    redaction.remember("short")          # would mask every "short" in every output
    redaction.remember(12345678)
    assert redaction.remembered_count() == before
    assert redaction.redact("a short story") == "a short story"


def test_host_of_names_what_would_be_contacted():
    assert host_of("https://api.openai.com/v1") == "api.openai.com"
    assert host_of("http://127.0.0.1:8000/v1") == "127.0.0.1:8000"
    assert host_of("") == "?" and host_of("https:///v1") == "?"


def test_a_built_request_cannot_be_changed_after_its_check():
    request = ApiRequest("GET", "https://api.openai.com/v1/models")
    with pytest.raises(AttributeError, match="immutable"):
        request.url = "http://example.com/v1/models"
    with pytest.raises(AttributeError, match="immutable"):
        del request.headers
    assert request.url == "https://api.openai.com/v1/models"
    # A changed copy is checked like a new request: plain http to a public host is refused.
    with pytest.raises(InsecureTransportError):
        request.replace(url="http://example.com/v1/models")
    assert request.replace(stream=True).headers["Accept"] == "text/event-stream"


@pytest.mark.parametrize("delta, message", [
    ({"function_call": "x"}, "chunk 0.choices[0].delta.function_call is str, expected object"),
    ({"tool_calls": "x"}, "chunk 0.choices[0].delta.tool_calls is str, expected array"),
    ({"content": 5}, "chunk 0.choices[0].delta.content is int, expected str"),
    ({"content": True}, "chunk 0.choices[0].delta.content is bool, expected str"),
])
def test_a_malformed_stream_chunk_is_named_with_json_words(delta, message):
    from openai_skill.actions.chat import accumulate
    from openai_skill.errors import UnexpectedResponseError

    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    with pytest.raises(UnexpectedResponseError) as caught:
        accumulate([chunk])
    assert caught.value.message == f"a streamed chat chunk is malformed: {message}"


def test_every_action_has_a_handler_and_an_unknown_one_is_our_error():
    from openai_skill import actions
    from openai_skill.errors import UnexpectedResponseError
    from openai_skill.manifest import load_manifest

    for action_id in load_manifest().actions:
        assert callable(actions.module(action_id).shape)
    with pytest.raises(UnexpectedResponseError, match="no handler for action 'no-such-action'"):
        actions.module("no-such-action")


@pytest.mark.parametrize("embedding, why", [
    (None, "ValueError: no embeddings in the answer"),
    ("AAA!AAAA", "Error: Only base64 data is allowed"),        # not silently decoded to other floats
    (["a", 1.0], "TypeError: embedding is not a list of numbers"),
    ({"0": 1.0}, "TypeError: embedding is not a list of numbers"),
])
def test_a_malformed_embedding_answer_is_refused_saying_why(embedding, why):
    from openai_skill import actions
    from openai_skill.errors import UnexpectedResponseError

    answer = {"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 1, "total_tokens": 1},
              "data": [] if embedding is None else [{"object": "embedding", "index": 0, "embedding": embedding}]}
    with pytest.raises(UnexpectedResponseError) as caught:
        actions.shape("create-embedding", answer, "req_e", {"input": "x"})
    assert caught.value.message == f"create-embedding: OpenAI's answer is missing what we expect ({why})"


def test_a_stream_that_never_names_the_role_is_the_assistants():
    from openai_skill.actions.chat import accumulate

    chunks = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}]
    message = accumulate(chunks)["choices"][0]["message"]
    assert (message["role"], message["content"]) == ("assistant", "hi")


def test_downloading_url_images_checks_the_output_folder_before_paying(openai, key, cli, isolated):
    not_a_folder = isolated / "work" / "taken"
    not_a_folder.write_text("a file, not a folder")
    serve("dall-e-3")  # a server that still serves DALL-E (URL images)
    result = cli("image", "a cat", "-m", "dall-e-3", "--response-format", "url", "--download",
                 "-o", str(not_a_folder))
    assert result.code == 2, result.err
    assert "taken" in result.err
    assert openai.requests == []


def _answer_then_answer_slowly(conn, _head, stop):
    """First request on the connection: answered at once. Second: answered after 2 s."""
    body = b'{"object": "list", "data": []}'
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    conn.sendall(answer)
    if not read_next_request(conn):
        return
    if not stop.wait(2.0):
        conn.sendall(answer)


@pytest.mark.timeout(90)
def test_a_finished_calls_deadline_does_not_cut_the_next_call_on_its_connection():
    from support.misbehaving import RawServer

    server = RawServer(_answer_then_answer_slowly)
    try:
        skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=server.url(), deadline=0.5)
        # The first call's 0.5 s deadline passes while the second waits on the same connection.
        second = skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=server.url(), deadline=20,
                              max_retries=0)
        assert second["models"] == [] and server.accepted == 1
    finally:
        server.close()


def test_the_auth_object_never_shows_the_key():
    from openai_skill.transport.call import BearerAuth

    auth = BearerAuth(CANARY_KEY)
    assert repr(auth) == "BearerAuth([REDACTED])" and str(auth) == "BearerAuth([REDACTED])"


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def _redirect_chain(api, statuses):
    """/hop0 -> /hop1 -> ... -> /image.png, each hop answering with its status."""
    for n, status in enumerate(statuses):
        target = f"/hop{n + 1}" if n + 1 < len(statuses) else "/image.png"
        api.expect_request(f"/hop{n}").respond_with_data("", status=status, headers={"Location": target})
    api.expect_request("/image.png").respond_with_data(PNG, content_type="image/png")


def test_a_download_follows_five_redirects_of_every_kind(api):
    from openai_skill.config import Settings
    from openai_skill.transport.download import MAX_DOWNLOAD_REDIRECTS, download

    assert MAX_DOWNLOAD_REDIRECTS == 5
    _redirect_chain(api, [300, 301, 302, 307, 308])
    assert download(api.url_for("/hop0"), Settings.from_env()) == (PNG, "image/png")
    assert len(api.log) == 6


def test_a_sixth_redirect_is_refused(api):
    from openai_skill.config import Settings
    from openai_skill.errors import UnexpectedResponseError
    from openai_skill.transport.download import download

    _redirect_chain(api, [302] * 6)
    with pytest.raises(UnexpectedResponseError, match="more than 5 redirects while downloading from "):
        download(api.url_for("/hop0"), Settings.from_env())
    assert len(api.log) == 6


def test_a_200_with_a_location_header_is_the_image_itself(api):
    from openai_skill.config import Settings
    from openai_skill.transport.download import download

    api.expect_request("/image.png").respond_with_data(PNG, content_type="image/png",
                                                        headers={"Location": "/elsewhere"})
    assert download(api.url_for("/image.png"), Settings.from_env()) == (PNG, "image/png")
    assert len(api.log) == 1


# --- server-sent events: the caps at their exact boundary, and where a BOM counts ------------

def test_an_event_stream_line_may_be_exactly_the_cap_and_not_one_more():
    from openai_skill.transport.sse import TooLong, iter_lines

    assert list(iter_lines([b"abcde\n"], max_line=5)) == ["abcde"]
    assert list(iter_lines([b"abc", b"de", b"\n"], max_line=5)) == ["abcde"]  # the unfinished part too
    with pytest.raises(TooLong, match="longer than the 5 character cap"):
        list(iter_lines([b"abcdef\n"], max_line=5))


def test_an_endless_line_is_refused_while_it_grows():
    from openai_skill.transport.sse import TooLong, iter_lines

    sent = []

    def pieces():
        for _ in range(1000):
            sent.append(1)
            yield b"x" * 100          # never a line ending

    with pytest.raises(TooLong):
        list(iter_lines(pieces(), max_line=1000))
    assert len(sent) == 11            # refused as soon as it passed the cap, not at the end


def test_a_truncated_character_at_the_end_of_a_stream_is_replaced_not_dropped():
    from openai_skill.transport.sse import iter_lines

    assert list(iter_lines([b"abc\xe2\x82"])) == ["abc\ufffd"]


def test_an_event_may_be_exactly_the_cap_counted_afresh_for_each_event():
    from openai_skill.transport.sse import TooLong, iter_events

    # "abcd" plus its line break is 5 characters; each event counts from zero.
    assert list(iter_events(["data: abcd", "", "data: abcd", ""], max_event=5)) == ["abcd", "abcd"]
    with pytest.raises(TooLong, match="longer than the 5 character cap"):
        list(iter_events(["data: abcde", ""], max_event=5))


def test_only_the_streams_first_line_may_carry_a_byte_order_mark():
    from openai_skill.transport.sse import iter_events

    assert list(iter_events(["\ufeffdata: a", "", "\ufeffdata: b", ""])) == ["a"]


# --- a stream: iterated once, idle time counted from the last event, the cap's message ------

def _chunk(text):
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def _open_stream(api, **settings):
    from openai_skill.config import Settings
    from openai_skill.transport import http

    request = ApiRequest("POST", api.url_for("/v1/chat/completions"), {}, {"stream": True}, stream=True)
    return http.stream(request, SECRET, Settings.from_env(**settings))


def test_a_stream_can_be_read_only_once(api):
    from support.openai_data import sse

    api.expect_request("/v1/chat/completions").respond_with_data(sse(_chunk("a")), content_type="text/event-stream")
    response = _open_stream(api)
    assert [c["choices"][0]["delta"]["content"] for c in response] == ["a"]
    with pytest.raises(RuntimeError, match="only once"):
        iter(response)


@pytest.mark.timeout(60)
def test_the_idle_timeout_counts_from_the_last_event_not_from_the_start(api):
    import json
    import time

    from werkzeug import Response

    def slow_but_steady(request):
        def body():
            for n in range(12):                     # an event every 0.2 s: 2.4 s in all (more if slow)
                yield f"data: {json.dumps(_chunk(str(n % 10)))}\n\n"
                time.sleep(0.2)
            yield "data: [DONE]\n\n"
        return Response(body(), content_type="text/event-stream")

    api.expect_request("/v1/chat/completions").respond_with_handler(slow_but_steady)
    # The idle timeout is 10 times the gap between events (a loaded machine may stretch a gap),
    # and shorter than the whole stream: counted from the start, it would cut the stream.
    chunks = list(_open_stream(api, stream_idle_timeout=2.0))
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "012345678901"


def test_a_stream_over_its_byte_cap_names_the_cap_in_mib(api):
    from support.openai_data import sse
    from openai_skill.errors import UnexpectedResponseError
    from openai_skill.transport import http

    big = sse(*[_chunk("x" * 1000)] * 1200)       # about 1.3 MB
    api.expect_request("/v1/chat/completions").respond_with_data(big, content_type="text/event-stream")
    from openai_skill.config import Settings

    request = ApiRequest("POST", api.url_for("/v1/chat/completions"), {}, {"stream": True}, stream=True)
    with pytest.raises(UnexpectedResponseError, match=r"is larger than the 1 MiB cap"):
        list(http.stream(request, SECRET, Settings.from_env(), max_bytes=1024 * 1024))


# --- the vault's files ------------------------------------------------------------------------

def test_an_entry_may_have_exactly_the_most_origins_allowed():
    from openai_skill.errors import InputError
    from openai_skill.secrets.vault_format import MAX_ORIGINS
    from openai_skill.secrets.vault_format import check_origins

    most = [f"https://h{n}.example" for n in range(MAX_ORIGINS)]
    assert check_origins(most) == tuple(sorted(most))
    with pytest.raises(InputError, match=f"1 to {MAX_ORIGINS} origins"):
        check_origins(most + ["https://one-more.example"])


def test_a_vault_folder_that_cannot_be_made_is_our_error(tmp_path):
    from openai_skill.errors import VaultError
    from openai_skill.secrets.disk import prepare_folder

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(VaultError, match="cannot create the vault folder"):
        prepare_folder(blocker / "openai-skill")


def test_a_lock_file_that_is_a_symlink_is_refused(tmp_path):
    from openai_skill.errors import VaultError
    from openai_skill.secrets import locking
    from openai_skill.secrets.disk import Paths

    folder = tmp_path / "vault"
    folder.mkdir(mode=0o700)
    paths = Paths(folder)
    (tmp_path / "elsewhere").write_text("")
    paths.lock.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(VaultError, match="is a symbolic link; refusing to follow it"):
        with locking.exclusive(paths):
            pass
