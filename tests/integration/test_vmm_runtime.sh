#!/usr/bin/env bash
# haneul-vmm runtime paths the tiny guest does not take: a crashing guest
# (exit 3), a guest that resets in a loop (reboots in place, shutdown of a
# resetting guest = powered off), SIGTERM (exit 5), 32 vCPUs + 16 GiB with
# untouched memory, fd stability across reboots.  Guests: vmm_guests/*.S.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
cases="crash_exit_status reset_reboots_in_place shutdown_of_resetting_guest sigterm_forced_off big_vm_memory_untouched fds_stable_across_reboots"
if ! have_kvm; then for c in $cases; do skip "$c" "$KVM_WHY"; done; exit 0; fi
if [ ! -x "$VMM" ]; then for c in $cases; do skip "$c" "$VMM not built"; done; exit 0; fi
if ! command -v as >/dev/null || ! command -v ld >/dev/null; then
	for c in $cases; do skip "$c" "binutils (as, ld) missing"; done; exit 0
fi
T=$(tmpdir_new)
trap 'rm -rf "$T"' EXIT
for g in crash reset; do
	as --64 "$(dirname "$0")/vmm_guests/$g.S" -o "$T/$g.o" &&
		ld -m elf_x86_64 -Ttext=0x200000 -e _start --build-id=none -z noexecstack "$T/$g.o" -o "$T/$g.elf" ||
		{ for c in $cases; do fail "$c" "cannot assemble $g.S"; done; exit 0; }
done

ctl() { # SOCK JSON... : one reply line per request on stdout
	"$PY" - "$@" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); f = s.makefile("rwb")
for req in sys.argv[2:]:
    f.write(req.encode() + b"\n"); f.flush(); print(f.readline().decode().strip())
PYEOF
}

wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done; return 1; }

# crash: exit status 3 and the "guest crashed" line (or, where KVM turns
# int3 without an IDT into a triple fault, a reset loop: then SKIP).
timeout 20 "$VMM" --kernel "$T/crash.elf" --console-log "$T/crash.log" --console none \
	--shutdown-timeout 1 </dev/null 2>"$T/crash.err" & pid=$!
for _ in $(seq 40); do grep -q rebooted "$T/crash.err" && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if grep -q rebooted "$T/crash.err"; then
	kill -TERM $pid; wait $pid
	skip crash_exit_status "this KVM resets on int3 without an IDT instead of failing emulation"
else
	wait $pid; rc=$?
	if [ $rc -eq 3 ] && grep -q '^haneul-vmm: guest crashed: ' "$T/crash.err" && grep -q '^hi' "$T/crash.log" &&
		grep -q 'rip=' "$T/crash.err"; then
		pass crash_exit_status
	else
		fail crash_exit_status "rc=$rc: $(tail -n 3 "$T/crash.err" | tr '\n' '|')"
	fi
fi

# reset loop: the process stays, reboots are counted, the console ring survives.
S=$T/r.sock
timeout 60 "$VMM" --kernel "$T/reset.elf" --vcpus 2 --control "$S" --console none </dev/null 2>"$T/reset.err" & pid=$!
if ! wait_sock "$S"; then
	fail reset_reboots_in_place "no control socket"; kill $pid; wait $pid
else
	sleep 0.5
	out=$(ctl "$S" '{"cmd":"status"}' '{"cmd":"console","bytes":10}')
	reboots=$(echo "$out" | head -n1 | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["reboots"])')
	data=$(echo "$out" | tail -n1 | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["data"])')
	if [ "${reboots:-0}" -ge 3 ] && [ "$data" = "RRRRRRRRRR" ] && grep -q '^haneul-vmm: guest rebooted' "$T/reset.err"; then
		pass reset_reboots_in_place
	else
		fail reset_reboots_in_place "reboots=$reboots console=$data"
	fi
	# A guest that resets while asked to shut down is powered off (exit 0).
	ctl "$S" '{"cmd":"shutdown","timeout":5}' >/dev/null
	wait $pid; rc=$?
	if [ $rc -eq 0 ] && tail -n1 "$T/reset.err" | grep -q '^haneul-vmm: guest powered off$'; then
		pass shutdown_of_resetting_guest
	else
		fail shutdown_of_resetting_guest "rc=$rc: $(tail -n1 "$T/reset.err")"
	fi
fi

# SIGTERM: forced off, exit 5, control socket removed.
S=$T/t.sock
"$VMM" --kernel "$T/reset.elf" --control "$S" --console none </dev/null 2>"$T/term.err" & pid=$!
wait_sock "$S"; sleep 0.2
kill -TERM $pid; wait $pid; rc=$?
if [ $rc -eq 5 ] && grep -q '^haneul-vmm: guest forced off (SIGTERM)$' "$T/term.err" && [ ! -e "$S" ]; then
	pass sigterm_forced_off
else
	fail sigterm_forced_off "rc=$rc socket_left=$([ -e "$S" ] && echo yes || echo no)"
fi

# 32 vCPUs and 16 GiB start; guest memory stays untouched.
S=$T/b.sock
timeout 30 "$VMM" --kernel "$T/reset.elf" --vcpus 32 --mem 16G --control "$S" --console none </dev/null 2>"$T/big.err" & pid=$!
if wait_sock "$S"; then
	sleep 0.3
	m=$(ctl "$S" '{"cmd":"metrics"}' '{"cmd":"status"}')
	read -r nv rss guest mem < <(echo "$m" | "$PY" -c '
import json, sys
a = json.loads(sys.stdin.readline()); b = json.loads(sys.stdin.readline())
print(len(a["vcpus"]), a["rss_bytes"], a["guest_resident_bytes"], b["mem"])')
	kill -TERM $pid; wait $pid
	echo "# 32 vCPUs, 16 GiB: RSS $((rss / 1024)) KiB, guest resident $((guest / 1024)) KiB"
	if [ "$nv" = 32 ] && [ "$mem" = 17179869184 ] && [ "$rss" -lt $((64 << 20)) ] && [ "$guest" -lt $((16 << 20)) ]; then
		pass big_vm_memory_untouched
	else
		fail big_vm_memory_untouched "vcpus=$nv mem=$mem rss=$rss guest=$guest"
	fi
else
	kill $pid 2>/dev/null; wait $pid
	fail big_vm_memory_untouched "did not start: $(tail -n2 "$T/big.err" | tr '\n' '|')"
fi

# fds: the same before and after many reboots, counted while paused (a
# stable point: VM and vCPU fds exist) and with no control client left.
S=$T/f.sock
timeout 60 "$VMM" --kernel "$T/reset.elf" --vcpus 4 --control "$S" --console none </dev/null 2>/dev/null & tpid=$!
wait_sock "$S"
vpid=$(pgrep -P $tpid -x haneul-vmm | head -n1)
sleep 0.3; ctl "$S" '{"cmd":"pause"}' >/dev/null; sleep 0.3; fd0=$(ls /proc/$vpid/fd | wc -l)
ctl "$S" '{"cmd":"resume"}' >/dev/null; sleep 2
ctl "$S" '{"cmd":"pause"}' >/dev/null; sleep 0.3; fd1=$(ls /proc/$vpid/fd | wc -l)
r=$(ctl "$S" '{"cmd":"status"}' | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["reboots"])')
kill -TERM $vpid; wait $tpid
echo "# fds $fd0 -> $fd1 across $r reboots"
if [ -n "$fd0" ] && [ "$fd0" = "$fd1" ] && [ "${r:-0}" -ge 20 ]; then
	pass fds_stable_across_reboots
else
	fail fds_stable_across_reboots "fds $fd0 -> $fd1, reboots $r"
fi
