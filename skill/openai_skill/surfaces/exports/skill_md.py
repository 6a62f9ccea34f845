"""SKILL.md, rendered from skill.yaml and schemas/: the file OpenClaw and other Agent Skills
clients load (they have no skill.yaml loader), so it must say exactly how to run each action.

The frontmatter is valid for both OpenClaw and the Agent Skills specification: only `name`,
`description` and `metadata` at the top (`skills-ref validate` rejects any other key), with
OpenClaw's keys inside `metadata.openclaw` as block YAML. `requires.bins` gates readiness on
the command being installed; `primaryEnv` is what lets OpenClaw inject
`skills.entries.openai.apiKey`; every other variable the code reads is declared under
`envVars` with `required: false`, so none gates readiness (with a vault the key variable is
optional too). A test fails when the committed SKILL.md differs from `render()`.
"""

from __future__ import annotations

import json

from ... import errors
from ...errors import InputError
from ...manifest import load_manifest

MAX_DESCRIPTION = 160  # OpenClaw shows it to the agent on every turn; keep it one short line

# What an agent should do on each exit code (the README's table says what each means).
EXIT_ADVICE = {
    errors.EXIT_OK: ("success", "read the JSON result on stdout"),
    errors.EXIT_USAGE: ("invalid input or usage; nothing was sent",
                        "fix the input as the stderr line says (it names the field; for a model that was shut "
                        "down, it names the replacement), then retry"),
    errors.EXIT_CREDENTIALS: ("no API key, or OpenAI rejected it",
                              "ask the user to run `openai-skill setup` in their own terminal "
                              "(`openai-skill doctor` shows what is wrong); never ask for the key in chat"),
    errors.EXIT_API: ("OpenAI refused the call (quota, permission, model, content)",
                      "tell the user the stderr line; only a rate limit (429) may pass if retried later"),
    errors.EXIT_NETWORK: ("network failure or timeout, after retries",
                          "retry once later; if it fails again, run `openai-skill doctor` and tell the user "
                          "what it says"),
    errors.EXIT_BUDGET: ("a spend cap refused the call before sending (or its price is unknown while a cap is set)",
                         "tell the user the stderr line (the cap, spent, left); a cheaper model or a smaller "
                         "max_tokens may fit (`openai-skill budget show`; `openai-skill usage` for what was "
                         "spent); never try to raise or clear a cap"),
}


def _q(value) -> str:
    """A YAML scalar: JSON strings are valid double-quoted YAML and survive any character."""
    return json.dumps(value, ensure_ascii=False)


def _environment(manifest) -> dict:
    return dict(manifest.raw.get("environment") or {})


def description(manifest=None) -> str:
    manifest = manifest or load_manifest()
    text = " ".join(str(manifest.raw["agent"]["description"]).split())
    if len(text) >= MAX_DESCRIPTION:
        raise InputError(f"agent.description in skill.yaml is {len(text)} characters; keep it under {MAX_DESCRIPTION}",
                         field="agent.description", expected=f"< {MAX_DESCRIPTION} characters", given=len(text))
    return text


def frontmatter(manifest=None) -> str:
    """The YAML frontmatter between the two `---` lines."""
    manifest = manifest or load_manifest()
    agent = manifest.raw["agent"]
    key_env = manifest.credential["env"]
    lines = [
        "---",
        f"name: {manifest.name}",
        f"description: {_q(description(manifest))}",
        "metadata:",
        "  openclaw:",
        f"    emoji: {_q(agent['emoji'])}",
        f"    primaryEnv: {key_env}",
        "    requires:",
        "      bins:",
        f"        - {agent['bin']}",
        "    envVars:",
    ]
    for name, text in _environment(manifest).items():
        lines += [f"      - name: {name}", "        required: false",
                  f"        description: {_q(' '.join(text.split()))}"]
    lines += [
        "    install:",
        "      - id: uv",
        "        kind: uv",
        f"        package: {agent['package']}",
        "        bins:",
        f"          - {agent['bin']}",
        f"        label: {_q('Install ' + agent['package'] + ' (uv)')}",
        "---",
    ]
    return "\n".join(lines) + "\n"


def _example(action) -> str:
    examples = action.input_schema.get("examples") or [{}]
    return json.dumps(examples[0], ensure_ascii=False)


def _field(name: str, schema: dict, required: bool) -> str:
    if required:
        return f"`{name}` (required)"
    if "default" in schema:
        return f"`{name}` (default {json.dumps(schema['default'])})"
    return f"`{name}`"


def _inputs(action, manifest) -> str:
    schema = action.input_schema
    props = schema.get("properties", {})
    if not props:
        return "no input: send `{}`"
    required = set(schema.get("required", []))
    names = [n for n in props if n in required] + [n for n in props if n not in required]
    return ", ".join(_default_model(action, manifest) if n == "model" and action.id in manifest.defaults
                     else _field(n, props[n], n in required) for n in names)


def _default_model(action, manifest) -> str:
    """The dated default list (committed text must not depend on the day it is rendered)."""
    from ...lifecycle.table import Table

    spec = manifest.defaults[action.id]
    return (f"`model` (default {Table.of(manifest.lifecycle).dated_list(spec['models'], quote='`')}, "
            f"or `${spec['setting']}`)")


def _outputs(action) -> str:
    schema = action.output_schema
    return ", ".join(f"`{n}`" for n in schema.get("properties", {}))


def _action_section(action, bin_name: str, manifest) -> str:
    return "\n".join([
        f"### {action.id}",
        "",
        " ".join(action.summary.split()),
        "",
        "```sh",
        f"{bin_name} run {action.id} <<'JSON'",
        _example(action),
        "JSON",
        "```",
        "",
        f"Input fields: {_inputs(action, manifest)}. Full schema: `{bin_name} schema {action.id}`.",
        f"Result fields: {_outputs(action)}.",
        "",
    ])


def body(manifest=None) -> str:
    manifest = manifest or load_manifest()
    bin_name = manifest.raw["agent"]["bin"]
    key_env = manifest.credential["env"]
    parts = [
        "# OpenAI",
        "",
        f"Runs OpenAI for the user with the user's own key, through the `{bin_name}` command.",
        "Send the input as JSON on stdin (as below); the result is JSON on stdout; a failure is one line on stderr",
        "and a non-zero exit code. The command finds the key itself: never put a key in a command, an input, a file",
        "or a message.",
        "",
        "## Actions",
        "",
    ]
    for action in manifest.actions.values():
        parts.append(_action_section(action, bin_name, manifest))
    parts += [
        "## Results",
        "",
        "- JSON on stdout, shaped as `" + bin_name + " schema ACTION --output` describes.",
        "- Images are saved as files: read `images[].path` (absolute) and show or attach that file; "
        "never print base64.",
        "  Files go to `./openai-images/` (or `$OPENAI_SKILL_OUTPUT_DIR`); URL images (`images[].url`) "
        "expire after 60 minutes.",
        "- Add `\"stream\": true` to a chat input to see the text arrive on stderr; the result is the same.",
        f"- `{bin_name} run ACTION --dry-run` checks an input and shows the request without sending it "
        "(no key needed).",
        "- A model OpenAI has shut down is refused before anything is sent (exit 2), naming its replacement: "
        "use that one.",
        f"  Within {manifest.lifecycle.get('warn_days', 30)} days of a shutdown the call goes through with a "
        "`warnings` line in the result (and on stderr): tell the user.",
        f"- When a call fails for set-up reasons (exit 3 or 5), `{bin_name} doctor` (`--json`) says what is "
        "wrong and how to fix it.",
        "",
        "## Exit codes",
        "",
        "| code | meaning | what to do |",
        "|---|---|---|",
    ]
    parts += [f"| {code} | {meaning} | {todo} |" for code, (meaning, todo) in sorted(EXIT_ADVICE.items())]
    parts += [
        "",
        "## The key",
        "",
        f"The user stores it once, in their own terminal: `{bin_name} setup` (hidden prompt; kept encrypted in a",
        f"local vault). `{key_env}` in the environment also works and wins over the vault. In OpenClaw, set",
        f"`skills.entries.{manifest.name}.apiKey` (a SecretRef to `{bin_name} secret-provider` keeps it out of the",
        f"config): it is injected as `{key_env}` when that variable is not already set.",
        "",
    ]
    for tool in manifest.setup_tools.values():  # not actions: MCP tools beside the four
        parts += [f"In an MCP client (`{bin_name} mcp`), the tool `{tool.name}`: {' '.join(tool.summary.split())}", ""]
    return "\n".join(parts)


def render() -> str:
    """The whole SKILL.md."""
    manifest = load_manifest()
    return frontmatter(manifest) + "\n" + body(manifest)
