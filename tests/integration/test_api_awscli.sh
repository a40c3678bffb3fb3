#!/usr/bin/env bash
# haneuld with the real AWS CLI (Debian awscli): the issue's flows.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/api_lib.sh"
CASES="awscli_root_identity awscli_create_user awscli_create_key awscli_attach_policy awscli_alice_identity
awscli_no_policy_refused awscli_root_refused_ec2 awscli_inactive_key_refused awscli_wrong_secret_refused
awscli_restart_keeps_state awscli_clean_shutdown awscli_creds_file_mode awscli_secret_not_in_db"
api_need_tools $CASES || exit 0
T=$(tmpdir_new); trap api_cleanup EXIT
D=$T/data
api_env "$T"
api_start "$D" || { fail awscli_start "haneuld did not start: $(tail -5 "$D.log")"; exit 1; }
cp "$D/root-credentials" "$AWS_SHARED_CREDENTIALS_FILE"

out=$(awsx sts get-caller-identity --query Arn --output text 2>&1)
case "$out" in arn:aws:iam::*:root) pass awscli_root_identity ;; *) fail awscli_root_identity "$out" ;; esac

out=$(awsx iam create-user --user-name alice --query User.UserName --output text 2>&1)
[ "$out" = alice ] && pass awscli_create_user || fail awscli_create_user "$out"

if awsx iam create-access-key --user-name alice --output text \
	--query 'AccessKey.[AccessKeyId,SecretAccessKey]' >"$T/key" 2>&1 && read -r AK SK <"$T/key" && [ -n "$SK" ]; then
	printf '[alice]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" >>"$AWS_SHARED_CREDENTIALS_FILE"
	pass awscli_create_key
else
	fail awscli_create_key "$(cat "$T/key")"
fi

# Before any policy: alice may ask who she is, nothing else.
out=$(awsx --profile alice iam list-users 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'AccessDenied' && echo "$out" | grep -q 'iam:ListUsers'; then
	pass awscli_no_policy_refused
else
	fail awscli_no_policy_refused "rc=$rc $out"
fi

out=$(awsx iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AmazonEC2FullAccess 2>&1) &&
	awsx iam list-attached-user-policies --user-name alice --output text | grep -q AmazonEC2FullAccess &&
	pass awscli_attach_policy || fail awscli_attach_policy "$out"

out=$(awsx --profile alice sts get-caller-identity --query Arn --output text 2>&1)
case "$out" in arn:aws:iam::*:user/alice) pass awscli_alice_identity ;; *) fail awscli_alice_identity "$out" ;; esac

out=$(awsx ec2 describe-instances 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q 'UnauthorizedOperation' && echo "$out" | grep -q 'use an IAM user'; then
	pass awscli_root_refused_ec2
else
	fail awscli_root_refused_ec2 "rc=$rc $out"
fi

awsx iam update-access-key --user-name alice --access-key-id "$AK" --status Inactive >/dev/null 2>&1
out=$(awsx --profile alice sts get-caller-identity 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q InvalidClientTokenId; then pass awscli_inactive_key_refused
else fail awscli_inactive_key_refused "rc=$rc $out"; fi
awsx iam update-access-key --user-name alice --access-key-id "$AK" --status Active >/dev/null 2>&1

printf '[wrong]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "${SK%?}X" >>"$AWS_SHARED_CREDENTIALS_FILE"
out=$(awsx --profile wrong sts get-caller-identity 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q SignatureDoesNotMatch; then pass awscli_wrong_secret_refused
else fail awscli_wrong_secret_refused "rc=$rc $out"; fi

# Restart: users, keys and policies survive.
if api_stop; then pass awscli_clean_shutdown; else fail awscli_clean_shutdown "haneuld exited non-zero on SIGTERM"; fi
api_start "$D" || fail awscli_restart_keeps_state "restart failed"
out=$(awsx --profile alice sts get-caller-identity --query Arn --output text 2>&1)
out2=$(awsx iam list-attached-user-policies --user-name alice --output text 2>&1)
case "$out" in *:user/alice)
	echo "$out2" | grep -q AmazonEC2FullAccess && pass awscli_restart_keeps_state ||
		fail awscli_restart_keeps_state "policy lost: $out2" ;;
*) fail awscli_restart_keeps_state "$out" ;;
esac

mode=$(stat -c %a "$D/root-credentials")
[ "$mode" = 600 ] && pass awscli_creds_file_mode || fail awscli_creds_file_mode "mode $mode"

# The secret never appears in clear in the database or the log.
if grep -rqF "$SK" "$D" "$D.log"; then fail awscli_secret_not_in_db "secret found in data dir or log"
else pass awscli_secret_not_in_db; fi
api_stop
