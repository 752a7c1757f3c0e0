#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/storage_integrity.sh.
#
# usage: storage-integrity.sh RW_SECTORS RO_SECTORS ITEM...
#   ITEMs: run_io_items on the read-write disk (storage-lib.sh).
# Disks are told apart by size. The read-only disk is read whole
# ("read ro-disk direct SHA") and must refuse every write.
# shellcheck source=tests/e2e/guest/storage-lib.sh
source "$(dirname "$0")/storage-lib.sh"

rw_sectors=$1 ro_sectors=$2
shift 2

rw=$(disk_by_size "$rw_sectors")
ro=$(disk_by_size "$ro_sectors")
check "read-write disk of $rw_sectors sectors present (${rw:-none}; disks: $(scsi_disks | xargs))" \
	test -n "$rw"
check "read-only disk of $ro_sectors sectors present (${ro:-none})" test -n "$ro"
[[ -n $rw && -n $ro ]] || { echo "done"; exit 0; }
dev=/dev/$rw
info "read-write $rw, read-only $ro, max_sectors_kb $(cat /sys/block/"$rw"/queue/max_sectors_kb)"

run_io_items "$dev" "$@"

# Many requests at once on both channels, small to beyond the maximum
# transfer, filling the rings: fio checks every block it wrote (a checksum
# and the block's offset in each).
if command -v fio >/dev/null; then
	stress_off=$((176 << 20))
	if fio --name=stress --filename="$dev" --direct=1 --ioengine=libaio --iodepth=64 \
		--numjobs=2 --cpus_allowed=0-1 --cpus_allowed_policy=split \
		--rw=randwrite --bsrange=4k-3m --offset="$stress_off" --size=32M \
		--offset_increment=32M --io_size=64M --verify=crc32c --verify_fatal=1 \
		--group_reporting --output="$work/fio" >"$work/fio-err" 2>&1; then
		ok "fio: 2 jobs x 64 MiB random writes (4 KiB-3 MiB, depth 64) verified: $(grep -m 1 -o 'WRITE: bw=[^ ]*' "$work/fio")"
	else
		not_ok "fio stress: $(grep -i -m 3 'verify\|error\|bad' "$work/fio" "$work/fio-err" | tr '\n' ' ')"
	fi
else
	not_ok "fio missing (apt-get install fio)"
fi

# The read-only disk.
check "/sys/block/$ro/ro is 1" test "$(cat /sys/block/"$ro"/ro)" = 1
echo "read ro-disk direct $(dev_sha "/dev/$ro" 0 $((ro_sectors * 512)) direct)"
head -c 1M /dev/urandom >"$work/junk"
if dd if="$work/junk" of="/dev/$ro" bs=1M count=1 oflag=direct conv=notrunc status=none 2>"$work/err"; then
	not_ok "an O_DIRECT write to read-only /dev/$ro succeeded"
else
	ok "O_DIRECT write to read-only /dev/$ro refused: $(head -n 1 "$work/err")"
fi
if dd if="$work/junk" of="/dev/$ro" bs=64K seek=3 conv=notrunc,fsync status=none 2>"$work/err"; then
	not_ok "a buffered write to read-only /dev/$ro succeeded"
else
	ok "buffered write to read-only /dev/$ro refused: $(head -n 1 "$work/err")"
fi
# Past the block layer's own read-only flag: a raw WRITE(10) of one block
# at LBA 8 must meet the host's write protection.
sg=$(find /sys/block/"$ro"/device/scsi_generic/ -mindepth 1 -maxdepth 1 -printf "%f\n" 2>/dev/null | head -n 1)
if [[ -z $sg ]]; then
	not_ok "no SCSI generic device for $ro"
elif ! command -v sg_raw >/dev/null; then
	not_ok "sg_raw missing (apt-get install sg3-utils)"
else
	head -c 512 /dev/urandom >"$work/blk"
	if sg_raw -s 512 -i "$work/blk" "/dev/$sg" 2a 00 00 00 00 08 00 00 01 00 \
		>"$work/sg" 2>&1; then
		not_ok "raw WRITE(10) to the read-only disk succeeded: $(tr '\n' ' ' <"$work/sg")"
	elif grep -qi 'data protect' "$work/sg"; then
		ok "raw WRITE(10) to the read-only disk failed with DATA PROTECT"
	else
		not_ok "raw WRITE(10) to the read-only disk failed, but not with DATA PROTECT: $(tr '\n' ' ' <"$work/sg")"
	fi
fi
echo "read ro-disk-after direct $(dev_sha "/dev/$ro" 0 $((ro_sectors * 512)) direct)"
check "devices still running ($(cat /sys/block/"$rw"/device/state), $(cat /sys/block/"$ro"/device/state))" \
	test "$(cat /sys/block/"$rw"/device/state)/$(cat /sys/block/"$ro"/device/state)" = running/running
echo "done"
