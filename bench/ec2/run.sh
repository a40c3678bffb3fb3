#!/usr/bin/env bash
# bench/ec2/run.sh [SEQUENTIAL] [BATCH] - see bench.py.
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
exec /usr/bin/python3 bench/ec2/bench.py "$O" "${1:-20}" "${2:-50}"
