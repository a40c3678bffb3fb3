# tests/lib.sh - helpers for script tests (sourced).  Each case reports one
# line that tests/run.sh counts: PASS / FAIL / SKIP.
HANEUL_ROOT=${HANEUL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
O=${O:-build}
case "$O" in /*) BUILD=$O ;; *) BUILD=$HANEUL_ROOT/$O ;; esac
VMM=$BUILD/haneul-vmm

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; }
skip() { echo "SKIP: $1: ${2:-}"; }

# check NAME CMD... : PASS if CMD succeeds, FAIL otherwise.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }

# Does this machine have a usable /dev/kvm? Sets KVM_WHY when not.
have_kvm() {
	if [ ! -e /dev/kvm ]; then KVM_WHY="no /dev/kvm"; return 1; fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then KVM_WHY="/dev/kvm not accessible"; return 1; fi
	return 0
}

tmpdir_new() { mktemp -d "${TMPDIR:-/tmp}/haneul-test.XXXXXX"; }
