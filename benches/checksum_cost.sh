#!/bin/bash
# What checking a checksum costs (issue 11): one big file downloaded with and without
# `--checksum`, one connection and 16, runs alternating so load changes hit both alike.
# Prints each run (wall seconds, CPU seconds of dlm) and the medians.
#
#   benches/checksum_cost.sh URL SHA256 [RUNS]
#
# LIMIT=300M adds `--limit-rate 300M` to every run: a link slower than the machine's hashing,
# as real networks are, where hashing beside the download should cost no wall time at all.
# CONNS="1 16" (the default) chooses the connection counts.
#
# e.g. against the benchmark nginx: benches/checksum_cost.sh \
#   http://127.0.0.1:18080/big/big1g.bin "$(awk '/big1g/{print $1}' /tmp/dlmbench/SHA256SUMS)" 5
set -euo pipefail
url=$1 sum=$2 runs=${3:-5}
bin=${DLM:-target/release/dlm}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
results=$out/results
conns=${CONNS:-1 16}
limit=()
if [ -n "${LIMIT:-}" ]; then limit=(--limit-rate "$LIMIT"); fi
for x in $conns; do
  for i in $(seq 1 "$runs"); do
    for mode in plain verify; do
      rm -rf "$out/dl"
      args=(get -q -x "$x" -o "$out/dl" "${limit[@]}")
      if [ "$mode" = verify ]; then args+=(--checksum "sha256=$sum"); fi
      /usr/bin/time -f "%e %U %S" -o "$out/t" "$bin" "${args[@]}" "$url"
      read -r wall user sys < "$out/t"
      cpu=$(echo "$user + $sys" | bc)
      echo "x$x $mode run $i: ${wall}s wall, ${cpu}s CPU"
      echo "x$x $mode $wall $cpu" >> "$results"
    done
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for x in $conns; do
  for mode in plain verify; do
    w=$(awk -v k="x$x" -v m="$mode" '$1==k && $2==m {print $3}' "$results" | median)
    c=$(awk -v k="x$x" -v m="$mode" '$1==k && $2==m {print $4}' "$results" | median)
    echo "median -x $x $mode: ${w}s wall, ${c}s CPU"
  done
done
