"""Lifecycle helpers for tests: the day the data describes, and a server that still serves a
model OpenAI shut down (what a gateway or dedicated capacity looks like to the skill).

Tests never depend on the real date: conftest pins the skill's clock to DATA_DAY, the day
skill.yaml's lifecycle data was checked, and tests that need another day pass `today=`."""

from __future__ import annotations

import os
from datetime import date, timedelta

from openai_skill.config import DEFAULT_ORIGIN
from openai_skill.lifecycle import learned
from openai_skill.manifest import load_manifest
from openai_skill.urls import origin_of

DATA_DAY = date.fromisoformat(load_manifest().lifecycle["checked"])


def entry(model: str, shutdown=None, **extra) -> dict:
    """A GET /models entry as OpenAI answers it today (with `shutdown_date`)."""
    day = shutdown.isoformat() if isinstance(shutdown, date) else shutdown
    return {"id": model, "object": "model", "created": 1700000000, "owned_by": "system",
            "shutdown_date": day, **extra}


def serve(*models: str, origin: str | None = None) -> None:
    """Record that `origin`'s model list (default: the one OPENAI_BASE_URL points at, else
    api.openai.com) carries these models with no shutdown date: the skill then sends them
    there whatever the built-in table says (the API wins)."""
    if origin is None:
        base = os.environ.get("OPENAI_BASE_URL")
        origin = origin_of(base) if base else DEFAULT_ORIGIN
    learned.record(origin, [entry(model) for model in models])


def days(n: int, start: date = DATA_DAY) -> date:
    return start + timedelta(days=n)
