#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/timesync.sh. Checks the time-sync device and its
# PTP clock here; the clock comparisons are the host's: at each step the
# guest hands over "REALTIME PTP" (its CLOCK_REALTIME and the PTP clock's
# time, seconds since 1970) in g-NAME, and the host compares them with the
# file's mtime, which its own file system stamps with the host's clock.
# Steps: wrong (the clock set a day back) -> h-wrong (the host sent a
# SYNC) -> synced -> h-synced (offset +1 h and a SYNC) -> ahead -> h-ahead.
# shellcheck source=tests/e2e/guest/vmbus-lib.sh
source "$(dirname "$0")/vmbus-lib.sh"

DRIVER=viridian_ic_timesync

finish() {
	echo "done"
	exit 0
}

# The clock steps the driver logged so far.
clock_sets() {
	dmesg | grep -c 'time sync IC: clock set from the host'
}

# Polled through wait_for.
# shellcheck disable=SC2317
more_clock_sets() {
	[[ $(clock_sets) -gt $1 ]]
}

# The PTP clock named "hyperv", as /dev/ptpN, in PTP_DEV.
# shellcheck disable=SC2317
find_ptp() {
	local c
	for c in /sys/class/ptp/ptp*; do
		[[ -e $c/clock_name ]] || continue
		if [[ $(<"$c/clock_name") == hyperv ]]; then
			PTP_DEV=/dev/${c##*/}
			return 0
		fi
	done
	return 1
}

# "REALTIME PTP", read back to back; PTP "-" when it cannot be read.
# A PTP clock's dynamic clock ID is made from an open fd: ((~fd) << 3) | 3.
now_times() {
	python3 - "$PTP_DEV" <<'EOF'
import os, sys, time
ptp = "-"
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    try:
        real = time.clock_gettime(time.CLOCK_REALTIME)
        ptp = "%.6f" % time.clock_gettime(((~fd) << 3) | 3)
    finally:
        os.close(fd)
except OSError:
    real = time.clock_gettime(time.CLOCK_REALTIME)
print("%.6f %s" % (real, ptp))
EOF
}

settle || not_ok "the bus did not settle"
dev=$(devices_of "$CLASS_TIMESYNC" | head -n 1)
if [[ -z $dev ]]; then
	not_ok "no device of class $CLASS_TIMESYNC on the bus"
	finish
fi
ok "time-sync device $dev on the bus"
wait_for 60 bound "$dev"
check "time-sync device bound to $DRIVER (driver: '$(driver_of "$dev")')" \
	test "$(driver_of "$dev")" = "$DRIVER"

PTP_DEV=
if wait_for 30 find_ptp && wait_for 10 test -c "$PTP_DEV"; then
	ok "PTP clock \"hyperv\" is $PTP_DEV"
else
	not_ok "no PTP clock named hyperv (/sys/class/ptp: $(cd /sys/class/ptp 2>/dev/null && echo ./*))"
	PTP_DEV=/dev/null
fi
check "the SYNC sent when the channel came up set the clock" \
	wait_for 30 more_clock_sets 0

dmesg_mark
# A day back: far enough that only a step brings it back.
sets=$(clock_sets)
if ! date -s "@$(($(date +%s) - 86400))" >/dev/null; then
	not_ok "date -s could not set the clock back"
fi
step wrong "$(now_times)" || finish

check "a new SYNC set the clock again" wait_for 30 more_clock_sets "$sets"
sets=$(clock_sets)
step synced "$(now_times)" || finish

check "the SYNC with the host one hour ahead set the clock" \
	wait_for 30 more_clock_sets "$sets"
step ahead "$(now_times)" || finish

info "$(dmesg_new | grep 'time sync IC' | tail -n 3 | tr '\n' '|')"
no_kernel_warning "time sync"
finish
