#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `hvsim ctl NAME shutdown` powers the guest off in order: the shutdown IC
# asks the kernel for an orderly power-off, which reaches guest-init; the
# command is stopped, the guest powers off and hvsim exits 0 in time.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init shutdown

# The command treats the stop signal guest-init sends as success, and says
# when it is ready to (a request before that would find no trap yet).
hvsim_start sd --exec 'trap "exit 0" TERM; sleep 600 & echo armed; wait'
armed=
if hvsim_wait_ready sd 180; then
	for ((i = 0; i < 300; i++)); do
		grep -qx armed "$(out sd)" && { armed=1; break; }
		sleep 0.1
	done
fi
if [[ -z $armed ]]; then
	fail "guest did not become ready and start the command"
	show_run sd
	check_console sd
	e2e_finish
fi
pass "guest ready, command running"

if reply=$(hvsim_ctl sd shutdown 2>&1); then
	pass "hvsim ctl shutdown accepted"
else
	fail "hvsim ctl shutdown: $reply"
fi
start=$SECONDS
hvsim_wait sd 60
if [[ $HVSIM_RC -eq 0 ]]; then
	pass "hvsim exited 0, $((SECONDS - start)) s after the request"
elif [[ $HVSIM_RC -eq 124 ]]; then
	fail "the guest was still running 60 s after the shutdown request"
	show_run sd
else
	fail "hvsim exited $HVSIM_RC after the shutdown request"
	show_run sd
fi
log=$(console sd)
if grep -q 'viridian-init: power request: poweroff' "$log"; then
	pass "guest-init received an orderly power-off request"
else
	fail "no orderly power-off request reached guest-init (kernel poweroff_cmd not run?)"
fi
if grep -q 'reboot: Power down' "$log"; then
	pass "the kernel powered down"
else
	fail "no 'reboot: Power down' on the console"
fi
check_console sd
e2e_finish
