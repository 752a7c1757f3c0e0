#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest answers heartbeats: with a guest running in the background,
# the sequence number `hvsim ctl NAME heartbeat` reports keeps growing.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init heartbeat

# The last sequence number the guest answered, from ctl's reply
# ("... answers=N last_answer=SEQ ..."; "seq SEQ" also accepted).
heartbeat_seq() {
	local reply
	reply=$(hvsim_ctl hb heartbeat 2>&1) || { echo "ctl error: $reply" >&2; return 1; }
	if [[ $reply =~ last_answer=([0-9]+) ]]; then
		echo "${BASH_REMATCH[1]}"
	elif [[ $reply =~ (^|[^a-z_])seq[\ =:]+([0-9]+) ]]; then
		echo "${BASH_REMATCH[2]}"
	else
		echo "no answered sequence number in the ctl reply '$reply'" >&2
		return 1
	fi
}

hvsim_start hb --exec 'sleep 600'
if ! hvsim_wait_ready hb 180; then
	fail "guest did not become ready"
	show_run hb
	check_console hb
	e2e_finish
fi
pass "guest ready"

first=$(heartbeat_seq 2>"$E2E_TMP/ctl.err")
if [[ -z $first ]]; then
	fail "hvsim ctl heartbeat: $(cat "$E2E_TMP/ctl.err")"
else
	grown=
	for ((i = 0; i < 60; i++)); do
		sleep 1
		now=$(heartbeat_seq) || break
		if [[ $now -gt $first ]]; then
			grown=$now
			break
		fi
	done
	if [[ -n $grown ]]; then
		pass "heartbeat sequence grew from $first to $grown"
	else
		fail "heartbeat sequence stuck at $first for 60 s"
	fi
fi

kill -TERM "${E2E_PID[hb]}" 2>/dev/null
hvsim_wait hb 60
check_console hb
e2e_finish
