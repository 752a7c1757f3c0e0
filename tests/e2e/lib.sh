# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared by the end-to-end tests: each sources this, calls e2e_init, boots
# guests with build/hvsim and reports with pass/fail. Every guest's
# console.log is kept in the test's scratch directory and checked for
# kernel warnings (check_console).
#
#   e2e_init NAME            prerequisites; a missing one is a FAIL line
#   hvsim_exec TAG [hvsim run options...] --exec CMD
#                            boot, run CMD, wait; sets HVSIM_RC, and the
#                            files $(out TAG), $(err TAG), $(console TAG)
#   hvsim_start TAG [options...] --exec CMD   the same in the background;
#                            the run name for `hvsim ctl` is $(run_name TAG)
#   hvsim_wait_ready TAG SECONDS   until guest-init reports ready
#   hvsim_wait TAG SECONDS   until the background hvsim exits (HVSIM_RC)
#   check_console TAG        FAIL on WARN/BUG/Oops/Call Trace, else PASS
#   e2e_finish               exit status: 0 only if nothing failed

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HVSIM=${HVSIM:-$E2E_REPO/build/hvsim}
E2E_FAILED=0
E2E_NAME=e2e
declare -A E2E_PID=()

pass() {
	echo "PASS $E2E_NAME: $*"
}

fail() {
	echo "FAIL $E2E_NAME: $*"
	E2E_FAILED=1
}

# check DESCRIPTION COMMAND...: PASS or FAIL by the command's status.
check() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		fail "$what"
	fi
}

# Cannot run at all: one FAIL line that says why, and stop.
e2e_abort() {
	fail "$*"
	exit 1
}

e2e_init() {
	E2E_NAME=e2e/$1
	local kver

	command -v qemu-system-x86_64 >/dev/null ||
		e2e_abort "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
	[[ -x $HVSIM ]] || e2e_abort "$HVSIM missing (run make)"
	kver=$("$E2E_REPO/scripts/default-kver")
	E2E_KVER=${KVER:-$kver}
	[[ -n $E2E_KVER && -r /boot/vmlinuz-$E2E_KVER ]] ||
		e2e_abort "/boot/vmlinuz-$E2E_KVER missing or unreadable (linux-image-amd64)"
	[[ -f $E2E_REPO/build/guest/$E2E_KVER/initrd.img ]] ||
		e2e_abort "build/guest/$E2E_KVER/initrd.img missing (run make)"

	# hvsim keeps its run directories under $XDG_RUNTIME_DIR/hvsim and
	# removes them when it exits; a private one per test, on the same file
	# system as the scratch directory, lets console.log be hard-linked and
	# so outlive the run. Short, because UNIX socket paths are.
	E2E_TMP=$(mktemp -d "/tmp/viridian-e2e.XXXXXX") || e2e_abort "mktemp failed"
	mkdir -m 0700 "$E2E_TMP/xdg"
	export XDG_RUNTIME_DIR=$E2E_TMP/xdg
	trap e2e_cleanup EXIT
	# tests/run's timeout stops a test with SIGTERM: stop its guests too.
	trap 'exit 143' TERM INT
}

e2e_cleanup() {
	local tag
	for tag in "${!E2E_PID[@]}"; do
		kill -TERM "${E2E_PID[$tag]}" 2>/dev/null
	done
	wait 2>/dev/null
	if [[ $E2E_FAILED -ne 0 && -n ${E2E_KEEP_FAILED:-1} ]]; then
		# The logs only: disk images and run directories can be large.
		find "$E2E_TMP" -mindepth 1 -maxdepth 1 ! -name '*.log' ! -name '*.out' \
			! -name '*.err' -exec rm -rf {} +
		echo "  (logs kept in $E2E_TMP)"
	else
		rm -rf "$E2E_TMP"
	fi
}

e2e_finish() {
	exit "$E2E_FAILED"
}

run_name() { echo "e2e-$1-$$"; }
out() { echo "$E2E_TMP/$1.out"; }
err() { echo "$E2E_TMP/$1.err"; }
console() { echo "$E2E_TMP/$1.console.log"; }

# Keep the run's console.log: link it as soon as QEMU has created it.
_keep_console() {
	local tag=$1 pid=$2 log i
	log=$XDG_RUNTIME_DIR/hvsim/$(run_name "$tag")/console.log
	for ((i = 0; i < 600; i++)); do
		if [[ -f $log ]] && ln -f "$log" "$(console "$tag")" 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "(no console.log appeared in $(dirname "$log"))" >"$(console "$tag")"
	return 1
}

hvsim_start() {
	local tag=$1
	shift
	: >"$(console "$tag")"
	# The kernel e2e_init checked, not hvsim's default (the newest image).
	"$HVSIM" run --name "$(run_name "$tag")" --kernel "$E2E_KVER" "$@" \
		</dev/null >"$(out "$tag")" 2>"$(err "$tag")" &
	E2E_PID[$tag]=$!
	_keep_console "$tag" "${E2E_PID[$tag]}"
}

# hvsim_wait TAG SECONDS: HVSIM_RC is hvsim's exit status, 124 on timeout
# (the run is then stopped).
hvsim_wait() {
	local tag=$1 limit=$2 pid=${E2E_PID[$1]} i
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		HVSIM_RC=124
	else
		wait "$pid"
		# shellcheck disable=SC2034 # read by the tests that source this
		HVSIM_RC=$?
	fi
	unset "E2E_PID[$tag]"
	return 0
}

hvsim_exec() {
	local tag=$1
	shift
	hvsim_start "$tag" "$@"
	hvsim_wait "$tag" "${E2E_RUN_TIMEOUT:-300}"
}

# True once guest-init has printed "ready" (VMBus settled) on the console.
hvsim_wait_ready() {
	local tag=$1 limit=$2 i
	for ((i = 0; i < limit * 10; i++)); do
		grep -q 'viridian-init: ready' "$(console "$tag")" 2>/dev/null && return 0
		grep -q 'viridian-init: FATAL' "$(console "$tag")" 2>/dev/null && return 1
		[[ -n ${E2E_PID[$tag]:-} ]] && ! kill -0 "${E2E_PID[$tag]}" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# Kernel complaints that fail a test whatever else it checked.
E2E_CONSOLE_BAD='WARNING:|BUG:|Oops|Call Trace|Kernel panic|cut here|UBSAN:|KASAN:|general protection fault|list_add corruption|list_del corruption|refcount_t:'

check_console() {
	local tag=$1 log
	log=$(console "$tag")
	if [[ ! -s $log ]]; then
		fail "$tag: no console output captured"
		return
	fi
	if grep -Eq "$E2E_CONSOLE_BAD" "$log"; then
		fail "$tag: kernel warning in console.log:"
		grep -E -m 5 -A 3 "$E2E_CONSOLE_BAD" "$log" | sed 's/^/    /'
	else
		pass "$tag: console.log free of WARN/BUG/Oops/Call Trace"
	fi
}

# On a failed run: why, from hvsim's stderr and the end of the console.
show_run() {
	local tag=$1
	echo "  --- hvsim stderr ($tag):"
	tail -n 15 "$(err "$tag")" 2>/dev/null | sed 's/^/    /'
	echo "  --- console.log tail ($tag):"
	grep -v '^\s*$' "$(console "$tag")" 2>/dev/null | tail -n 25 | sed 's/^/    /'
}

# hvsim_ctl TAG COMMAND...: the running guest's control socket.
hvsim_ctl() {
	local tag=$1
	shift
	"$HVSIM" ctl "$(run_name "$tag")" "$@"
}

# Scripts the tests run inside the guest (--exec "bash $E2E_GUEST/x.sh"):
# the guest sees the host's tree through its 9p root.
# shellcheck disable=SC2034 # read by the tests that source this
E2E_GUEST=$E2E_REPO/tests/e2e/guest

# The byte order of a GUID on the wire and in a vmbus modalias: the first
# three groups little-endian, the rest as written.
guid_to_modalias_hex() {
	local g=${1//[\{\}]/} a b c d e
	IFS=- read -r a b c d e <<<"$g"
	printf '%s%s%s%s%s%s%s%s%s%s\n' "${a:6:2}" "${a:4:2}" "${a:2:2}" "${a:0:2}" \
		"${b:2:2}" "${b:0:2}" "${c:2:2}" "${c:0:2}" "$d" "$e"
}

# shellcheck disable=SC2034 # read by the tests that source this
GUID_RE='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
# shellcheck disable=SC2034 # read by the tests that source this
CLASS_HEARTBEAT=57164f39-9115-4e78-ab55-382f3bd5422d
# shellcheck disable=SC2034 # read by the tests that source this
CLASS_SHUTDOWN=0e0b6031-5213-4934-818b-38d90ced39db
# shellcheck disable=SC2034 # read by the tests that source this
CLASS_TIMESYNC=9527e630-d0ae-497b-adce-e80ab0175caf
