"""Building the HTTP request for an action: a pure function of the action, its checked
parameters and the settings. The key is not part of it; the client adds it when sending,
so a built request can be printed (`--dry-run`) as it is.

`ApiRequest` is the one place where headers get their defaults and where the URL is judged
(`urls.check_transport`): every request, download hops included, is an ApiRequest, so a URL
the key must not go to cannot even be built, let alone sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .._version import __version__
from .. import urls

USER_AGENT = f"openai-skill/{__version__}"
JSON_TYPE = "application/json"
EVENT_STREAM_TYPE = "text/event-stream"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: dict | None = None
    stream: bool = False

    def __post_init__(self):
        urls.check_transport(self.url)
        headers = {"User-Agent": USER_AGENT, "Accept": JSON_TYPE}
        for name, value in self.headers.items():
            if value is None or name.lower() == "authorization":  # the key is added when sending
                continue
            for existing in [k for k in headers if k.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
        if self.stream:
            headers = {k: v for k, v in headers.items() if k.lower() != "accept" or k == "Accept"}
            headers["Accept"] = EVENT_STREAM_TYPE
        if self.body is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = JSON_TYPE
        object.__setattr__(self, "headers", headers)

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
    urls.parse(settings.base_url)  # judged alone first: a fix names the base URL, not base + path
    url = settings.base_url + urls.check_api_path(path)
    if query:
        url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
    return ApiRequest(method, url, headers, body)


def build_request(action, params: dict, settings) -> ApiRequest:
    """The HTTP request for `action` with checked, rule-applied `params`."""
    headers = base_headers(settings)
    urls.parse(settings.base_url)  # judged alone first: a fix names the base URL, not base + path
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
