"""list-models: the result shape (sorted by id, with each shutdown date the API gives), and
learning those dates (lifecycle/learned.py) from every answer."""

from __future__ import annotations


def shape(data: dict, request_id, params) -> dict:
    models = []
    for entry in sorted(data["data"], key=lambda m: m["id"]):
        model = {"id": entry["id"], "owned_by": entry["owned_by"], "created": int(entry["created"])}
        if "shutdown_date" in entry:  # null too: the API saying "no shutdown announced"
            model["shutdown_date"] = entry["shutdown_date"]
        models.append(model)
    return {"models": models, "count": len(models), "request_id": request_id}


def observe(data: dict, origin, env) -> None:
    """Remember this origin's models and shutdown dates (never an error: a cache)."""
    from ..lifecycle import learned

    entries = data.get("data") if isinstance(data, dict) else None
    if isinstance(entries, list):
        learned.record(origin, entries, env)
