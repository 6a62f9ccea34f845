"""The loopback OpenAI: the one fake of the OpenAI API that tests and benchmarks talk to.

It computes answers for embeddings, chat, models, files and batches, with rate-limit headers,
from memory on 127.0.0.1 (TCP_NODELAY, HTTP/1.1 keep-alive), so tests and benchmarks measure
the client, not the server. A test can also script the answer to one route (`reply`,
`reply_raw`, `reply_with`: an error, a stream, a slow or odd answer); a scripted route answers
before the computed one, and every request is kept in `requests` (method, path, headers,
body). Standalone on purpose: the test suite imports it (the `openai` fixture in
tests/conftest.py), and the benchmark suite runs it as its own process:

    python tests/support/fake_openai.py --port 0          # prints "http://127.0.0.1:PORT/v1" and serves

Behaviour that tests steer through `FakeOpenAI` attributes:
  - `validate(method, path, body)` checks every JSON request body (tests pass the official
    spec's validator); a failing body is answered 400 and kept in `invalid` so the test fails.
  - `refuse(method, path, body)` -> (status, error body) or None: how today's API refuses a
    request (tests pass support/todays_api.py's rules: a retired model 404 `model_not_found`,
    `max_tokens` to GPT-6, a size gpt-image-2 does not take, ...). A refused request, scripted
    route or not, batch line included, is answered that way and kept in `invalid`: the skill
    must never send what the live API would refuse.
  - `limits = RateLimits(requests=N, tokens=M, window=seconds)`: a fixed window; every answer
    carries the `x-ratelimit-*` headers, and a request beyond the limit gets 429.
  - `storm = N`: the next N embedding requests get 429 with `retry-after-ms`.
  - `fail_texts`: an embedding input in this set makes its request fail with 400.
  - batches advance one status per GET (validating -> in_progress -> finalizing -> completed);
    a batch line whose body has `"model": "fail-model"` lands in the error file.
  - `reply(method, path, data)` and its kin: a scripted answer for one route (path relative to
    /v1), kept until the test ends or, with once=True, for one request. The first matching
    script answers (one-shot scripts before kept ones), as pytest-httpserver does.

The embedding of a text is `expected_vector(text, dimensions)`: tests recompute it to check
that every output line holds the vector of its own input.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import hashlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_DIMENSIONS = 1536
MAX_BODY = 512 * 1024 * 1024
BATCH_STEPS = ("validating", "in_progress", "finalizing", "completed")
FAIL_MODEL = "fail-model"


def expected_vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The vector the fake answers for `text`: exact float32 values, so tests compare with ==."""
    return list(struct.unpack(f"<{dimensions}f", _vector_bytes(text, dimensions)))


_RAMPS: dict[int, bytes] = {}


def _vector_bytes(text: str, dimensions: int) -> bytes:
    ramp = _RAMPS.get(dimensions)
    if ramp is None:
        ramp = _RAMPS[dimensions] = struct.pack(f"<{dimensions}f", *(i / dimensions for i in range(dimensions)))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    head = struct.pack("<2f", int.from_bytes(digest[:3], "big") / 2**24, float(len(text)))
    return (head + ramp[8:])[: 4 * dimensions]


def token_count(text: str) -> int:
    """A stand-in tokenizer: about one token per 4 bytes, as English runs."""
    return max(1, len(text.encode("utf-8")) // 4)


@dataclass
class RateLimits:
    requests: int = 10_000
    tokens: int = 10_000_000
    window: float = 60.0          # seconds; a fixed window, reset as a whole


@dataclass
class _Window:
    started: float = 0.0
    requests: int = 0
    tokens: int = 0


def _duration(seconds: float) -> str:
    """OpenAI's reset format: "20ms", "1s", "6m0s"."""
    if seconds < 1:
        return f"{max(int(seconds * 1000), 1)}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.3g}s" if minutes else f"{rest:.3g}s"


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str               # as sent, /v1 included, without the query
    query: dict             # parsed query: name -> [values]
    headers: Message        # case-insensitive: headers["authorization"] works
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Answer:
    """A scripted answer. A body that is an iterable of bytes (not bytes or str) is streamed,
    one HTTP chunk per item, as the items come (a generator may sleep between them)."""

    status: int = 200
    body: object = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)

    @classmethod
    def of_json(cls, data, status: int = 200, headers: dict | None = None) -> Answer:
        return cls(status, json.dumps(data).encode(), "application/json", dict(headers or {}))


@dataclass
class _Script:
    method: str
    path: str               # relative to /v1
    answer: object          # callable(Request) -> Answer
    once: bool


@dataclass
class FakeOpenAI:
    validate: object = None                 # callable(method, path, body) raising AssertionError
    validate_answer: object = None          # callable(method, path, data) for every 200 JSON answer
    refuse: object = None                   # callable(method, path, body) -> (status, error) | None
    limits: RateLimits | None = None
    storm: int = 0
    storm_wait_ms: int = 20
    fail_texts: set = field(default_factory=set)
    latency: float = 0.0                    # seconds each embedding answer waits (concurrency tests)
    slow_texts: set = field(default_factory=set)   # a request with one of these waits `slow_delay`
    slow_delay: float = 0.3
    files: dict = field(default_factory=dict)
    batches: dict = field(default_factory=dict)
    invalid: list = field(default_factory=list)
    log: list = field(default_factory=list)  # (method, path, status), once answered
    requests: list = field(default_factory=list)  # every Request, as it arrives
    scripts: list = field(default_factory=list)   # scripted routes, in the order given
    embedding_inputs: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    keep_log: bool = True

    def __post_init__(self):
        self.lock = threading.Lock()
        self.window = _Window(started=time.monotonic())
        self._ids = 0
        self.server = None

    # --- serving ---------------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        fake = self

        class Handler(_Handler):
            owner = fake

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        """The API's base URL, what OPENAI_BASE_URL is set to: http://127.0.0.1:PORT/v1."""
        return self.url_for("/v1")

    def url_for(self, path: str) -> str:
        """A URL on this server, from its root: url_for("/v1/models")."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # --- scripted answers ------------------------------------------------------------------
    def reply(self, method: str, path: str, data, status: int = 200, headers: dict | None = None,
              once: bool = False) -> None:
        """Answer `method /v1{path}` with the JSON `data`. A success answer is checked against
        the spec now (`validate_answer`), so a wrong fixture fails where the test wrote it."""
        if status == 200 and self.validate_answer:
            self.validate_answer(method, "/v1" + path, data)
        answer = Answer.of_json(data, status, {"x-request-id": f"req_{status}_{path.strip('/')}", **(headers or {})})
        self.reply_with(method, path, lambda request: answer, once=once)

    def reply_raw(self, method: str, path: str, body, status: int = 200, content_type: str = "text/html",
                  headers: dict | None = None, once: bool = False) -> None:
        """Answer `method /v1{path}` with these bytes (or text), as they are: not checked."""
        answer = Answer(status, body.encode() if isinstance(body, str) else body, content_type, dict(headers or {}))
        self.reply_with(method, path, lambda request: answer, once=once)

    def reply_with(self, method: str, path: str, handler, once: bool = False) -> None:
        """Answer `method /v1{path}` with `handler(request)`, an Answer (slow, streamed, ...)."""
        with self.lock:
            self.scripts.append(_Script(method.upper(), path, handler, once))

    def _scripted(self, request: Request):
        """The handler scripted for this request, if any (a one-shot one is used up)."""
        route = request.path.removeprefix("/v1")
        with self.lock:
            for once in (True, False):
                for script in self.scripts:
                    if script.once == once and script.method == request.method and script.path == route:
                        if once:
                            self.scripts.remove(script)
                        return script.answer
        return None

    def _check_scripted_body(self, request: Request) -> None:
        """A body sent to a scripted route is checked too; a bad one fails the test at its end
        (the script still answers: the test asked for that answer)."""
        if not (self.validate and request.body):
            return
        try:
            body = json.loads(request.body)
        except ValueError:
            return  # not JSON (a multipart upload): nothing the JSON spec checks
        try:
            self.validate(request.method, request.path, body)
        except AssertionError as exc:
            self.invalid.append(f"{request.method} {request.path}: {exc}")

    def _refusal(self, method: str, path: str, body):
        """(status, error body) today's API answers this JSON body with, kept in `invalid`; or None."""
        if self.refuse is None or not isinstance(body, dict):
            return None
        refused = self.refuse(method, path, body)
        if refused is not None:
            self.invalid.append(f"today's API refuses {method} {path} with {refused[0]}: "
                                f"{refused[1]['error']['message']}")
        return refused

    def _refused_request(self, request: Request, content_type: str):
        if self.refuse is None or not request.body or content_type.startswith("multipart/"):
            return None
        try:
            body = json.loads(request.body)
        except ValueError:
            return None  # not JSON: the route answers 400 for that
        return self._refusal(request.method, request.path, body)

    def bodies(self) -> list:
        """The JSON body of every request that had one, in order."""
        return [request.json() for request in list(self.requests) if request.body]

    def count(self, method: str, path: str, status: int | None = None) -> int:
        return sum(1 for m, p, s in list(self.log) if m == method and p == path and (status is None or s == status))

    def _next_id(self, prefix: str) -> str:
        with self.lock:
            self._ids += 1
            return f"{prefix}-{self._ids:06d}"

    # --- rate limits -----------------------------------------------------------------------
    def _admit(self, tokens: int) -> tuple[bool, dict]:
        """Count a request against the window; (admitted, rate-limit headers)."""
        limits = self.limits
        if limits is None:
            return True, {}
        with self.lock:
            now = time.monotonic()
            if now - self.window.started >= limits.window:
                self.window = _Window(started=now)
            window = self.window
            admitted = window.requests + 1 <= limits.requests and window.tokens + tokens <= limits.tokens
            if admitted:
                window.requests += 1
                window.tokens += tokens
            reset = _duration(max(limits.window - (now - window.started), 0.001))
            headers = {
                "x-ratelimit-limit-requests": str(limits.requests),
                "x-ratelimit-limit-tokens": str(limits.tokens),
                "x-ratelimit-remaining-requests": str(limits.requests - window.requests),
                "x-ratelimit-remaining-tokens": str(limits.tokens - window.tokens),
                "x-ratelimit-reset-requests": reset,
                "x-ratelimit-reset-tokens": reset,
            }
        return admitted, headers

    # --- endpoints -------------------------------------------------------------------------
    def embeddings(self, body: dict) -> tuple[int, dict, dict]:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        tokens = sum(token_count(text) for text in inputs)
        with self.lock:
            storming = self.storm > 0
            if storming:
                self.storm -= 1
        if storming:
            return 429, _error("Rate limit reached for requests", "requests", "rate_limit_exceeded"), \
                {"retry-after-ms": str(self.storm_wait_ms)}
        admitted, headers = self._admit(tokens)
        if not admitted:
            return 429, _error("Rate limit reached for tokens per min (TPM)", "requests",
                               "rate_limit_exceeded"), headers
        for text in inputs:
            if text in self.fail_texts:
                return 400, _error("This model's maximum context length is 8192 tokens, however you "
                                   "requested 9000 tokens.", "invalid_request_error", None), headers
        with self.lock:
            self.embedding_inputs += len(inputs)
        if self.latency:
            time.sleep(self.latency)
        if self.slow_texts and not self.slow_texts.isdisjoint(inputs):
            time.sleep(self.slow_delay)
        dimensions = body.get("dimensions") or DEFAULT_DIMENSIONS
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(inputs):
            raw = _vector_bytes(text, dimensions)
            embedding = base64.b64encode(raw).decode("ascii") if as_base64 else \
                list(struct.unpack(f"<{dimensions}f", raw))
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return 200, {"object": "list", "data": data, "model": body.get("model", "text-embedding-3-small"),
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, headers

    def chat(self, body: dict) -> tuple[int, dict, dict]:
        if body.get("model") == FAIL_MODEL:
            return 404, _error(f"The model `{FAIL_MODEL}` does not exist", "invalid_request_error",
                               "model_not_found"), {}
        admitted, headers = self._admit(10)
        if not admitted:
            return 429, _error("Rate limit reached", "requests", "rate_limit_exceeded"), headers
        last = body["messages"][-1].get("content")
        text = last if isinstance(last, str) else json.dumps(last)
        return 200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": "echo: " + text, "refusal": None}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }, headers

    def models(self) -> tuple[int, dict, dict]:
        return 200, {"object": "list", "data": [
            # as today's API lists them: each with its announced shutdown day, or null
            {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system",
             "shutdown_date": "2027-01-14"},
            {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system",
             "shutdown_date": None},
        ]}, {}

    def upload(self, content_type: str, raw: bytes) -> tuple[int, dict, dict]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        if not message.is_multipart():
            return 400, _error("expected multipart/form-data", "invalid_request_error", None), {}
        fields, upload = {}, None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                upload = (part.get_filename(), part.get_payload(decode=True))
            else:
                fields[name] = part.get_payload(decode=True).decode()
        if self.validate and upload is not None:
            try:
                self.validate("POST", "/v1/files", {**fields, "file": upload[0]})
            except AssertionError as exc:
                self.invalid.append(f"POST /files: {exc}")
                return 400, _error(f"spec: {exc}", "invalid_request_error", None), {}
        if upload is None or fields.get("purpose") not in ("batch", "user_data"):
            return 400, _error("file and purpose are required", "invalid_request_error", None), {}
        if fields["purpose"] == "batch":
            problem = self._check_batch_file(upload[1])
            if problem:
                return 400, _error(problem, "invalid_request_error", None), {}
        file_id = self._next_id("file")
        record = {"id": file_id, "object": "file", "bytes": len(upload[1]), "created_at": int(time.time()),
                  "filename": upload[0], "purpose": fields["purpose"], "status": "processed"}
        self.files[file_id] = (record, upload[1])
        return 200, record, {}

    def _check_batch_file(self, content: bytes) -> str | None:
        """Each line a request for one endpoint, unique custom ids, bodies valid per the spec."""
        ids, urls = set(), set()
        for number, line in enumerate(content.decode("utf-8").splitlines(), start=1):
            try:
                item = json.loads(line)
            except ValueError:
                return f"line {number}: not JSON"
            if set(item) != {"custom_id", "method", "url", "body"} or item["method"] != "POST":
                return f"line {number}: expected custom_id, method POST, url, body"
            if item["custom_id"] in ids:
                return f"line {number}: duplicate custom_id {item['custom_id']!r}"
            ids.add(item["custom_id"])
            urls.add(item["url"])
            if self.validate:
                try:
                    self.validate("POST", item["url"], item["body"])
                except AssertionError as exc:
                    self.invalid.append(f"batch line {number}: {exc}")
                    return f"line {number}: {exc}"
        if len(urls) != 1:
            return f"every line must use one endpoint, got {sorted(urls)}"
        return None

    def create_batch(self, body: dict) -> tuple[int, dict, dict]:
        if body["input_file_id"] not in self.files:
            return 404, _error("No such File object", "invalid_request_error", None), {}
        batch_id = self._next_id("batch")
        lines = self.files[body["input_file_id"]][1].decode().splitlines()
        batch = {"id": batch_id, "object": "batch", "endpoint": body["endpoint"],
                 "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                 "status": "validating", "created_at": int(time.time()),
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0}}
        if body.get("metadata"):
            batch["metadata"] = body["metadata"]
        self.batches[batch_id] = batch
        return 200, batch, {}

    def get_batch(self, batch_id: str, advance: bool = True) -> tuple[int, dict, dict]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, _error("No batch found", "invalid_request_error", None), {}
        if advance and batch["status"] in BATCH_STEPS[:-1]:
            batch["status"] = BATCH_STEPS[BATCH_STEPS.index(batch["status"]) + 1]
            if batch["status"] == "completed":
                self._run_batch(batch)
        return 200, batch, {}

    def cancel_batch(self, batch_id: str) -> tuple[int, dict, dict]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, _error("No batch found", "invalid_request_error", None), {}
        batch["status"] = "cancelled"
        batch["cancelled_at"] = int(time.time())
        return 200, batch, {}

    def _run_batch(self, batch: dict) -> None:
        out, err = [], []
        for line in self.files[batch["input_file_id"]][1].decode().splitlines():
            item = json.loads(line)
            route = item["url"].removeprefix("/v1")
            saved = self.limits
            self.limits = None  # batch work does not count against the online limits
            try:
                refused = self._refusal("POST", item["url"], item["body"])  # a line today's API refuses fails alone
                if refused is not None:
                    status, data = refused
                else:
                    status, data, _ = self.chat(item["body"]) if route == "/chat/completions" \
                        else self.embeddings(item["body"])
            finally:
                self.limits = saved
            entry = {"id": self._next_id("batch_req"), "custom_id": item["custom_id"],
                     "response": {"status_code": status, "request_id": self._next_id("req"), "body": data},
                     "error": None}
            (out if status == 200 else err).append(json.dumps(entry))
        now = int(time.time())
        for name, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                file_id = self._next_id("file")
                content = ("\n".join(lines) + "\n").encode()
                self.files[file_id] = ({"id": file_id, "object": "file", "bytes": len(content),
                                        "created_at": now, "filename": "batch_output.jsonl",
                                        "purpose": "batch_output", "status": "processed"}, content)
                batch[name] = file_id
        batch["request_counts"] = {"total": len(out) + len(err), "completed": len(out), "failed": len(err)}
        batch["completed_at"] = now

    def route(self, method: str, path: str, query: dict, content_type: str, raw: bytes):
        """(status, body bytes, content type, extra headers) for one request."""
        parts = path.removeprefix("/v1").strip("/").split("/")
        body = None
        if raw and not content_type.startswith("multipart/"):
            try:
                body = json.loads(raw)
            except ValueError:
                return _json(400, _error("We could not parse the JSON body", "invalid_request_error", None))
            if self.validate:
                try:
                    self.validate(method, path, body)
                except AssertionError as exc:
                    self.invalid.append(f"{method} {path}: {exc}")
                    return _json(400, _error(f"spec: {exc}", "invalid_request_error", None))
        if method == "POST" and parts == ["embeddings"]:
            return _json(*self.embeddings(body))
        if method == "POST" and parts == ["chat", "completions"]:
            return _json(*self.chat(body))
        if method == "GET" and parts == ["models"]:
            return _json(*self.models())
        if method == "POST" and parts == ["files"]:
            return _json(*self.upload(content_type, raw))
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            if parts[1] not in self.files:
                return _json(404, _error("No such File object", "invalid_request_error", None))
            return 200, self.files[parts[1]][1], "application/octet-stream", {}
        if method == "GET" and len(parts) == 2 and parts[0] == "files" and parts[1] in self.files:
            return _json(200, self.files[parts[1]][0])
        if method == "POST" and parts == ["batches"]:
            return _json(*self.create_batch(body))
        if method == "GET" and parts == ["batches"]:
            data = sorted(self.batches.values(), key=lambda b: b["id"], reverse=True)
            limit = int((query.get("limit") or ["20"])[0])
            page = data[:limit]
            return _json(200, {"object": "list", "data": page, "has_more": len(data) > limit,
                               **({"first_id": page[0]["id"], "last_id": page[-1]["id"]} if page else {})})
        if method == "GET" and len(parts) == 2 and parts[0] == "batches":
            return _json(*self.get_batch(parts[1]))
        if method == "POST" and len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel":
            return _json(*self.cancel_batch(parts[1]))
        return _json(404, _error(f"Invalid URL ({method} {path})", "invalid_request_error", None))


def _error(message: str, kind: str, code) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _json(status: int, data: dict, headers: dict | None = None):
    return status, json.dumps(data).encode(), "application/json", headers or {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # a client killed mid-answer (the SIGKILL tests): nothing to report
        super().handle_error(request, client_address)

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FakeOpenAI

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):  # quiet: tests read `owner.log` instead
        pass

    def _serve(self):
        owner = self.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
        if len(raw) < min(length, MAX_BODY):
            # The client went away mid-body (a test SIGKILLs a run): nothing to answer, and
            # not a bug in the fake.
            self.close_connection = True
            return
        split = urlsplit(self.path)
        request = Request(self.command, split.path, parse_qs(split.query), self.headers, raw)
        if owner.keep_log:
            owner.requests.append(request)
        with owner.lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            refused = owner._refused_request(request, self.headers.get("content-type", ""))
            scripted = owner._scripted(request) if owner.scripts and refused is None else None
            if refused is not None:
                owner._check_scripted_body(request)  # refused or not, a body the spec rejects fails too
                status, body, content_type, headers = _json(*refused)
            elif scripted is not None:
                owner._check_scripted_body(request)
                answer = scripted(request)
                status, body, content_type, headers = answer.status, answer.body, answer.content_type, answer.headers
                if isinstance(body, str):
                    body = body.encode()
            else:
                status, body, content_type, headers = owner.route(
                    self.command, split.path, request.query, self.headers.get("content-type", ""), raw)
            computed = scripted is None and refused is None
            if computed and owner.validate_answer and status == 200 and content_type == "application/json":
                try:
                    owner.validate_answer(self.command, split.path, json.loads(body))
                except AssertionError as exc:
                    owner.invalid.append(f"answer to {self.command} {split.path}: {exc}")
        except Exception as exc:  # a bug in the fake must show up as a failing test, not a hang
            status, body, content_type, headers = _json(500, _error(f"fake: {exc!r}", "server_error", None))
            owner.invalid.append(f"fake failed on {self.command} {split.path}: {exc!r}")
        finally:
            with owner.lock:
                owner.in_flight -= 1
        if owner.keep_log:
            owner.log.append((self.command, split.path, status))
        streamed = not isinstance(body, (bytes, bytearray))
        self.send_response(status)
        self.send_header("content-type", content_type)
        if streamed:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("content-length", str(len(body)))
        if not any(name.lower() == "x-request-id" for name in headers):
            self.send_header("x-request-id", f"req_{status}_{len(owner.log)}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not streamed:
            self.wfile.write(body)
            return
        for chunk in body:  # each item goes out as it comes: tests time what the client sees
            chunk = chunk.encode() if isinstance(chunk, str) else chunk
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeOpenAI(keep_log=False)
    print(fake.start(args.port), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
