"""The README's and docs/'s shell examples, run again and compared with what they show.

Every ```console block in README.md and docs/*.md carries a marker comment on the line before it:

    <!-- example -->                       run it and compare
    <!-- example: with docs.jsonl -->      run it after creating a named input file (SETUP_FILES)
    <!-- example: not run: REASON -->      shown but not run (REASON says why, and what tests it)

Each `$ command` runs through bash with the INSTALLED `openai-skill` first on PATH, from a
fresh working folder, against the loopback OpenAI (support/fake_openai.py) scripted with the
answers, ids and request ids the README shows (`serve_readme_answers`). Its stderr then stdout must equal the
lines shown under it, after the explicit normalizations in `normalize` (the fake's URL, the
working folder, timestamps in image file names, timings) and nothing else. `$ echo $?` shows
the exit code of the command before it; any other command must exit 0.

Every ```python block runs too, as its own program against the same fake, and must not raise.
An example moved from the README to docs/ keeps running: every file is read the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import REPO
from support.canary import CANARY_KEY
from support.fake_openai import Answer, FakeOpenAI
from support.images import PNG_BYTES
from support.lifecycle import DATA_DAY

README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]  # every page whose examples run
SHOWN_HOME = "/home/me"            # the working folder the README's outputs show
SHOWN_BASE_URL = "https://api.openai.com/v1"

BLOCK = re.compile(r"^(?P<marker><!--[^\n]*-->\n)?```console\n(?P<body>.*?)^```$", re.S | re.M)
MARKER = re.compile(r"<!-- example(?:: (?P<how>with (?P<file>[\w.-]+)|not run: (?P<reason>.+?)))? -->\n")


@dataclass
class Example:
    line: int                       # where the block starts in its file
    steps: list[tuple[str, str]]    # (command, shown output)
    setup_file: str | None = None
    skip_reason: str | None = None
    source: str = "README.md"       # the file, relative to the repository

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}:{self.steps[0][0][:50]}"


def parse_examples(text: str, source: str = "README.md") -> list[Example]:
    examples = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        marker = MARKER.fullmatch(match.group("marker") or "")
        if not marker:
            raise AssertionError(
                f"{source}:{line}: a ```console block needs a marker comment on the line before it: "
                "<!-- example --> (run and compared by tests/test_readme_examples.py), "
                "<!-- example: with FILE -->, or <!-- example: not run: REASON -->")
        steps: list[tuple[str, list[str]]] = []
        for row in match.group("body").splitlines():
            if row.startswith("$ "):
                steps.append((row[2:], []))
            elif steps:
                steps[-1][1].append(row)
            else:
                raise AssertionError(f"{source}:{line}: output before the first `$ ` command")
        examples.append(Example(line, [(cmd, "\n".join(out)) for cmd, out in steps],
                                marker.group("file"), marker.group("reason"), source))
    return examples


def _name(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


EXAMPLES = [example for path in DOCS for example in parse_examples(path.read_text(encoding="utf-8"), _name(path))]


# --- the loopback OpenAI ------------------------------------------------------------------

CHAT = {
    "id": "chatcmpl-BQhLr2cTzHq7vX0b4mN1aYkP9sR3d", "object": "chat.completion", "created": 1745841811,
    "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_b376dfbbd5",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?",
                                         "refusal": None, "annotations": []},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
              "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
    "service_tier": "default"}
IMAGE = {"created": 1745841812, "data": [{"b64_json": base64.b64encode(PNG_BYTES).decode()}],
         "usage": {"input_tokens": 9, "input_tokens_details": {"image_tokens": 0, "text_tokens": 9},
                   "output_tokens": 272, "total_tokens": 281}}
MODELS = {"object": "list", "data": [   # as GET /models answers today: with `shutdown_date`
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system",
     "shutdown_date": "2027-01-14"},
    {"id": "gpt-6-luna", "object": "model", "created": 1790000000, "owned_by": "system", "shutdown_date": None},
    {"id": "gpt-image-2", "object": "model", "created": 1776729600, "owned_by": "system", "shutdown_date": None},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system",
     "shutdown_date": None}]}
REQUEST_IDS = {"/chat/completions": "req_1b2c", "/images/generations": "req_5e6f",
               "/models": "req_7f3a", "/embeddings": "req_9d8e"}


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A fixed pseudo-embedding: float32 values in about ±0.03, a function of the text."""
    out = []
    for i in range(dimensions):
        word = int.from_bytes(hashlib.sha256(f"{i}:{text}".encode()).digest()[:4], "big")
        out.append(struct.unpack("<f", struct.pack("<f", (word / 2**32 - 0.5) / 16))[0])
    return out


def _embeddings(body: dict) -> dict:
    texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
    dimensions = body.get("dimensions", 1536)
    data = []
    for index, text in enumerate(texts):
        vector = fake_vector(text, dimensions)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(max(1, len(t.encode()) // 4) for t in texts)  # about one token per 4 bytes
    return {"object": "list", "data": data, "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def serve_readme_answers(fake: FakeOpenAI) -> FakeOpenAI:
    """Script the loopback OpenAI with the answers and request ids the README shows. It judges
    every body as today's API does (support/todays_api.py) and answers a refused one as the
    live API would: the README's examples must work against today's API."""
    if fake.refuse is None:  # `--print` runs a fake of its own
        from support.todays_api import as_served_by

        fake.refuse = as_served_by(fake.url)
    fake.reply_with("POST", "/chat/completions", lambda request: Answer.of_json(
        {**CHAT, "model": request.json()["model"]},  # the model asked for (OpenAI names a dated snapshot)
        headers={"x-request-id": REQUEST_IDS["/chat/completions"]}))
    fake.reply("POST", "/images/generations", IMAGE, headers={"x-request-id": REQUEST_IDS["/images/generations"]})
    fake.reply("GET", "/models", MODELS, headers={"x-request-id": REQUEST_IDS["/models"]})
    fake.reply_with("POST", "/embeddings", lambda request: Answer.of_json(
        _embeddings(request.json()), headers={"x-request-id": REQUEST_IDS["/embeddings"]}))
    return fake


@pytest.fixture
def readme_fake(openai):
    return serve_readme_answers(openai)


SETUP_FILES = {
    # 5,000 short documents, one JSON object a line, for the bulk-embedding example.
    "docs.jsonl": lambda: "".join(json.dumps({"id": f"doc-{i}",
                                              "text": f"Document number {i} is about topic {i % 17}."})
                                  + "\n" for i in range(5000)),
}


# --- running and comparing ----------------------------------------------------------------

def normalize(text: str, *, base_url: str = "", workdir: str = "") -> str:
    """The differences a rerun may show, each named: nothing else is forgiven."""
    if base_url:
        text = text.replace(base_url, SHOWN_BASE_URL)                 # the fake stands in for OpenAI
        text = text.replace(base_url.removesuffix("/v1"), SHOWN_BASE_URL.removesuffix("/v1"))  # its origin
    if workdir:
        text = text.replace(workdir, SHOWN_HOME)                      # the user's working folder
    text = re.sub(r"image-\d{8}-\d{6}-", "image-YYYYMMDD-HHMMSS-", text)  # file names carry the time
    text = re.sub(r'"seconds": [0-9.]+', '"seconds": S', text)          # wall-clock timings
    text = re.sub(r"^openai-skill: embedded (\d+)/(\d+) texts\n",           # progress, every few
                  lambda m: m[0] if m[1] == m[2] else "", text, flags=re.M)  # seconds: slow runs print more
    return text


def run_example(example: Example, fake, workdir: Path) -> list[tuple[str, str, str]]:
    """(command, shown, got) for each step, normalized."""
    bin_dir = str(Path(sys.executable).parent)                        # the venv's installed command
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), OPENAI_API_KEY=CANARY_KEY,
               OPENAI_BASE_URL=fake.url_for("/v1"),
               OPENAI_SKILL_TODAY=DATA_DAY.isoformat(),  # the day the README's outputs describe
               XDG_CONFIG_HOME=str(workdir.parent / f"{workdir.name}-config"))  # its own model-list cache
    base_url = fake.url_for("/v1")
    results, last_code = [], None
    for index, (command, shown) in enumerate(example.steps):
        if command == "echo $?":
            got = str(last_code)
        else:
            proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env,
                                  cwd=workdir, timeout=120)
            last_code = proc.returncode
            nxt = example.steps[index + 1][0] if index + 1 < len(example.steps) else None
            assert proc.returncode == 0 or nxt == "echo $?", (
                f"{example.id}: `{command}` exited {proc.returncode} (show it with `$ echo $?`):\n{proc.stderr}")
            got = (proc.stderr + proc.stdout).rstrip("\n")
            assert CANARY_KEY not in got
        results.append((command, normalize(shown), normalize(got, base_url=base_url, workdir=str(workdir))))
    return results


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_readme_example(example, readme_fake, tmp_path):
    if example.skip_reason:
        pytest.skip(f"marked not run in {example.source}: {example.skip_reason}")
    workdir = tmp_path / "me"
    workdir.mkdir()
    if example.setup_file:
        (workdir / example.setup_file).write_text(SETUP_FILES[example.setup_file](), encoding="utf-8")
    for command, shown, got in run_example(example, readme_fake, workdir):
        assert got == shown, f"{example.id}: `{command}` prints something else than {example.source} shows"


def _run_commands(source: str | None = None) -> set[str]:
    """The openai-skill commands the run examples show (in one file, or anywhere)."""
    return {cmd.split()[1] for e in EXAMPLES if not e.skip_reason and source in (None, e.source)
            for cmd, _ in e.steps if cmd.startswith("openai-skill ")}


def test_the_docs_have_examples_that_call_the_api_and_the_readme_a_dry_run():
    commands = [cmd for e in EXAMPLES if not e.skip_reason for cmd, _ in e.steps]
    assert len(commands) >= 8
    # Every action's command is shown running somewhere, the long outputs in docs/cli.md...
    assert {"models", "chat", "image", "embed", "run", "actions", "doctor"} <= _run_commands()
    assert {"models", "image", "embed"} <= _run_commands("docs/cli.md")
    # ...and the README itself shows a call, a dry run and a refused input, all run.
    readme = [cmd for e in EXAMPLES if not e.skip_reason and e.source == "README.md" for cmd, _ in e.steps]
    assert {"chat", "run", "doctor"} <= _run_commands("README.md")
    assert any("--dry-run" in cmd for cmd in readme) and "echo $?" in readme


def test_examples_are_read_from_every_doc_and_named_by_their_file():
    # A block in any docs/ page is found, and reported under its own file.
    (found,) = parse_examples("intro\n<!-- example -->\n```console\n$ openai-skill models\n```\n", "docs/x.md")
    assert found.id == "docs/x.md:3:openai-skill models" and found.steps == [("openai-skill models", "")]
    assert {"README.md", "docs/cli.md"} <= {e.source for e in EXAMPLES}


def test_every_console_block_is_marked_and_a_stale_output_is_caught():
    # The parser refuses an unmarked block...
    with pytest.raises(AssertionError, match="marker comment"):
        parse_examples("text\n```console\n$ openai-skill actions\n```\n")
    # ...and normalization forgives only what it names: a changed dry-run body still differs.
    (dry,) = [e for e in EXAMPLES if any("--dry-run" in cmd for cmd, _ in e.steps)][:1]
    shown = dry.steps[0][1]
    stale = shown.replace('"max_completion_tokens": 200', '"max_tokens": 200')
    assert stale != shown and normalize(stale) != normalize(shown)


# --- the Python blocks: each runs, as a fresh program, against the same fake ----------------

PYTHON_BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```$", re.S | re.M)
PYTHON_EXAMPLES = [(f"{_name(path)}:{text.count(chr(10), 0, m.start('body'))}", m.group("body"))
                   for path in DOCS for text in [path.read_text(encoding="utf-8")]
                   for m in PYTHON_BLOCK.finditer(text)]
# Run first in each block's process: any name lookup but loopback fails, so an example that
# would reach a real host fails here instead of opening a connection (examples use the fake).
LOOPBACK_ONLY = """
import socket
_getaddrinfo = socket.getaddrinfo
def _loopback_only(host, *args, **kwargs):
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise OSError(f"a README example tried to reach {host!r}; examples talk to the loopback fake only")
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = _loopback_only
"""


@pytest.mark.parametrize("where, code", PYTHON_EXAMPLES, ids=[f"{where}:python" for where, _ in PYTHON_EXAMPLES])
def test_readme_python_block_runs(where, code, readme_fake, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(OPENAI_API_KEY=CANARY_KEY, OPENAI_BASE_URL=readme_fake.url_for("/v1"))
    proc = subprocess.run([sys.executable, "-c", LOOPBACK_ONLY + code], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, f"{where}: the Python example fails:\n{proc.stderr}"
    assert CANARY_KEY not in proc.stdout + proc.stderr


def test_the_python_examples_are_found_and_the_guard_refuses_other_hosts(tmp_path):
    assert PYTHON_EXAMPLES and any("Client(" in code for _, code in PYTHON_EXAMPLES)
    # An IP literal from TEST-NET-1: refused by the guard, and even without it resolved locally
    # (no DNS query), so this test itself can never reach out.
    reach_out = "import socket; socket.getaddrinfo('192.0.2.1', 443)"
    proc = subprocess.run([sys.executable, "-c", LOOPBACK_ONLY + reach_out], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode != 0 and "loopback fake only" in proc.stderr


def main(argv: list[str]) -> int:
    """`python tests/test_readme_examples.py --print` reruns every example against the fake and
    prints the outputs, to paste into the README or the docs/ page after a deliberate change."""
    import tempfile

    server = serve_readme_answers(FakeOpenAI())
    server.start()
    try:
        for example in EXAMPLES:
            if example.skip_reason:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                workdir = Path(tmp)
                if example.setup_file:
                    (workdir / example.setup_file).write_text(SETUP_FILES[example.setup_file]())
                print(f"--- {example.id}")
                for command, _shown, got in run_example(example, server, workdir):
                    print(f"$ {command}\n{got}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
