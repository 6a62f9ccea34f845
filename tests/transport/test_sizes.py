"""Sizes are bounded: the decoded body of every answer (gzip bombs included), each SSE line
and event, a whole stream; line splitting is linear; the HTML stripper is linear. Memory is
measured with tracemalloc on the oversized answers (caps made small through their seams)."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc

import pytest

import openai_skill
from openai_skill.errors import ServerError, UnexpectedResponseError
from openai_skill.transport import body as body_module
from openai_skill.transport import error_map, http
from openai_skill.transport.request import ApiRequest
from openai_skill.transport.sse import iter_events, iter_lines
from openai_skill.config import Settings

from support.canary import CANARY_KEY
from support import REPO
from support.misbehaving import RawServer
from openai_skill.secret import Secret

SECRET = Secret(CANARY_KEY, "the test")  # what a key source hands the transport

MiB = 1024 * 1024
PEAKS: dict[str, float] = {}


def chunked(head: dict, pieces, status="200 OK"):
    """A handler sending `pieces` (an iterable of bytes) with chunked transfer encoding."""
    def handler(conn, _request, stop):
        lines = [f"HTTP/1.1 {status}", "Transfer-Encoding: chunked", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in head.items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for piece in pieces():
            if stop.is_set():
                return
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
    return handler


@pytest.fixture
def serve():
    made = []

    def make(handler):
        made.append(RawServer(handler))
        return made[-1]
    yield make
    for server in made:
        server.close()


def peak_of(fn):
    """(peak traced memory in MiB, exception or None) while running fn() the second time
    (the first one imports and creates the session, which is not what is measured)."""
    try:
        fn()
    except Exception:  # noqa: BLE001
        pass
    tracemalloc.start()
    try:
        fn()
        error = None
    except Exception as exc:  # noqa: BLE001
        error = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / MiB, error


def list_models(server):
    return openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=server.url(),
                               max_retries=0)


def test_an_answer_larger_than_the_cap_is_refused_with_bounded_memory(serve, monkeypatch):
    monkeypatch.setattr(body_module, "MAX_BODY_BYTES", 1 * MiB)
    pad = b"x" * (64 * 1024)

    def pieces():
        yield b'{"object": "list", "data": [], "pad": "'
        for _ in range(16 * 8):     # 8 MiB
            yield pad
        yield b'"}'
    server = serve(chunked({"Content-Type": "application/json"}, pieces))
    peak, error = peak_of(lambda: list_models(server))
    PEAKS["8 MiB answer, 1 MiB cap"] = peak
    print(f"\n8 MiB answer, 1 MiB cap: peak {peak:.2f} MiB")
    assert isinstance(error, UnexpectedResponseError), repr(error)
    assert "larger than the 1 MiB cap" in error.message
    assert peak < 4, f"peak {peak:.1f} MiB"


def test_a_declared_length_above_the_cap_is_refused_before_reading(serve, monkeypatch):
    monkeypatch.setattr(body_module, "MAX_BODY_BYTES", 1 * MiB)

    def handler(conn, _request, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 400000000\r\n\r\n{")
        stop.wait(300)                      # the rest never comes: reading it would stall
    server = serve(handler)
    started = time.monotonic()
    with pytest.raises(UnexpectedResponseError, match="larger than the 1 MiB cap"):
        list_models(server)
    assert time.monotonic() - started < 30  # refused at the header, not after the 300 s stall


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """gzip of 64 MiB of zeros inside a JSON string: ~64 KiB on the wire."""
    return gzip.compress(b'{"object": "list", "data": [], "pad": "' + b"0" * (64 * MiB) + b'"}',
                         compresslevel=6)


def test_a_gzip_bomb_is_refused_after_the_cap_not_inflated(serve, monkeypatch, bomb):
    monkeypatch.setattr(body_module, "MAX_BODY_BYTES", 1 * MiB)
    server = serve(chunked({"Content-Type": "application/json", "Content-Encoding": "gzip"},
                           lambda: [bomb[i:i + 8192] for i in range(0, len(bomb), 8192)]))
    peak, error = peak_of(lambda: list_models(server))
    PEAKS["gzip bomb 64 MiB, 1 MiB cap"] = peak
    print(f"\ngzip bomb (64 MiB inflated), 1 MiB cap: peak {peak:.2f} MiB")
    assert isinstance(error, UnexpectedResponseError), repr(error)
    assert "larger than the 1 MiB cap" in error.message
    assert peak < 4, f"peak {peak:.1f} MiB"


def test_a_gzip_bomb_as_an_error_body_is_cut_at_1_mib(serve, bomb):
    server = serve(chunked({"Content-Type": "application/json", "Content-Encoding": "gzip"},
                           lambda: [bomb], status="500 Internal Server Error"))
    peak, error = peak_of(lambda: list_models(server))
    PEAKS["gzip bomb as a 500 body"] = peak
    print(f"\ngzip bomb as a 500 body (1 MiB error cap): peak {peak:.2f} MiB")
    assert isinstance(error, ServerError), repr(error)
    assert peak < 6, f"peak {peak:.1f} MiB"


def test_the_real_cap_is_above_the_largest_legitimate_answer():
    # 2048 inputs x 3072 float dimensions, as OpenAI prints them (indented, one per line).
    one_float = len("      -0.0069292834,\n")
    assert 2048 * 3072 * one_float * 1.5 < body_module.MAX_BODY_BYTES


# --- streams ------------------------------------------------------------------------------


def test_a_40_mb_line_is_split_in_linear_time():
    """Held as a ratio to a linear pass over the same pieces (joining them and looking for a
    line end), in CPU time of this thread (a loaded machine preempting the longer measure once
    made wall-clock ratios 22x): 2-3x measured; a buffer copied at every piece (the quadratic
    bug this guards) is 20x and more at this size."""
    line = "x" * (40 * MiB)

    def pieces():
        return (line[i:i + 65536] for i in range(0, len(line), 65536))

    # Best of three for both sides alike: the first run of either pays the 40 MB's page faults
    # (a single first run against a best-of-three baseline once read 8.3x on a loaded machine).
    seconds = baseline = float("inf")
    for _ in range(3):
        started = time.thread_time()
        lines = list(iter_lines(pieces(), max_line=64 * MiB))
        seconds = min(seconds, time.thread_time() - started)
        started = time.thread_time()
        assert "".join(pieces()).find("\n") == -1
        baseline = min(baseline, time.thread_time() - started)
    print(f"\n40 MB SSE line split in {seconds:.2f} s, {seconds / baseline:.1f}x a linear pass")
    assert [len(x) for x in lines] == [40 * MiB]
    assert seconds < 10 * baseline


def test_lines_are_still_split_exactly():
    text = "a\r\nb\rc\n\nd\u2028e\r"
    for size in (1, 2, 3, 5, 100):
        pieces = [text[i:i + size].encode() for i in range(0, len(text), size)]
        assert list(iter_lines(pieces)) == ["a", "b", "c", "", "d\u2028e"]
    assert list(iter_lines([b"\xe2\x82", b"\xac\r", b"\n", b"x"])) == ["\u20ac", "x"]


def sse_request():
    return ApiRequest("POST", Settings.from_env().base_url + "/chat/completions",
                      body={"model": "gpt-4o-mini", "messages": [], "stream": True}, stream=True)


def stream_from(server, **caps):
    settings = Settings.from_env(base_url=server.url(), max_retries=0)
    request = ApiRequest("POST", server.url("/v1/chat/completions"),
                         body={"model": "m", "messages": [], "stream": True}, stream=True)
    return list(http.stream(request, SECRET, settings, **caps))


EVENT_HEAD = {"Content-Type": "text/event-stream"}


def test_a_line_over_its_cap_ends_the_stream_with_our_error(serve):
    server = serve(chunked(EVENT_HEAD, lambda: [b"data: " + b"x" * 5000 + b"\n\n"]))
    with pytest.raises(UnexpectedResponseError, match="line is longer than the 1000"):
        stream_from(server, max_line=1000)


def test_an_event_over_its_cap_ends_the_stream_with_our_error(serve):
    server = serve(chunked(EVENT_HEAD, lambda: [b"data: xxxxxxxxxx\n" * 500 + b"\n"]))
    with pytest.raises(UnexpectedResponseError, match="event is longer than the 1000"):
        stream_from(server, max_event=1000)


def test_an_endless_stream_is_cut_at_the_byte_cap(serve):
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]}
    event = f"data: {json.dumps(chunk)}\n\n".encode()

    def endless():
        while True:
            yield event
    server = serve(chunked(EVENT_HEAD, endless))
    with pytest.raises(UnexpectedResponseError, match="event stream from .* is larger than the"):
        stream_from(server, max_bytes=MiB // 10)


def test_events_still_join_data_lines():
    assert list(iter_events(["data: a", "data: b", "", ": c", "data: d"])) == ["a\nb", "d"]


# --- the error snippet --------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_an_unclosed_script_flood_in_an_error_page_is_quoted_in_linear_time(serve):
    """Quoting takes milliseconds; a rescan per unclosed tag (the bug) takes minutes: the
    bounds are far from both."""
    page = b"<html><body>" + b"<script" * 50_000 + b"</body></html>"   # 350 KiB

    def handler(conn, _request, stop):
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: "
                     + str(len(page)).encode() + b"\r\nConnection: close\r\n\r\n" + page)
    server = serve(handler)
    started = time.monotonic()
    with pytest.raises(ServerError):
        list_models(server)
    assert time.monotonic() - started < 30
    started = time.monotonic()
    error_map.snippet(b"<p>" + b"<script" * 200_000, "text/html")
    assert time.monotonic() - started < 5     # ~2 ms measured under load


@pytest.mark.parametrize("html, text", [
    ("<p>Sign <b>in</b></p><script>var k = 1;</script>now", "Sign in now"),
    ("<STYLE>p{}</STYLE>ok<script src=x></SCRIPT>!", "ok !"),
    ("a < b and c > d", "a d"),
    ("1 < 2", "1 < 2"),
    ("<scripted>text</scripted>", "text"),
    ("before<script>never closed", "before"),
])
def test_tags_are_stripped_as_before(html, text):
    assert error_map.snippet(html.encode(), "text/html") == text


def test_the_readme_states_the_caps_the_code_uses():

    from openai_skill.transport import sse

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    readme = " ".join(readme.split())
    assert f"capped at {body_module.MAX_BODY_BYTES // MiB} MiB once decoded" in readme
    assert f"an error body at {body_module.MAX_ERROR_BODY_BYTES // MiB} MiB" in readme
    assert f"an image at {body_module.MAX_DOWNLOAD_BYTES // MiB} MiB" in readme
    assert f"a stream at {http.MAX_STREAM_BYTES // MiB} MiB" in readme
    assert sse.MAX_LINE_CHARS == sse.MAX_EVENT_CHARS
    assert f"line or event at {sse.MAX_LINE_CHARS // MiB} Mi characters" in readme
