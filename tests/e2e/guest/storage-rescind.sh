#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/storage_rescind.sh.
#
# usage: storage-rescind.sh SECTORS0 SECTORS1 BEFORE_OFF CTL1_INSTANCE
# Stages: g-booted -> h-stalled (disk 1 holds every command) -> g-held (a
# reader and a writer are caught) -> h-rescinded (controller 1 rescinded)
# -> g-gone -> h-offered (offered again) -> done.
# shellcheck source=tests/e2e/guest/storage-lib.sh
source "$(dirname "$0")/storage-lib.sh"

s0=$1 s1=$2 before_off=$3 ctl1=$4
len=$((2 << 20))

finish() {
	echo "done"
	exit 0
}

# shellcheck disable=SC2317 # polled through wait_for
both_disks() { disk_by_size "$s0" >/dev/null && disk_by_size "$s1" >/dev/null; }
wait_for 120 both_disks
d0=$(disk_by_size "$s0") d1=$(disk_by_size "$s1")
check "disks of $s0 and $s1 sectors present (${d0:-none}, ${d1:-none})" test -n "$d0" -a -n "$d1"
[[ -n $d0 && -n $d1 ]] || finish
dev0=/dev/$d0 dev1=/dev/$d1
host1=$(readlink -f "/sys/block/$d1/device" | grep -o 'host[0-9]*' | tail -n 1)
check "disk 1 ($d1) sits on controller $ctl1 ($host1)" \
	sh -c "readlink -f /sys/block/$d1/device | grep -q $ctl1"

echo "read before direct $(dev_sha "$dev1" "$before_off" "$len" direct)"
drop_caches
echo "read before buffered $(dev_sha "$dev1" "$before_off" "$len")"

mark booted
wait_host stalled 600 || { not_ok "the host never stalled disk 1"; finish; }
dmesg_mark
dd if="$dev1" of=/dev/null bs=1M count=1 skip=20 iflag=direct status=none 2>"$work/rerr" &
reader=$!
dd if=/dev/urandom of="$dev1" bs=1M count=1 seek=30 oflag=direct conv=notrunc \
	status=none 2>"$work/werr" &
writer=$!
# shellcheck disable=SC2317 # polled through wait_for
both_busy() { (($(cat "/sys/block/$d1/device/device_busy") >= 2)); }
wait_for 30 both_busy || not_ok "the reader and writer never both reached the driver"
sleep 1
if kill -0 "$reader" 2>/dev/null && kill -0 "$writer" 2>/dev/null; then
	ok "a reader and a writer are held by the host"
else
	not_ok "the reader or the writer finished while disk 1 was stalled"
fi
mark held

wait_host rescinded 600 || { not_ok "the host never rescinded controller 1"; finish; }
t0=$SECONDS
wait "$reader"
rrc=$?
wait "$writer"
wrc=$?
took=$((SECONDS - t0))
check "the held read failed once the controller was rescinded ($(head -n 1 "$work/rerr"))" \
	test "$rrc" -ne 0
check "the held write failed once the controller was rescinded ($(head -n 1 "$work/werr"))" \
	test "$wrc" -ne 0
check "both failed within 60 s of the rescind, not at the 180 s SCSI timeout (took $took s)" \
	test "$took" -lt 60
# shellcheck disable=SC2317 # polled through wait_for
d1_gone() { [[ ! -e /sys/block/$d1 && ! -e /sys/class/scsi_host/$host1 ]]; }
check "$d1 and $host1 are gone" wait_for 60 d1_gone
check "controller 1 left the bus" test ! -e "/sys/bus/vmbus/devices/$ctl1"
info "rescind log: $(dmesg_since | grep -v '^\s*$' | tail -n 8 | tr '\n' ';')"
write_range "$dev0" keep-write $((8 << 20)) $((1 << 20)) direct
check "controller 0's disk still running" test "$(cat "/sys/block/$d0/device/state")" = running
mark gone

wait_host offered 600 || { not_ok "the host never offered controller 1 again"; finish; }
# shellcheck disable=SC2317 # polled through wait_for
d1_back() { disk_by_size "$s1" >/dev/null; }
wait_for 120 d1_back
d1=$(disk_by_size "$s1")
check "disk 1 is back after the re-offer (${d1:-none})" test -n "$d1"
[[ -n $d1 ]] || finish
echo "read before-again $(dev_sha "/dev/$d1" "$before_off" "$len" direct)"
write_range "/dev/$d1" after-write $((40 << 20)) $((1 << 20)) direct
finish
