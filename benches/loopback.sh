#!/usr/bin/env bash
# dlm's own benchmark: runs the release binary against the loopback test server
# (examples/bench_server.rs, the server the tests use) and prints wall time, CPU time,
# peak RSS and throughput per scenario (median of RUNS). A regression shows as a change in
# these figures; compare runs on the same machine, as ratios: a shared machine is noisy.
# Usage: benches/loopback.sh [RUNS]     (default 3)
#        DLM=/path/to/other/dlm benches/loopback.sh   compares another build (e.g. a copy of
#        an older target/release/dlm) on the same server and machine state
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DLM=${DLM:-target/release/dlm}
cargo build --release --quiet --bin dlm --example bench_server
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
target/release/examples/bench_server > "$work/server.log" &
server=$!
for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.05; done
addr=$(awk '/listening/ {print $3}' "$work/server.log")
base="http://$addr/f"

# name | dlm flags | URL list (one per line) | expected bytes in total
scenario() {
  local name=$1 flags=$2 list=$3 bytes=$4
  local times=()
  for _ in $(seq "$RUNS"); do
    rm -rf "$work/out"; mkdir "$work/out"
    /usr/bin/time -o "$work/time" -f "%e %U %S %M" "$DLM" get -q $flags -o "$work/out" -i "$list"
    got=$(du -sb "$work/out" | cut -f1)
    if [ "$(find "$work/out" -type f | wc -l)" -ne "$(wc -l < "$list")" ] || [ "$got" -lt "$bytes" ]; then
      echo "$name: FAIL (files or bytes missing)"; return 1
    fi
    times+=("$(cat "$work/time")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v n="$name" -v b="$bytes" -v r="$RUNS" '
    { w[NR]=$1; c[NR]=$2+$3; m[NR]=$4 }
    END { i=int((r+1)/2); printf "%-16s %8.3f %8.3f %8.1f %9.1f\n", n, w[i], c[i], m[r]/1024, b/w[i]/1e6 }'
}

printf "%-16s %8s %8s %8s %9s\n" scenario wall_s cpu_s rss_MB MB/s
seq -f "$base/tiny%05g.bin?size=4096" 0 1999 > "$work/tiny.txt"
scenario tiny-2000 "-j 16" "$work/tiny.txt" $((2000 * 4096))
echo "$base/big.bin?size=536870912" > "$work/big.txt"
# First request generates the file in the server's memory; warm it so it is not timed.
curl -s -o /dev/null "$base/big.bin?size=536870912"
scenario big-512m "-x 1" "$work/big.txt" 536870912
echo "$base/seg.bin?size=134217728&throttle=4000000" > "$work/seg.txt"
curl -s -o /dev/null --max-time 1 "$base/seg.bin?size=134217728&throttle=4000000" || true
scenario segmented-128m "-x 16" "$work/seg.txt" 134217728
