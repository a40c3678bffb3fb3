# tests/integration/api_lib.sh - start/stop a real haneuld on a free loopback
# port with a temp data dir, and an AWS CLI environment that reads nothing
# from the machine (sourced by test_api_*.sh after tests/lib.sh).
HANEULD=$BUILD/haneuld
HANEUL=$BUILD/haneul
AWS=/usr/bin/aws
PY=/usr/bin/python3

api_need_tools() { # SKIPs every named case and returns 1 when a tool is missing
	local why=""
	[ -x "$HANEULD" ] || why="$HANEULD not built"
	[ -z "$why" ] && [ ! -x "$AWS" ] && why="/usr/bin/aws missing (apt-get install awscli)"
	[ -z "$why" ] && ! "$PY" -c 'import boto3' 2>/dev/null && why="python3-boto3 missing (apt-get install python3-boto3)"
	if [ -n "$why" ]; then
		for n in "$@"; do skip "$n" "$why"; done
		return 1
	fi
	return 0
}

# api_start DATA_DIR: starts haneuld (port 0), sets HANEULD_PID and EP.
api_start() {
	local d=$1 i
	rm -f "$d/endpoint"
	timeout 600 "$HANEULD" --data-dir "$d" --listen 127.0.0.1:0 >>"$d.log" 2>&1 &
	HANEULD_PID=$!
	for i in $(seq 1 100); do
		[ -s "$d/endpoint" ] && break
		kill -0 "$HANEULD_PID" 2>/dev/null || break
		sleep 0.1
	done
	EP=$(cat "$d/endpoint" 2>/dev/null)
	[ -n "$EP" ]
}

api_stop() { # SIGTERM and wait; returns haneuld's exit status
	local rc=0
	[ -n "${HANEULD_PID:-}" ] || return 0
	kill -TERM "$HANEULD_PID" 2>/dev/null
	wait "$HANEULD_PID" || rc=$?
	HANEULD_PID=
	return $rc
}

api_kill9() { # kill -9 the haneuld process itself (not its timeout wrapper)
	local d=$1 pid
	pid=$(cat "$d/haneuld.pid" 2>/dev/null)
	[ -n "$pid" ] && kill -KILL "$pid"
	wait "$HANEULD_PID" 2>/dev/null
	HANEULD_PID=
}

api_env() { # $1 = temp dir holding credentials/config for the CLI
	export AWS_SHARED_CREDENTIALS_FILE=$1/credentials AWS_CONFIG_FILE=$1/config
	export AWS_DEFAULT_REGION=ap-northeast-2 AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
	unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION
	printf '[default]\nregion = ap-northeast-2\ncli_pager =\n' >"$AWS_CONFIG_FILE"
}

awsx() { "$AWS" --endpoint-url "$EP" "$@"; }

api_cleanup() {
	[ -n "${HANEULD_PID:-}" ] && kill -KILL "$HANEULD_PID" 2>/dev/null && wait "$HANEULD_PID" 2>/dev/null
	[ -n "${T:-}" ] && rm -rf "$T"
}
