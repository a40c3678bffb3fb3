# tests/integration/ec2_lib.sh - a real haneuld with EC2 on a free loopback
# port, an IAM user "ec2user" with AmazonEC2FullAccess as the default AWS CLI
# profile, and cleanup that leaves no VMM behind (sourced after tests/lib.sh
# and api_lib.sh).
TINY=$BUILD/images/tiny/tiny.elf

ec2_need() { # SKIPs every named case and returns 1 when something is missing
	local why=""
	have_kvm || why=$KVM_WHY
	[ -z "$why" ] && [ ! -x "$VMM" ] && why="$VMM not built"
	[ -z "$why" ] && [ ! -f "$TINY" ] && why="$TINY not built"
	if [ -n "$why" ]; then
		for n in "$@"; do skip "$n" "$why"; done
		return 1
	fi
	api_need_tools "$@"
}

# ec2_up DATA_DIR [haneuld args...]: haneuld + credentials for ec2user.
ec2_start() {
	local d=$1 i
	shift
	rm -f "$d/endpoint"
	"$HANEULD" --data-dir "$d" --listen 127.0.0.1:0 --stop-timeout 10 "$@" >>"$d.log" 2>&1 &
	HANEULD_PID=$!
	for i in $(seq 1 100); do
		[ -s "$d/endpoint" ] && break
		kill -0 "$HANEULD_PID" 2>/dev/null || break
		sleep 0.1
	done
	EP=$(cat "$d/endpoint" 2>/dev/null)
	[ -n "$EP" ]
}

ec2_user() { # after ec2_start: root creates ec2user; its keys become [default]
	local d=$1 ak sk
	cp "$d/root-credentials" "$T/root-creds"
	AWS_SHARED_CREDENTIALS_FILE=$T/root-creds "$AWS" --endpoint-url "$EP" iam create-user --user-name ec2user >/dev/null &&
	AWS_SHARED_CREDENTIALS_FILE=$T/root-creds "$AWS" --endpoint-url "$EP" iam attach-user-policy --user-name ec2user \
		--policy-arn arn:aws:iam::aws:policy/AmazonEC2FullAccess &&
	read -r ak sk < <(AWS_SHARED_CREDENTIALS_FILE=$T/root-creds "$AWS" --endpoint-url "$EP" iam create-access-key \
		--user-name ec2user --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text) &&
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ak" "$sk" >"$AWS_SHARED_CREDENTIALS_FILE"
}

# Kill every VMM (by its pid file) of data dir $1: they outlive haneuld.
ec2_kill_vmms() {
	local f p
	for f in "$1"/ec2/i-*/vmm.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		[ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q haneul-vmm &&
			kill -KILL "$p" 2>/dev/null
	done
	return 0
}

ec2_cleanup() {
	[ -n "${HANEULD_PID:-}" ] && kill -KILL "$HANEULD_PID" 2>/dev/null && wait "$HANEULD_PID" 2>/dev/null
	[ -n "${D:-}" ] && ec2_kill_vmms "$D"
	[ -n "${T:-}" ] && rm -rf "$T"
}

tiny_ami() { awsx ec2 describe-images --filters Name=name,Values=haneul-tiny --query 'Images[0].ImageId' --output text; }
istate() { awsx ec2 describe-instances --instance-ids "$1" --query 'Reservations[0].Instances[0].State.Name' --output text 2>/dev/null; }
# wait_state ID STATE [SECONDS]: polls DescribeInstances (the CLI waiters poll every 15 s).
wait_state() {
	local i s n=$((${3:-60} * 5))
	for i in $(seq 1 $n); do
		s=$(istate "$1")
		[ "$s" = "$2" ] && return 0
		sleep 0.2
	done
	echo "$1 is '$s', not '$2'" >&2
	return 1
}
