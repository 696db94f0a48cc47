#!/usr/bin/env bash
# Times two or more dlm binaries against each other on one URL, alternating them (and, for
# each, `-x 16` with the default, auto) run by run, so a burst of load on a shared machine hits
# every side alike. Prints per binary and mode the median wall time, the highest peak RSS and
# every wall time sorted. Ratios are meaningful within one call only.
#
# Usage: benches/ab.sh RUNS URL NAME=PATH [NAME=PATH...]
#   benches/ab.sh 8 http://127.0.0.1:18087/big/mid256m.bin old=/tmp/dlm.old new=target/release/dlm
# URL is normally one of the loopback bench's (../shared/bench/setup.sh). Files go to a fresh
# temporary folder, removed after each run.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,10p' "$0"; exit 2; }
runs=$1 url=$2
shift 2
out=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$out" "$log"' EXIT
for _ in $(seq "$runs"); do
  for named in "$@"; do
    name=${named%%=*} bin=${named#*=}
    for mode in x16 auto; do
      args=()
      [ "$mode" = x16 ] && args=(-x 16)
      rm -rf "$out/files" && mkdir "$out/files"
      /usr/bin/time -f "$name $mode %e %M" "$bin" get -q "${args[@]}" -o "$out/files" "$url" 2>>"$log.err" >/dev/null
      tail -n 1 "$log.err" >>"$log"
    done
  done
done
rm -f "$log.err"
python3 - "$log" <<'PY'
import sys
from collections import defaultdict
walls, rss = defaultdict(list), defaultdict(int)
for line in open(sys.argv[1]):
    name, mode, wall, kb = line.split()
    walls[(name, mode)].append(float(wall))
    rss[(name, mode)] = max(rss[(name, mode)], int(kb))
for key in sorted(walls):
    v = sorted(walls[key])
    print(f"{key[0]:10} {key[1]:5} median={v[len(v) // 2]:.2f} s  peak_rss={rss[key] / 1000:.1f} MB  "
          + " ".join(f"{x:.2f}" for x in v))
PY
