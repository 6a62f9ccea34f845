"""openai-skill: four OpenAI actions (chat-completion, generate-image, list-models,
create-embedding) declared once in skill.yaml, validated against JSON Schemas, and sent
with requests.

    >>> import openai_skill
    >>> openai_skill.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]})
"""

from ._version import __version__

from .errors import *  # noqa: E402,F401,F403  (cheap: the error tree only)
from .errors import __all__ as _error_names  # noqa: E402


def invoke(action: str, input: dict | None = None, **options) -> dict:
    """Validate `input`, apply model rules, send the request and return the normalized result.

    A thin call on the default `Client` (settings from the environment); `options` are
    Client's keyword arguments (api_key, base_url, timeouts, ...) and invoke's (dry_run,
    on_text, inline_images, download_images). An unknown option is an InputError naming
    the nearest valid one."""
    from .client import invoke as _invoke  # imported on use: keeps `import openai_skill` cheap

    return _invoke(action, input, **options)


def tool_definitions(format: str = "json") -> list[dict]:
    """The four actions as tool definitions for a registry: format "openai", "anthropic", "mcp" or "json"."""
    from .surfaces.exports.tools import tool_definitions as _definitions  # on use: keeps the import cheap

    return _definitions(format)


def embed_many(texts, **options):
    """Embed many texts (any iterable, read lazily); yield one vector per text, in order.

    Packs up to 2048 texts a request, keeps `concurrency` requests in flight within the
    account's rate limit, and answers repeated texts from the local cache (see `jobs.bulk`).
    """
    from .jobs.bulk import embed_many as _embed_many

    return _embed_many(texts, **options)


def __getattr__(name: str):
    # `openai_skill.batch` (the Batch API: create, status, wait, results, cancel, list),
    # imported on first use like everything else here.
    if name == "batch":
        import importlib

        return importlib.import_module(".jobs.batch", __name__)
    if name in ("Client", "Secret"):
        from .client import Client
        from .secret import Secret

        return {"Client": Client, "Secret": Secret}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def action_names() -> list[str]:
    """The action ids declared in skill.yaml."""
    from .manifest import load_manifest

    return list(load_manifest().actions)


# Client, Secret and batch come from __getattr__ on first use (F405: not defined at import time).
__all__ = ["__version__", "Client", "Secret", "invoke", "tool_definitions", "embed_many",  # noqa: F405
           "batch", "action_names", *_error_names]  # noqa: F405
