#!/usr/bin/env bash
# bench/hibernate/run.sh [SIZES...] - hibernate/resume figures on the local
# /dev/kvm with the tiny guest (see bench/hibernate/bench.py for what is
# measured).  Env: O (build dir), RUNS (default 3), BENCH_DIR (where the
# snapshots and the dd file go; default a temp dir under /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -e /dev/kvm ] || { echo "SKIP: bench-hibernate: no /dev/kvm"; exit 0; }
exec /usr/bin/python3 bench/hibernate/bench.py "$@"
