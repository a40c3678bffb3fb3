#!/usr/bin/env bash
# tests/run.sh [SUITE...] - run haneul's tests and print one closing line:
#   "N passed, N failed, N skipped"
# Suites (default: all, in this order):
#   unit         cmocka binaries $O/tests/unit/test_*  (each case counted)
#   integration  tests/integration/test_*.sh  (real binaries, local /dev/kvm, loopback)
#   nested       tests/nested/test_*.sh       (real KVM inside QEMU's emulator; slow)
# A script test prints one line per case: "PASS: name", "FAIL: name: why" or
# "SKIP: name: why" (a skip is loud and counted, never a pass).  A script that
# exits non-zero without printing FAIL counts as one failure.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
export O HANEUL_ROOT=$PWD
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit integration nested)

pass=0 fail=0 skip=0
failed_names=()
logdir=$O/test-logs
mkdir -p "$logdir"

count_script_output() { # $1 = log file, $2 = name, $3 = exit status
	local p f s
	p=$(grep -c '^PASS: ' "$1")
	f=$(grep -c '^FAIL: ' "$1")
	s=$(grep -c '^SKIP: ' "$1")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL: $2: exited with status $3" >>"$1"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	grep -E '^(PASS|FAIL|SKIP): ' "$1" | sed 's/^/    /'
	while IFS= read -r l; do failed_names+=("$2: ${l#FAIL: }"); done < <(grep '^FAIL: ' "$1")
}

run_unit() {
	local t log rc p f s sn
	for t in "$O"/tests/unit/test_*; do
		[ -x "$t" ] || continue
		case "$t" in *.o|*.d) continue ;; esac
		log=$logdir/unit-$(basename "$t").log
		echo "== unit: $(basename "$t")"
		CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
		rc=$?
		p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
		s=$(grep -cE '^ok [0-9]+.*# *SKIP' "$log")
		f=$(grep -cE '^not ok [0-9]+' "$log")
		p=$((p - s))
		# cmocka 1.1.5 prints skip() as "not ok N # SKIP": a skip, not a failure.
		sn=$(grep -cE '^not ok [0-9]+.*# *SKIP' "$log")
		f=$((f - sn)); s=$((s + sn))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1; echo "not ok - $(basename "$t") exited with status $rc" >>"$log"
		fi
		pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
		echo "    $p passed, $f failed, $s skipped"
		while IFS= read -r l; do failed_names+=("$(basename "$t"): $l"); done < <(grep -E '^not ok' "$log" | grep -vE '# *SKIP')
		[ "$f" -gt 0 ] && sed 's/^/    | /' "$log" | tail -n 40
	done
}

run_scripts() { # $1 = suite folder
	local t log rc
	for t in tests/"$1"/test_*.sh; do
		[ -f "$t" ] || continue
		log=$logdir/$1-$(basename "$t" .sh).log
		echo "== $1: $(basename "$t")"
		bash "$t" >"$log" 2>&1
		rc=$?
		count_script_output "$log" "$(basename "$t")" "$rc"
		if grep -q '^FAIL: ' "$log" || [ "$rc" -ne 0 ]; then
			sed 's/^/    | /' "$log" | tail -n 60
		fi
	done
}

for s in "${suites[@]}"; do
	case "$s" in
	unit) run_unit ;;
	integration|nested) run_scripts "$s" ;;
	*) echo "tests/run.sh: unknown suite '$s'" >&2; exit 2 ;;
	esac
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
