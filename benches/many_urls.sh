#!/usr/bin/env bash
# Peak memory and time of `dlm get` with long URL lists (release build) against the tests'
# loopback server (examples/bench_server.rs): 1 KiB files, 64 at a time, every file counted.
# Usage: benches/many_urls.sh [COUNT...]   (default: 5000 100000)
#        DLM=/path/to/other/dlm benches/many_urls.sh   measures another build the same way
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(5000 100000)
DLM=${DLM:-target/release/dlm}
cargo build --release --quiet --bin dlm --example bench_server
work=$(mktemp -d); trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
target/release/examples/bench_server >"$work/server.log" &
server=$!
for _ in $(seq 50); do grep -q listening "$work/server.log" && break; sleep 0.1; done
addr=$(sed -n 's/listening on //p' "$work/server.log")
printf '%-8s %8s %8s %8s\n' urls wall_s rss_MB files
for n in "${counts[@]}"; do
  out="$work/out$n"; mkdir -p "$out"
  seq -f "http://$addr/f/t%06g.bin?size=1024" 0 $((n - 1)) >"$work/list$n"
  /usr/bin/time -f '%e %M' -o "$work/time$n" "$DLM" get -q -j 64 -o "$out" -i "$work/list$n"
  read -r wall rss <"$work/time$n"
  printf '%-8s %8s %8.1f %8s\n' "$n" "$wall" "$(echo "$rss / 1000" | bc -l)" "$(find "$out" -type f | wc -l)"
  rm -rf "$out"
done
