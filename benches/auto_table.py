#!/usr/bin/env python3
"""The issue-14 table from one run: dlm with no `-x` (auto) beside `-x 16` / `-x 1` and the peers.

Runs the loopback bench's `peers.py` scenario by scenario, one run at a time, alternating the
fixed-count rows (as peers.py calls tools: `-x 16` for throttled/uneven, `-x 1` for the rest)
with the auto rows (`benches/dlm-auto.sh`, which drops `-x`): on a shared, loaded machine each
ratio then compares runs taken moments apart, and a burst of load hits both sides. Prints
peers.py's raw lines, the load average before each scenario, then the table rows (medians).

Usage (from the project root, after `cargo build --release` and the bench's `setup.sh`):
    benches/auto_table.py [--runs 3] [--peers PATH/peers.py] [--only SCENARIO,...]
PEERS (or --peers) names peers.py; the default is ../shared/bench/peers.py beside the repo.
"""
import argparse, os, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTO = os.path.join(ROOT, "benches", "dlm-auto.sh")
OURS = "dlm(ours)"
# scenario -> (peers compared in the same call, the target for the auto row)
SCENARIOS = {
    "throttled-256m": ("aria2c,tur,gosh", "≤ 1.15 × `-x 16`"),
    "uneven-256m": ("aria2c,tur,gosh", "≤ 1.15 × `-x 16`, ≤ 0.9 × aria2c"),
    "big-1g": ("", "≤ 1.05 × `-x 1`"),
    "tls-big-1g": ("curl", "≤ 1.05 × `-x 1`"),
    "tiny-many": ("", "no slower than `-x 1`"),
    "seed-latency": ("", "no slower than `-x 1`"),
    "h2-tiny": ("", "no slower than `-x 1`"),
}


def run(cmd, env=None):
    print("$ " + " ".join(cmd), flush=True)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr)
    rows = {}
    for line in out.stdout.splitlines()[1:]:
        f = line.split()
        if len(f) >= 7 and f[6] == "ok":
            rows[f[1]] = dict(wall=float(f[2]), cpu=float(f[3]), rss=float(f[4]))
    return rows


def median(runs):
    """Per tool: median wall and CPU, highest peak RSS, over the runs it passed."""
    tools = {t for r in runs for t in r}
    out = {}
    for t in tools:
        rs = [r[t] for r in runs if t in r]
        out[t] = dict(wall=statistics.median(x["wall"] for x in rs), cpu=statistics.median(x["cpu"] for x in rs),
                      rss=max(x["rss"] for x in rs))
    return out


def uptime():
    return open("/proc/loadavg").read().split()[:3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers", default=os.environ.get("PEERS", os.path.join(ROOT, "..", "shared", "bench", "peers.py")))
    ap.add_argument("--only", default=",".join(SCENARIOS))
    a = ap.parse_args()
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# {subprocess.run(['date', '-u'], capture_output=True, text=True).stdout.strip()}, dlm {rev}, "
          f"{os.cpu_count()} cores, median of {a.runs}", flush=True)
    results = []
    for name in a.only.split(","):
        peers, target = SCENARIOS[name]
        print(f"== {name}, load average {' '.join(uptime())}", flush=True)
        base = [sys.executable, a.peers, "--runs", "1", "--only", name]
        fixed_runs, auto_runs = [], []
        for _ in range(a.runs):
            fixed_runs.append(run(base + ["--tools", ",".join(t for t in [OURS, peers] if t)]))
            auto_runs.append(run(base + ["--tools", OURS], env=dict(os.environ, DLM_BIN=AUTO)))
        results.append((name, target, median(fixed_runs), median(auto_runs).get(OURS)))
    print(f"# done, load average {' '.join(uptime())}\n")
    print("| scenario | target | auto (no `-x`) | fixed (`-x 16` / `-x 1`) | auto ÷ fixed | peers |")
    print("|---|---|---|---|---|---|")
    for name, target, fixed, auto in results:
        ours = fixed.get(OURS)
        if not ours or not auto:
            print(f"| {name} | {target} | {auto and auto['wall']} | {ours and ours['wall']} | FAIL | |")
            continue
        ratio = auto["wall"] / ours["wall"]
        others = ", ".join(f"{t} {r['wall']:.2f}" for t, r in fixed.items() if t != OURS)
        if "aria2c" in fixed and name == "uneven-256m":
            others += f" (auto ÷ aria2c {auto['wall'] / fixed['aria2c']['wall']:.2f})"
        if "curl" in fixed:
            c = fixed["curl"]
            others += f" (auto ÷ curl: wall {auto['wall'] / c['wall']:.2f}, CPU {auto['cpu'] / c['cpu']:.2f})"
        print(f"| {name} | {target} | {auto['wall']:.2f} s, {auto['rss']:.0f} MB | {ours['wall']:.2f} s, "
              f"{ours['rss']:.0f} MB | {ratio:.2f} | {others} |")


main()
