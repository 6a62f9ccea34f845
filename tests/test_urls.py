"""Where the key (and a download) may go, proved against listeners on loopback addresses
that a disguised URL would otherwise reach. No test sends anything off this machine."""

from __future__ import annotations

import json

import pytest

import openai_skill
from openai_skill.errors import InputError, InsecureTransportError, NotFoundError
from openai_skill.transport.download import download
from openai_skill.config import Settings

from support.canary import CANARY_KEY
from support.misbehaving import RawServer, respond

MODELS = {"object": "list", "data": []}


@pytest.fixture
def listeners():
    """Recording servers on 127.0.0.1 and 127.0.0.2 that answer 200 with a models list."""
    body = json.dumps(MODELS).encode()
    servers = [RawServer(respond("200 OK", body, {"Content-Type": "application/json"}), host=h)
               for h in ("127.0.0.1", "127.0.0.2")]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def no_network(monkeypatch):
    """For URLs that name other machines: should the guard ever regress, the test fails
    here instead of sending anything off this machine."""
    from openai_skill.transport import session

    def refuse(self, url):
        raise AssertionError(f"a connection to {url} was attempted")
    monkeypatch.setattr(session.Sessions, "for_url", refuse)


def disguises(one, two):
    """URLs that a string check reads as one host while urllib3 connects elsewhere, or that
    are not plain enough to judge: each must be refused before any socket opens."""
    return [
        f"http://{two.host}:{two.port}\\@{one.host}:{one.port}/v1",   # the reviewer's bypass
        f"http://{one.host}:{one.port}@{two.host}:{two.port}/v1",     # userinfo
        f"http://user@{two.host}:{two.port}/v1",
        f"http://{two.host}:{two.port}/v\t1",
        f"http://{two.host}:{two.port}/v1\n",
        f"http://{two.host}:{two.port}/v1\x00",
        f" http://{two.host}:{two.port}/v1",
        f"http://0x7f.0.0.2:{two.port}/v1",
        f"http://2130706434:{two.port}/v1",                         # 127.0.0.2 as one number
    ]


def test_a_disguised_base_url_is_refused_before_any_socket_opens(listeners):
    one, two = listeners
    for url in disguises(one, two):
        with pytest.raises(InsecureTransportError) as caught:
            openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=url, max_retries=0)
        assert CANARY_KEY not in str(caught.value)
    assert (one.accepted, two.accepted) == (0, 0)


def test_the_cli_refuses_the_reviewers_bypass_with_exit_2_and_no_connection(cli, listeners, monkeypatch):
    one, two = listeners
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://{two.host}:{two.port}\\@{one.host}:{one.port}/v1")
    result = cli("models", "--json")
    assert result.code == 2
    assert "backslash" in result.err
    assert (one.accepted, two.accepted) == (0, 0)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost"])
def test_real_loopback_hosts_are_still_served(listeners, host):
    server = {"127.0.0.1": listeners[0], "localhost": listeners[0], "127.0.0.2": listeners[1]}[host]
    result = openai_skill.invoke("list-models", {}, api_key=CANARY_KEY,
                                 base_url=f"http://{host}:{server.port}/v1")
    assert result["models"] == []
    assert server.accepted == 1


@pytest.mark.parametrize("url, words", [
    ("http://10.0.0.7:8080/v1", "refusing to send the API key to http://10.0.0.7:8080"),
    ("http://api.example.com/v1", "refusing to send the API key to http://api.example.com"),
    ("127.0.0.1:8000/v1", "has no scheme; write it as https://127.0.0.1:8000/v1"),
    ("localhost:8000/v1", "has no scheme"),
    ("not a url", "backslash, whitespace or a control character"),
    ("nonsense", "has no scheme"),
    ("ftp://127.0.0.1/v1", "is not an http(s) URL"),
    ("http:///v1", "has no host"),
])
def test_a_bad_base_url_gets_a_message_that_says_what_is_wrong(cli, monkeypatch, no_network, url, words):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    result = cli("models", "--json")
    assert result.code == 2
    assert words in result.err
    assert "://:" not in result.err and "to ://" not in result.err


def test_a_plain_http_loopback_call_never_goes_through_http_proxy(listeners, monkeypatch):
    """HTTP_PROXY would receive the request, Authorization header and all, in clear."""
    api, proxy = listeners
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.host}:{proxy.port}")
    monkeypatch.setenv("http_proxy", f"http://{proxy.host}:{proxy.port}")
    monkeypatch.setenv("ALL_PROXY", f"http://{proxy.host}:{proxy.port}")
    result = openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=api.url())
    assert result["models"] == []
    assert proxy.accepted == 0 and api.accepted == 1
    assert CANARY_KEY.encode() in api.heads[0]


def test_a_404_invalid_url_from_a_base_url_without_v1_gets_a_hint(monkeypatch):
    body = json.dumps({"error": {"message": "Invalid URL (GET /models)",
                                 "type": "invalid_request_error", "param": None, "code": None}})
    server = RawServer(respond("404 Not Found", body.encode(), {"Content-Type": "application/json"}))
    try:
        with pytest.raises(NotFoundError) as caught:
            openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=server.url(""))
        assert "Invalid URL (GET /models)" in caught.value.message
        assert "has no /v1" in caught.value.message
        with pytest.raises(NotFoundError) as caught:
            openai_skill.invoke("list-models", {}, api_key=CANARY_KEY, base_url=server.url("/v1"))
        assert "has no /v1" not in caught.value.message
    finally:
        server.close()


# --- image downloads ----------------------------------------------------------------------


def public_api() -> Settings:
    return Settings.from_env(base_url="https://api.openai.com/v1", max_retries=0)


@pytest.mark.parametrize("template", [
    "http://{host}:{port}/img.png?sig=secret",
    "https://{host}:{port}/img.png?sig=secret",
    "https://localhost:{port}/img.png?sig=secret",
    "https://[::1]:{port}/img.png?sig=secret",
])
def test_a_download_to_a_loopback_address_is_refused_when_the_api_is_not_local(listeners, template):
    two = listeners[1]
    url = template.format(host=two.host, port=two.port)
    with pytest.raises(InsecureTransportError) as caught:
        download(url, public_api())
    assert "refusing to download" in caught.value.message
    assert "secret" not in caught.value.message
    assert two.accepted == 0 and listeners[0].accepted == 0


@pytest.mark.parametrize("url", [
    "https://10.1.2.3/img.png", "https://192.168.0.9/img.png", "https://169.254.169.254/latest",
    "https://[fd00::1]/img.png", "https://[fe80::1]/img.png", "https://0.0.0.0/img.png",
    "https://100.64.0.1/img.png", "https://224.0.0.1/img.png",
])
def test_a_download_to_a_private_or_link_local_address_is_refused(no_network, url):
    with pytest.raises(InsecureTransportError, match="private, loopback or link-local"):
        download(url, public_api())


def test_a_download_name_is_resolved_and_checked(monkeypatch):
    calls = []

    def resolve(host, port, **kw):
        calls.append(host)
        return [(2, 1, 6, "", ("10.0.0.5", port))]

    from openai_skill.transport import download as urls

    with pytest.raises(InsecureTransportError, match="images.example.com is 10.0.0.5"):
        urls.check_download_url("https://images.example.com/a.png", "https://api.openai.com/v1",
                                resolve=resolve)
    assert calls == ["images.example.com"]
    public = [(2, 1, 6, "", ("93.184.216.34", 443))]
    urls.check_download_url("https://images.example.com/a.png", "https://api.openai.com/v1",
                            resolve=lambda *a, **k: public)


def test_a_name_that_resolves_public_then_private_is_refused_at_connect(listeners, monkeypatch):
    """DNS rebinding: the check sees a public address, the connection gets loopback. The
    connected peer is checked too, before a byte is sent."""
    from openai_skill.transport import download as urls

    one = listeners[0]
    monkeypatch.setattr(urls, "_resolve", lambda host, port, **kw: [(2, 1, 6, "", ("93.184.216.34", port))])
    with pytest.raises(InsecureTransportError, match="localhost is (127.0.0.1|::1), a private"):
        download(f"https://localhost:{one.port}/img.png?sig=secret", public_api())
    assert one.heads in ([], [b""])   # connected, then closed: nothing was sent


# ---- the judge's own edges (found by mutation testing, tools/mutate.py) ------------------------

@pytest.mark.parametrize("url, words", [
    ("", "is empty; Fix OPENAI_BASE_URL"),
    ("https://[::1/v1", "is not a URL"),                  # urllib3 cannot parse it: ours, not its error
    ("https://api.example.com:99999/v1", "is not a URL"),
    ("http://@127.0.0.1:8080/v1", "carries user:password@"),  # an empty userinfo: urllib3 reads no auth
])
def test_a_url_the_parser_cannot_read_or_that_hides_userinfo_is_refused_with_its_reason(url, words):
    from openai_skill import urls

    for judge in (urls.check_transport, urls.origin_of):
        with pytest.raises(InsecureTransportError) as refused:
            judge(url)
        assert words in refused.value.message


def test_a_url_inside_the_path_or_query_is_not_taken_for_the_authority():
    from openai_skill import urls

    url = "https://gateway.example/v1/proxy/https://user@elsewhere.example?next=http://a@b"
    urls.check_transport(url)
    assert urls.origin_of(url) == "https://gateway.example"


def test_an_origin_drops_only_its_schemes_default_port():
    from openai_skill.urls import origin_of

    assert origin_of("http://127.0.0.1:80/v1") == "http://127.0.0.1"
    assert origin_of("https://api.example.com:443/v1") == "https://api.example.com"
    assert origin_of("http://127.0.0.1:443/v1") == "http://127.0.0.1:443"
    assert origin_of("https://api.example.com:80/v1") == "https://api.example.com:80"


@pytest.mark.parametrize("given", [None, b"https://api.openai.com", 443])
def test_a_url_that_is_not_text_is_refused_not_judged(given):
    from openai_skill import urls

    for judge in (urls.check_transport, urls.origin_of):
        with pytest.raises(InsecureTransportError, match="is empty"):
            judge(given)


@pytest.mark.parametrize("url", ["https://under_score.example/v1", "https://-lead.example/v1",
                                 "https://" + "a" * 64 + ".example/v1"])
def test_a_host_no_origin_can_name_is_refused_by_the_origin_judge(url):
    """urllib3 connects to these; a vault or keychain entry could never be bound to them."""
    from openai_skill.urls import origin_of

    with pytest.raises(InsecureTransportError, match="does not name a host this skill can judge"):
        origin_of(url)


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True),
    (None, False), ("", False), ("localhost.", False), ("127.evil.example", False), ("0x7f.1", False),
    ("2130706433", False), ("10.0.0.1", False), ("example.com", False),
])
def test_only_a_loopback_literal_or_localhost_is_loopback(host, loopback):
    from openai_skill.urls import is_loopback_host

    assert bool(is_loopback_host(host)) is loopback


@pytest.mark.parametrize("url, shown", [
    ("https://user:pw@images.example.com:8443/a/b.png?sig=TOKEN#frag", "https://images.example.com:8443/a/b.png"),
    ("https://api.example.com", "https://api.example.com"),
    ("/v1/models?after=x", "/v1/models"),      # a relative Location header: its path
    ("", "?"), ("https://[::1/x?sig=TOKEN", "?"),   # nothing a message could show
])
def test_a_url_in_a_message_shows_no_userinfo_query_or_fragment(url, shown):
    from openai_skill.urls import safe_url

    assert safe_url(url) == shown


@pytest.mark.parametrize("length, shown", [(80, "a" * 79 + "/"), (81, "a" * 80 + "…")])
def test_a_long_id_is_quoted_cut_at_80_characters(length, shown):
    """A hostile gateway's id is quoted, but never at any length."""
    from openai_skill.errors import UnexpectedResponseError
    from openai_skill.urls import checked_id

    bad = "a" * (length - 1) + "/"
    with pytest.raises(UnexpectedResponseError) as server:
        checked_id(bad, "output_file_id", from_server=True)
    with pytest.raises(InputError) as user:
        checked_id(bad, "batch_id", from_server=False)
    for error in (server.value, user.value):
        assert repr(shown) in error.message


def test_a_bad_non_text_id_or_api_path_is_quoted_cut_short():
    from openai_skill.errors import UnexpectedResponseError
    from openai_skill.urls import check_api_path, checked_id

    value = list(range(100))
    with pytest.raises(UnexpectedResponseError) as bad_id:
        checked_id(value, "output_file_id", from_server=True)
    assert repr(value)[:80] in bad_id.value.message and repr(value)[:81] not in bad_id.value.message
    path = "/files/" + "a" * 200 + "/../x"
    with pytest.raises(InsecureTransportError) as bad_path:
        check_api_path(path)
    assert repr(path[:120]) in bad_path.value.message and path[:121] not in bad_path.value.message


@pytest.mark.parametrize("length, shown", [(80, "h" * 80), (81, "h" * 80 + "…")])
def test_a_refused_url_is_quoted_without_its_query_cut_at_80_characters(length, shown):
    from openai_skill.urls import check_transport

    url = "h" * length + "?token=secret"
    with pytest.raises(InsecureTransportError) as refused:
        check_transport(url)
    assert f"the base URL {shown!r} has no scheme" in refused.value.message


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1?token=SECRETQ", "user:SECRETP@127.0.0.1:8000/v1",
                                 "127.0.0.1:8000/v1#SECRETF"])
def test_the_fix_for_a_url_without_a_scheme_repeats_no_query_fragment_or_userinfo(url):
    with pytest.raises(InsecureTransportError) as refused:
        openai_skill.urls.parse(url)
    message = refused.value.message
    assert "has no scheme; write it as https://127.0.0.1:8000/v1 " in message
    assert "SECRET" not in message
