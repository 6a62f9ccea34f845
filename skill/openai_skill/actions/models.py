"""list-models: the result shape (sorted by id, with any shutdown date)."""

from __future__ import annotations


def shape(data: dict, request_id, params) -> dict:
    models = []
    for entry in sorted(data["data"], key=lambda m: m["id"]):
        model = {"id": entry["id"], "owned_by": entry["owned_by"], "created": int(entry["created"])}
        if entry.get("shutdown_date") is not None:
            model["shutdown_date"] = entry["shutdown_date"]
        models.append(model)
    return {"models": models, "count": len(models), "request_id": request_id}
