"""The one URL judge: where the API key may go (`check_transport`) and which origin a URL
belongs to (`origin_of`, what a vault or keychain entry is bound to).

The host is judged with `urllib3.util.parse_url`, the parser that requests and urllib3 use
to decide where to connect, so the check and the connection cannot disagree about the host
(`urlsplit` and urllib3 read `http://a\\@b/` differently). urllib3 IDNA-encodes a host the
way requests sends it (`bücher.example` -> `xn--bcher-kva.example`), and origins are kept in
that form. Anything that could make parsers disagree — userinfo, backslashes, control
characters, whitespace — is refused outright.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from .errors import InputError, InsecureTransportError, UnexpectedResponseError

LOCALHOST = "localhost"
_FIX_BASE = "Fix OPENAI_BASE_URL (or the base_url option)"


def parse(url: str, *, what: str = "the base URL"):
    """urllib3's reading of `url` (scheme, auth, host, port, path, query), or
    InsecureTransportError saying why it is not a URL we will connect to."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    text = url if isinstance(url, str) else ""
    shown = _shown(text)
    if not text:
        raise InsecureTransportError(f"{what} is empty; {_FIX_BASE} to an https:// URL.")
    if any(ch == "\\" or ch.isspace() or not ch.isprintable() for ch in text):
        raise InsecureTransportError(
            f"{what} {shown} contains a backslash, whitespace or a control character; "
            "refusing it (parsers disagree on where such a URL goes).")
    try:
        parts = parse_url(text)
    except (LocationParseError, ValueError):
        raise InsecureTransportError(f"{what} {shown} is not a URL.") from None
    if parts.scheme is None or "://" not in text:
        raise InsecureTransportError(
            f"{what} {shown} has no scheme; write it as https://{_bare(text)} "
            "(or http:// for a server on this machine).")
    if parts.scheme not in ("http", "https"):
        raise InsecureTransportError(f"{what} {shown} is not an http(s) URL.")
    if not parts.host:
        raise InsecureTransportError(f"{what} {shown} has no host.")
    if parts.auth is not None or "@" in _authority(text):
        raise InsecureTransportError(
            f"{what} {shown} carries user:password@ before the host; refusing it (the key "
            "goes in a header, never in the URL).")
    return parts


def is_loopback_host(host: str | None) -> bool:
    """An IP literal that `ipaddress` calls loopback, or exactly `localhost`. Nothing else:
    `127.evil.example`, `localhost.`, `0x7f.1` and `2130706433` all resolve somewhere a
    string check cannot know."""
    if not host:
        return False
    if host == LOCALHOST:
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def host_of(url: str) -> str:
    """host[:port] as urllib3 would connect to it ("?" if there is none)."""
    parts = _lenient(url)
    if parts is None or not parts.host:
        return "?"
    return f"{parts.host}:{parts.port}" if parts.port else parts.host


def safe_url(url: str) -> str:
    """scheme://host[:port]/path: no userinfo, no query or fragment (signed image URLs carry
    their tokens in the query)."""
    parts = _lenient(url)
    if parts is None:
        return "?"
    if not parts.scheme:
        return parts.path or "?"
    return f"{parts.scheme}://{host_of(url)}{parts.path or ''}"


# The judgments below are pure functions of the URL's text, and a reused client asks them about
# the same few URLs on every call: what they answer for a string is kept (a bounded number of
# strings, as image downloads bring new URLs). A refusal is an exception, never kept: it is
# judged again, and raised again, each time.
_KEPT_URLS = 256


def check_transport(url: str) -> None:
    """Refuse a URL the key must not travel to: not a proper http(s) URL, or plain http to
    anything but loopback. Called when an ApiRequest is built, so nothing that refuses can
    ever reach a socket."""
    if isinstance(url, str):
        return _checked_transport(url)
    return _check_transport(url)


def _check_transport(url) -> None:
    parts = parse(url)
    if parts.scheme == "https" or is_loopback_host(parts.host):
        return
    raise InsecureTransportError(
        f"refusing to send the API key to http://{host_of(url)}: only https is allowed (plain "
        f"http only to loopback: 127.0.0.0/8, ::1 or localhost). {_FIX_BASE} to an https:// URL.")


def check_base(url: str) -> None:
    """Refuse a base URL that `parse` refuses, naming the base URL (not base + path) in the fix.
    Asked before every request is built: kept per string like the judgments here."""
    if isinstance(url, str):
        _parsed_base(url)
    else:
        parse(url)


def uses_plain_http(url: str) -> bool:
    if isinstance(url, str):
        return _plain_http(url)
    return (_lenient(url) or _EMPTY).scheme == "http"


@lru_cache(maxsize=_KEPT_URLS)
def _plain_http(url: str) -> bool:
    return (_lenient(url) or _EMPTY).scheme == "http"


# An origin in canonical form: scheme and (IDNA-encoded) host in lower case, the default port
# dropped, no path. The definition; `_origin_shape` matches it without compiling it, and the
# DNS label rules are checked in is_origin.
ORIGIN_PATTERN = r"https?://(?:[a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::[1-9][0-9]{0,4})?"
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_IPV6_CHARS = frozenset("0123456789abcdef:.")
_DIGITS = frozenset("0123456789")


def origin_of(url: str) -> str:
    """The canonical origin of a URL or origin (`https://host[:port]`), judged exactly as
    `check_transport` judges a URL; InsecureTransportError (an InputError) if it is not one."""
    if isinstance(url, str):
        return _kept_origin(url)
    return _origin_of(url)


def _origin_of(url) -> str:
    parts = parse(url, what="the URL")
    host = parts.host.lower()
    port = parts.port
    origin = f"{parts.scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}")
    if not is_origin(origin):
        raise InsecureTransportError(f"{_shown(url)} does not name a host this skill can judge")
    return origin


_kept_origin = lru_cache(maxsize=_KEPT_URLS)(_origin_of)
_checked_transport = lru_cache(maxsize=_KEPT_URLS)(_check_transport)
_parsed_base = lru_cache(maxsize=_KEPT_URLS)(parse)


def is_origin(text) -> bool:
    """Whether `text` is an origin in canonical form (see VAULT-FORMAT.md, Layout)."""
    if not isinstance(text, str) or not _origin_shape(text):
        return False
    rest = text.split("://", 1)[1]
    if rest.startswith("["):  # an IPv6 literal
        port = rest.rpartition("]")[2].lstrip(":")
    else:
        host, _, port = rest.partition(":")
        if not all(0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-" for label in host.split(".")):
            return False
    return not port or int(port) <= 65535


def _origin_shape(text: str) -> bool:
    """`re.fullmatch(ORIGIN_PATTERN, text)`, by hand: every key lookup judges an origin, and
    compiling the pattern was ~0.2 ms of every CLI call (tests hold the two to one verdict)."""
    if text.startswith("https://"):
        rest = text[8:]
    elif text.startswith("http://"):
        rest = text[7:]
    else:
        return False
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0 or not 2 <= close - 1 <= 45 or not _IPV6_CHARS.issuperset(rest[1:close]):
            return False
        tail = rest[close + 1:]
    else:
        host, colon, port = rest.partition(":")
        if not 1 <= len(host) <= 253 or not _HOST_CHARS.issuperset(host):
            return False
        tail = colon + port
    if not tail:
        return True
    port = tail[1:]
    return tail[0] == ":" and 1 <= len(port) <= 5 and port[0] != "0" and _DIGITS.issuperset(port)


# An API object id (`batch_abc`, `file-abc`) as it may appear in a URL path or a file name:
# nothing that a path, a URL or a shell could read as structure (`/`, `.`, `%`, `?`, `#`).
# Both compiled on first use (re keeps them): only jobs check ids and paths, and every CLI
# call imports this module.
ID_PATTERN = r"[A-Za-z0-9_-]{1,200}"
# The path of a request that is not an action: `/files`, `/batches/<id>/cancel`, ...
API_PATH = r"(?:/[A-Za-z0-9_-]{1,200}){1,8}"


def checked_id(value, what: str, *, from_server: bool) -> str:
    """An object id before it touches a URL path or a file name: letters, digits, `_`, `-`.

    `from_server`: the id came from an API answer (a batch's `output_file_id`, a created
    batch's `id`): a hostile gateway may answer `../../.bashrc` or an absolute path, so a
    refusal is UnexpectedResponseError (nothing is fetched or written). Otherwise the user
    gave it: InputError naming the field."""
    if isinstance(value, str) and re.fullmatch(ID_PATTERN, value):
        return value
    shown = repr(value[:80] + ("…" if len(value) > 80 else "")) if isinstance(value, str) else repr(value)[:80]
    if from_server:
        raise UnexpectedResponseError(f"the server's {what} {shown} is not an id (letters, digits, _ or -); "
                                      "nothing was fetched or written for it")
    raise InputError(f"{what}: expected an id of letters, digits, _ or -, got {shown}",
                     field=what, expected=ID_PATTERN, given=shown)


def check_api_path(path: str) -> str:
    """Refuse an API path that is not plain `/segment/...` (a `..`, `%2e`, `?` or `//` from
    an id that slipped through would change which resource the key is sent to)."""
    if not isinstance(path, str) or not re.fullmatch(API_PATH, path):
        raise InsecureTransportError(f"refusing to build a request for the API path {str(path)[:120]!r}: "
                                     "only /name/id/... made of letters, digits, _ and - is sent")
    return path


def _authority(text: str) -> str:
    rest = text.split("://", 1)[-1]
    for end in "/?#":
        rest = rest.split(end, 1)[0]
    return rest


def _ip(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _lenient(url):
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        return parse_url(url if isinstance(url, str) else "")
    except (LocationParseError, ValueError):
        return None


class _Empty:
    scheme = host = None


_EMPTY = _Empty()


def _bare(text: str, limit: int = 80) -> str:
    """The URL as messages show it: no query, fragment or userinfo (each may carry a token),
    cut short."""
    head = text.split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = head.partition("://") if "://" in head else ("", "", head)
    authority, slash, path = rest.partition("/")
    head = scheme + sep + authority.rsplit("@", 1)[-1] + slash + path
    return head if len(head) <= limit else head[:limit] + "…"


def _shown(text: str) -> str:
    """The URL for a message, quoted: control characters made visible."""
    return repr(_bare(text))
