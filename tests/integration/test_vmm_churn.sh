#!/usr/bin/env bash
# Many tiny VMs in a row, and many reboots/control connections in one VMM:
# no fd or memory growth, no process left behind.  Cases in tiny_cases.py.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
vmm_prereqs churn fifty_vms_in_a_row no_leak_across_reboots_and_control_connections || exit 0
exec "$PY" "$(dirname "$0")/tiny_cases.py" churn "$@"
