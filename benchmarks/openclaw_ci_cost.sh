#!/usr/bin/env bash
# How long the real-client proofs add to CI: the installer (cold into a scratch cache, then a
# cache hit) and the tests that run openclaw / skills-ref, with pytest's per-test durations.
#   bash benchmarks/openclaw_ci_cost.sh [--cold]
# Run from the repository root in a venv where `pip install '.[test]'` was done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--cold" ]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    start=$EPOCHREALTIME
    OPENAI_SKILL_CI_CACHE="$scratch" bash .ci/install-agent-clients >/dev/null
    echo "installer, cold (empty cache): $(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN{printf "%.1f", a-b}') s"
fi
start=$EPOCHREALTIME
agent_env="$(bash .ci/install-agent-clients)"
echo "installer, cache hit: $(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN{printf "%.1f", a-b}') s"
eval "$agent_env"

start=$EPOCHREALTIME
pytest -q -p no:cacheprovider --durations=0 tests/surfaces/test_openclaw.py tests/surfaces/exports/test_skill_md.py -k "openclaw or skills_ref" \
    | grep -E "^[0-9.]+s call|passed|failed"
echo "real-client tests, wall: $(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN{printf "%.1f", a-b}') s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
