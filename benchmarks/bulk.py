"""Bulk embeddings: our `embed --file` against one call per text with the official SDK (same
concurrency) and against `llm embed-multi`; then peak memory for a million lines.

Every case is a fresh process against the same loopback server, measured for wall time and
its own peak RSS. The throughput cases use text-embedding-3-large at 256 dimensions (what llm's
`3-large-256` model sends, so all three ask for the same thing); the million-line case uses 8
dimensions, so the output file stays small; no cache anywhere.
"""

from __future__ import annotations

from pathlib import Path

import common
from common import run, tool

DIMS = 256
CONCURRENCY = 4
MODEL = "text-embedding-3-large"        # llm's `3-large-256` is this model at 256 dimensions

# One request per text, K threads, as a caller of the SDK would write it; vectors written as JSONL.
SDK_ONE_PER_TEXT = r"""
import json, sys
from concurrent.futures import ThreadPoolExecutor
import openai
path, out, k, dims, model = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
client = openai.OpenAI()
with open(path, encoding="utf-8") as handle:
    texts = handle.read().splitlines()
def one(text):
    return client.embeddings.create(input=text, model=model, dimensions=dims).data[0].embedding
with ThreadPoolExecutor(k) as pool, open(out, "w") as handle:
    for i, vector in enumerate(pool.map(one, texts)):
        handle.write(json.dumps({"index": i, "embedding": vector}) + "\n")
"""


# Inputs are written by a child process: a child's peak RSS (ru_maxrss) counts the memory it
# was forked with, so the measuring process must never hold the texts itself.
WRITE_INPUTS = r"""
import json, sys
count, txt, jsonl = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(txt, "w", encoding="utf-8") as a, open(jsonl, "w", encoding="utf-8") as b:
    for i in range(count):
        text = f"short text number {i} about topic {i % 97}"
        a.write(text + "\n")
        b.write(json.dumps({"id": str(i), "content": text}) + "\n")
"""


def write_inputs(folder: Path, count: int, env: dict) -> tuple[Path, Path]:
    txt, jsonl = folder / f"texts-{count}.txt", folder / f"texts-{count}.jsonl"
    run([common.PYTHON, "-c", WRITE_INPUTS, str(count), str(txt), str(jsonl)], env)
    return txt, jsonl


def _case(name: str, texts: int, result) -> dict:
    return {"case": name, "texts": texts, "seconds": round(result.seconds, 2),
            "texts_per_s": round(texts / result.seconds, 1), "peak_rss_mb": result.peak_rss_mb}


def measure(env: dict, work: Path, *, texts: int, sdk_texts: int, million: int) -> dict:
    txt, jsonl = write_inputs(work, texts, env)
    skill = tool("openai-skill")
    cases = []
    ours = run([skill, "embed", "--file", str(txt), "--out", str(work / "ours.jsonl"), "-m", MODEL,
                "--dimensions", str(DIMS), "-k", str(CONCURRENCY), "--no-cache"], env, cwd=work)
    cases.append(_case("openai-skill embed --file (JSONL out)", texts, ours))
    npy = run([skill, "embed", "--file", str(txt), "--out", str(work / "ours.npy"), "-m", MODEL,
               "--dimensions", str(DIMS), "-k", str(CONCURRENCY), "--no-cache"], env, cwd=work)
    cases.append(_case("openai-skill embed --file (.npy out)", texts, npy))

    sdk_txt = txt if sdk_texts == texts else write_inputs(work, sdk_texts, env)[0]
    sdk = run([common.PYTHON, "-c", SDK_ONE_PER_TEXT, str(sdk_txt), str(work / "sdk.jsonl"), str(CONCURRENCY),
               str(DIMS), MODEL], env, cwd=work)
    cases.append(_case(f"openai SDK, one call per text, {CONCURRENCY} threads", sdk_texts, sdk))

    llm = run([tool("llm"), "embed-multi", "bench", str(jsonl), "--format", "nl", "-m", "3-large-256",
               "-d", str(work / "llm.db")], env, cwd=work)
    cases.append(_case("llm embed-multi (3-large-256, batches of 100)", texts, llm))

    big, _ = write_inputs(work, million, env)
    flat = run([skill, "embed", "--file", str(big), "--out", str(work / "million.jsonl"), "--dimensions", "8",
                "-k", str(CONCURRENCY), "--no-cache"], env, cwd=work)
    million_case = _case(f"openai-skill embed --file, {million:,} lines, 8 dims", million, flat)
    with open(work / "million.jsonl", "rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    if lines != million:
        raise SystemExit(f"the million-line run wrote {lines} lines")
    by_name = {c["case"]: c for c in cases}
    ours_rate = cases[0]["texts_per_s"]
    return {
        "dimensions": DIMS, "concurrency": CONCURRENCY, "cases": cases + [million_case],
        "ratios": {
            "bulk_vs_sdk_throughput": round(ours_rate / by_name[cases[2]["case"]]["texts_per_s"], 1),
            "bulk_vs_llm_throughput": round(ours_rate / by_name[cases[3]["case"]]["texts_per_s"], 1),
            "bulk_vs_sdk_peak_rss": round(cases[0]["peak_rss_mb"] / cases[2]["peak_rss_mb"], 2),
            "bulk_vs_llm_peak_rss": round(cases[0]["peak_rss_mb"] / cases[3]["peak_rss_mb"], 2),
        },
        "million_lines_peak_rss_mb": million_case["peak_rss_mb"],
        "targets": {"bulk_vs_sdk_throughput_at_least": 10, "million_lines_peak_rss_mb_below": 200},
    }
