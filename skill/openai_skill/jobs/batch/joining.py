"""Joining a finished batch's output and error files back to its inputs.

Each line of either file names its input by `custom_id` ("line-N"); a success is shaped by
the action exactly as a single call's answer would be, a failure becomes the error object a
single call would have raised (same classes, same redaction). Lines are spooled to disk as
they are read and written out in input order, so a 50,000-line batch is never held whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ... import actions
from ...client import Client
from ...errors import APIError, SkillError
from .inputs import batch_actions, checked_id, line_of, load_inputs_params


def action_of(batch: dict) -> str:
    known = batch_actions()
    action = (batch.get("metadata") or {}).get("action") or known.get(batch.get("endpoint", ""))
    if not isinstance(action, str) or action not in known.values():
        raise APIError(f"batch {batch.get('id')}: endpoint {batch.get('endpoint')!r} is not one this tool "
                       f"can shape ({', '.join(known.values())})")
    return action


def joined_line(item: dict, action: str, params: dict, base_url: str) -> tuple[int | None, dict]:
    """(line number, the joined entry) for one line of an output or error file."""
    custom = item.get("custom_id")
    line = line_of(custom)
    entry = {"line": line, "custom_id": custom, "result": None, "error": None}
    response = item.get("response") or None
    if response and response.get("status_code") == 200:
        try:
            entry["result"] = actions.shape(action, response.get("body") or {}, response.get("request_id"), params)
        except SkillError as exc:
            entry["error"] = exc.to_dict()
    elif response:
        from ...client import error_from_answer

        body = json.dumps(response.get("body") or {}).encode()
        error = error_from_answer(int(response.get("status_code") or 0), body, response.get("request_id"), base_url)
        entry["error"] = error.to_dict()
    else:
        problem = item.get("error") or {}
        entry["error"] = APIError(f"the batch did not run this line: {problem.get('message') or 'no reason given'}",
                                  code=problem.get("code")).to_dict()
    return line, entry


def collect(batches: list[dict], client: Client, *, out: Path | None, inputs: Path | None):
    action = action_of(batches[0])
    table = {}
    if inputs is not None:
        table = load_inputs_params(action, inputs, client)
    index: dict[int, tuple[int, int]] = {}
    counts = {"succeeded": 0, "failed": 0}
    with tempfile.TemporaryDirectory(prefix="openai-skill-results-") as folder:
        spool_path = Path(folder) / "spool"
        with open(spool_path, "wb") as spool:
            for number, batch in enumerate(batches):
                for name in ("output_file_id", "error_file_id"):
                    file_id = batch.get(name)
                    if not file_id:
                        continue
                    # A name we choose: the server's id never becomes a path (`../x`, `/home/...`).
                    local = Path(folder) / f"{number}-{name}.jsonl"
                    client.download(checked_id(file_id, name), local)
                    with open(local, encoding="utf-8") as handle:
                        for raw in handle:
                            if not raw.strip():
                                continue
                            item = json.loads(raw)
                            line = line_of(item.get("custom_id"))
                            data, params = (None, {}) if line is None else table.get(line, (None, {}))
                            line, entry = joined_line(item, action, params, client.base_url)
                            if inputs is not None:
                                entry["input"] = data
                            counts["failed" if entry["error"] else "succeeded"] += 1
                            encoded = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
                            index[line if line is not None else -len(index) - 1] = (spool.tell(), len(encoded))
                            spool.write(encoded)
                    local.unlink()
        missing = sorted(set(table) - set(index))
        order = sorted(index)
        if out is None:
            with open(spool_path, "rb") as spool:
                entries = [json.loads(_read(spool, index[n])) for n in order]
            entries += [_missing(n, table) for n in missing]
            return sorted(entries, key=lambda e: (e["line"] is None, e["line"] or 0))
        _write_in_order(out, spool_path, index, order, missing, table)
    return {"out": str(out), "lines": len(order) + len(missing), **counts, "missing": len(missing),
            "batches": [b["id"] for b in batches]}


def _read(spool, where: tuple[int, int]) -> bytes:
    spool.seek(where[0])
    return spool.read(where[1])


def _missing(line: int, table: dict) -> dict:
    return {"line": line, "custom_id": f"line-{line}", "result": None, "input": table[line][0],
            "error": {"type": "not_run", "error": "NotRun",
                      "message": "the batch ended (expired or cancelled) before this line ran"}}


def _write_in_order(out: Path, spool_path: Path, index: dict, order: list, missing: list, table: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", delete=False)  # noqa: SIM115  (entered by the `with` below; made first so the except can remove it by name)
    try:
        with handle, open(spool_path, "rb") as spool:
            pending = iter(missing)
            gap = next(pending, None)
            for line in order:
                while gap is not None and line > gap:
                    handle.write((json.dumps(_missing(gap, table)) + "\n").encode())
                    gap = next(pending, None)
                handle.write(_read(spool, index[line]))
            while gap is not None:
                handle.write((json.dumps(_missing(gap, table)) + "\n").encode())
                gap = next(pending, None)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, out)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
