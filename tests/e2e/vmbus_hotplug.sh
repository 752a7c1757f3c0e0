#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# VMBus hot add and hot remove, in one boot with an ext4 disk:
#  - `hvsim ctl NAME ic add heartbeat monitor` offers a new heartbeat IC
#    whose channel uses monitored notification: it binds, and its answers
#    reach the host through monitor page 2 (the server's counters and the
#    trace say so);
#  - `hvsim ctl NAME rescind` removes it (by instance) and the boot-time
#    heartbeat (by relid): the devices leave the guest and their relids come
#    back to the host; `hvsim ctl NAME offer` brings both back as new offers,
#    and viridian_ic, unloaded meanwhile, returns by modalias;
#  - the SCSI controller is rescinded under a mounted file system: the disk
#    goes, I/O fails without hanging, nothing warns; offered again, the disk
#    returns with its data;
#  - with the guest's bus unloaded, a device added and another rescinded
#    show as such at the next load.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-vmbus.bash
source "$(dirname "$0")/lib-vmbus.bash"
e2e_init vmbus_hotplug

command -v mkfs.ext4 >/dev/null || e2e_abort "mkfs.ext4 missing (apt-get install e2fsprogs)"
img=$E2E_TMP/disk.img
{ truncate -s 64M "$img" && mkfs.ext4 -q -F "$img"; } || e2e_abort "cannot make $img"
trace=$E2E_TMP/trace.log
hvsim_start hp --disk "$img" --trace "$trace" --exec "bash $E2E_GUEST/vmbus-hotplug.sh"

# The instance of the first device of a class, from `ctl devices`.
instance_of_class() {
	hvsim_ctl hp devices 2>/dev/null | awk -v c="$1" '$2 == c { print $3; exit }'
}

# channel_state RELID: its state in `ctl devices`.
channel_state() {
	ctl_devices_field hp "$1" 4
}

# wait_unplugged INSTANCE: until `ctl devices` shows it unplugged with all
# its relids released.
is_unplugged() {
	hvsim_ctl hp devices 2>/dev/null | grep -q "^- [a-z]* $1 unplugged - -\$"
}
wait_unplugged() {
	local i
	for ((i = 0; i < 300; i++)); do
		is_unplugged "$1" && return 0
		sleep 0.1
	done
	return 1
}

# added_answers INSTANCE: answers of a heartbeat added with `ic add`.
added_answers() {
	local reply
	reply=$(hvsim_ctl hp ic status "$1" 2>/dev/null) || return 1
	[[ $reply =~ answers=([0-9]+) ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

run() {
	local reply hb0 hb0_relid hb1 hb1_relid sd0 sd1 scsi a m line i
	vmbus_step hp add 300 || return
	hb0=$(instance_of_class heartbeat)
	hb0_relid=$(hvsim_ctl hp devices | awk -v i="$hb0" '$3 == i { print $1; exit }')
	scsi=$(instance_of_class scsi)
	check "ctl devices lists the boot heartbeat ($hb0, relid $hb0_relid) and SCSI controller ($scsi)" \
		test -n "$hb0" -a -n "$hb0_relid" -a -n "$scsi"

	reply=$(vmbus_ctl hp ic add heartbeat monitor) || return
	if [[ $reply =~ ^added\ heartbeat\ ($GUID_RE)\ relid\ ([0-9]+)$ ]]; then
		hb1=${BASH_REMATCH[1]} hb1_relid=${BASH_REMATCH[2]}
		pass "ic add heartbeat monitor: $reply"
	else
		fail "ic add heartbeat monitor replied '$reply'"
		return
	fi
	check "a second IC with the same instance is refused" \
		bash -c "! '$HVSIM' ctl '$(run_name hp)' ic add heartbeat $hb1 >/dev/null 2>&1"
	vmbus_step_done hp add "$hb1 $hb1_relid"

	# --- MNF: answers come through monitor page 2 ---
	vmbus_step hp mnf 300 || return
	m=${STEP_ARGS[1]:-}
	a=$(added_answers "$hb1") || a=0
	if wait_host_counter 30 $((a + 2)) added_answers "$hb1"; then
		pass "ic status: the added heartbeat's answers grew from $a to $COUNTER"
	else
		fail "ic status: the added heartbeat's answers stuck at ${COUNTER:-?} (were $a)"
	fi
	line=$(hvsim_ctl hp devices -v | awk -v r="$hb1_relid" '$1 == r')
	if [[ $line =~ \ monitor=([0-9]+)\ signals_in=([0-9]+)\ monitor_signals=([0-9]+)\  ]]; then
		check "devices -v: channel $hb1_relid has the monitor ID the guest saw ($m)" \
			test "${BASH_REMATCH[1]}" = "$m"
		check "devices -v: its ${BASH_REMATCH[2]} signals all came through the monitor page (${BASH_REMATCH[3]})" \
			test "${BASH_REMATCH[3]}" -ge 2 -a "${BASH_REMATCH[3]}" -eq "${BASH_REMATCH[2]}"
	else
		fail "devices -v: no monitor counters for channel $hb1_relid ('$line')"
	fi
	check "trace: monitor-page signals of channel $hb1_relid" \
		grep -q "vmbus <- monitor id=$m relid=$hb1_relid\$" "$trace"
	check "hvsim ctl status: monitor-page polling on" \
		bash -c "'$HVSIM' ctl '$(run_name hp)' status | grep -qx 'monitor-poll on'"
	vmbus_step_done hp mnf

	# --- rescind by relid and by instance ---
	vmbus_step hp rescind-ic 300 || return
	reply=$(vmbus_ctl hp rescind "$hb0_relid") &&
		check "rescind $hb0_relid: '$reply'" \
			grep -qx "rescinded heartbeat $hb0 relids $hb0_relid" <<<"$reply"
	reply=$(vmbus_ctl hp rescind "$hb1") &&
		check "rescind $hb1: '$reply'" \
			grep -qx "rescinded heartbeat $hb1 relids $hb1_relid" <<<"$reply"
	check "rescinding it twice is refused" \
		bash -c "! '$HVSIM' ctl '$(run_name hp)' rescind $hb1 >/dev/null 2>&1"
	vmbus_step_done hp rescind-ic
	vmbus_step hp released 300 || return
	for i in "$hb0" "$hb1"; do
		if wait_unplugged "$i"; then
			pass "ctl devices: $i unplugged, its relid released by the guest"
		else
			fail "ctl devices: $i not released:"
			hvsim_ctl hp devices | sed 's/^/    /'
		fi
	done
	check "the relids are free again" \
		test -z "$(channel_state "$hb0_relid")$(channel_state "$hb1_relid")"
	vmbus_step_done hp released

	# --- offered again ---
	vmbus_step hp reoffer 300 || return
	# The shutdown IC has no driver now: its rescind needs none.
	sd0=$(instance_of_class shutdown)
	reply=$(vmbus_ctl hp rescind "$sd0") &&
		check "rescind of the unbound $sd0: '$reply'" grep -q "^rescinded shutdown $sd0 " <<<"$reply"
	if wait_unplugged "$sd0"; then
		pass "ctl devices: the unbound $sd0 released by the guest"
	else
		fail "ctl devices: the unbound $sd0 not released"
	fi
	for i in "$hb0" "$hb1" "$sd0"; do
		reply=$(vmbus_ctl hp offer "$i") &&
			check "offer $i: '$reply'" \
				grep -Eq "^offered [a-z]+ $i relid [0-9]+\$" <<<"$reply"
	done
	vmbus_step_done hp reoffer
	vmbus_step hp flows 300 || return
	a=$(heartbeat_answers hp) || a=0
	if wait_host_counter 30 $((a + 2)) heartbeat_answers hp; then
		pass "the boot heartbeat answers again ($a -> $COUNTER)"
	else
		fail "the boot heartbeat's answers stuck at ${COUNTER:-?}"
	fi
	a=$(added_answers "$hb1") || a=0
	if wait_host_counter 30 $((a + 2)) added_answers "$hb1"; then
		pass "the added heartbeat answers again ($a -> $COUNTER)"
	else
		fail "the added heartbeat's answers stuck at ${COUNTER:-?}"
	fi
	vmbus_step_done hp flows

	# --- the SCSI controller ---
	vmbus_step hp rescind-scsi 300 || return
	reply=$(vmbus_ctl hp rescind "$scsi") &&
		check "rescind $scsi: '$reply'" grep -q "^rescinded scsi $scsi relids" <<<"$reply"
	vmbus_step_done hp rescind-scsi
	vmbus_step hp scsi-gone 300 || return
	if wait_unplugged "$scsi"; then
		pass "ctl devices: controller $scsi unplugged, every relid released"
	else
		fail "ctl devices: controller $scsi not released:"
		hvsim_ctl hp devices | sed 's/^/    /'
	fi
	vmbus_step_done hp scsi-gone
	vmbus_step hp reoffer-scsi 300 || return
	reply=$(vmbus_ctl hp offer "$scsi") &&
		check "offer $scsi: '$reply'" grep -Eq "^offered scsi $scsi relid [0-9]+\$" <<<"$reply"
	vmbus_step_done hp reoffer-scsi

	# --- while the guest's bus is unloaded ---
	vmbus_step hp bus-down 300 || return
	reply=$(vmbus_ctl hp ic add shutdown) || return
	if [[ $reply =~ ^added\ shutdown\ ($GUID_RE)\ relid\ ([0-9]+)$ ]]; then
		sd1=${BASH_REMATCH[1]}
		pass "ic add shutdown while the guest is disconnected: $reply"
		check "it waits in state pending" \
			test "$(channel_state "${BASH_REMATCH[2]}")" = pending
	else
		fail "ic add shutdown replied '$reply'"
	fi
	reply=$(vmbus_ctl hp rescind "$hb0") &&
		check "rescind $hb0 while the guest is disconnected: '$reply'" \
			grep -q "^rescinded heartbeat $hb0 " <<<"$reply"
	check "nothing for the guest to release: $hb0 unplugged at once" is_unplugged "$hb0"
	vmbus_step_done hp bus-down "${sd1:-}"
	vmbus_step hp offer-again 300 || return
	reply=$(vmbus_ctl hp offer "$hb0") &&
		check "offer $hb0: '$reply'" grep -Eq "^offered heartbeat $hb0 relid [0-9]+\$" <<<"$reply"
	vmbus_step_done hp offer-again
}
run
hvsim_wait hp 600
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "the guest script exited $HVSIM_RC"
fi
vmbus_relay hp
check_console hp
if grep -q 'vmbus error:\|log: vmbus:' "$trace" 2>/dev/null; then
	fail "trace: the server complained about the guest:"
	grep -m 5 'vmbus error:\|log: vmbus:' "$trace" | sed 's/^/    /'
else
	pass "trace: the server rejected none of the guest's messages"
fi
e2e_finish
