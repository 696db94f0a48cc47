#!/bin/sh
# Runs dlm as `peers.py` calls it, minus `-x N`: the default (`connections = "auto"`). For the
# "auto" rows of the peer comparison:
#   DLM_BIN=benches/dlm-auto.sh /work/.../peers.py --tools 'dlm(ours)' --only throttled-256m
# DLM_REAL_BIN names the dlm to run (default: target/release/dlm next to this script's repo).
real="${DLM_REAL_BIN:-$(dirname "$0")/../target/release/dlm}"
skip=""
for arg in "$@"; do
    shift
    if [ "$skip" = 1 ]; then skip=""; continue; fi
    if [ "$arg" = "-x" ]; then skip=1; continue; fi
    set -- "$@" "$arg"
done
exec "$real" "$@"
