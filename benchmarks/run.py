"""The benchmark suite: one command, one table, one JSON file.

    pip install '.[bench]'
    python benchmarks/run.py                 # full run (about 6 minutes on 2 cores)
    python benchmarks/run.py --quick         # smaller counts, same cases (about 1.5 minutes)

It starts its own loopback OpenAI (tests/support/fake_openai.py in its own process: answers from
memory, TCP_NODELAY), uses a temporary HOME (never the real config, never a real key), and
reports every figure as a ratio to a baseline measured in the same run. The JSON goes to
benchmarks/results.json (--json PATH to change). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulk  # noqa: E402
import calls  # noqa: E402
import vault_timing  # noqa: E402
from common import clean_env, start_server  # noqa: E402

FULL = {"texts": 100_000, "sdk_texts": 100_000, "million": 1_000_000, "cold_runs": 15, "calls": 2000, "import_runs": 9,
        "mcp_calls": 500}
QUICK = {"texts": 20_000, "sdk_texts": 5_000, "million": 1_000_000, "cold_runs": 5, "calls": 500, "import_runs": 5,
         "mcp_calls": 200}


def mcp_calls(env: dict, calls: int) -> dict | None:
    """benchmarks/mcp_latency.py (its own loopback server): tools/call p50/p99 vs in-process."""
    import subprocess

    try:
        import mcp  # noqa: F401
    except ImportError:
        return None
    script = Path(__file__).resolve().parent / "mcp_latency.py"
    out = subprocess.run([sys.executable, str(script), "--calls", str(calls), "--starts", "3"],
                         env={k: v for k, v in env.items() if not k.startswith("OPENAI_")},
                         capture_output=True, text=True, timeout=900, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {"rows": rows[:-1], "ratios": rows[-1]}


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
    versions = {}
    for name in ("openai", "llm", "requests"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}", "versions": versions}


def table(results: dict) -> str:
    """Ratios first, then the absolute figures they come from."""
    b, c, i, v, imp = (results[k] for k in ("bulk", "cold_cli", "in_process", "vault", "imports"))
    by = {case["case"]: case for case in b["cases"]}
    names = [case["case"] for case in b["cases"]]
    rows = [
        ("bulk throughput vs SDK one call per text (same K)", f"{b['ratios']['bulk_vs_sdk_throughput']}x", ">= 10x",
         f"{by[names[0]]['texts_per_s']:.0f} vs {by[names[2]]['texts_per_s']:.0f} texts/s"),
        ("bulk throughput vs SDK, .npy output", f"{by[names[1]]['texts_per_s'] / by[names[2]]['texts_per_s']:.1f}x", "",
         f"{by[names[1]]['texts_per_s']:.0f} texts/s"),
        ("bulk throughput vs llm embed-multi", f"{b['ratios']['bulk_vs_llm_throughput']}x", "",
         f"llm {by[names[3]]['texts_per_s']:.0f} texts/s"),
        ("bulk peak RSS vs SDK / vs llm",
         f"{b['ratios']['bulk_vs_sdk_peak_rss']}x / {b['ratios']['bulk_vs_llm_peak_rss']}x",
         "", f"{by[names[0]]['peak_rss_mb']} / {by[names[2]]['peak_rss_mb']} / {by[names[3]]['peak_rss_mb']} MB"),
        (f"peak RSS, {b['cases'][4]['texts']:,} lines", f"{b['million_lines_peak_rss_mb']} MB", "< 200 MB",
         f"{b['cases'][4]['seconds']} s, {b['cases'][4]['texts_per_s']:.0f} texts/s"),
        ("cold `openai-skill models` vs bare requests", f"{c['ratios']['cold_models_vs_floor']}x", "<= 1.3x",
         _ms(c, 1, 0)),
        ("cold `openai-skill models` vs SDK", f"{c['ratios']['cold_models_vs_sdk']}x", "", _ms(c, 1, 2)),
        ("cold `openai-skill chat` vs bare requests", f"{c['ratios']['cold_chat_vs_floor']}x", "<= 1.3x", _ms(c, 4, 3)),
        ("cold `openai-skill chat` vs SDK", f"{c['ratios']['cold_chat_vs_sdk']}x", "", _ms(c, 4, 5)),
        ("in-process invoke vs bare Session (time per call)", f"{i['ratios']['invoke_time_vs_session']}x", "<= 1.10x",
         f"{i['calls_per_s']['invoke']:.0f} vs {i['calls_per_s']['session']:.0f} calls/s"),
        ("in-process invoke vs SDK client (time per call)", f"{i['ratios']['invoke_time_vs_sdk']}x", "",
         f"SDK {i['calls_per_s']['sdk']:.0f} calls/s"),
        ("vault open + read, key-file mode", f"{v['key-file']['open_and_read_ms']} ms", "<= 5 ms",
         f"passphrase {v['passphrase']['open_and_read_ms']} ms; imports {v['key_file_imports_ms']} ms"),
        ("import openai_skill vs import requests / openai",
         f"{imp['median_ms']['openai_skill'] / imp['median_ms']['requests']:.2f}x / "
         f"{imp['median_ms']['openai_skill'] / imp['median_ms']['openai']:.2f}x", "",
         f"{imp['median_ms']['openai_skill']} / {imp['median_ms']['requests']} / {imp['median_ms']['openai']} ms"),
    ]
    m = results.get("mcp")
    if m:
        local, remote, start = m["rows"]
        rows.append(("MCP tools/call vs in-process invoke, p50 / p99",
                     f"{m['ratios']['ratio_p50']}x / {m['ratios']['ratio_p99']}x", "",
                     f"p50 {remote['p50_ms']} vs {local['p50_ms']} ms, p99 {remote['p99_ms']} vs "
                     f"{local['p99_ms']} ms; start {start['p50_ms']} ms"))
    heads = ("what", "ratio", "target", "from")
    widths = [max(len(str(row[k])) for row in rows + [heads]) for k in range(4)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows]
    return "\n".join(lines)


def _ms(cold: dict, ours: int, base: int) -> str:
    names = list(cold["median_ms"])
    return f"{cold['median_ms'][names[ours]]:.0f} vs {cold['median_ms'][names[base]]:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (same cases)")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results.json",
                        help="where to write the figures (default benchmarks/results.json)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    server = start_server()
    try:
        with tempfile.TemporaryDirectory(prefix="openai-skill-bench-") as tmp:
            work = Path(tmp)
            (work / "home").mkdir()
            env = clean_env(server, work / "home")
            results = {"machine": machine(), "sizes": sizes}
            print("bulk ...", file=sys.stderr, flush=True)
            results["bulk"] = bulk.measure(env, work, texts=sizes["texts"], sdk_texts=sizes["sdk_texts"],
                                           million=sizes["million"])
            print("cold CLI ...", file=sys.stderr, flush=True)
            results["cold_cli"] = calls.cold_cli(env, server.url, sizes["cold_runs"])
            print("in-process ...", file=sys.stderr, flush=True)
            results["in_process"] = calls.in_process(env, sizes["calls"])
            print("imports and vault ...", file=sys.stderr, flush=True)
            results["imports"] = calls.import_cost(env, sizes["import_runs"])
            results["vault"] = vault_timing.measure_all()
            print("MCP ...", file=sys.stderr, flush=True)
            results["mcp"] = mcp_calls(env, sizes["mcp_calls"])
    finally:
        server.stop()
    results["seconds"] = round(time.perf_counter() - started, 1)
    import resource

    # A child's ru_maxrss counts what it was forked with: this bounds that floor.
    results["harness_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = table(results)
    results["table"] = text
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    m = results["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}; openai {m['versions']['openai']}, "
          f"llm {m['versions']['llm']}; {results['seconds']} s")
    print(text)
    print(f"(figures in {args.json})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
