"""The benchmark suite: one command, one table, one JSON file.

    pip install '.[bench]'
    python benchmarks/run.py                 # full run (about 10 minutes on 2 cores)
    python benchmarks/run.py --quick         # smaller counts, same cases (about 4 minutes)
    python benchmarks/run.py --only cold,in_process,mcp   # some sections (the JSON says which)

It builds the repository's wheel and installs it into a fresh venv (install.py: users run the
wheel, not a development install), starts its own loopback OpenAI (tests/support/fake_openai.py in its
own process: answers from memory, TCP_NODELAY), uses a temporary HOME (never the real config,
never a real key), and reports every figure as a ratio to a baseline measured in the same run.
The three start-up targets come first: the cold CLI against a bare-`requests` process, an
in-process call on a reused Client against a bare `requests.Session`, an MCP `tools/call`
against a no-op tool on the same SDK server. The JSON goes to benchmarks/results.json (--json
PATH to change). Not part of the test suite: no test asserts a duration.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulk  # noqa: E402
import calls  # noqa: E402
import common  # noqa: E402
import install  # noqa: E402
import vault_timing  # noqa: E402
from common import clean_env, start_server  # noqa: E402

# cold_pairs stays >= 21 in both: a median of fewer pairs moves too much on 2 cores.
FULL = {"texts": 100_000, "sdk_texts": 100_000, "million": 1_000_000, "cold_pairs": 41, "sdk_runs": 7,
        "calls": 3000, "import_runs": 9, "mcp_calls": 1000}
QUICK = {"texts": 20_000, "sdk_texts": 5_000, "million": 1_000_000, "cold_pairs": 21, "sdk_runs": 3,
         "calls": 1000, "import_runs": 5, "mcp_calls": 300}
SECTIONS = ("bulk", "cold", "in_process", "imports", "vault", "mcp")


def mcp_calls(env: dict, url: str, calls: int) -> dict | None:
    """benchmarks/mcp_latency.py: tools/call p50/p99, ours vs a no-op tool on the same SDK server."""
    probe = subprocess.run([common.PYTHON, "-c", "import mcp"], capture_output=True)
    if probe.returncode != 0:
        return None
    script = Path(__file__).resolve().parent / "mcp_latency.py"
    out = subprocess.run([common.PYTHON, str(script), "--calls", str(calls), "--starts", "3", "--base-url", url],
                         env={k: v for k, v in env.items() if not k.startswith("OPENAI_")},
                         capture_output=True, text=True, timeout=900, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    # The versions the timed processes import: the benchmark venv's, not this interpreter's.
    probe = ("import json, platform; from importlib.metadata import version, PackageNotFoundError\n"
             "def v(name):\n    try:\n        return version(name)\n"
             "    except PackageNotFoundError:\n        return None\n"
             "print(json.dumps({'python': platform.python_version(), "
             "'versions': {n: v(n) for n in ('openai-skill', 'requests', 'openai', 'llm', 'mcp')}}))")
    found = json.loads(subprocess.run([common.PYTHON, "-c", probe], capture_output=True, text=True,
                                      check=True).stdout)
    return {"cpu": cpu, "cores": os.cpu_count(), "python": found["python"],
            "system": f"{platform.system()} {platform.release()}", "versions": found["versions"],
            "load_average_at_start": os.getloadavg()}


def targets(results: dict) -> list[tuple]:
    """The three start-up targets: (what, ratio, target, median, pairs)."""
    rows = []
    c, i, m = results.get("cold_cli"), results.get("in_process"), results.get("mcp")
    if c:
        med = c["median_ms"]
        rows.append(("cold `openai-skill chat` vs bare-requests process", f"{c['ratios']['cold_chat_vs_floor']:.3f}x",
                     "<= 1.10x", f"{med['ours chat']:.1f} vs {med['floor chat']:.1f} ms",
                     f"{c['pairs']} pairs (CPU {c['ratios']['cold_chat_vs_floor_cpu']:.3f}x)"))
    if i:
        us = i["p50_us"]
        rows.append(("in-process invoke p50, reused Client vs bare Session", f"{i['ratios']['client_vs_session']:.3f}x",
                     "<= 1.10x (goal 1.05x)", f"p50 {us['client']:.0f} vs {us['session']:.0f} us",
                     f"{i['calls']} alternating calls each (mean {i['ratios']['client_vs_session_mean']:.3f}x)"))
    if m:
        r = m["rows"]
        rows.append(("MCP tools/call p50 vs no-op tool, same SDK server", f"{m['ratios']['mcp_vs_noop_p50']:.3f}x",
                     "<= 1.5x", f"p50 {r['mcp']['p50_ms']:.2f} vs {r['noop']['p50_ms']:.2f} ms",
                     f"{m['calls']} calls each, in turn"))
        if "bare_http" in r:   # the fair floor: a tool that only makes the bare HTTP call
            rows.append(("MCP tools/call p50 vs no-op tool + bare HTTP call",
                         f"{m['ratios']['mcp_vs_bare_http_p50']:.3f}x",
                         "<= 1.5x", f"p50 {r['mcp']['p50_ms']:.2f} vs {r['bare_http']['p50_ms']:.2f} ms",
                         f"the HTTP call alone: {m['ratios']['bare_http_vs_noop_p50']:.2f}x the no-op"))
    return rows


def table(results: dict) -> str:
    """The targets first, then the other ratios and the absolute figures they come from."""
    lines = [_render(("target", "ratio", "target", "medians", "samples"), targets(results)), ""]
    rows = []
    b, c, i, v, imp, m = (results.get(k) for k in ("bulk", "cold_cli", "in_process", "vault", "imports", "mcp"))
    if b:
        by = {case["case"]: case for case in b["cases"]}
        names = [case["case"] for case in b["cases"]]
        rows += [
            ("bulk throughput vs SDK one call per text (same K)", f"{b['ratios']['bulk_vs_sdk_throughput']}x", ">= 10x",
             f"{by[names[0]]['texts_per_s']:.0f} vs {by[names[2]]['texts_per_s']:.0f} texts/s"),
            ("bulk throughput vs SDK, .npy output", f"{by[names[1]]['texts_per_s'] / by[names[2]]['texts_per_s']:.1f}x",
             "", f"{by[names[1]]['texts_per_s']:.0f} texts/s"),
            ("bulk throughput vs llm embed-multi", f"{b['ratios']['bulk_vs_llm_throughput']}x", "",
             f"llm {by[names[3]]['texts_per_s']:.0f} texts/s"),
            ("bulk peak RSS vs SDK / vs llm",
             f"{b['ratios']['bulk_vs_sdk_peak_rss']}x / {b['ratios']['bulk_vs_llm_peak_rss']}x", "",
             f"{by[names[0]]['peak_rss_mb']} / {by[names[2]]['peak_rss_mb']} / {by[names[3]]['peak_rss_mb']} MB"),
            (f"peak RSS, {b['cases'][4]['texts']:,} lines", f"{b['million_lines_peak_rss_mb']} MB", "< 200 MB",
             f"{b['cases'][4]['seconds']} s, {b['cases'][4]['texts_per_s']:.0f} texts/s"),
        ]
    if c:
        med = c["median_ms"]
        if "floor chat, frozen at exit" in med:
            rows.append(("cold `openai-skill chat` vs bare requests that also skips the exit collection",
                         f"{c['ratios']['cold_chat_vs_frozen_floor']:.3f}x", "",
                         f"{med['ours chat']:.1f} vs {med['floor chat, frozen at exit']:.1f} ms "
                         f"(CPU {c['ratios']['cold_chat_vs_frozen_floor_cpu']:.3f}x)"))
        rows += [
            ("cold `openai-skill models` vs bare requests", f"{c['ratios']['cold_models_vs_floor']:.3f}x", "",
             f"{med['ours models']:.1f} vs {med['floor models']:.1f} ms"),
            ("cold `openai-skill chat` vs SDK", f"{c['ratios']['cold_chat_vs_sdk']:.2f}x", "",
             f"{med['ours chat']:.0f} vs {med['sdk chat']:.0f} ms"),
            ("cold `openai-skill models` vs SDK", f"{c['ratios']['cold_models_vs_sdk']:.2f}x", "",
             f"{med['ours models']:.0f} vs {med['sdk models']:.0f} ms"),
        ]
    if i:
        us = i["p50_us"]
        rows += [
            ("in-process openai_skill.invoke (facade) vs bare Session, p50", f"{i['ratios']['facade_vs_session']:.3f}x",
             "", f"p50 {us['facade']:.0f} us"),
            ("in-process invoke, reused Client vs SDK client, p50", f"{i['ratios']['client_vs_sdk']:.3f}x", "",
             f"SDK p50 {us['sdk']:.0f} us"),
        ]
    if m:
        r = m["rows"]
        rows.append(("MCP tools/call vs the same call in-process, p50", f"{m['ratios']['mcp_vs_in_process_p50']:.2f}x",
                     "", f"p99 {r['mcp']['p99_ms']:.2f} vs no-op {r['noop']['p99_ms']:.2f} ms; "
                         f"start {r['start']['p50_ms']:.0f} ms"))
    if v:
        rows.append(("vault open + read, key-file mode", f"{v['key-file']['open_and_read_ms']} ms", "<= 5 ms",
                     f"passphrase {v['passphrase']['open_and_read_ms']} ms; imports {v['key_file_imports_ms']} ms"))
    if imp:
        ms = imp["median_ms"]
        rows.append(("import openai_skill vs import requests / openai",
                     f"{ms['openai_skill'] / ms['requests']:.2f}x / {ms['openai_skill'] / ms['openai']:.2f}x", "",
                     f"{ms['openai_skill']} / {ms['requests']} / {ms['openai']} ms"))
    lines.append(_render(("what", "ratio", "target", "from"), rows))
    return "\n".join(lines)


def _render(header: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(row[k])) for row in [header, *rows]) for k in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
              for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (same cases)")
    parser.add_argument("--only", help=f"comma-separated sections, of: {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--python", help="time this interpreter's install instead of building the wheel "
                                         "(a venv where the wheel is installed)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results.json",
                        help="where to write the figures (default benchmarks/results.json)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    sections = SECTIONS if not args.only else tuple(x.strip() for x in args.only.split(","))
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; expected: {', '.join(SECTIONS)}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="openai-skill-bench-") as tmp:
        work = Path(tmp)
        if args.python:
            common.use_python(args.python)
        else:
            print("building the wheel and installing it into a fresh venv ...", file=sys.stderr, flush=True)
            common.use_python(install.wheel_venv(work))
        (work / "home").mkdir()
        server = start_server()
        try:
            env = clean_env(server, work / "home")
            results = {"machine": machine(), "sizes": sizes, "sections": list(sections)}
            if "bulk" in sections:
                print("bulk ...", file=sys.stderr, flush=True)
                results["bulk"] = bulk.measure(env, work, texts=sizes["texts"], sdk_texts=sizes["sdk_texts"],
                                               million=sizes["million"])
            if "cold" in sections:
                print("cold CLI ...", file=sys.stderr, flush=True)
                results["cold_cli"] = calls.cold_cli(env, server.url, sizes["cold_pairs"], sizes["sdk_runs"])
            if "in_process" in sections:
                print("in-process ...", file=sys.stderr, flush=True)
                results["in_process"] = calls.in_process(env, sizes["calls"])
            if "imports" in sections:
                print("imports ...", file=sys.stderr, flush=True)
                results["imports"] = calls.import_cost(env, sizes["import_runs"])
            if "vault" in sections:
                print("vault ...", file=sys.stderr, flush=True)
                results["vault"] = vault_timing.measure_all(common.PYTHON)
            if "mcp" in sections:
                print("MCP ...", file=sys.stderr, flush=True)
                results["mcp"] = mcp_calls(env, server.url, sizes["mcp_calls"])
        finally:
            server.stop()
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_at_end"] = os.getloadavg()
    import resource

    # A child's ru_maxrss counts what it was forked with: this bounds that floor.
    results["harness_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = table(results)
    results["table"] = text
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    m = results["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}; "
          + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
          + f"; {results['seconds']} s; load average {m['load_average_at_start'][0]:.2f} at start")
    print(text)
    print(f"(figures in {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
