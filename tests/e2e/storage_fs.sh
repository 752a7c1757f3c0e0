#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Disks with 4096-byte sectors (--disk FILE,sector=4096), a file system and
# discard, on one boot:
#   - the guest sees logical (and physical) blocks of 4096 bytes and
#     refuses smaller direct transfers; data at random offsets moves
#     intact both ways;
#   - mkfs.ext4, mount, write, umount, fsck clean, files intact; the host's
#     own e2fsck finds the image clean and debugfs reads the guest's file;
#   - discard frees blocks in the host file: fstrim after deleting a file,
#     blkdiscard and a punch-hole (WRITE SAME with UNMAP) of raw ranges
#     make the images' allocated blocks drop (measured by the host mid-run
#     and after); blkdiscard -z zeroes (WRITE SAME); every such range reads
#     back as zeros in the guest and is zeros in the image.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-storage.bash
source "$(dirname "$0")/lib-storage.bash"
e2e_init storage_fs
storage_seed

raw_img=$E2E_TMP/raw4k.img
fs_img=$E2E_TMP/fs4k.img
raw_bytes=$((64 * MiB))
fs_bytes=$((256 * MiB))
truncate -s "$raw_bytes" "$raw_img" || e2e_abort "cannot create $raw_img"
truncate -s "$fs_bytes" "$fs_img" || e2e_abort "cannot create $fs_img"
# Discarded (blkdiscard), zeroed (blkdiscard -z), punched (fallocate -p):
# the guest fills them first, the last ends at the end of the disk.
discard_off=$((40 * MiB)) discard_len=$((16 * MiB))
zero_off=$((56 * MiB)) zero_len=$((4 * MiB))
punch_off=$((60 * MiB)) punch_len=$((4 * MiB))

plan_read "$raw_img" r4k-1m-plus "$(sector_in 0 $((8 * MiB)) $((MiB + 8192)) 4096)" \
	$((MiB + 8192))
plan_write "$raw_img" W w4k-4k "$(sector_in $((8 * MiB)) $((9 * MiB)) 4096 4096)" 4096
plan_write "$raw_img" W w4k-1m-plus "$(sector_in $((10 * MiB)) $((14 * MiB)) $((MiB + 4096)) 4096)" \
	$((MiB + 4096))
plan_write "$raw_img" W w4k-5m "$(sector_in $((16 * MiB)) $((24 * MiB)) $((5 * MiB)) 4096)" \
	$((5 * MiB))
plan_write "$raw_img" W w4k-buffered-odd "$(byte_in $((24 * MiB)) $((25 * MiB)) 10000)" 10000 buffered
for i in 1 2; do
	lo=$((26 * MiB + (i - 1) * 6 * MiB))
	plan_write "$raw_img" P "p4k$i-3m" "$(sector_in "$lo" $((lo + 6 * MiB)) $((3 * MiB)) 4096)" \
		$((3 * MiB))
done

hvsim_start fs --mem 1024 \
	--disk "$raw_img,sector=4096" --disk "$fs_img,sector=4096,lun=3" \
	--exec "bash $E2E_GUEST/storage-fs.sh $((raw_bytes / 512)) $((fs_bytes / 512)) \
$discard_off $discard_len ${PLAN_ITEMS[*]}"

if wait_guest_mark fs written 900; then
	sync
	raw_full=$(img_kib_used "$raw_img")
	fs_full=$(img_kib_used "$fs_img")
	pass "guest filled the disks: images use $raw_full KiB (raw) and $fs_full KiB (ext4)"
	host_mark fs measured
else
	fail "the guest never reported the disks filled"
fi
hvsim_wait fs 900
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run exited $HVSIM_RC"
	show_run fs
fi
storage_relay fs
grep '^info: ' "$(out fs)" | tr -d '\r'

verify_plan fs

if [[ -n ${raw_full:-} ]]; then
	sync
	raw_now=$(img_kib_used "$raw_img")
	fs_now=$(img_kib_used "$fs_img")
	# big.bin was 48 MiB, the raw discard 16 MiB: most of it must go.
	if ((fs_full - fs_now >= 40 * 1024)); then
		pass "fstrim freed $((fs_full - fs_now)) KiB of the ext4 image ($fs_full -> $fs_now KiB)"
	else
		fail "fstrim freed only $((fs_full - fs_now)) KiB of the ext4 image ($fs_full -> $fs_now KiB; 48 MiB file deleted)"
	fi
	# blkdiscard and the punch free their ranges; zeroing out need not.
	freed=$(((discard_len + punch_len) / 1024 - 64))
	if ((raw_full - raw_now >= freed)); then
		pass "blkdiscard and punch-hole freed $((raw_full - raw_now)) KiB of the raw image ($raw_full -> $raw_now KiB)"
	else
		fail "blkdiscard and punch-hole freed only $((raw_full - raw_now)) KiB of the raw image ($raw_full -> $raw_now KiB; $((discard_len + punch_len)) bytes discarded)"
	fi
fi
check "the discarded range is zeros in the raw image" is_zero "$raw_img" "$discard_off" "$discard_len"
check "the zeroed range is zeros in the raw image" is_zero "$raw_img" "$zero_off" "$zero_len"
check "the punched range is zeros in the raw image" is_zero "$raw_img" "$punch_off" "$punch_len"

if out=$(e2fsck -f -n "$fs_img" 2>&1); then
	pass "host e2fsck -f -n finds the guest's ext4 clean"
else
	fail "host e2fsck -f -n: $(echo "$out" | tail -n 5 | tr '\n' ' ')"
fi
want=$(guest_value fs "file keep.bin")
got=$(debugfs -R "cat /keep.bin" "$fs_img" 2>/dev/null | sha256sum | cut -d' ' -f1)
if [[ -n $want && $got == "$want" ]]; then
	pass "host debugfs reads keep.bin as the guest wrote it"
else
	fail "host debugfs reads keep.bin as $got, the guest wrote ${want:-nothing}"
fi

check_storage_logs fs
check_console fs
e2e_finish
