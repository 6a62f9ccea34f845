"""The MCP tool `openai_usage`: what the spend ledger recorded and what each cap leaves, so an
agent can see its room before a costly step.

Read-only by construction: the only thing it calls is `spend.usage.read` (the ledger's
`rows_since` and `summary`); nothing it is given reaches `set_caps`, and its input schema
(schemas/openai-usage.input.json, checked here before anything is read) takes only `since`
and `by`. Raising or clearing a cap needs a person (`openai-skill budget`, the dashboard).
The result is the report (`structuredContent`, as the output schema says) and a few lines a
model reads; both are bounded by the report's own caps (days, groups, name lengths).
"""

from __future__ import annotations

import json

import anyio
import mcp_types as types

from ...errors import InputError, SkillError
from ...spend import Guard
from ...spend.caps import CAP_LABELS, usd
from .results import error_result

NAME = "openai_usage"
_guard = Guard()   # one ledger connection for the server's life; it follows OPENAI_SKILL_HOME


def check_arguments(arguments) -> dict:
    """The arguments, checked against the tool's input schema (InputError naming the field)."""
    from jsonschema import Draft202012Validator

    from ...manifest import load_manifest

    if arguments is None:
        arguments = {}
    schema = load_manifest().setup_tools[NAME].input_schema
    for problem in Draft202012Validator(schema).iter_errors(arguments):
        field = ".".join(str(p) for p in problem.absolute_path) or "arguments"
        given = problem.instance if not isinstance(problem.instance, dict) else sorted(problem.instance)
        raise InputError(f"{field}: {problem.message[:200]}", field=field, given=str(given)[:100],
                         expected=str(problem.schema.get("description") or problem.validator)[:200],
                         fix="call openai_usage with no arguments, or with since (7d, 2026-12-01) and by "
                             "(day, model, action, surface)")
    return arguments


def summary_text(report: dict) -> str:
    """The lines a model reads first: the total, then each cap with what it leaves."""
    totals = report["totals"]
    lines = [f"{usd(totals['usd'])} spent on {totals['calls']} recorded call(s) from {report['since']} to "
             f"{report['until']} (UTC)" + (f", {totals['worst_case_calls']} of them at their worst case (not settled)"
                                           if totals["worst_case_calls"] else "") + "."]
    caps = report["caps"]["set"]
    if not caps:
        lines.append("No spend cap is set: calls are neither limited nor recorded.")
    for name, cap in caps.items():
        if "left_usd" in cap:
            lines.append(f"The {CAP_LABELS[name]} cap is {usd(cap['usd'])}: {usd(cap['spent_usd'])} spent "
                         f"{cap['period']}, {usd(cap['left_usd'])} left.")
        else:
            lines.append(f"The {CAP_LABELS[name]} cap is {usd(cap['usd'])}: no single call may cost more.")
    if caps:
        lines.append("A call whose worst case passes a cap is refused before sending (exit 7); only the user can "
                     "change a cap.")
    return " ".join(lines)


def _read(arguments: dict) -> dict:
    from ...spend.usage import DEFAULT_BY, DEFAULT_SINCE, read

    return read(_guard.ledger, arguments.get("since", DEFAULT_SINCE), arguments.get("by", DEFAULT_BY))


async def call(ctx, arguments: dict | None, *, request_state: str | None = None,
               input_responses: dict | None = None) -> types.CallToolResult:
    """Handle one tools/call for openai_usage (never an InputRequiredResult: nothing to ask)."""
    try:
        checked = check_arguments(arguments)
        report = await anyio.to_thread.run_sync(_read, checked)
    except SkillError as exc:
        return types.CallToolResult.model_validate(error_result(exc))
    content: list = [types.TextContent(text=summary_text(report)),
               types.TextContent(text=json.dumps(report, ensure_ascii=False, separators=(",", ":")))]
    return types.CallToolResult(content=content, structured_content=report, is_error=False)
