#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The time-sync IC, host and guest (one boot):
#  - the device binds to viridian_ic_timesync and a PTP clock "hyperv"
#    appears; the SYNC sent when the channel came up set the guest's clock;
#  - the guest sets its clock a day back; `hvsim ctl NAME timesync sync`
#    brings it back within 2 s of the host's;
#  - with `timesync offset 3600000` and a SYNC the guest's clock lands one
#    hour ahead of the host's, within 2 s; the PTP clock reads the host's
#    time plus the offset all along (it follows the host, not the guest's
#    clock);
#  - `hvsim ctl NAME timesync` counts the guest's answers (none bad) and
#    the periodic SAMPLEs.
# The guest hands over its clocks at each step (guest/timesync.sh); they
# are compared with the host's clock at the same moment: the mtime the
# host's file system gave the step file the guest wrote them to.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-vmbus.bash
source "$(dirname "$0")/lib-vmbus.bash"
e2e_init timesync

TOLERANCE=2
OFFSET_MS=3600000

hvsim_start ts --exec "bash $E2E_GUEST/timesync.sh"

# The host's clock when the guest wrote step file g-NAME.
step_mtime() {
	stat -c %.6Y "$(vmbus_shared_dir ts)/g-$1"
}

# within WHAT GOT WANT TOLERANCE: PASS if |GOT - WANT| <= TOLERANCE
# (seconds, decimals allowed), else FAIL; the difference is shown.
within() {
	local what=$1 got=$2 want=$3 tol=$4 diff
	if [[ ! $got =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
		fail "$what: no time to compare (got '$got')"
		return 1
	fi
	diff=$(awk -v g="$got" -v w="$want" 'BEGIN { printf "%.3f", g - w }')
	if awk -v d="$diff" -v t="$tol" 'BEGIN { exit !(d <= t && d >= -t) }'; then
		pass "$what: off by $diff s"
		return 0
	fi
	fail "$what: off by $diff s (more than $tol s)"
	return 1
}

# timesync_field NAME: a field of `hvsim ctl NAME timesync`'s reply.
timesync_field() {
	local reply
	reply=$(hvsim_ctl ts timesync 2>/dev/null) || return 1
	[[ $reply =~ (^|[[:space:]])$1=([^[:space:]]+) ]] || return 1
	echo "${BASH_REMATCH[2]}"
}

# step_check NAME SHIFT WHAT: the guest's clock and the PTP clock at step
# NAME against the host's clock then, shifted by SHIFT seconds.
step_check() {
	local name=$1 shift_s=$2 what=$3 host
	host=$(step_mtime "$name") || { fail "$what: no step file to date"; return 1; }
	host=$(awk -v h="$host" -v s="$shift_s" 'BEGIN { printf "%.6f", h + s }')
	within "$what: the guest's CLOCK_REALTIME" "${STEP_ARGS[0]:-}" "$host" \
		"$TOLERANCE"
	within "$what: the PTP clock" "${STEP_ARGS[1]:-}" "$host" "$TOLERANCE"
}

OFFSET_NOW=0
if vmbus_step ts wrong 300; then
	# The guest's clock must really be a day off, or the rest proves nothing.
	host=$(step_mtime wrong)
	within "the guest set its clock a day back" "${STEP_ARGS[0]:-}" \
		"$(awk -v h="$host" 'BEGIN { printf "%.6f", h - 86400 }')" 10
	within "PTP clock with the guest's clock a day back: the host's time" \
		"${STEP_ARGS[1]:-}" "$host" "$TOLERANCE"
	if reply=$(vmbus_ctl ts timesync sync); then
		pass "hvsim ctl timesync sync: $reply"
	fi
	vmbus_step_done ts wrong
fi

if vmbus_step ts synced 120; then
	step_check synced 0 "after a SYNC"
	if vmbus_ctl ts timesync offset "$OFFSET_MS" >/dev/null &&
	   reply=$(vmbus_ctl ts timesync sync); then
		OFFSET_NOW=$((OFFSET_MS / 1000))
		pass "offset $OFFSET_MS ms and a SYNC: $reply"
	fi
	vmbus_step_done ts synced
fi

if vmbus_step ts ahead 120; then
	step_check ahead "$OFFSET_NOW" "host one hour ahead, after a SYNC"
	# A SAMPLE goes out every 5 s: one within 15 s, answered too.
	if wait_host_counter 15 1 timesync_field samples; then
		pass "the host sent $COUNTER periodic SAMPLEs"
	else
		fail "no periodic SAMPLE within 15 s: $(hvsim_ctl ts timesync 2>&1)"
	fi
	syncs=$(timesync_field syncs)
	samples=$(timesync_field samples)
	want=$((${syncs:-0} + ${samples:-0}))
	if wait_host_counter 10 "$want" timesync_field answers && [[ $want -gt 0 ]]; then
		pass "the guest answered every message ($COUNTER answers to $syncs SYNCs and $samples SAMPLEs)"
	else
		fail "answers: ${COUNTER:-?} to $syncs SYNCs and $samples SAMPLEs"
	fi
	reply=$(hvsim_ctl ts timesync 2>&1)
	want_re="^state=ready version=4\.0 .* bad=0 offset_ms=$OFFSET_MS\$"
	if [[ $reply =~ $want_re ]]; then
		pass "hvsim ctl timesync: $reply"
	else
		fail "hvsim ctl timesync: '$reply' (expected ready, version 4.0, bad=0, offset_ms=$OFFSET_MS)"
	fi
	vmbus_step_done ts ahead
fi

hvsim_wait ts 300
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "the guest script exited $HVSIM_RC"
fi
vmbus_relay ts
check_console ts
e2e_finish
