# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What every guest half of an end-to-end test uses, sourced by
# storage-lib.sh and vmbus-lib.sh: each check prints one line, "ok: WHAT"
# or "not ok: WHAT", which the host turns into PASS/FAIL; "info: ..." lines
# are shown as they are.

# The run's directory shared with the host.
# shellcheck disable=SC2034 # read by the scripts that source this
run=/run/hvsim

ok() { echo "ok: $*"; }
not_ok() { echo "not ok: $*"; }
info() { echo "info: $*"; }

# check WHAT COMMAND...: ok or not ok by the command's status.
check() {
	local what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		not_ok "$what"
	fi
}

# wait_for SECONDS COMMAND...: until the command succeeds, polling.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
