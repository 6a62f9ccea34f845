"""TLS for origin-bound keys: who may vouch for the server, decided by the key, not the environment.

A vault or keychain key is bound to origins (`https://api.openai.com`); a certificate is
what proves a server is that origin. If the environment could choose the CAs
(`REQUESTS_CA_BUNDLE=attacker-ca.pem HTTPS_PROXY=...`), a proxy could present its own
certificate for the bound origin and read the key: the binding would mean nothing. So for a
bound key (`Secret.bound`) the connection is verified with a context built here:

- trusting certifi's bundle, plus the CA bundle the entry records if it records one (`setup
  --ca-bundle`, for a corporate proxy that inspects TLS: shown to and confirmed by a person;
  certifi stays, so the key still works off that network);
- never the environment's CA settings: REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE (requests'
  `verify`) are ignored by the adapter, SSL_CERT_FILE and SSL_CERT_DIR (OpenSSL's default
  paths) are never loaded;
- never writing TLS key logs: SSLKEYLOGFILE is read only by `ssl.create_default_context`
  and urllib3's context factory, neither of which builds this one;
- hostname checked, TLS 1.2 at least.

HTTPS_PROXY still applies: through a proxy, TLS runs end to end with this context, so the
proxy relays bytes it cannot read. A key the caller passes or exports is not bound and uses
the environment's settings (a developer's own proxy, their own CA).
"""

from __future__ import annotations

import hashlib
import ssl
import threading

from ..errors import InputError

CERTIFI = "certifi"


class Pin:
    """What verifies the server for a bound key: certifi's bundle, plus the PEM text the entry
    records (`pem`, or None). `key` names it for the session pool (one session per pin).
    Immutable, compared by `pem`; a plain class, not a dataclass: `dataclasses` imports
    `inspect` (~6 ms) on the start-up path of every CLI call."""

    __slots__ = ("pem", "key")
    pem: str | None
    key: str

    def __init__(self, pem: str | None = None):
        name = CERTIFI if pem is None else "pem-" + hashlib.sha256(pem.encode()).hexdigest()[:16]
        object.__setattr__(self, "pem", pem)
        object.__setattr__(self, "key", name)

    def __setattr__(self, name, value):
        raise AttributeError("a Pin is immutable")

    def __delattr__(self, name):
        raise AttributeError("a Pin is immutable")

    def __eq__(self, other):
        return self.pem == other.pem if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self) -> int:
        return hash((self.pem,))

    def __repr__(self) -> str:
        return f"Pin(pem={self.pem!r}, key={self.key!r})"

    def context(self) -> ssl.SSLContext:
        """A fresh client context trusting only this pin's CAs (see the module docstring)."""
        return _context(self.pem)


def pin_of(secret) -> Pin | None:
    """The pin for a key (None: the environment decides, as for any key the caller gives)."""
    if secret is None or not getattr(secret, "bound", False):
        return None
    return Pin(getattr(secret, "ca_bundle", None) or None)


_lock = threading.Lock()
_contexts: dict[str | None, ssl.SSLContext] = {}


def _context(pem: str | None) -> ssl.SSLContext:
    with _lock:
        context = _contexts.get(pem)
        if context is None:
            context = _contexts[pem] = _new_context(pem)
        return context


def _new_context(pem: str | None) -> ssl.SSLContext:
    # ssl.SSLContext(), not create_default_context(): the latter loads the default verify
    # paths (SSL_CERT_FILE, SSL_CERT_DIR) and honours SSLKEYLOGFILE.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # CERT_REQUIRED, check_hostname on
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.hostname_checks_common_name = False
    import certifi

    context.load_verify_locations(cafile=certifi.where())
    if pem is not None:
        try:
            context.load_verify_locations(cadata=pem)
        except (ssl.SSLError, ValueError):
            raise InputError("the CA bundle recorded for this key is not PEM certificates; record it again "
                             "with `openai-skill setup --ca-bundle FILE`", field="ca_bundle") from None
    # A fresh SSLContext has no key log (only create_default_context and urllib3's factory
    # read SSLKEYLOGFILE), and nothing sets one on it.
    return context


def check_ca_bundle(pem: str) -> list[dict]:
    """The certificates in a PEM CA bundle (subject, SHA-256 fingerprint, expiry), to show a
    person before it is recorded; InputError when it holds none or is not PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        certificates = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise InputError("the CA bundle is not PEM certificates (-----BEGIN CERTIFICATE-----)",
                         field="ca_bundle", expected="PEM certificates") from None
    shown = []
    for certificate in certificates:
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = constraints.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            subject = certificate.subject.rfc4514_string()
            raise InputError(f"the CA bundle holds a certificate that is not a CA ({subject}); give the CA "
                             "certificate of your proxy, not a server's", field="ca_bundle")
        shown.append({"subject": certificate.subject.rfc4514_string(),
                      "sha256": certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
                      "expires": certificate.not_valid_after_utc.strftime("%Y-%m-%d")})
    _new_context(pem)  # and OpenSSL takes it
    return shown


__all__ = ["Pin", "pin_of", "check_ca_bundle", "CERTIFI"]
