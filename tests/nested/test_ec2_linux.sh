#!/usr/bin/env bash
# tests/nested/test_ec2_linux.sh - issue 6's nested case: one `debian-12`
# instance launched, hibernated, resumed and terminated through the AWS CLI.
#
# haneuld runs inside the outer VM of tests/nested/harness.sh (real KVM,
# where Linux guests run: KVM-HERE.md); the harness forwards
# 127.0.0.1:PORT on this host to its port 4566 (--hostfwd), so /usr/bin/aws
# runs here.  tests/nested/ec2_outer.sh (inside) prints haneuld's root
# credentials on the outer console, which this script reads as it grows, and
# ends when this script connects to its second forward (DONE_PORT -> 4567).  One outer boot; every wait is
# bounded.  The guest gets a user-data script that prints
# "ud-tick N boot=BOOT_ID up=UPTIME" every 2 s: that proves the user data
# arrived and ran, and the boot id proves the start resumed the same boot.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
cases=(ec2_nested_haneuld_up ec2_nested_debian_image ec2_nested_run_running ec2_nested_console_banner
       ec2_nested_user_data_ran ec2_nested_hibernate ec2_nested_resume_same_boot ec2_nested_terminate
       ec2_nested_outer_clean)
AWS=/usr/bin/aws
skip_all() { local c; for c in "${cases[@]}"; do skip "$c" "$1"; done; exit 0; }
[ -x "$AWS" ] || skip_all "$AWS missing (apt-get install -y awscli)"
mkdir -p "$BUILD"
make -s -C "$HANEUL_ROOT" O="$O" "$O/haneuld" "$O/haneul-vmm" >/dev/null 2>&1 || true
[ -x "$VMM" ] && [ -x "$BUILD/haneuld" ] || skip_all "$VMM or $BUILD/haneuld not built (make)"
nested_prepare "${cases[@]}" || exit 0
[ -f "$BUILD/images/linux/vmlinuz" ] || skip_all "no $BUILD/images/linux/vmlinuz (make linux-image)"

# One outer VM at a time on this machine: wait while another one runs.
waited=0
while pgrep -f 'accel tcg' >/dev/null; do
	[ "$waited" -ge "${HANEUL_NESTED_WAIT:-1800}" ] && skip_all "another outer VM kept running for ${waited}s"
	sleep 5
	waited=$((waited + 5))
done

# The outer VM's fault policy (docs/testing-nested.md): the harness does not
# rerun this interactive command itself (HANEUL_HARNESS_RERUN=0); when the
# outer kernel failed, the whole sequence runs once more in a fresh outer VM.
OLOG=$BUILD/nested/ec2-console.log
T= HPID=
# done_outer: tells ec2_outer.sh to finish (any connection to DONE_PORT).
done_outer() { { echo done >"/dev/tcp/127.0.0.1/$DONE_PORT"; } 2>/dev/null; }
cleanup() {
	if [ -n "$HPID" ] && kill -0 "$HPID" 2>/dev/null; then
		# The harness runs QEMU under timeout(1): stop that one (ours).
		local t
		for t in $(pgrep -P "$HPID" -x timeout); do kill -TERM "$t" 2>/dev/null; done
		wait "$HPID" 2>/dev/null
	fi
	[ -n "$T" ] && rm -rf "$T"
	T=
}
trap cleanup EXIT
attempt() {
	T=$(tmpdir_new) HPID=
	read -r PORT DONE_PORT < <(/usr/bin/python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
	EP=http://127.0.0.1:$PORT
	export AWS_SHARED_CREDENTIALS_FILE=$T/credentials AWS_CONFIG_FILE=$T/config AWS_PAGER="" \
		AWS_DEFAULT_REGION=ap-northeast-2 AWS_EC2_METADATA_DISABLED=true
	printf '[default]\nregion = ap-northeast-2\ncli_pager =\n' >"$AWS_CONFIG_FILE"
	aws() { timeout 120 "$AWS" --endpoint-url "$EP" "$@"; }

	rm -f "$OLOG"
	mkdir -p "$BUILD/nested"
	HANEUL_HARNESS_RERUN=0 HANEUL_HARNESS_LOG=$OLOG O=$O "$HANEUL_ROOT/tests/nested/harness.sh" --timeout 1200 \
		--hostfwd "$PORT:4566" --hostfwd "$DONE_PORT:4567" \
		--file "$BUILD/haneuld:bin/haneuld" --file "$HANEUL_ROOT/tests/nested/ec2_outer.sh:bin/ec2_outer.sh" -- \
		"sh /haneul/bin/ec2_outer.sh $(date +%s) 900" >"$T/harness.out" 2>&1 &
	HPID=$!

	# ---- haneuld up: root credentials from the outer console, then an IAM user ----
	ok=0
	for i in $(seq 1 900); do
		if [ -f "$OLOG" ] && grep -q '^@@EC2-READY' "$OLOG"; then ok=1; break; fi
		kill -0 "$HPID" 2>/dev/null || break
		sleep 0.5
	done
	if [ "$ok" = 1 ]; then
		tr -d '\r' <"$OLOG" | sed -n 's/^@@EC2-CRED //p' >"$T/root-creds"
		ak=
		AWS_SHARED_CREDENTIALS_FILE=$T/root-creds aws iam create-user --user-name ec2user >/dev/null &&
		AWS_SHARED_CREDENTIALS_FILE=$T/root-creds aws iam attach-user-policy --user-name ec2user \
			--policy-arn arn:aws:iam::aws:policy/AmazonEC2FullAccess &&
		read -r ak sk < <(AWS_SHARED_CREDENTIALS_FILE=$T/root-creds aws iam create-access-key --user-name ec2user \
			--query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
		if [ -n "$ak" ]; then
			printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$ak" "$sk" >"$AWS_SHARED_CREDENTIALS_FILE"
			pass ec2_nested_haneuld_up
		else
			ok=0
			fail ec2_nested_haneuld_up "IAM calls through 127.0.0.1:$PORT failed"
		fi
	else
		fail ec2_nested_haneuld_up "no @@EC2-READY on the outer console ($OLOG): $(tail -n 3 "$T/harness.out" | tr '\n' ' ')"
	fi

	# step NAME: true when the earlier steps passed (else SKIPs NAME)
	step() { [ "$ok" = 1 ] && return 0; skip "$1" "an earlier step failed"; return 1; }
	# bad NAME WHY: FAIL and stop the chain
	bad() { fail "$1" "$2"; ok=0; }
	console() { aws ec2 get-console-output --instance-id "$IID" --query Output --output text 2>/dev/null | tr -d '\r'; }
	# wait_console PATTERN SECONDS: polls GetConsoleOutput until PATTERN (ERE) is in it
	wait_console() {
		local end=$((SECONDS + $2))
		while [ $SECONDS -lt $end ]; do
			console >"$T/con"
			grep -Eq "$1" "$T/con" && return 0
			sleep 3
		done
		return 1
	}
	istate() { aws ec2 describe-instances --instance-ids "$IID" --query 'Reservations[0].Instances[0].State.Name' --output text; }

	IID= AMI=
	if step ec2_nested_debian_image; then
		AMI=$(aws ec2 describe-images --filters Name=name,Values=debian-12 --query 'Images[0].ImageId' --output text)
		if [[ "$AMI" == ami-* ]]; then pass ec2_nested_debian_image; else bad ec2_nested_debian_image "debian-12 not registered: '$AMI'"; fi
	fi

	if step ec2_nested_run_running; then
		cat >"$T/ud.sh" <<'UD'
#!/bin/sh
n=0
while :; do
	n=$((n + 1))
	echo "ud-tick $n boot=$(cat /proc/sys/kernel/random/boot_id) up=$(cut -d' ' -f1 /proc/uptime)"
	sleep 2
done
UD
		read -r IID st0 < <(aws ec2 run-instances --image-id "$AMI" --instance-type t3.nano \
			--hibernation-options Configured=true --user-data "file://$T/ud.sh" \
			--query 'Instances[0].[InstanceId,State.Name]' --output text)
		if [[ "$IID" != i-* ]]; then
			bad ec2_nested_run_running "run-instances: '$IID'"
		elif ! aws ec2 wait instance-running --instance-ids "$IID"; then
			bad ec2_nested_run_running "$IID never running (state $(istate))"
		elif [ "$st0" != pending ]; then
			bad ec2_nested_run_running "state right after RunInstances was '$st0', not pending"
		else
			pass ec2_nested_run_running
		fi
	fi

	if step ec2_nested_console_banner; then
		# Running means the guest said it is ready: the marker is already there.
		if wait_console '^haneul-ready linux' 1 && grep -q 'Linux version 6\.' "$T/con"; then
			pass ec2_nested_console_banner
		else
			bad ec2_nested_console_banner "no kernel banner / readiness marker: $(tail -n 3 "$T/con" | tr '\n' '|')"
		fi
	fi

	B1= N1=0
	if step ec2_nested_user_data_ran; then
		if wait_console '^ud-tick 2 ' 120; then
			B1=$(sed -n 's/^ud-tick [0-9]* boot=\([0-9a-f-]*\) .*/\1/p' "$T/con" | tail -n 1)
			N1=$(sed -n 's/^ud-tick \([0-9]*\) .*/\1/p' "$T/con" | tail -n 1)
			pass ec2_nested_user_data_ran
		else
			bad ec2_nested_user_data_ran "no ud-tick lines: $(tail -n 3 "$T/con" | tr '\n' '|')"
		fi
	fi

	if step ec2_nested_hibernate; then
		aws ec2 stop-instances --instance-ids "$IID" --hibernate >/dev/null
		if ! aws ec2 wait instance-stopped --instance-ids "$IID"; then
			bad ec2_nested_hibernate "not stopped: $(istate)"
		else
			why=$(aws ec2 describe-instances --instance-ids "$IID" --query 'Reservations[0].Instances[0].StateReason.Code' --output text)
			N1=$(console | sed -n 's/^ud-tick \([0-9]*\) .*/\1/p' | tail -n 1)
			if [ "$why" = Client.UserInitiatedHibernate ]; then pass ec2_nested_hibernate
			else bad ec2_nested_hibernate "state reason '$why'"; fi
		fi
	fi

	if step ec2_nested_resume_same_boot; then
		aws ec2 start-instances --instance-ids "$IID" >/dev/null
		if ! aws ec2 wait instance-running --instance-ids "$IID"; then
			bad ec2_nested_resume_same_boot "not running again: $(istate)"
		elif ! wait_console "^ud-tick $((N1 + 2)) " 120; then
			bad ec2_nested_resume_same_boot "ticks did not continue after $N1 (a fresh boot starts at 1): $(tail -n 3 "$T/con" | tr '\n' '|')"
		else
			B2=$(sed -n "s/^ud-tick $((N1 + 2)) boot=\([0-9a-f-]*\) .*/\1/p" "$T/con" | tail -n 1)
			if [ -z "$B1" ] || [ "$B2" != "$B1" ]; then
				bad ec2_nested_resume_same_boot "boot id changed: '$B1' -> '$B2'"
			elif ! grep -q 'Linux version 6\.' "$T/con"; then
				bad ec2_nested_resume_same_boot "the boot's kernel banner is gone from GetConsoleOutput after the start"
			else
				pass ec2_nested_resume_same_boot
			fi
		fi
	fi

	if [ -n "$IID" ]; then
		# Also when an earlier step failed: it lets the outer VM finish early.
		aws ec2 terminate-instances --instance-ids "$IID" >/dev/null 2>&1
		if step ec2_nested_terminate; then
			if aws ec2 wait instance-terminated --instance-ids "$IID"; then pass ec2_nested_terminate
			else bad ec2_nested_terminate "not terminated: $(istate)"; fi
		fi
	else
		skip ec2_nested_terminate "no instance was launched"
	fi

	# The outer VM finishes when told (it checks that no VMM is left); if it
	# cannot be told, its own deadline (900 s) and the harness's bound it.
	stop_outer() { local t; for t in $(pgrep -P "$HPID" -x timeout); do kill -TERM "$t" 2>/dev/null; done; }
	done_outer || stop_outer
	for i in $(seq 1 240); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.5; done
	kill -0 "$HPID" 2>/dev/null && { echo "the outer VM did not finish 120 s after 'done': stopping it" >&2; stop_outer; }
	wait "$HPID"
	hrc=$?
	HPID=
	cp "$T/harness.out" "$BUILD/nested/ec2-harness.out" 2>/dev/null
	if [ "$hrc" = 0 ]; then
		pass ec2_nested_outer_clean
	else
		fail ec2_nested_outer_clean "harness exit $hrc (outer output: $BUILD/nested/ec2-harness.out, console: $OLOG)"
	fi
	cleanup
}

rm -f "$BUILD/nested/ec2-harness.out"
attempt >"$BUILD/nested/ec2-attempt.out" 2>&1
if grep -q '^harness: the OUTER kernel' "$BUILD/nested/ec2-harness.out" 2>/dev/null; then
	echo "the OUTER kernel failed during the first attempt (the test machine, not haneul):"
	grep '^harness: ' "$BUILD/nested/ec2-harness.out" | head -n 30 | sed 's/^/    /'
	echo "    first attempt's results:"
	sed 's/^/    | /' "$BUILD/nested/ec2-attempt.out"
	echo "running the whole sequence once more in a fresh outer VM"
	attempt >"$BUILD/nested/ec2-attempt.out" 2>&1
fi
cat "$BUILD/nested/ec2-attempt.out"
