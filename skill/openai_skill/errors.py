"""The skill's exceptions: the library raises these; only the CLI and MCP layers turn them
into exit codes, one-line messages or error results.

Every message is redacted before it is stored, so an exception can be printed, logged or
repr'd without leaking a key that an upstream error echoed back.
"""

from __future__ import annotations

from .redaction import redact, redact_untrusted

# Exit codes are part of the CLI's documented contract (README "Troubleshooting").
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CREDENTIALS = 3
EXIT_API = 4
EXIT_NETWORK = 5
EXIT_NOT_SAVED = 6   # images were generated (and paid for) but not all could be saved
EXIT_BUDGET = 7      # a spend cap refused the call before anything was sent


class SkillError(Exception):
    """Base class: every failure the skill expects to happen."""

    exit_code = 1
    kind = "error"
    # Our own messages mask only the secrets we hold; APIError also masks key-shaped tokens,
    # because its text quotes the API's error bodies (see redaction.py).
    _redact = staticmethod(redact)

    def __init__(self, message: str, **details):
        self.message = self._redact(str(message))
        self.details = {k: (self._redact(v) if isinstance(v, str) else v) for k, v in details.items()}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def to_dict(self) -> dict:
        """The error as the JSON object agents parse (`--json`, MCP error results)."""
        out = {"type": self.kind, "error": type(self).__name__, "message": self.message}
        out.update({k: v for k, v in self.details.items() if v is not None})
        return out


class InputError(SkillError):
    """The caller's input (or a CLI usage) is invalid; nothing was sent."""

    exit_code = EXIT_USAGE
    kind = "invalid_input"

    def __init__(self, message: str, problems: list[dict] | None = None, **details):
        super().__init__(message, **details)
        self.problems = problems or []

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.problems:
            out["problems"] = self.problems
        return out


class InsecureTransportError(InputError):
    """The key would travel over plain http to a host that is not loopback."""

    kind = "insecure_transport"


class BudgetError(SkillError):
    """A spend cap (`openai-skill budget`) refused the call before anything was sent: its
    worst case would pass a cap, or its price is unknown while a cap is set."""

    exit_code = EXIT_BUDGET
    kind = "budget_exceeded"


class NeedsPersonError(InputError):
    """A change that needs a person's confirmation (a new origin for a stored key, a CA bundle,
    a higher cap) did not get it; nothing was changed. See surfaces/confirm.py."""

    kind = "needs_person"


class CredentialsError(SkillError):
    """No API key could be found, or the one found was rejected."""

    exit_code = EXIT_CREDENTIALS
    kind = "credentials"


class VaultError(CredentialsError):
    """The vault could not be opened, read or written (see the message for which)."""

    kind = "vault"


class APIError(SkillError):
    """OpenAI answered with an error, or with something that is not the answer we expect."""

    exit_code = EXIT_API
    kind = "api_error"
    _redact = staticmethod(redact_untrusted)

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None,
                 api_type: str | None = None, code: str | None = None, param: str | None = None):
        super().__init__(message, status=status, request_id=request_id,
                         api_type=api_type, code=code, param=param)
        self.status = status
        self.request_id = request_id
        self.api_type = self.details["api_type"]   # OpenAI's error `type`, e.g. "server_error"
        self.code = self.details["code"]
        self.param = self.details["param"]


class AuthenticationError(APIError, CredentialsError):
    """401: the key was rejected."""

    exit_code = EXIT_CREDENTIALS
    kind = "authentication"


class BadRequestError(APIError):
    """400/422: OpenAI refused the request's content."""

    kind = "bad_request"


class PermissionDeniedError(APIError):
    """403: the key may not use this model or endpoint (e.g. organization not verified)."""

    kind = "permission_denied"


class NotFoundError(APIError):
    """404: unknown model or path."""

    kind = "not_found"


class ConflictError(APIError):
    """409: a conflicting request is in flight."""

    kind = "conflict"


class RateLimitError(APIError):
    """429: too many requests; retried, and raised once retries are spent."""

    kind = "rate_limited"


class QuotaExceededError(RateLimitError):
    """429 insufficient_quota: billing, not speed; retrying can never succeed."""

    kind = "quota_exceeded"


class ServerError(APIError):
    """5xx from OpenAI (or a gateway in front of it)."""

    kind = "server_error"


class UnexpectedResponseError(APIError):
    """A 2xx answer that is not the JSON we expect (HTML, garbage, truncated)."""

    kind = "unexpected_response"


class TransportError(SkillError):
    """The request did not complete: connection failed or timed out."""

    exit_code = EXIT_NETWORK
    kind = "network"


class APIConnectionError(TransportError):
    """Could not connect, or the connection broke."""

    kind = "connection"


class APITimeoutError(TransportError):
    """Connect/read timeout or the total deadline passed."""

    kind = "timeout"


__all__ = [
    "SkillError", "InputError", "InsecureTransportError", "NeedsPersonError", "BudgetError", "CredentialsError",
    "VaultError",
    "APIError", "AuthenticationError", "BadRequestError", "PermissionDeniedError",
    "NotFoundError", "ConflictError", "RateLimitError", "QuotaExceededError", "ServerError",
    "UnexpectedResponseError", "TransportError", "APIConnectionError", "APITimeoutError",
]
