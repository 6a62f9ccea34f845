"""`openai_skill.Client`: the one object every surface and job goes through.

    client = Client()                                  # settings from the environment
    client = Client(base_url="http://127.0.0.1:8080/v1", max_retries=0)
    result = client.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]})

A client is built once from `Settings` (the environment, then the keyword arguments here)
and a key-source chain (`secrets.sources.KeyChain`). It owns the settings (base URL,
timeouts, deadline, retries), the base URL's origin, the pooled sessions and the chain.
The key is looked up lazily, after the request is built and its URL judged, for that
request's origin: a URL the key must not go to is refused before any source is consulted.

`invoke` and `prepare` are the action API; `send`, `stream`, `upload`, `download` and
`endpoint` are what jobs (bulk embeddings, the Batch API) use for other API paths. A client is
safe to share between threads; reuse one to pay for settings, manifest and key once.

Spend: every paid call passes through `hold` (the spend guard, `openai_skill.spend`): its worst
case is checked against the caps and reserved before anything is sent (BudgetError, exit 7,
when a cap refuses it), and settled with the cost the answer's usage gives. `invoke` does it
itself; jobs call `hold` around their `send` (a bulk request, a whole batch).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from operator import itemgetter
from pathlib import Path

from . import actions, spend, urls
from .config import Settings
from .errors import InputError, InsecureTransportError, NotFoundError
from .lifecycle import table as _lifecycle
from .manifest import Action
from .pipeline import prepare as _prepare
from .secret import Secret
from .secrets.sources import KeyChain, KeySource
from .transport.deadline import Cancel, cancelling
from .transport.request import ApiRequest, endpoint_request


class Prepared(tuple):
    """A checked call: the action, its rule-applied parameters, and the HTTP request (no key).
    A named tuple written out: `typing.NamedTuple` runs `exec` at import (~0.2 ms a CLI call)."""

    __slots__ = ()
    _fields = ("action", "params", "request", "warnings")

    def __new__(cls, action: Action, params: dict, request: ApiRequest, warnings: tuple = ()) -> Prepared:
        return tuple.__new__(cls, (action, params, request, warnings))

    action = property(itemgetter(0), doc="the Action")
    params = property(itemgetter(1), doc="its parameters, checked and rule-applied")
    request = property(itemgetter(2), doc="the ApiRequest (no key)")
    warnings = property(itemgetter(3), doc="one line each: a model near its shutdown date")

    def __repr__(self) -> str:
        return f"Prepared(action={self[0]!r}, params={self[1]!r}, request={self[2]!r}, warnings={self[3]!r})"

    def __getnewargs__(self):
        return tuple(self)


class Client:
    """Settings, session and key sources for calls to the OpenAI API (or a compatible gateway)."""

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 organization: str | None = None, project: str | None = None,
                 connect_timeout: float | None = None, read_timeout: float | None = None,
                 deadline: float | None = None, stream_idle_timeout: float | None = None,
                 max_retries: int | None = None, output_dir: str | os.PathLike | None = None,
                 settings: Settings | None = None, key_sources: Sequence[KeySource] | None = None,
                 env: Mapping[str, str] | None = None, cache_vault: bool = False, sessions=None,
                 today: Callable[[], date] | date | None = None):
        """Keyword arguments override the environment (`settings` replaces it); `api_key`
        goes first in the default key chain, `key_sources` replaces the chain; `cache_vault`
        keeps the vault entry until the vault changes on disk (long-lived servers); `env`
        stands for os.environ (settings, key sources and the default-model settings read it);
        `today` is the UTC date lifecycle checks use (a date, or a callable returning one;
        default: OPENAI_SKILL_TODAY, else the real date, read per call)."""
        env = os.environ if env is None else env
        self._env = env
        self._today = today
        base = settings if settings is not None else Settings.from_env(env)
        self.settings = base.with_values(**{name: value for name, value in (
            ("base_url", base_url), ("organization", organization), ("project", project),
            ("connect_timeout", connect_timeout), ("read_timeout", read_timeout),
            ("deadline", deadline), ("stream_idle_timeout", stream_idle_timeout),
            ("max_retries", max_retries), ("output_dir", output_dir)) if value is not None})
        if api_key is not None and key_sources is not None:
            raise InputError("give api_key or key_sources, not both (api_key is the first source of the "
                             "default chain)", field="api_key")
        self.keys = (KeyChain(key_sources) if key_sources is not None
                     else KeyChain.default(env, api_key, cache_vault=cache_vault))
        self._sessions = sessions
        self._origin: tuple[str, str] | None = None  # (base URL, its origin): parsed once, not per call
        self.guard = spend.Guard(env)

    # --- what the client owns ---

    @property
    def base_url(self) -> str:
        """The effective API base URL (the one place it is computed: `Settings`)."""
        return self.settings.base_url

    @property
    def origin(self) -> str:
        """The base URL's origin, as bound keys record it (IDNA-encoded host)."""
        base, cached = self.settings.base_url, self._origin
        if cached is None or cached[0] != base:
            cached = self._origin = (base, urls.origin_of(base))
        return cached[1]

    @property
    def sessions(self):
        if self._sessions is None:
            from .transport.session import default_sessions

            self._sessions = default_sessions()
        return self._sessions

    def key_for(self, url: str) -> Secret:
        """The key for a request to `url`, from the first source that answers for its origin."""
        return self.keys.key_for(urls.origin_of(url))

    def key_source(self, url: str | None = None) -> str | None:
        """Which source would answer for `url` (default: the base URL); None when none would."""
        return self.keys.answering(urls.origin_of(url or self.settings.base_url))

    def today(self) -> date:
        """The UTC date lifecycle checks use for a call made now."""
        if callable(self._today):
            return self._today()
        if self._today is not None:
            return self._today
        return _lifecycle.today_from(self._env)

    # --- actions ---

    def prepare(self, action: str, input: dict | None = None) -> Prepared:
        """Validate `input`, settle the model (lifecycle), apply the model rules, build the
        request. Never touches the network or a key source."""
        try:
            origin = self.origin
        except InsecureTransportError:
            origin = None  # building the request refuses this base URL, after the input is checked
        action_, params, request, warnings = _prepare(action, input, self.settings, today=self.today(),
                                                      env=self._env, origin=origin)
        return Prepared(action_, params, request, tuple(warnings))

    def default_model(self, action: str):
        """The lifecycle's choice for `action` when the input names no model: the user's
        setting, else skill.yaml's default in force today for this client's origin (a
        `Choice`: model, chosen_by, warnings). InputError when that model is shut down."""
        from .pipeline import choose_model

        return choose_model(action, None, self.settings, today=self.today(), env=self._env, origin=self.origin)

    def invoke(self, action: str, input: dict | None = None, *, dry_run: bool = False,
               on_text: Callable[[str], None] | None = None, inline_images: bool = False,
               download_images: bool = False, surface: str = "python") -> dict:
        """Run one action; return its normalized result (schemas/<action>.output.json) with its
        `cost` (USD from the answer's usage and the price table; `usd` null when unknown).

        dry_run: return the request and the call's worst-case cost instead of sending it.
        on_text: called with each piece of streamed text. inline_images: keep base64 in the
        result instead of saving files. download_images: save URL images to files too.
        surface: who calls, as the spend ledger records it (cli, mcp, python).
        """
        prepared = self.prepare(action, input)
        action_id = prepared.action.id
        # The local side too (an output folder that cannot be written), before a paid call.
        actions.check(action_id, prepared.params, self.settings, inline_images=inline_images,
                      download_images=download_images)
        if dry_run:
            out = {"dry_run": True, "action": action_id, "request": prepared.request.describe(),
                   "cost": spend.worst_case(action_id, prepared.params).to_dict()}
            return {**out, "warnings": list(prepared.warnings)} if prepared.warnings else out
        # The worst case is a function: computed only when a cap is set (the default skips it).
        with self.hold(lambda: spend.worst_case(action_id, prepared.params), surface=surface,
                       action=action_id, params=prepared.params) as held:
            try:
                if prepared.request.stream:
                    data, request_id = self._stream_answer(action_id, prepared.request, on_text)
                else:
                    response = self.send(prepared.request)
                    data, request_id = response.data, response.request_id
            except NotFoundError as exc:
                raise self._unknown_model(exc, prepared.params.get("model")) from None
            cost = held.settle(spend.cost_of(action_id, prepared.params, data), request_id, data)
        actions.observe(action_id, data, origin=self.origin, env=self._env)
        result = actions.shape(action_id, data, request_id, prepared.params)
        result["cost"] = cost.to_dict()
        result = actions.finish(action_id, result, self.settings, inline_images=inline_images,
                                download_images=download_images)
        warnings = [*prepared.warnings, *actions.warnings(action_id, result, prepared.params)]
        return {**result, "warnings": warnings} if warnings else result

    def _unknown_model(self, exc: NotFoundError, model: str | None) -> NotFoundError:
        """A 404 `model_not_found`, with the near names from this origin's last model list."""
        if exc.code != "model_not_found" or not model:
            return exc
        import difflib

        from .lifecycle import learned

        known = learned.load(self.origin, self._env)
        near = difflib.get_close_matches(model, known.ids, n=3, cutoff=0.6) if known else []
        hint = f" Near names in this server's last model list: {', '.join(near)}." if near else ""
        hint += " `openai-skill models` lists the models your key can use."
        return type(exc)(exc.message + hint, status=exc.status, request_id=exc.request_id,
                         api_type=exc.api_type, code=exc.code, param=exc.param)

    # --- spend ---

    def worst_case(self, action: str, params: dict, *, batch: bool = False) -> spend.Cost:
        """The most a call with these (prepared) params can cost by the price table."""
        return spend.worst_case(action, params, batch=batch)

    def cost_of(self, action: str, params: dict, answer: dict, *, batch: bool = False) -> spend.Cost:
        """What a call cost by the usage in OpenAI's `answer` and the price table."""
        return spend.cost_of(action, params, answer, batch=batch)

    def hold(self, worst: spend.Worst, *, surface: str, action: str, ref: str | None = None,
             hold_seconds: float | None = None, params: dict | None = None) -> spend.Hold:
        """Reserve `worst` (a Cost, or a function giving it: called before sending only while a cap is
        set, else after the call for its row of the call log)
        against the caps (BudgetError, nothing sent, when one refuses it); use as a context
        manager around the send, and `settle` the real cost inside it. A reservation never
        settled counts at its worst case (after `hold_seconds`, default the call's deadline, it
        is shown as unsettled). Every call is also a row of the call log (`params`: the request's
        parameters, for its prompt text when OPENAI_SKILL_LOG_TEXT=1)."""
        return self.guard.hold(worst, surface=surface, action=action, ref=ref, params=params,
                               hold_seconds=hold_seconds or self.settings.deadline)

    def _stream_answer(self, action_id: str, request: ApiRequest, on_text) -> tuple[dict, str | None]:
        handler = actions.module(action_id)
        stream = self.stream(request)
        chunks = []
        for chunk in stream:
            chunks.append(chunk)
            if on_text:
                piece = handler.stream_text(chunk)
                if piece:
                    on_text(piece)
        return handler.accumulate(chunks), stream.request_id

    # --- lower level: what jobs use for other API paths ---

    def endpoint(self, method: str, path: str, *, body: dict | None = None,
                 query: dict | None = None) -> ApiRequest:
        """A request to an API path that is not an action (`/files`, `/batches`)."""
        return endpoint_request(method, path, self.settings, body=body, query=query)

    def send(self, request: ApiRequest, *, observe=None, max_retries: int | None = None,
             deadline_at: float | None = None):
        """Send with the key for the request's origin; the parsed JSON answer (`ApiResponse`).
        Per call: `max_retries` overrides the client's (0: a create that must never be repeated
        blindly, such as POST /batches); `deadline_at` (a `time.monotonic()` instant) ends a
        deadline that began before this call (a bulk request that waited for the rate limit)."""
        from .transport import http

        settings = self.settings if max_retries is None else self.settings.with_values(max_retries=max_retries)
        return http.send(request, self.key_for(request.url), settings, observe=observe, sessions=self.sessions,
                         deadline_at=deadline_at)

    def stream(self, request: ApiRequest):
        """Send a streaming request; a `StreamResponse` to iterate once."""
        from .transport import http

        return http.stream(request, self.key_for(request.url), self.settings, sessions=self.sessions)

    def upload(self, path: str | os.PathLike, purpose: str):
        """POST /files with the file at `path`; the File object (`ApiResponse`)."""
        from .transport import file_transfer

        request = self.endpoint("POST", "/files")
        return file_transfer.upload(Path(path), purpose, self.key_for(request.url), self.settings,
                                    sessions=self.sessions)

    def download(self, file_id: str, dest: str | os.PathLike, **limits) -> int:
        """GET /files/{file_id}/content into `dest` (whole or not at all); its size in bytes."""
        from .transport import file_transfer

        request = self.endpoint("GET", "/files")
        return file_transfer.download_content(file_id, Path(dest), self.key_for(request.url), self.settings,
                                              sessions=self.sessions, **limits)

    def close(self) -> None:
        """Close the client's own pooled connections (the process's shared ones stay)."""
        from .transport.session import default_sessions

        self.guard.close()
        if self._sessions is not None and self._sessions is not default_sessions():
            self._sessions.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.settings.base_url!r})"


# --- the default client behind `openai_skill.invoke` ---
# The keyword arguments a Client takes: the facade turns any other into an InputError naming
# the nearest one (read from the signature, so the list cannot drift).
_code = Client.__init__.__code__
CLIENT_OPTIONS = _code.co_varnames[_code.co_argcount:_code.co_argcount + _code.co_kwonlyargcount]
_code = Client.invoke.__code__
CALL_OPTIONS = _code.co_varnames[_code.co_argcount:_code.co_argcount + _code.co_kwonlyargcount]
del _code

_default: tuple | None = None  # (the environment it was built from, the client)


def default_client() -> Client:
    """One client per process, rebuilt only when the environment's settings or key change."""
    global _default
    snapshot = _environment_snapshot()
    current = _default
    if current is None or current[0] != snapshot:
        current = _default = (snapshot, Client())
    return current[1]


def close_default() -> None:
    """Close the default client if one was built (a CLI process about to end: surfaces/cli)."""
    global _default
    current, _default = _default, None
    if current is not None:
        current[1].close()


def _environment_snapshot() -> tuple:
    # The key sources read the environment on each lookup; only the settings are frozen.
    from .config import SETTINGS_ENV

    return tuple(os.environ.get(name) for name in SETTINGS_ENV)


def _refuse_unknown(name: str, valid: Sequence[str]):
    """The InputError for an option nobody takes: it names the nearest valid one."""
    import difflib

    valid = sorted(valid)
    near = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return InputError(f"unknown option {name!r}{hint} Expected one of: {', '.join(valid)}",
                      field=name, expected=valid, given=name)


def check_options(options: Mapping) -> None:
    """Refuse an option neither Client nor invoke takes, naming the nearest valid one."""
    for name in options:
        if name not in CLIENT_OPTIONS and name not in CALL_OPTIONS:
            raise _refuse_unknown(name, (*CLIENT_OPTIONS, *CALL_OPTIONS))


def invoke(action: str, input: dict | None = None, **options) -> dict:
    """`openai_skill.invoke`: one call on the default client, or on a client built for these options."""
    check_options(options)
    call = {k: v for k, v in options.items() if k in CALL_OPTIONS}
    settings = {k: v for k, v in options.items() if k in CLIENT_OPTIONS and v is not None}
    client = Client(**settings) if settings else default_client()
    return client.invoke(action, input, **call)


# Cancel / cancelling end calls from another thread (a cancelled MCP call, Ctrl-C in a bulk run):
# `with cancelling(switch): client.invoke(...)` in the worker, `switch.cancel()` anywhere.
__all__ = ["Client", "Prepared", "invoke", "default_client", "Cancel", "cancelling"]


# What a job's options may name: api_key and the Settings fields (the rest is the job's to set).
JOB_CLIENT_OPTIONS = tuple(n for n in CLIENT_OPTIONS if n not in ("settings", "key_sources", "env", "sessions",
                                                                   "cache_vault"))


def build_client(options: Mapping, *, cache_vault: bool = False) -> Client:
    """A Client from a job's options (api_key and the Settings fields); an unknown name is an
    InputError naming the nearest valid one, never a TypeError."""
    for name in options:
        if name not in JOB_CLIENT_OPTIONS:
            raise _refuse_unknown(name, JOB_CLIENT_OPTIONS)
    return Client(**options, cache_vault=cache_vault)


def error_from_answer(status: int, body: bytes, request_id: str | None, url: str):
    """The APIError a recorded answer (a batch output line) stands for: the class and message
    a live call with that status and body would have raised."""
    from .transport.error_map import recorded_error

    return recorded_error(status, body, request_id, url)
