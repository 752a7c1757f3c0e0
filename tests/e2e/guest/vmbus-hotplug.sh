#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest (tests/e2e/vmbus_hotplug.sh), with an ext4 disk. The
# host hot-adds a heartbeat IC that signals through monitor page 2 (MNF),
# rescinds it and the boot-time heartbeat, offers both again (viridian_ic,
# unloaded meanwhile, must come back by modalias), then rescinds the SCSI
# controller under a mounted file system and offers it again. Last, with
# the bus unloaded, it adds a device and rescinds another: the next load
# must see exactly that.
# shellcheck source=tests/e2e/guest/vmbus-lib.sh
source "$(dirname "$0")/vmbus-lib.sh"

WAIT=60
# shellcheck disable=SC2317 # polled through wait_for
present() { [[ -e $bus/devices/$1 ]]; }
# shellcheck disable=SC2317 # polled through wait_for
absent() { [[ ! -e $bus/devices/$1 ]]; }
finish() {
	echo "done"
	exit 0
}

settle || not_ok "bus settled at boot"
hb0=$(devices_of "$CLASS_HEARTBEAT" | head -n 1)
sd0=$(devices_of "$CLASS_SHUTDOWN" | head -n 1)
scsi=$(devices_of "$CLASS_SCSI" | head -n 1)
check "boot devices: heartbeat ${hb0:-none}, shutdown ${sd0:-none}, SCSI ${scsi:-none}" \
	test -n "$hb0" -a -n "$sd0" -a -n "$scsi"
[[ -n $hb0 && -n $sd0 && -n $scsi ]] || finish
wait_for $WAIT disk_of "$scsi" || not_ok "the SCSI controller shows no disk"
disk=$(disk_of "$scsi")
mkdir -p /mnt/hp
check "mount /dev/$disk" mount "/dev/$disk" /mnt/hp
head -c 1M /dev/urandom >/mnt/hp/data
data_sha=$(sha256sum </mnt/hp/data | cut -d' ' -f1)
sync
dmesg_mark

# --- hot add with MNF ------------------------------------------------------
step add || finish
read -r hb1 hb1_relid <<<"$STEP_REPLY"
if wait_for $WAIT present "$hb1" && wait_for $WAIT bound "$hb1"; then
	ok "hot-added heartbeat $hb1 appeared and bound to $(driver_of "$hb1")"
else
	not_ok "hot-added heartbeat ${hb1:-?} did not appear with a driver"
	finish
fi
check "$hb1 has relid $hb1_relid" test "$(relid_of "$hb1")" = "$hb1_relid"
monitor=$(cat "$bus/devices/$hb1/monitor_id" 2>/dev/null)
check "$hb1 was offered with a monitor ID (${monitor:-none})" test -n "$monitor"
check "channels/$hb1_relid/monitor_id agrees" \
	test "$(chan_attr "$hb1" monitor_id)" = "$monitor"
check "client_monitor_conn_id is its connection ($((0x100 + hb1_relid)))" \
	test "$(cat "$bus/devices/$hb1/client_monitor_conn_id")" = $((0x100 + hb1_relid))
check "client_monitor_latency is the host's 1 ms" \
	test "$(cat "$bus/devices/$hb1/client_monitor_latency")" = 10000
check "$hb1: heartbeats arrive and are answered through the monitor page" \
	heartbeat_flows "$hb1"
no_kernel_warning "hot add"
step mnf "$hb1" "$monitor" || finish

# --- rescind ---------------------------------------------------------------
dmesg_mark
step rescind-ic || finish
for dev in "$hb0" "$hb1"; do
	if wait_for $WAIT absent "$dev"; then
		ok "rescinded $dev left /sys/bus/vmbus/devices"
	else
		not_ok "rescinded $dev still in /sys/bus/vmbus/devices after $WAIT s"
	fi
done
check "dmesg reports both rescinds" \
	test "$(dmesg_new | grep -c 'rescinded')" -ge 2
check "the shutdown IC is still there and bound" bound "$sd0"
no_kernel_warning "rescind"
step released || finish

# --- offered again: a new device, its driver loaded by modalias --------------
if err=$(rmmod viridian_ic 2>&1); then
	ok "viridian_ic unloaded"
else
	not_ok "rmmod viridian_ic: $err"
fi
check "shutdown IC unbound" bash -c "! test -L $bus/devices/$sd0/driver"
dmesg_mark
step reoffer || finish
for dev in "$hb0" "$hb1" "$sd0"; do
	if wait_for $WAIT present "$dev" && wait_for $WAIT bound "$dev"; then
		ok "$dev present and bound to $(driver_of "$dev")"
	else
		not_ok "$dev not back with a driver within $WAIT s"
	fi
done
check "viridian_ic loaded again by modalias" test -d /sys/module/viridian_ic
check "$hb1 is still monitored" test -e "$bus/devices/$hb1/monitor_id"
check "$hb0: heartbeats arrive and are answered" heartbeat_flows "$hb0"
check "$hb1: heartbeats arrive and are answered" heartbeat_flows "$hb1"
no_kernel_warning "offer again"
step flows || finish

# --- the SCSI controller under a mounted file system -------------------------
dmesg_mark
step rescind-scsi || finish
if wait_for $WAIT absent "$scsi"; then
	ok "rescinded controller $scsi left /sys/bus/vmbus/devices"
else
	not_ok "rescinded controller $scsi still there after $WAIT s"
fi
if wait_for $WAIT test ! -e "/sys/block/$disk"; then
	ok "/dev/$disk went away with it"
else
	not_ok "/sys/block/$disk still there after $WAIT s"
fi
timeout 60 dd if=/mnt/hp/data of=/dev/null bs=64K iflag=direct status=none 2>/dev/null
rc=$?
check "a direct read on the mounted file system fails, without hanging (status $rc)" \
	test "$rc" -ne 0 -a "$rc" -ne 124
timeout 60 bash -c 'echo x >/mnt/hp/new; sync -f /mnt/hp' 2>/dev/null
rc=$?
check "a write and sync finish, without hanging (status $rc)" test "$rc" -ne 124
timeout 60 umount /mnt/hp 2>/dev/null || timeout 60 umount -l /mnt/hp
check "the dead file system unmounts" bash -c "! mountpoint -q /mnt/hp"
no_kernel_warning "SCSI rescind"
step scsi-gone || finish

dmesg_mark
step reoffer-scsi || finish
if wait_for $WAIT present "$scsi" && wait_for $WAIT bound "$scsi" &&
   wait_for $WAIT disk_of "$scsi"; then
	disk=$(disk_of "$scsi")
	ok "controller $scsi back with disk $disk"
	if mount "/dev/$disk" /mnt/hp; then
		check "the file written before the rescind reads back intact" \
			test "$(sha256sum </mnt/hp/data | cut -d' ' -f1)" = "$data_sha"
		check "unmount" umount /mnt/hp
	else
		not_ok "mount /dev/$disk after the re-offer"
	fi
else
	not_ok "controller $scsi not back with a disk within $WAIT s"
fi
no_kernel_warning "SCSI offered again"

# --- changes while the bus is unloaded, seen at the next load ----------------
dmesg_mark
if err=$(unload_stack 2>&1); then
	ok "stack unloaded"
else
	not_ok "unloading the stack: $err"
	finish
fi
step bus-down || finish
read -r sd1 <<<"$STEP_REPLY"
if err=$(modprobe viridian_vmbus 2>&1) && settle; then
	ok "bus loaded again"
else
	not_ok "modprobe viridian_vmbus: $err"
	finish
fi
if wait_for $WAIT present "$sd1" && wait_for $WAIT bound "$sd1"; then
	ok "shutdown IC $sd1, added while the bus was down, present and bound"
else
	not_ok "shutdown IC ${sd1:-?}, added while the bus was down, missing or unbound"
fi
check "$hb0, rescinded while the bus was down, not offered" absent "$hb0"
check "$hb1 and $sd0 back" test -e "$bus/devices/$hb1" -a -e "$bus/devices/$sd0"
step offer-again || finish
if wait_for $WAIT present "$hb0" && wait_for $WAIT bound "$hb0"; then
	ok "$hb0 offered again, present and bound"
else
	not_ok "$hb0 not back"
fi
check "$hb0: heartbeats arrive and are answered" heartbeat_flows "$hb0"
no_kernel_warning "changes while unloaded"
finish
