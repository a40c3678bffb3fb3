#!/usr/bin/env bash
# The haneul CLI: up / status / call / whoami / down with a temp data dir.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/api_lib.sh"
CASES="cli_up cli_status_running cli_whoami cli_call_create_user cli_call_error cli_down cli_status_stopped"
if [ ! -x "$HANEUL" ] || [ ! -x "$HANEULD" ]; then
	for n in $CASES; do skip "$n" "build/haneul or build/haneuld not built"; done; exit 0
fi
T=$(tmpdir_new)
D=$T/data
cleanup() {
	local pid; pid=$(cat "$D/haneuld.pid" 2>/dev/null)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	rm -rf "$T"
}
trap cleanup EXIT
unset AWS_SHARED_CREDENTIALS_FILE AWS_PROFILE HANEUL_ENDPOINT
export HOME=$T/home; mkdir -p "$HOME"   # no ~/.aws: the CLI falls back to DATA_DIR/root-credentials
H() { timeout 60 "$HANEUL" --data-dir "$D" "$@"; }

out=$(H up --listen 127.0.0.1:0 2>&1)
if echo "$out" | grep -q '^endpoint: *http://127.0.0.1:' && echo "$out" | grep -q "root-credentials"; then
	pass cli_up
else
	fail cli_up "$out"
fi
if echo "$out" | grep -q aws_secret_access_key || grep -q "$(sed -n 's/aws_secret_access_key = //p' "$D/root-credentials")" <<<"$out"; then
	fail cli_up_no_secret_printed "the secret key was printed"
else
	pass cli_up_no_secret_printed
fi
out=$(H status 2>&1); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q 'running (pid' && pass cli_status_running || fail cli_status_running "rc=$rc $out"
out=$(H whoami 2>&1)
echo "$out" | grep -q ':root</Arn>' && pass cli_whoami || fail cli_whoami "$out"
out=$(H call iam CreateUser UserName=carol 2>&1)
out2=$(H call iam ListUsers 2>&1)
echo "$out" | grep -q '<UserName>carol</UserName>' && echo "$out2" | grep -q carol &&
	pass cli_call_create_user || fail cli_call_create_user "$out $out2"
out=$(H call iam GetUser UserName=nobody 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q NoSuchEntity && pass cli_call_error || fail cli_call_error "rc=$rc $out"
out=$(H down 2>&1); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q stopped && pass cli_down || fail cli_down "rc=$rc $out"
out=$(H status 2>&1); rc=$?
[ $rc -eq 3 ] && pass cli_status_stopped || fail cli_status_stopped "rc=$rc $out"
