"""openai-skill: four OpenAI actions (chat-completion, generate-image, list-models,
create-embedding) declared once in skill.yaml, validated against JSON Schemas, and sent
with requests.

    >>> import skill
    >>> skill.invoke("chat-completion", {"messages": [{"role": "user", "content": "hi"}]})
"""

__version__ = "0.1.0"

from .errors import *  # noqa: E402,F401,F403  (cheap: the error tree only)
from .errors import __all__ as _error_names  # noqa: E402


def invoke(action: str, input: dict | None = None, **options) -> dict:
    """Validate `input`, apply model rules, send the request and return the normalized result."""
    from .handler import invoke as _invoke  # imported on use: keeps `import skill` cheap

    return _invoke(action, input, **options)


def actions() -> list[str]:
    """The action ids declared in skill.yaml."""
    from .manifest import load_manifest

    return list(load_manifest().actions)


__all__ = ["__version__", "invoke", "actions", *_error_names]
