#!/usr/bin/env bash
# haneuld with boto3 and hand-made raw requests: permissions via groups,
# DryRun, expired/tampered signatures, malformed and oversized requests.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/api_lib.sh"
api_need_tools boto3_flows || exit 0
T=$(tmpdir_new); trap api_cleanup EXIT
api_env "$T"
api_start "$T/data" || { fail boto3_start "haneuld did not start: $(tail -5 "$T/data.log")"; exit 1; }
"$PY" "$(dirname "$0")/api_boto3.py" flows "$EP" "$T/data/root-credentials" 2>"$T/py.err"
rc=$?
[ $rc -eq 0 ] || fail boto3_script "python exited $rc: $(tail -5 "$T/py.err")"
kill -0 "$HANEULD_PID" 2>/dev/null && pass boto3_daemon_alive || fail boto3_daemon_alive "haneuld died: $(tail -5 "$T/data.log")"
api_stop && pass boto3_clean_shutdown || fail boto3_clean_shutdown "non-zero exit on SIGTERM"
