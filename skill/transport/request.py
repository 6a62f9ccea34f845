"""Building the HTTP request for an action: a pure function of the action, its checked
parameters and the settings. The key is not part of it; the client adds it when sending,
so a built request can be printed (`--dry-run`) as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._version import __version__

USER_AGENT = f"openai-skill/{__version__}"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: dict | None = None
    stream: bool = False

    def describe(self) -> dict:
        """The request as `--dry-run` prints it, with the Authorization header masked."""
        headers = {"Authorization": "Bearer [REDACTED]", **self.headers}
        out = {"method": self.method, "url": self.url, "headers": headers}
        if self.body is not None:
            out["body"] = self.body
        return out


def base_headers(settings) -> dict:
    """The headers every API request carries (the key is added when sending)."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
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
    if body is not None:
        headers["Content-Type"] = "application/json"
    url = settings.base_url + path
    if query:
        url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
    return ApiRequest(method, url, headers, body)


def build_request(action, params: dict, settings) -> ApiRequest:
    """The HTTP request for `action` with checked, rule-applied `params`."""
    headers = base_headers(settings)
    url = settings.base_url + action.path
    if action.method == "GET":
        return ApiRequest("GET", url, headers)
    body = dict(params)
    stream = bool(body.get("stream"))
    if stream:
        body.update(action.stream_extras)
        headers["Accept"] = "text/event-stream"
    elif body.get("stream") is False:
        del body["stream"]  # the API's own default; keeps the body minimal
    headers["Content-Type"] = "application/json"
    return ApiRequest(action.method, url, headers, body, stream)
