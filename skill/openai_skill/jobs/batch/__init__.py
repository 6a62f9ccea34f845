"""OpenAI's Batch API (`openai_skill.batch`): create, status, wait, results, cancel, list.
The calls are in `api.py`; checking and splitting the input in `inputs.py`; joining the
output back to the inputs in `joining.py`."""

from .api import (Limits, cancel, create, line_of, list, list_batches, progress_text,  # noqa: A004
                  request_line_endpoint, results, status, wait)

__all__ = ["create", "status", "wait", "results", "cancel", "list", "list_batches", "Limits", "line_of",
           "progress_text", "request_line_endpoint"]
