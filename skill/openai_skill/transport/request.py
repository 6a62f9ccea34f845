"""Building the HTTP request for an action: a pure function of the action, its checked
parameters and the settings. The key is not part of it; the client adds it when sending,
so a built request can be printed (`--dry-run`) as it is.

`ApiRequest` is the one place where headers get their defaults and where the URL is judged
(`urls.check_transport`): every request, download hops included, is an ApiRequest, so a URL
the key must not go to cannot even be built, let alone sent.
"""

from __future__ import annotations

import json

from .._version import __version__
from .. import urls

USER_AGENT = f"openai-skill/{__version__}"
JSON_TYPE = "application/json"
EVENT_STREAM_TYPE = "text/event-stream"


class ApiRequest:
    """One HTTP request, immutable once built (`replace` makes a changed copy, checked anew).

    A plain class, not a dataclass: `dataclasses` imports `inspect` (~6 ms) on the start-up
    path of every CLI call."""

    __slots__ = ("method", "url", "headers", "body", "stream")

    method: str
    url: str
    headers: dict
    body: dict | None
    stream: bool

    def __init__(self, method: str, url: str, headers: dict | None = None, body: dict | None = None,
                 stream: bool = False):
        urls.check_transport(url)
        merged = {"User-Agent": USER_AGENT, "Accept": JSON_TYPE}
        for name, value in (headers or {}).items():
            if value is None or name.lower() == "authorization":  # the key is added when sending
                continue
            for existing in [k for k in merged if k.lower() == name.lower()]:
                del merged[existing]
            merged[name] = value
        if stream:
            merged = {k: v for k, v in merged.items() if k.lower() != "accept" or k == "Accept"}
            merged["Accept"] = EVENT_STREAM_TYPE
        if body is not None and not any(k.lower() == "content-type" for k in merged):
            merged["Content-Type"] = JSON_TYPE
        for name, value in (("method", method), ("url", url), ("headers", merged), ("body", body),
                            ("stream", stream)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"an ApiRequest is immutable: use replace({name}=...) for a changed copy")

    def __delattr__(self, name):
        self.__setattr__(name, None)

    def replace(self, **changes) -> ApiRequest:
        """A copy with `changes` (method, url, headers, body, stream), built and checked anew."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return ApiRequest(**values)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # unhashable: headers and body are dicts

    def __repr__(self) -> str:
        return (f"ApiRequest(method={self.method!r}, url={self.url!r}, headers={self.headers!r}, "
                f"body={self.body!r}, stream={self.stream!r})")

    def describe(self) -> dict:
        """The request as `--dry-run` prints it, with the Authorization header masked."""
        headers = {"Authorization": "Bearer [REDACTED]", **self.headers}
        out = {"method": self.method, "url": self.url, "headers": headers}
        if self.body is not None:
            out["body"] = self.body
        return out

    def encoded_body(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def base_headers(settings) -> dict:
    """The headers from the settings (organization, project); ApiRequest adds the defaults
    and the key is added when sending."""
    headers = {}
    if settings.organization:
        headers["OpenAI-Organization"] = settings.organization
    if settings.project:
        headers["OpenAI-Project"] = settings.project
    return headers


def endpoint_request(method: str, path: str, settings, body: dict | None = None,
                     query: dict | None = None) -> ApiRequest:
    """A request to an API path that is not one of the actions (files, batches)."""
    from urllib.parse import urlencode

    headers = base_headers(settings)
    urls.check_base(settings.base_url)  # judged alone first: a fix names the base URL, not base + path
    url = settings.base_url + urls.check_api_path(path)
    if query:
        url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
    return ApiRequest(method, url, headers, body)


def build_request(action, params: dict, settings) -> ApiRequest:
    """The HTTP request for `action` with checked, rule-applied `params`."""
    headers = base_headers(settings)
    urls.check_base(settings.base_url)  # judged alone first: a fix names the base URL, not base + path
    url = settings.base_url + action.path
    if action.method == "GET":
        return ApiRequest("GET", url, headers)
    body = dict(params)
    stream = bool(body.get("stream"))
    if stream:
        body.update(action.stream_extras)
    elif body.get("stream") is False:
        del body["stream"]  # the API's own default; keeps the body minimal
    return ApiRequest(action.method, url, headers, body, stream)
