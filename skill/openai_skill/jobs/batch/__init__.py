"""OpenAI's Batch API (`openai_skill.batch`): create, status, wait, results, cancel, list.
The calls are in `api.py`; checking and splitting the input in `inputs.py`; joining the
output back to the inputs in `joining.py`."""

from .api import (Limits, cancel, create, line_of, list_batches, progress_text, request_line_endpoint, results,
                  status, wait)

# The public name, `batch.list`. Bound here, not in api.py, where it would shadow the builtin
# that api.py's annotations (`list[dict]`) mean; nothing in this package calls list().
list = list_batches  # noqa: A001

__all__ = ["create", "status", "wait", "results", "cancel", "list", "list_batches", "Limits", "line_of",
           "progress_text", "request_line_endpoint"]
