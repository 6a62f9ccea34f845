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
from ...errors import APIError, SkillError, UnexpectedResponseError
from .inputs import Limits, batch_actions, checked_id, line_of, load_inputs_params

MAX_REPORTED_PROBLEMS = 20
MAX_LINES_PER_BATCH = Limits.requests   # a batch file holds at most this many requests


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
    expected: set[int] = set(table)     # the lines that should have an answer
    unnamed = 0                          # lines the batch ran but that no custom_id names (foreign batches)
    index: dict[int, tuple[int, int]] = {}
    answered: dict[str, str] = {}        # custom_id -> where its answer was
    problems: list[str] = []
    counts = {"succeeded": 0, "failed": 0}
    spent, unknown = 0.0, None   # the batches' cost at the Batch price, from each answer's usage
    with tempfile.TemporaryDirectory(prefix="openai-skill-results-") as folder:
        spool_path = Path(folder) / "spool"
        with open(spool_path, "wb") as spool:
            for number, batch in enumerate(batches):
                in_batch = 0
                for name in ("output_file_id", "error_file_id"):
                    file_id = batch.get(name)
                    if not file_id:
                        continue
                    # A name we choose: the server's id never becomes a path (`../x`, `/home/...`).
                    local = Path(folder) / f"{number}-{name}.jsonl"
                    client.download(checked_id(file_id, name, from_server=True), local)
                    for where, item in _items(local, f"batch {batch.get('id')} {name} {file_id}", problems):
                        custom = item["custom_id"]
                        if custom in answered:
                            problems.append(f"custom_id {custom!r} is answered twice ({answered[custom]}; {where})")
                            continue
                        answered[custom] = where
                        in_batch += 1
                        line = line_of(custom)
                        data, params = (None, {}) if line is None else table.get(line, (None, {}))
                        line, entry = joined_line(item, action, params, client.base_url)
                        if not entry["error"]:
                            body = (item.get("response") or {}).get("body") or {}
                            cost = client.cost_of(action, params or {"model": body.get("model")}, body,
                                                  batch=True)
                            if cost.usd is None:
                                unknown = unknown or f"line {line}: {cost.unknown}"
                            else:
                                spent += cost.usd
                        if inputs is not None:
                            entry["input"] = data
                        counts["failed" if entry["error"] else "succeeded"] += 1
                        encoded = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
                        index[line if line is not None else -len(index) - 1] = (spool.tell(), len(encoded))
                        spool.write(encoded)
                    local.unlink()
                if inputs is None:
                    # Lines an expired or cancelled batch never ran have no line in either file:
                    # the batch's own record says which lines it held (our metadata) or how many.
                    named = lines_of(batch)
                    if named is not None:
                        expected |= named
                    else:
                        total = (batch.get("request_counts") or {}).get("total")
                        unnamed += max(int(total) - in_batch, 0) if isinstance(total, int) else 0
        if problems:
            shown = "; ".join(problems[:MAX_REPORTED_PROBLEMS])
            extra = len(problems) - MAX_REPORTED_PROBLEMS
            more = f" (and {extra} more)" if extra > 0 else ""
            raise UnexpectedResponseError(
                f"the batch output cannot be joined safely, so nothing was written: {shown}{more}")
        missing = sorted(expected - set(index))
        order = sorted(index)
        if out is None:
            with open(spool_path, "rb") as spool:
                entries = [json.loads(_read(spool, index[n])) for n in order]
            entries += [_missing(n, table, inputs is not None) for n in missing]
            return (sorted(entries, key=lambda e: (e["line"] is None, e["line"] or 0)),
                    _cost(spent, unknown))
        _write_in_order(out, spool_path, index, order, missing, table, inputs is not None)
    return ({"out": str(out), "lines": len(order) + len(missing) + unnamed, **counts,
             "missing": len(missing) + unnamed, "batches": [b["id"] for b in batches]}, _cost(spent, unknown))


def _cost(spent: float, unknown: str | None):
    from ...spend import Cost, table

    if unknown:
        return Cost(None, "usage", table().as_of, unknown=unknown, batch=True)
    return Cost(spent, "usage", table().as_of, batch=True)


def lines_of(batch: dict) -> set[int] | None:
    """The input lines a batch this tool created holds (its metadata's "lines": "FIRST-LAST")."""
    value = (batch.get("metadata") or {}).get("lines")
    if not isinstance(value, str):
        return None
    first, _, last = value.partition("-")
    if not (first.isdigit() and last.isdigit()) or not 1 <= int(first) <= int(last):
        return None
    if int(last) - int(first) >= MAX_LINES_PER_BATCH:   # not ours: never a range this large
        return None
    return set(range(int(first), int(last) + 1))


def _items(path: Path, what: str, problems: list):
    """(where, the parsed object) for each line of a downloaded output or error file; a line
    that is not a JSON object with a custom_id becomes a problem (the caller fails, exit 4)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{what} line {number}"
            try:
                item = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                problems.append(f"{where} is not JSON")
                continue
            if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
                problems.append(f"{where} is not an answer object with a custom_id")
                continue
            yield where, item


def _parsed(raw: str, name: str, file_id: str, row: int) -> dict:
    """One line of an output or error file, or UnexpectedResponseError naming it (the temp
    folder is removed on the way out, like on any other error)."""
    try:
        item = json.loads(raw)
    except ValueError as exc:
        raise UnexpectedResponseError(f"line {row} of the batch's {name} {file_id} is not JSON ({exc}); "
                                      "nothing was written") from None
    if not isinstance(item, dict):
        raise UnexpectedResponseError(f"line {row} of the batch's {name} {file_id} is not a JSON object; "
                                      "nothing was written")
    return item


def _read(spool, where: tuple[int, int]) -> bytes:
    spool.seek(where[0])
    return spool.read(where[1])


def _missing(line: int, table: dict, with_input: bool) -> dict:
    entry = {"line": line, "custom_id": f"line-{line}", "result": None,
             "error": {"type": "not_run", "error": "NotRun",
                       "message": "the batch ended (expired, cancelled or failed) before this line ran"}}
    if with_input:
        entry["input"] = table[line][0]
    return entry


def _write_in_order(out: Path, spool_path: Path, index: dict, order: list, missing: list, table: dict,
                    with_input: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", delete=False)  # noqa: SIM115  (entered by the `with` below; made first so the except can remove it by name)
    try:
        with handle, open(spool_path, "rb") as spool:
            pending = iter(missing)
            gap = next(pending, None)
            for line in order:
                while gap is not None and line > gap:
                    handle.write((json.dumps(_missing(gap, table, with_input)) + "\n").encode())
                    gap = next(pending, None)
                handle.write(_read(spool, index[line]))
            while gap is not None:
                handle.write((json.dumps(_missing(gap, table, with_input)) + "\n").encode())
                gap = next(pending, None)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, out)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
