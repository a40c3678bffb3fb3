# tests/integration/_common.sh - shared preamble of the test_vmm_*.sh scripts
# (sourced after tests/lib.sh).  vmm_prereqs GROUP CASE... : prints a loud
# SKIP for every case and returns 1 when the local VMM cannot be tested.
TINY_ELF=$BUILD/images/tiny/tiny.elf
PY=/usr/bin/python3

vmm_prereqs() {
	local why="" c
	if ! have_kvm; then why=$KVM_WHY
	elif [ ! -x "$VMM" ]; then why="$VMM not built"
	elif [ ! -f "$TINY_ELF" ]; then why="$TINY_ELF not built"
	elif [ ! -x "$PY" ]; then why="$PY missing"
	fi
	[ -z "$why" ] && return 0
	shift
	for c in "$@"; do skip "$c" "$why"; done
	return 1
}
