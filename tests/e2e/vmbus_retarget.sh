#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Channel retargeting: with 2 CPUs and a SCSI disk, the guest moves every
# open channel of heartbeat and the SCSI controller to the other CPU by
# writing channels/<relid>/cpu, under VMBus 5.3 (MODIFYCHANNEL answered by
# MODIFYCHANNEL_RESPONSE) and 4.1 (no answer). The host's view (`hvsim ctl
# NAME devices`) must follow, its signals for the channel must go to the
# new VP, and heartbeats and disk I/O must keep working. Then CPU hotplug:
# CPU 1 may not go offline while a channel targets it; with every channel
# moved to CPU 0 it may, and everything keeps working, also once it is
# back.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-vmbus.bash
source "$(dirname "$0")/lib-vmbus.bash"
e2e_init vmbus_retarget

versions=(5.3 4.1)
img=$E2E_TMP/disk.img
truncate -s 64M "$img" || e2e_abort "cannot create $img"
trace=$E2E_TMP/trace.log
hvsim_start rt --smp 2 --disk "$img" --trace "$trace" \
	--exec "bash $E2E_GUEST/vmbus-retarget.sh ${versions[*]}"

declare -A moved_to=()
for v in "${versions[@]}"; do
	vmbus_step rt "moved-$v" 300 || break
	if [[ ${#STEP_ARGS[@]} -eq 0 ]]; then
		fail "$v: the guest moved no channel"
	fi
	for m in "${STEP_ARGS[@]}"; do
		relid=${m%%:*} cpu=${m#*:}
		moved_to[$v/$relid]=$cpu
		vp=
		for ((i = 0; i < 100; i++)); do
			vp=$(ctl_devices_field rt "$relid" 6)
			[[ $vp == "$cpu" ]] && break
			sleep 0.1
		done
		if [[ $vp == "$cpu" ]]; then
			pass "$v: hvsim ctl devices shows channel $relid on VP $cpu"
		else
			fail "$v: hvsim ctl devices shows channel $relid on VP '${vp:-?}', the guest moved it to $cpu"
			hvsim_ctl rt devices | sed 's/^/    /'
		fi
	done
	vmbus_step_done rt "moved-$v"
done
# With CPU 1 offline every channel the guest moved must be on VP 0.
if vmbus_wait_step rt cpu1-offline 300; then
	bad=0
	for m in "${STEP_ARGS[@]}"; do
		vp=$(ctl_devices_field rt "${m%%:*}" 6)
		[[ $vp == 0 ]] || { fail "CPU 1 offline: channel ${m%%:*} still on VP '$vp'"; bad=1; }
	done
	open_on_1=$(hvsim_ctl rt devices | awk '$4 == "open" && $6 != 0' | wc -l)
	[[ $open_on_1 -eq 0 ]] || { fail "CPU 1 offline: $open_on_1 open channels not on VP 0"; bad=1; }
	[[ $bad -eq 0 ]] && pass "CPU 1 offline: every open channel on VP 0 (${#STEP_ARGS[@]} moved)"
	vmbus_step_done rt cpu1-offline
else
	fail "the guest never took CPU 1 offline"
fi
hvsim_wait rt 600
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "the guest script exited $HVSIM_RC"
fi
vmbus_relay rt
check_console rt

# --- the trace, one session per version -------------------------------------
if [[ ! -s $trace ]]; then
	fail "no trace written to $trace"
	e2e_finish
fi
mapfile -t contacts < <(grep -n 'vmbus <- INITIATE_CONTACT' "$trace" | cut -d: -f1)
contacts+=($(($(wc -l <"$trace") + 1)))
for v in "${versions[@]}"; do
	# The last session that negotiated this version.
	seg=
	for ((i = ${#contacts[@]} - 2; i >= 0; i--)); do
		first=${contacts[$i]} last=$((${contacts[$((i + 1))]} - 1))
		if sed -n "${first}p" "$trace" | grep -q "version=$v "; then
			seg=$(sed -n "${first},${last}p" "$trace")
			break
		fi
	done
	if [[ -z $seg ]]; then
		fail "$v: no session of this version in the trace"
		continue
	fi
	nmod=$(grep -c 'vmbus <- MODIFYCHANNEL ' <<<"$seg")
	nresp=$(grep -c 'vmbus -> MODIFYCHANNEL_RESPONSE .* status=0$' <<<"$seg")
	nbad=$(grep -c 'vmbus -> MODIFYCHANNEL_RESPONSE .* status=0x' <<<"$seg")
	if [[ $v == 5.3 ]]; then
		check "$v: each of $nmod MODIFYCHANNELs answered with status 0" \
			test "$nmod" -gt 0 -a "$nresp" -eq "$nmod" -a "$nbad" -eq 0
	else
		check "$v: $nmod MODIFYCHANNELs, none answered (no MODIFYCHANNEL_RESPONSE before 5.3)" \
			test "$nmod" -gt 0 -a "$nresp" -eq 0 -a "$nbad" -eq 0
	fi
	for key in "${!moved_to[@]}"; do
		[[ ${key%%/*} == "$v" ]] || continue
		relid=${key#*/} cpu=${moved_to[$key]}
		# From the MODIFYCHANNEL on, the host signals the channel on the
		# new VP (a signal already under way may still take the old one).
		# Up to the channel's next move (the CPU hotplug part).
		after=$(awk -v r="$relid" -v c="$cpu" '
			$0 ~ "vmbus <- MODIFYCHANNEL .* relid=" r " vp=" c "$" && !seen { on = 1; seen = 1; next }
			on && $0 ~ "vmbus <- MODIFYCHANNEL .* relid=" r " vp=" { exit }
			on && $0 ~ "chan " r " -> signal vp=" { print }' <<<"$seg")
		if [[ -z $after ]]; then
			if grep -q "vmbus <- MODIFYCHANNEL .* relid=$relid vp=$cpu\$" <<<"$seg"; then
				fail "$v: no signal of channel $relid after its MODIFYCHANNEL to VP $cpu"
			else
				fail "$v: no MODIFYCHANNEL of channel $relid to VP $cpu in the trace"
			fi
			continue
		fi
		n=$(grep -c . <<<"$after")
		on_new=$(grep -c "signal vp=$cpu " <<<"$after")
		if [[ $(tail -n 1 <<<"$after") == *"signal vp=$cpu "* && $on_new -ge 1 ]]; then
			pass "$v: channel $relid signalled on VP $cpu after the move ($on_new of $n signals)"
		else
			fail "$v: channel $relid: $on_new of $n signals after the move on VP $cpu, the last on another"
		fi
	done
done
if grep -q 'vmbus error:\|log: vmbus:' "$trace"; then
	fail "trace: the server complained about the guest:"
	grep -m 5 'vmbus error:\|log: vmbus:' "$trace" | sed 's/^/    /'
else
	pass "trace: the server rejected none of the guest's messages"
fi
e2e_finish
