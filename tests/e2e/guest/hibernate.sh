#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/hibernate.sh.
# Stages: g-armed (watching for a hibernate event) -> h-asked (the host
# asked to hibernate) -> checks -> done.
# shellcheck source=tests/e2e/guest/storage-lib.sh
source "$(dirname "$0")/storage-lib.sh"
events=/run/hibernate-events

finish() {
	echo "done"
	exit 0
}

# Every vmbus uevent carrying EVENT=hibernate, as a rule acting on it would see.
udevadm monitor --kernel --property --subsystem-match=vmbus >"$work/uevents" 2>&1 &
monitor=$!
sleep 1
dmesg_mark
mark armed

wait_host asked 300 || { not_ok "the host never asked to hibernate"; finish; }
# shellcheck disable=SC2317 # polled through wait_for
ic_refused() { dmesg_since | grep -q 'shutdown IC: host requests hibernation, which this VM cannot do'; }
check "the shutdown IC refused the host's hibernate request" wait_for 10 ic_refused
sleep 1
kill "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null
check "udevadm monitor was listening for vmbus uevents" \
	grep -q 'monitor will print the received events' "$work/uevents"
grep -x 'EVENT=hibernate' "$work/uevents" >"$events"
check "no hibernate event was sent for the refused request" test ! -s "$events"

# The kernel's own paths to sleep: refused by the bus, which says so.
dmesg_mark
if echo disk >/sys/power/state 2>"$work/err"; then
	not_ok "hibernation went through (it must be refused)"
else
	check "hibernation refused, and viridian_vmbus says why ($(head -n 1 "$work/err"))" \
		sh -c "dmesg | tail -n +$((dmesg_lines + 1)) | grep -q 'viridian_vmbus: hibernation refused'"
fi
states=$(cat /sys/power/state)
info "sleep states offered: $states"
for state in mem freeze; do
	[[ " $states " == *" $state "* ]] || continue
	dmesg_mark
	if echo "$state" >/sys/power/state 2>"$work/err"; then
		not_ok "suspend ($state) went through (it must be refused)"
	else
		check "suspend ($state) refused, and viridian_vmbus says why" \
			sh -c "dmesg | tail -n +$((dmesg_lines + 1)) | grep -q 'viridian_vmbus: suspend refused'"
	fi
done
finish
