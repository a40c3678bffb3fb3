#!/usr/bin/env bash
# haneul-vmm + tiny guest on the local /dev/kvm: boot, serial I/O, reboot,
# vCPU counts, console log, idle cost.  Cases live in tiny_cases.py (serial).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
vmm_prereqs serial boot_ready_and_poweroff pvh_entry_under_haneul serial_round_trip serial_garbage_and_long_lines \
	count_increments reboot_same_process vcpus_2_and_4 console_log_bounded \
	idle_costs_under_1_percent_of_a_core || exit 0
exec "$PY" "$(dirname "$0")/tiny_cases.py" serial "$@"
