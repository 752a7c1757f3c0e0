# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Host-side helpers of the VMBus tests (tests/e2e/vmbus_*.sh), sourced after
# lib.sh. Not a test itself: tests/run only runs *.sh.
#
# The guest half of each test is a script in tests/e2e/guest/ that sources
# guest/vmbus-lib.sh: it reports every check as "ok: WHAT" or "not ok:
# WHAT", ends with "done", and hands over to the host with `step NAME
# ARGS...`: it writes ARGS into g-NAME in the run's shared directory and
# waits for h-NAME, whose text it reads as the host's reply.

# The directory the guest sees as /run/hvsim.
vmbus_shared_dir() {
	echo "$XDG_RUNTIME_DIR/hvsim/$(run_name "$1")/guest"
}

# vmbus_wait_step TAG NAME SECONDS: until the guest reached step NAME; the
# arguments it gave are then in STEP_ARGS (an array). False on timeout or
# when the run ended first.
vmbus_wait_step() {
	local tag=$1 name=$2 limit=$3 f i
	f=$(vmbus_shared_dir "$tag")/g-$name
	STEP_ARGS=()
	for ((i = 0; i < limit * 10; i++)); do
		if [[ -e $f ]]; then
			# shellcheck disable=SC2034 # read by the tests that source this
			read -r -a STEP_ARGS <"$f"
			return 0
		fi
		[[ -n ${E2E_PID[$tag]:-} ]] && ! kill -0 "${E2E_PID[$tag]}" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# vmbus_step_done TAG NAME [TEXT]: let the guest go on past step NAME; it
# reads TEXT as STEP_REPLY.
vmbus_step_done() {
	local dir
	dir=$(vmbus_shared_dir "$1")
	printf '%s\n' "${3:-}" >"$dir/.h-$2" && mv -f "$dir/.h-$2" "$dir/h-$2"
}

# vmbus_step TAG NAME SECONDS: wait for the step or FAIL (and false).
vmbus_step() {
	if vmbus_wait_step "$@"; then
		return 0
	fi
	fail "the guest never reached step $2 within $3 s"
	return 1
}

# vmbus_relay TAG: the guest's "ok:" / "not ok:" lines as PASS/FAIL, and a
# FAIL if it did not get to its final "done".
vmbus_relay() {
	local tag=$1 line n=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		'ok: '*) pass "guest: ${line#ok: }"; n=$((n + 1)) ;;
		'not ok: '*) fail "guest: ${line#not ok: }"; n=$((n + 1)) ;;
		'info: lsvmbus: '*) ;;
		'info: '*) echo "  guest: ${line#info: }" ;;
		esac
	done <"$(out "$tag")"
	if [[ $n -eq 0 ]]; then
		fail "$tag: the guest reported no checks at all"
	fi
	if ! grep -q '^done' "$(out "$tag")"; then
		fail "$tag: the guest script did not finish ($n checks reported; hvsim exit ${HVSIM_RC:-?})"
		echo "  --- guest output ($tag), last lines:"
		tail -n 20 "$(out "$tag")" | sed 's/^/    /'
		show_run "$tag"
	fi
}

# vmbus_ctl TAG COMMAND...: the reply on stdout; on error a FAIL line
# naming the command, and false.
vmbus_ctl() {
	local tag=$1 reply
	shift
	if reply=$(hvsim_ctl "$tag" "$@" 2>&1); then
		printf '%s\n' "$reply"
		return 0
	fi
	fail "hvsim ctl $*: ${reply:-no reply}"
	return 1
}

# ctl_devices_field TAG RELID FIELD: one field (1-based, as in `devices`:
# relid class instance state sub-index vp) of the line of RELID.
ctl_devices_field() {
	hvsim_ctl "$1" devices 2>/dev/null | awk -v r="$2" -v f="$3" '$1 == r { print $f }'
}

# The heartbeat answers the host has seen (`hvsim ctl NAME heartbeat`).
heartbeat_answers() {
	local reply
	reply=$(hvsim_ctl "$1" heartbeat 2>/dev/null) || return 1
	[[ $reply =~ answers=([0-9]+) ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

# wait_host_counter SECONDS MIN COMMAND...: until COMMAND prints a number
# >= MIN; the last number it printed is in COUNTER.
wait_host_counter() {
	local limit=$1 min=$2 i
	shift 2
	COUNTER=
	for ((i = 0; i < limit * 10; i++)); do
		COUNTER=$("$@") || COUNTER=
		[[ -n $COUNTER && $COUNTER -ge $min ]] && return 0
		sleep 0.1
	done
	return 1
}

# Linux's lsvmbus (tools/hv), which no Debian package ships: taken once
# from linux-source's tarball into build/e2e-tools. Prints its path.
vmbus_lsvmbus() {
	local dir=$E2E_REPO/build/e2e-tools tarball tmp
	if [[ -s $dir/lsvmbus ]]; then
		echo "$dir/lsvmbus"
		return 0
	fi
	tarball=$(find /usr/src -maxdepth 1 -name 'linux-source-*.tar.xz' 2>/dev/null | sort -V | tail -n 1)
	[[ -n $tarball ]] || return 1
	mkdir -p "$dir" || return 1
	tmp=$(mktemp "$dir/lsvmbus.XXXXXX") || return 1
	if tar -xJf "$tarball" --wildcards -O '*/tools/hv/lsvmbus' >"$tmp" 2>/dev/null &&
	   [[ -s $tmp ]]; then
		mv -f "$tmp" "$dir/lsvmbus"
		echo "$dir/lsvmbus"
		return 0
	fi
	rm -f "$tmp"
	return 1
}
