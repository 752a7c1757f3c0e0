#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Every VMBus protocol version end to end, in one boot: the guest reloads
# viridian_vmbus with max_version=V for V = 5.3 down to 2.4; each time the
# bus must negotiate V, bring back heartbeat and shutdown with their
# driver, and answer heartbeats. The host's --trace must show each
# INITIATE_CONTACT on the right connection (4 from 5.0 on, 1 before), its
# acceptance, and heartbeat answers reaching the host under each version.
# The same trace is checked for every kind of line a VMBus session
# produces (negotiation, offers, GPADLs, opens, packets, close, unload),
# and Linux's lsvmbus -vv must list our devices from sysfs.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-vmbus.bash
source "$(dirname "$0")/lib-vmbus.bash"
e2e_init vmbus_versions

versions=(5.3 5.2 5.1 5.0 4.1 4.0 3.0 2.4)
if ! lsvmbus=$(vmbus_lsvmbus); then
	fail "lsvmbus unavailable: no tools/hv/lsvmbus in /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.1)"
	lsvmbus=/nonexistent/lsvmbus
fi
trace=$E2E_TMP/trace.log
E2E_RUN_TIMEOUT=600 hvsim_exec ver --trace "$trace" \
	--exec "bash $E2E_GUEST/vmbus-versions.sh $lsvmbus ${versions[*]}"
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "the guest script exited $HVSIM_RC"
fi
vmbus_relay ver
check_console ver

if [[ ! -s $trace ]]; then
	fail "no trace written to $trace"
	e2e_finish
fi

# --- negotiation, per version ---------------------------------------------
# One INITIATE_CONTACT per load: the boot's (5.3, the default), one per
# reload, then the two accepted max_version spellings (0x50002, 9.9).
mapfile -t contacts < <(grep -n 'vmbus <- INITIATE_CONTACT' "$trace")
want=(5.3 "${versions[@]}" 5.2 5.3)
if [[ ${#contacts[@]} -eq ${#want[@]} ]]; then
	pass "${#contacts[@]} INITIATE_CONTACT messages, one per load"
else
	fail "${#contacts[@]} INITIATE_CONTACT messages in the trace, expected ${#want[@]} (boot + ${#versions[@]} reloads + 2 caps)"
fi
total=$(wc -l <"$trace")
for ((i = 0; i < ${#contacts[@]} && i < ${#want[@]}; i++)); do
	v=${want[$i]}
	line=${contacts[$i]#*:}
	start=${contacts[$i]%%:*}
	if ((i + 1 < ${#contacts[@]})); then
		end=$((${contacts[$((i + 1))]%%:*} - 1))
	else
		end=$total
	fi
	seg=$(sed -n "${start},${end}p" "$trace")
	[[ $line =~ version=([0-9]+\.[0-9]+) ]] && got=${BASH_REMATCH[1]} || got='?'
	[[ $line =~ conn=([0-9]+) ]] && conn=${BASH_REMATCH[1]} || conn='?'
	case $v in
	5.*) want_conn=4 ;;
	*) want_conn=1 ;;
	esac
	if [[ $got == "$v" && $conn == "$want_conn" ]]; then
		pass "load $i: INITIATE_CONTACT $v on connection $conn"
	else
		fail "load $i: INITIATE_CONTACT $got on connection $conn, expected $v on $want_conn"
	fi
	resp=$(grep -m 1 'vmbus -> VERSION_RESPONSE' <<<"$seg")
	if [[ $resp == *' supported=1 '* ]]; then
		pass "load $i ($v): VERSION_RESPONSE accepts it"
	else
		fail "load $i ($v): no accepting VERSION_RESPONSE (got '${resp:-none}')"
	fi
	# Heartbeat answers from the guest under this version: packets from
	# the guest on the heartbeat channel offered in this session.
	hb_relid=$(grep 'vmbus -> OFFERCHANNEL' <<<"$seg" | grep -m 1 "class=$CLASS_HEARTBEAT" |
		sed -n 's/.* relid=\([0-9]*\) .*/\1/p')
	if [[ -z $hb_relid ]]; then
		fail "load $i ($v): no heartbeat offer in the trace"
		continue
	fi
	answers=$(grep -c "chan $hb_relid <- pkt" <<<"$seg")
	if [[ $answers -ge 2 ]]; then
		pass "load $i ($v): $answers packets from the guest on heartbeat channel $hb_relid"
	else
		fail "load $i ($v): $answers packets from the guest on heartbeat channel $hb_relid (negotiation and heartbeat answers expected)"
	fi
done
unload_count=$(grep -c 'vmbus <- UNLOAD ' "$trace")
unload_resp=$(grep -c 'vmbus -> UNLOAD_RESPONSE' "$trace")
if [[ $unload_count -eq $((${#want[@]} - 1)) && $unload_resp -eq $unload_count ]]; then
	pass "$unload_count UNLOADs, each answered"
else
	fail "$unload_count UNLOADs and $unload_resp UNLOAD_RESPONSEs, expected $((${#want[@]} - 1)) of each"
fi

# --- the trace has every kind of line -------------------------------------
trace_has() {
	local what=$1 re=$2
	if grep -Eq -- "$re" "$trace"; then
		pass "trace: $what"
	else
		fail "trace: no $what (/$re/)"
	fi
}
trace_has "negotiation request" 'vmbus <- INITIATE_CONTACT vp=[0-9]+ conn=[0-9]+ len=[0-9]+ version=[0-9]+\.[0-9]+ target_vcpu=[0-9]+'
trace_has "negotiation answer" 'vmbus -> VERSION_RESPONSE vp=[0-9]+ sint=2 len=[0-9]+ supported=1 state=0'
trace_has "offer request" 'vmbus <- REQUESTOFFERS'
trace_has "heartbeat offer" "vmbus -> OFFERCHANNEL .* relid=[0-9]+ class=$CLASS_HEARTBEAT instance=$GUID_RE sub=0"
trace_has "shutdown offer" "vmbus -> OFFERCHANNEL .* relid=[0-9]+ class=$CLASS_SHUTDOWN instance=$GUID_RE sub=0"
trace_has "end of offers" 'vmbus -> ALLOFFERS_DELIVERED'
trace_has "GPADL header" 'vmbus <- GPADL_HEADER .* relid=[0-9]+ gpadl=0x[0-9a-f]+ range_buflen=[0-9]+ rangecount=1'
trace_has "GPADL created" 'vmbus -> GPADL_CREATED .* relid=[0-9]+ gpadl=0x[0-9a-f]+ status=0'
trace_has "channel open" 'vmbus <- OPENCHANNEL .* relid=[0-9]+ openid=[0-9]+ gpadl=0x[0-9a-f]+ vp=[0-9]+'
trace_has "open result" 'vmbus -> OPENCHANNEL_RESULT .* relid=[0-9]+ openid=[0-9]+ status=0'
trace_has "host-to-guest packet" 'chan [0-9]+ -> pkt type=6 flags=(0|0x[0-9a-f]+) len=[0-9]+ trans=(0|0x[0-9a-f]+)'
trace_has "guest-to-host packet" 'chan [0-9]+ <- pkt type=6 flags=(0|0x[0-9a-f]+) len=[0-9]+ trans=(0|0x[0-9a-f]+)'
trace_has "host-to-guest signal" 'chan [0-9]+ -> signal vp=[0-9]+ sint=2'
trace_has "guest-to-host signal" 'vmbus <- signal conn=0x1[0-9a-f]{2}$'
trace_has "channel close" 'vmbus <- CLOSECHANNEL .* relid=[0-9]+'
trace_has "GPADL teardown" 'vmbus <- GPADL_TEARDOWN .* relid=[0-9]+ gpadl=0x[0-9a-f]+'
trace_has "GPADL torn down" 'vmbus -> GPADL_TORNDOWN .* gpadl=0x[0-9a-f]+'
trace_has "unload" 'vmbus <- UNLOAD '
rejected=$(grep -c 'vmbus error:\|log: vmbus:' "$trace")
if [[ $rejected -eq 0 ]]; then
	pass "trace: the server rejected none of the guest's messages"
else
	fail "trace: $rejected server complaints about the guest:"
	grep -m 5 'vmbus error:\|log: vmbus:' "$trace" | sed 's/^/    /'
fi
e2e_finish
