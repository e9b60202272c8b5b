#!/usr/bin/env bash
# Runs every benchmark the same way (fixed settings live in benches/support/mod.rs) and prints
# each result as a ratio against the baseline measured in the same run and group.
#
# Usage: scripts/bench.sh [BENCH…]   (default: codec signature pipeline http), or
#        scripts/bench.sh e2e        (the end-to-end harness, its own tables)
# Needs: cargo, python3 (and for `e2e`, nginx: installed from Debian's packages with apt-get
# when missing). Results: target/criterion/ (cleared first, so the table is this run).
set -euo pipefail
cd "$(dirname "$0")/.."

# `scripts/bench.sh e2e`: the whole request through the real binary (benches/e2e.rs), which
# prints its own tables (latency ratios, throughput, CPU per signature, shared watermarks).
if [ "${1:-}" = e2e ]; then
    # nginx (Debian's package) for the latency section's do-nothing proxy row; the bench says
    # so and skips that row when it is absent. Debian keeps it in /usr/sbin.
    export PATH="$PATH:/usr/sbin"
    if ! command -v nginx >/dev/null 2>&1; then
        pkg=$(apt-cache show nginx-light >/dev/null 2>&1 && echo nginx-light || echo nginx)
        echo "# installing $pkg from Debian's packages (the nginx hop row)" >&2
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq "$pkg" >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq "$pkg" >/dev/null; }; } ||
            echo "# could not install $pkg: the nginx hop row will be skipped" >&2
    fi
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(rustc --version)"
    echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)," \
        "disk data dir on $(findmnt -n -r -o FSTYPE,SOURCE --target target)"
    command -v nginx >/dev/null 2>&1 && echo "# $(nginx -v 2>&1)"
    cargo bench --locked --bench e2e 2>target/bench-e2e.log || {
        tail -n 40 target/bench-e2e.log
        exit 1
    }
    # Two vaults at 20 ms (benches/vaults.rs): slow tail, a vault shut down, hedge cost.
    cargo bench --locked --bench vaults 2>target/bench-vaults.log || {
        tail -n 40 target/bench-vaults.log
        exit 1
    }
    exit 0
fi

benches=("$@")
[ ${#benches[@]} -eq 0 ] && benches=(codec signature pipeline http)
args=()
for b in "${benches[@]}"; do args+=(--bench "$b"); done

rm -rf target/criterion
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(rustc --version)"
cargo bench --locked "${args[@]}" >target/bench.log 2>&1 || {
    tail -n 40 target/bench.log
    exit 1
}

python3 - <<'PY'
import json, pathlib

def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"

groups = {}
for meta in sorted(pathlib.Path("target/criterion").glob("**/new/benchmark.json")):
    info = json.loads(meta.read_text())
    est = json.loads((meta.parent / "estimates.json").read_text())
    groups.setdefault(info["group_id"], []).append(
        (info["function_id"], est["median"]["point_estimate"]))

print(f"| {'group':<32} | {'benchmark':<30} | {'median':>10} | {'× baseline':>10} |")
print(f"|{'-' * 34}|{'-' * 32}|{'-' * 12}|{'-' * 12}|")
for group, rows in sorted(groups.items()):
    base = [ns for name, ns in rows if name.startswith("baseline")]
    rows.sort(key=lambda r: (not r[0].startswith("baseline"), r[1]))
    for name, ns in rows:
        ratio = f"{ns / base[0]:.2f}" if base else "-"
        print(f"| {group:<32} | {name:<30} | {fmt(ns):>10} | {ratio:>10} |")
PY
