#!/usr/bin/env bash
# Hibernate to disk and resume in a new process (issue 5) with the tiny
# guest on the local /dev/kvm.  Cases live in hibernate_cases.py.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
vmm_prereqs hibernate hibernate_round_trip_repeated hibernate_two_vcpus_and_sparse_memory \
	hibernate_corrupt_sections_refused hibernate_truncated_version_and_size_refused \
	hibernate_corrupt_memory_never_runs_silently hibernate_hibernate_paused_vm \
	hibernate_hibernate_errors_keep_vm_running hibernate_kill_9_during_save_leaves_old_or_new \
	hibernate_kill_9_first_save_leaves_nothing || exit 0
exec "$PY" "$(dirname "$0")/hibernate_cases.py" "$@"
