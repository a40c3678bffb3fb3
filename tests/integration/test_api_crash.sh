#!/usr/bin/env bash
# kill -9 of haneuld during a burst of CreateUser calls: after a restart every
# acknowledged user is there (SQLite WAL + synchronous=FULL, commit before reply).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/api_lib.sh"
api_need_tools kill9_acknowledged_users_kept || exit 0
T=$(tmpdir_new); trap api_cleanup EXIT
api_env "$T"
api_start "$T/data" || { fail kill9_start "haneuld did not start"; exit 1; }
: >"$T/acked"
"$PY" "$(dirname "$0")/api_boto3.py" burst "$EP" "$T/data/root-credentials" "$T/acked" 30 2>"$T/burst.err" &
BURST=$!
sleep 3
api_kill9 "$T/data"
wait "$BURST"
echo "# $(wc -l <"$T/acked") CreateUser calls acknowledged before kill -9"
api_start "$T/data" || { fail kill9_restart "haneuld did not restart after kill -9: $(tail -5 "$T/data.log")"; exit 1; }
pass kill9_restart
"$PY" "$(dirname "$0")/api_boto3.py" verify "$EP" "$T/data/root-credentials" "$T/acked"
api_stop
