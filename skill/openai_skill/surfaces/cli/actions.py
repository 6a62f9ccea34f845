"""Commands that run the four actions: `run` (any action, JSON in and out), the friendly
shortcuts `chat`, `image`, `models`, `embed`, and the introspection commands `actions`
and `schema`."""

from __future__ import annotations

import json
import sys

from ...config import DEFAULT_MAX_RETRIES, DEFAULT_OUTPUT_DIR, DEFAULT_READ_TIMEOUT
from ...errors import EXIT_NOT_SAVED, InputError
from . import commands
from .commands import SUPPRESS, Later, add_arguments, add_command, arg, seconds
from .output import emit, text_writer, write_text

MAX_INPUT_BYTES = 256 * 1024 * 1024   # far above the largest legitimate input (2048 long texts)


def cmd_run(args) -> int:
    """Run an action with a JSON input (--input JSON, --input @file.json, or stdin)."""
    data = _read_input(args.input)
    stream = isinstance(data, dict) and data.get("stream") is True
    return run_and_print(args, args.action, data, on_text=text_writer(sys.stderr) if stream else None)


def cmd_chat(args) -> int:
    """Ask a chat model; prints the reply text (--full for the whole JSON result)."""
    messages = [{"role": "system", "content": args.system}] if args.system else []
    if not args.prompt.strip():   # as `image ""` and `embed ""` are: a blank prompt would be billed for nothing
        raise InputError("chat: prompt: expected text that is not blank, got " + repr(args.prompt),
                         field="prompt", expected="text that is not blank", given=repr(args.prompt))
    messages.append({"role": "user", "content": args.prompt})
    data: dict = {"messages": messages}
    add_given(data, model=args.model, max_tokens=args.max_tokens, temperature=args.temperature,
              reasoning_effort=args.reasoning_effort, verbosity=args.verbosity)
    if args.stream:
        data["stream"] = True
    if args.dry_run or args.full:
        return run_and_print(args, "chat-completion", data,
                             on_text=text_writer(sys.stderr) if args.stream else None)
    on_text = text_writer(sys.stdout) if args.stream else None
    result = run_action(args, "chat-completion", data, on_text=on_text)
    if on_text:
        on_text.finish()
        write_text(sys.stdout, "\n")
    else:
        # The same masking as `--full` (held secrets only): the reply's text as it came.
        write_text(sys.stdout, (result["content"] or "") + "\n")
        if result.get("tool_calls"):
            emit({"tool_calls": result["tool_calls"]})
    return 0


def cmd_image(args) -> int:
    """Generate image(s) from a prompt; saves base64 images as files and prints the result."""
    data = {"prompt": args.prompt}
    add_given(data, model=args.model, size=args.size, quality=args.quality, style=args.style, n=args.n,
              response_format=args.response_format)
    return run_and_print(args, "generate-image", data)


def cmd_models(args) -> int:
    """List the models your API key can use."""
    return run_and_print(args, "list-models", {})


def cmd_embed(args) -> int:
    """Embed one or more texts, or a whole file with --file (bulk: resumable, cached); prints the vector(s)."""
    if args.file is not None:
        from .jobs import cmd_bulk_embed

        return cmd_bulk_embed(args)
    if not args.texts:
        raise InputError("embed: give one or more TEXT arguments, or --file PATH")
    data = {"input": args.texts[0] if len(args.texts) == 1 else args.texts}
    add_given(data, model=args.model, dimensions=args.dimensions)
    return run_and_print(args, "create-embedding", data)


def cmd_actions(args) -> int:
    """List the actions with their HTTP route, MCP tool name and summary."""
    from ...manifest import load_manifest

    for action in load_manifest().actions.values():
        write_text(sys.stdout, f"{action.id:<17} {action.method:<4} {action.path:<20} {action.mcp_tool}\n"
                               f"    {action.summary}\n")
    return 0


def cmd_schema(args) -> int:
    """Print an action's input JSON Schema (--output for the result's schema)."""
    from ...manifest import load_manifest

    action = load_manifest().action(args.action)
    emit(action.output_schema if args.output else action.input_schema)
    return 0


def default_help(action_id: str, example: str = "") -> str:
    """`-m` help from skill.yaml's `defaults` (never a second copy of the list)."""
    from ...lifecycle.table import Table
    from ...manifest import load_manifest

    manifest = load_manifest()
    spec = manifest.defaults[action_id]
    listed = Table.of(manifest.lifecycle).dated_list(spec["models"])
    return f"default {listed}, or ${spec['setting']}" + (f"; {example}" if example else "")


def _choices(action_id: str, field: str) -> list:
    from ...manifest import load_manifest

    return load_manifest().action(action_id).input_schema["properties"][field]["enum"]


# The commands' arguments, declared once: `register` builds their argparse parsers from these,
# and `parse_plain` parses a plain call with the same declarations, without argparse. A value
# read from skill.yaml is `Later(...)`: worked out when a parser needs it (help text only for
# argparse's parsers; choices for both).
COMMON = (
    arg("--json", action="store_true", default=SUPPRESS,
        help="on failure, print the error object as JSON on stdout"),
    arg("--dry-run", action="store_true", help="validate and print the request that would be sent; send nothing"),
    arg("--timeout", type=seconds, metavar="SECONDS",
        help=f"read timeout in seconds (default {DEFAULT_READ_TIMEOUT:g}, or $OPENAI_SKILL_TIMEOUT)"),
    arg("--max-retries", type=int, metavar="N",
        help=f"retries on 408/409/429/5xx and network errors "
             f"(default {DEFAULT_MAX_RETRIES}, or $OPENAI_SKILL_MAX_RETRIES)"),
)
IMAGE_OUTPUT = (
    arg("-o", "--output-dir", metavar="DIR",
        help=f"folder for image files (default $OPENAI_SKILL_OUTPUT_DIR, else ./{DEFAULT_OUTPUT_DIR})"),
    arg("--inline", action="store_true", help="keep base64 images inline instead of saving files"),
    arg("--download", action="store_true", help="also download URL images to files"),
)
RUN = (
    arg("action", help="an action id (see `openai-skill actions`) or its MCP tool name"),
    arg("--input", "-i", metavar="JSON|@FILE|-", help="the input; default: stdin if piped, else {}"),
)
CHAT = (
    arg("prompt", help="the user message"),
    arg("-m", "--model", help=Later(default_help, "chat-completion", "e.g. gpt-6.2-sol")),
    arg("--system", metavar="TEXT", help="a system message"),
    arg("--max-tokens", type=int, metavar="N",
        help="default 1024 (25000 for reasoning models, whose budget counts their reasoning)"),
    arg("--temperature", type=float, metavar="T", help="0-2, default 1.0"),
    arg("--reasoning-effort", choices=Later(_choices, "chat-completion", "reasoning_effort"), metavar="E",
        help="reasoning models: none|minimal|low|medium|high|xhigh|max (each model takes a range)"),
    arg("--verbosity", choices=Later(_choices, "chat-completion", "verbosity"),
        help="how long the answer is: low|medium|high"),
    arg("--stream", action="store_true", help="print the reply as it arrives"),
    arg("--full", action="store_true", help="print the whole JSON result, not just the text"),
)
IMAGE = (
    arg("prompt", help="what the image should show"),
    arg("-m", "--model", help=Later(default_help, "generate-image", "e.g. gpt-image-2.6-flare")),
    arg("--size", help="auto or WxH, e.g. 1536x1024, 2048x1152 (gpt-image-2: edges divisible by 16, "
                       "at most 3840 and 3:1)"),
    arg("--quality", help="low|medium|high|auto (GPT image models)"),
    arg("--style", help="vivid|natural (DALL-E 3 only)"),
    arg("-n", type=int, metavar="N", help="number of images, 1-10"),
    arg("--response-format", choices=["url", "b64_json"],
        help="DALL-E only; GPT image models always return base64"),
)
EMBED = (
    arg("texts", nargs="*", metavar="TEXT", help="one or more texts, embedded in order (or --file)"),
    arg("-m", "--model", help=Later(default_help, "create-embedding", "or text-embedding-3-large")),
    arg("--dimensions", type=int, metavar="N", help="vector length (text-embedding-3 and later)"),
)
SCHEMA = (
    arg("action", help="an action id (see `openai-skill actions`) or its MCP tool name"),
    arg("--output", action="store_true", help="the result's schema instead of the input's"),
)
# command -> (its function, its parents' declarations, its own), in the order `--help` lists them.
DECLARED = {
    "run": (cmd_run, (COMMON, IMAGE_OUTPUT), RUN),
    "chat": (cmd_chat, (COMMON,), CHAT),
    "image": (cmd_image, (COMMON, IMAGE_OUTPUT), IMAGE),
    "models": (cmd_models, (COMMON,), ()),
    "embed": (cmd_embed, (COMMON,), EMBED),  # and the bulk options (jobs.add_bulk_options)
    "actions": (cmd_actions, (), ()),
    "schema": (cmd_schema, (), SCHEMA),
}


def parse_plain(argv: list[str], command: str):
    """A plain call of one of these commands parsed without argparse (`commands.parse_plain`),
    or None. `embed` is never plain: its bulk options are argparse's alone."""
    if command not in DECLARED or command == "embed":
        return None
    func, parents, own = DECLARED[command]
    return commands.parse_plain(argv, func, [item for group in (*parents, own) for item in group])


def register(sub, only: str | None = None) -> None:
    """Add the action commands to `sub`; `only`: just that one (a call that names its command
    builds no parser it will not use: these are the commands agents start most often)."""
    import argparse

    built: dict = {}

    def parent(declared):  # each parents' group built once, shared by the commands that use it
        if id(declared) not in built:
            built[id(declared)] = argparse.ArgumentParser(add_help=False)
            add_arguments(built[id(declared)], declared)
        return built[id(declared)]

    for name, (func, parents, own) in DECLARED.items():
        if only is not None and name != only:
            continue
        p = add_command(sub, func, parents=[parent(group) for group in parents])
        add_arguments(p, own)
        if name == "embed":
            from .jobs import add_bulk_options

            add_bulk_options(p)


def add_given(data: dict, **values) -> None:
    """Put the options the user gave (not None) into the action's input."""
    data.update({k: v for k, v in values.items() if v is not None})


def _options(args) -> dict:
    return {
        "dry_run": getattr(args, "dry_run", False),
        "read_timeout": getattr(args, "timeout", None),
        "max_retries": getattr(args, "max_retries", None),
        "output_dir": getattr(args, "output_dir", None),
        "inline_images": getattr(args, "inline", False),
        "download_images": getattr(args, "download", False),
        "surface": "cli",
    }


def run_action(args, action: str, data, on_text=None) -> dict:
    """Invoke `action` with `data` and the command line's options; return the result."""
    from ...client import invoke

    result = invoke(action, data, on_text=on_text, **_options(args))
    print_warnings(result)
    return result


def print_warnings(result: dict) -> None:
    """Each warning of a result as one stderr line (the JSON result keeps them too)."""
    for line in result.get("warnings") or ():
        write_text(sys.stderr, f"openai-skill: warning: {line}\n")


def run_and_print(args, action: str, data, on_text=None) -> int:
    """Invoke `action`, print its JSON result; the exit code says if images were not saved."""
    result = run_action(args, action, data, on_text)
    if on_text and not args.dry_run:
        on_text.finish()
        on_text("\n")
    emit(result)
    unsaved = [image for image in result.get("images") or () if image.get("save_error")]
    if unsaved:
        write_text(sys.stderr, f"openai-skill: {len(unsaved)} of {len(result['images'])} image(s) could not be "
                               f"saved ({unsaved[0]['save_error']}); the result above keeps their data\n")
        return EXIT_NOT_SAVED
    return 0


def _read_input(raw: str | None):
    """The JSON input from --input, @file or stdin: bytes capped, decoded as UTF-8 strictly,
    parsed as standard JSON (no NaN/Infinity), every failure an InputError."""
    if raw is None or raw == "-":
        if sys.stdin is None or (raw is None and sys.stdin.isatty()):
            return {}
        source = "stdin"
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        data = stream.read(MAX_INPUT_BYTES + 1)
    elif raw.startswith("@"):
        source = raw
        try:
            with open(raw[1:], "rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise InputError(f"--input {raw}: cannot read the file ({exc.strerror})") from None
    else:
        data, source = raw, "--input"
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{source}: the input is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    text = _decoded(data, source)
    if not text.strip():
        return {}
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                         + _file_hint(raw, source)) from None
    except RecursionError:
        raise InputError(f"{source}: the JSON is nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity (below), an integer with thousands of digits
        raise InputError(f"{source}: not valid JSON ({exc})") from None


def _file_hint(raw: str | None, source: str) -> str:
    """`--input file.json` (the `@` forgotten) is read as JSON text: say how to read the file."""
    from pathlib import Path

    if source != "--input" or not raw or raw.lstrip()[:1] in ("{", "["):
        return ""
    try:
        is_file = len(raw) < 4096 and Path(raw).is_file()
    except (OSError, ValueError):
        is_file = False
    looks_like_a_name = raw.endswith((".json", ".jsonl")) or "/" in raw
    if is_file or looks_like_a_name:
        return f"; to read the file {raw!r}, write --input @{raw}"
    return ""


def _decoded(data, source: str) -> str:
    if isinstance(data, str):
        # argv and text streams: undecodable bytes arrive as lone surrogates
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"{source}: the text is not valid UTF-8 (character {exc.start})") from None
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number; give a finite number")
