"""The README is driven by the same sources as the code: it fails here when an action, a
command, an environment variable or an exit code is added without being documented."""

import re
from pathlib import Path

from openai_skill import errors
from openai_skill.surfaces.cli import build_parser
from openai_skill.manifest import load_manifest
from support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_action_and_mcp_tool_is_documented():
    for action in load_manifest().actions.values():
        assert action.id in README and action.mcp_tool in README


def _subcommands(parser) -> dict:
    return next((a.choices for a in parser._actions if isinstance(a.choices, dict)), {})


def test_every_command_is_documented():
    for name, sub in _subcommands(build_parser()).items():
        assert f"`{name}" in README, name
        for child in _subcommands(sub):
            assert f"`{name} {child}" in README, f"{name} {child}"


def test_every_environment_variable_the_code_reads_is_documented():
    names = set()
    for path in (REPO / "skill").rglob("*.py"):
        names |= set(re.findall(r'"(OPENAI_[A-Z_]+)"', path.read_text(encoding="utf-8")))
    assert names, "no environment variables found: the pattern is stale"
    names |= {spec["setting"] for spec in load_manifest().defaults.values()}  # read through skill.yaml
    missing = sorted(name for name in names if name not in README)
    assert not missing


def _troubleshooting_rows() -> dict[int, tuple[str, str]]:
    """code -> (meaning, fix), from the table in the README's Troubleshooting section."""
    section = README.split("\n## Troubleshooting\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([0-9]+) \| (.+?) \| (.+?) \|$", section, re.MULTILINE)
    assert len({code for code, _, _ in rows}) == len(rows), "a code listed twice"
    return {int(code): (meaning, fix) for code, meaning, fix in rows}


def test_exit_code_table_matches_the_code():
    from openai_skill.surfaces import cli

    table = _troubleshooting_rows()
    used = {value for module in (errors, cli) for name, value in vars(module).items()
            if name.startswith("EXIT_")}
    used |= {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.SkillError) and cls is not errors.SkillError}
    assert set(table) == used
    # No other table in the README lists exit codes (one place to look them up).
    everywhere = {int(code) for code in re.findall(r"^\| ([0-9]+) \|", README, re.MULTILINE)}
    assert everywhere == set(table)
    # Each failure says what to do: a fix, not a blank (success has nothing to fix).
    assert [code for code, (_meaning, fix) in table.items() if code and len(fix.strip(" —-")) < 10] == []


def test_every_exit_code_the_cli_and_skill_md_name_is_in_the_troubleshooting_table():
    from openai_skill.surfaces.cli.parser import build_parser as parser
    from openai_skill.surfaces.exports.skill_md import EXIT_ADVICE

    epilog = parser().epilog or ""
    named = {int(code) for code in re.findall(r"(?:^|, |\s)([0-9]+) [A-Za-z]", epilog.split("exit codes:", 1)[1])}
    assert {0, 1, 2, 3, 4, 5, 6, 7} <= named  # the pattern still reads the help's list
    assert named <= set(_troubleshooting_rows())
    assert set(EXIT_ADVICE) <= set(_troubleshooting_rows())


# --- every CLI option has help and is documented; documented defaults are the code's ---------

HELP_FLAGS = {"-h", "--help", "--version"}
COMMAND_ACTIONS = {"chat": "chat-completion", "image": "generate-image", "embed": "create-embedding"}


def _walk(parser, path=()):
    """(command path, argparse action) for every argument in the tree."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))
        else:
            yield path, action


def _arguments():
    import argparse

    return [(path, a) for path, a in _walk(build_parser())
            if not HELP_FLAGS & set(a.option_strings) and a.help != argparse.SUPPRESS]


def test_the_walk_sees_the_whole_tree():
    seen = {(" ".join(path), max(a.option_strings, key=len) if a.option_strings else a.dest)
            for path, a in _arguments()}
    assert {("run", "--input"), ("chat", "--max-tokens"), ("image", "--response-format"),
            ("embed", "--dimensions"), ("vault rotate", "--to-keyfile"), ("chat", "prompt")} <= seen


def test_every_argument_has_help():
    missing = [(" ".join(path), a.option_strings or a.dest) for path, a in _arguments() if not (a.help or "").strip()]
    assert missing == []


def test_every_option_is_in_the_readme():
    missing = set()
    for path, action in _arguments():
        # One spelling is enough (`-m MODEL` documents `--model`).
        if action.option_strings and not any(re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", README)
                                             for option in action.option_strings):
            missing.add((" ".join(path), max(action.option_strings, key=len)))
    assert sorted(missing) == []


def test_defaults_in_option_help_are_the_schemas_and_the_codes():
    from openai_skill.config import Settings

    defaults = Settings()
    code = {"timeout": defaults.read_timeout, "max_retries": defaults.max_retries}
    checked = 0
    for path, action in _arguments():
        match = re.search(r"default (?:\$\w+, else )?\.?/?([\w.-]+)", action.help or "")
        if not match or not path:
            continue
        shown = match.group(1)
        schema = load_manifest().action(COMMAND_ACTIONS[path[0]]).input_schema if path[0] in COMMAND_ACTIONS else {}
        if action.dest == "model" and path[0] in COMMAND_ACTIONS:  # the head of skill.yaml's dated list
            assert shown == load_manifest().defaults[COMMAND_ACTIONS[path[0]]]["models"][0], path
        elif action.dest in schema.get("properties", {}):
            assert shown == str(schema["properties"][action.dest]["default"]), (path, action.dest)
        elif action.dest in code:
            assert float(shown) == code[action.dest], (path, action.dest)
        elif action.dest == "output_dir":
            assert Path(shown) == defaults.output_dir
        else:
            continue
        checked += 1
    assert checked >= 8  # chat model/max-tokens/temperature, image model/response-format, embed model, ...


def _settings_table() -> dict[str, tuple[str, str]]:
    section = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (`OPENAI_[^|]+) \| ([^|]+) \| ([^|]+) \|$", section, re.MULTILINE)
    table = {}
    for names, default, what in rows:
        for name in re.findall(r"`(OPENAI_\w+)`", names):
            table[name] = (default.strip(), what.strip())
    return table


def _documented(default: str):
    """`600` -> 600.0, `none`/`—` -> None, `` `text` `` -> 'text'."""
    word = default.strip("`").split()[0].strip("`")
    if word in ("none", "—"):
        return None
    try:
        return float(word)
    except ValueError:
        return word


def test_settings_table_defaults_are_the_codes():
    from openai_skill.config import Settings
    from openai_skill.secrets.store import Paths

    table = _settings_table()
    code = Settings()
    expected = {
        "OPENAI_BASE_URL": code.base_url,
        "OPENAI_SKILL_TIMEOUT": code.read_timeout,
        "OPENAI_SKILL_DEADLINE": code.deadline,
        "OPENAI_SKILL_STREAM_IDLE_TIMEOUT": code.stream_idle_timeout,
        "OPENAI_SKILL_MAX_RETRIES": code.max_retries,
        "OPENAI_SKILL_OUTPUT_DIR": code.output_dir,
    }
    for name, value in expected.items():
        documented = _documented(table[name][0])
        if isinstance(value, Path):
            documented = Path(documented)
        assert documented == value, f"README Settings: {name} says {table[name][0]}, the code uses {value!r}"
    connect = re.search(r"connect timeout is ([\d.]+) s", table["OPENAI_SKILL_TIMEOUT"][1])
    assert connect and float(connect.group(1)) == code.connect_timeout
    home = _documented(table["OPENAI_SKILL_HOME"][0])
    assert Paths.from_env({"XDG_CONFIG_HOME": "/x"}).folder == Path(home.replace("$XDG_CONFIG_HOME", "/x"))
    # A row that states a default must be checked here (a new one fails until it is).
    stated = {name for name, (default, _what) in table.items() if default != "—"}
    assert stated <= set(expected) | {"OPENAI_SKILL_HOME"}


def test_the_documented_size_caps_are_the_codes():
    from openai_skill.transport import body, http, sse

    size = re.search(r"- \*\*Size\.\*\*(.+?)\n(?:- |\n)", README, re.S).group(1)
    size = " ".join(size.split())

    def amount(before: str) -> int:
        number, unit = re.search(rf"{before} (?:at )?(\d+) (MiB|Mi characters)", size).groups()
        return int(number) * 1024 * 1024

    assert amount("capped") == body.MAX_BODY_BYTES
    assert amount("an error body") == body.MAX_ERROR_BODY_BYTES
    assert amount("an image") == body.MAX_DOWNLOAD_BYTES
    assert amount("a stream") == http.MAX_STREAM_BYTES
    assert amount("one event-stream line or event") == sse.MAX_LINE_CHARS == sse.MAX_EVENT_CHARS


# --- the docs for two readers: README for users, docs/ for maintainers -----------------------

DOCS = REPO / "docs"
ARCHITECTURE = (DOCS / "ARCHITECTURE.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```.*?^```$", re.S | re.M)


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", FENCE.sub("", text), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_the_readme_links_the_maintainer_docs_and_every_link_between_the_docs_resolves():
    for name in ("ARCHITECTURE.md", "CONTRIBUTING.md", "SEED-TO-SCHEMA.md",
                 "cli.md", "models.md", "spend.md", "vault.md", "agents.md", "prices.md"):
        assert f"](docs/{name})" in README, f"README.md does not link docs/{name}"
    for screenshot in ("docs/dashboard.png", "docs/one-key.png"):
        assert f"]({screenshot})" in README, screenshot
    checked = 0
    for path in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            assert dest.exists(), f"{path.name}: the link to {target} leads to no file"
            if anchor:
                assert anchor in _anchors(dest.read_text(encoding="utf-8")), \
                    f"{path.name}: the link to {target} leads to no heading"
            checked += 1
    assert checked >= 15  # the pattern still finds the links


def test_the_readme_stays_a_users_guide_in_the_documented_order():
    # It grew by accretion to 850 lines once (issue 14): depth goes to a docs/ page it links.
    lines = README.count("\n")
    assert lines <= 600, f"README.md has {lines} lines: move the depth to docs/ (see docs/CONTRIBUTING.md)"
    sections = re.findall(r"^## (.+)$", FENCE.sub("", README), re.MULTILINE)
    assert sections == ["Step 0: a clone and a virtual environment", "Two commands", "For agents", "CLI reference",
                        "Python API", "Settings and limits", "The vault", "Troubleshooting"]


def test_the_key_lookup_order_in_the_readme_is_the_codes():
    from openai_skill.secrets.sources import KeyChain

    chain = KeyChain.default({}).sources
    section = README.split("### Where the key comes from", 1)[1].split("\n#", 1)[0]
    items = re.findall(r"^\d+\. (.+)$", section, re.MULTILINE)
    # How the README names each source, by the class that implements it.
    # (KeychainOnUse: keychain.KeychainKey, its module loaded at the first lookup.)
    named = {"ExplicitKey": "`api_key=`", "EnvKey": "`OPENAI_API_KEY`", "VaultKey": "the vault",
             "KeychainOnUse": "the OS keychain"}
    assert [type(source).__name__ for source in chain] == list(named), \
        "a new key source: name it here and in the README"
    assert len(items) == len(chain)
    for item, source in zip(items, chain, strict=True):
        assert named[type(source).__name__] in item, (item, source)
    # ...stated once: no other numbered list in the README walks the sources.
    assert README.count("### Where the key comes from") == 1
    assert len(re.findall(r"^1\. \*\*`api_key=`", README, re.MULTILINE)) == 1
    # `Client.key_source()` answers with the sources' names: the README lists them as they are.
    for source in chain:
        assert f'`"{source.name}"`' in README, source.name


def test_the_architecture_layer_diagram_is_the_import_linter_contract():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = pyproject["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    expected = [" ".join(layer.replace("openai_skill.", "").split()) for layer in layers]
    block = re.search(r"<!-- layers:[^\n]*-->\n```\n(.*?)```", ARCHITECTURE, re.S).group(1)
    drawn = []
    for line in block.splitlines():
        line = line.strip()
        if line and not line.startswith(("│", "(")):
            drawn.append(" ".join(re.split(r"\s{2,}", line)[0].split()))
    assert drawn == expected, "docs/ARCHITECTURE.md's layer diagram differs from pyproject.toml's layers contract"


def test_every_repository_path_the_docs_name_exists():
    # Files move (tests into subfolders, modules between layers): a path a doc names in prose or
    # in a command must still be there, or a reader runs a command that cannot work.
    pattern = re.compile(r"(?<![\w/.~-])((?:tests|tools|benchmarks|\.ci|skill|schemas|docs)/[\w./-]*\w)")
    mcp_methods = {"tools/list", "tools/call"}  # MCP's method names read like paths
    missing, seen = [], 0
    for path in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            if name in mcp_methods:
                continue
            seen += 1
            if not (REPO / name).exists():
                missing.append(f"{path.name}: {name}")
    assert seen >= 30  # the pattern still finds the paths
    assert missing == []
