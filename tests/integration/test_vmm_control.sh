#!/usr/bin/env bash
# haneul-vmm control socket (JSON lines) with the tiny guest on the local
# /dev/kvm.  Cases live in tiny_cases.py (control).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
vmm_prereqs control control_status control_pause_resume control_console control_metrics \
	control_malformed_lines control_shutdown_graceful control_reboot || exit 0
exec "$PY" "$(dirname "$0")/tiny_cases.py" control "$@"
