#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Data integrity through storvsc and storvsp, both ways, on one boot:
#   - ranges the host filled with random data before boot read back in the
#     guest identically, with O_DIRECT and through the page cache;
#   - random data the guest writes at random offsets (O_DIRECT and
#     buffered; 512 B up to 8 MiB in one system call, so requests beyond
#     the inline page list and split at the 2 MiB maximum transfer; four
#     writers at once, over both channels) is byte-identical in the host
#     image, and nothing around it changed;
#   - O_DIRECT to and from buffers that start inside a page (GPA ranges
#     with a byte offset, up to the 2 MiB limit and beyond) moves the
#     right bytes;
#   - a read-only disk (--disk FILE,ro) is read-only in the guest: the
#     block layer and the host both refuse writes, the image is unchanged.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-storage.bash
source "$(dirname "$0")/lib-storage.bash"
e2e_init storage_integrity
storage_seed

rw_img=$E2E_TMP/rw.img
ro_img=$E2E_TMP/ro.img
rw_bytes=$((256 * MiB))
ro_bytes=$((64 * MiB))
truncate -s "$rw_bytes" "$rw_img" || e2e_abort "cannot create $rw_img"
truncate -s "$ro_bytes" "$ro_img" || e2e_abort "cannot create $ro_img"

# Host to guest: filled here, read there.
plan_read "$rw_img" r-first-4k 0 4096
plan_read "$rw_img" r-3-sectors "$(sector_in "$MiB" $((8 * MiB)) 1536)" 1536
plan_read "$rw_img" r-1m "$(sector_in $((8 * MiB)) $((24 * MiB)) "$MiB" 4096)" "$MiB"
plan_read "$rw_img" r-5m-odd "$(sector_in $((24 * MiB)) $((48 * MiB)) $((5 * MiB + 1536)))" \
	$((5 * MiB + 1536))
plan_read "$rw_img" r-near-end $((rw_bytes - MiB)) $((MiB - 65536 - 4096))
# Read into buffers that start inside a page: GPA ranges with a byte offset.
plan_read "$rw_img" r-unaligned-1m "$(sector_in $((48 * MiB)) $((52 * MiB)) "$MiB")" "$MiB" unaligned512
plan_read "$rw_img" r-unaligned-2m "$(sector_in $((52 * MiB)) $((56 * MiB)) $((2 * MiB)))" \
	$((2 * MiB)) unaligned3584
plan_read "$rw_img" r-unaligned-5m "$(sector_in $((56 * MiB)) $((63 * MiB)) $((5 * MiB + 512)))" \
	$((5 * MiB + 512)) unaligned1024

# Guest to host: written there, checked here. Each in its own window.
plan_write "$rw_img" W w-512 "$(sector_in $((64 * MiB)) $((65 * MiB)) 512)" 512
off=$(sector_in $((65 * MiB)) $((66 * MiB)) 8192 4096)
plan_write "$rw_img" W w-4k-misaligned $((off + 3 * 512)) 4096
plan_write "$rw_img" W w-129-sectors "$(sector_in $((66 * MiB)) $((68 * MiB)) 66048)" 66048
plan_write "$rw_img" W w-1m "$(sector_in $((68 * MiB)) $((72 * MiB)) "$MiB")" "$MiB"
plan_write "$rw_img" W w-3m "$(sector_in $((72 * MiB)) $((80 * MiB)) $((3 * MiB)))" $((3 * MiB))
plan_write "$rw_img" W w-8m "$(sector_in $((80 * MiB)) $((96 * MiB)) $((8 * MiB)))" $((8 * MiB))
plan_write "$rw_img" W w-buffered-odd "$(byte_in $((96 * MiB)) $((97 * MiB)) 100001)" 100001 buffered
plan_write "$rw_img" W w-buffered-6m "$(byte_in $((98 * MiB)) $((110 * MiB)) $((6 * MiB + 777)))" \
	$((6 * MiB + 777)) buffered
for i in 1 2 3 4; do
	lo=$((112 * MiB + (i - 1) * 8 * MiB))
	plan_write "$rw_img" P "p$i-2m" "$(sector_in "$lo" $((lo + 8 * MiB)) $((2 * MiB + 512)))" \
		$((2 * MiB + 512))
done
plan_write "$rw_img" W w-last-64k $((rw_bytes - 65536)) 65536
# Written from buffers that start inside a page.
plan_write "$rw_img" W w-unaligned-8k "$(sector_in $((150 * MiB)) $((151 * MiB)) 8192)" 8192 unaligned512
plan_write "$rw_img" W w-unaligned-1m "$(sector_in $((152 * MiB)) $((156 * MiB)) "$MiB")" "$MiB" unaligned2048
plan_write "$rw_img" W w-unaligned-2m "$(sector_in $((156 * MiB)) $((160 * MiB)) $((2 * MiB)))" \
	$((2 * MiB)) unaligned3584
plan_write "$rw_img" W w-unaligned-7m "$(sector_in $((160 * MiB)) $((170 * MiB)) $((7 * MiB + 1536)))" \
	$((7 * MiB + 1536)) unaligned512

img_fill_random "$ro_img" 0 "$ro_bytes"
ro_sha=$(img_range_sha "$ro_img" 0 "$ro_bytes")

E2E_RUN_TIMEOUT=900 hvsim_exec integ --mem 1024 \
	--disk "$rw_img" --disk "$ro_img,ro,ctl=1" \
	--exec "bash $E2E_GUEST/storage-integrity.sh $((rw_bytes / 512)) $((ro_bytes / 512)) ${PLAN_ITEMS[*]}"
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim run exited $HVSIM_RC"
	show_run integ
fi
storage_relay integ
grep '^info: ' "$(out integ)" | tr -d '\r'

verify_plan integ

# The read-only disk.
if [[ $(guest_value integ "read ro-disk direct") == "$ro_sha" ]]; then
	pass "read-only disk read whole in the guest identically"
else
	fail "read-only disk reads differently in the guest"
fi
if [[ $(guest_value integ "read ro-disk-after direct") == "$ro_sha" ]]; then
	pass "read-only disk unchanged as the guest sees it after the write attempts"
else
	fail "read-only disk changed in the guest after the write attempts"
fi
check "read-only image unchanged on the host" \
	test "$(img_range_sha "$ro_img" 0 "$ro_bytes")" = "$ro_sha"
check "read-only image still $ro_bytes bytes" test "$(stat -c %s "$ro_img")" -eq "$ro_bytes"
check "read-write image still $rw_bytes bytes" test "$(stat -c %s "$rw_img")" -eq "$rw_bytes"

check_storage_logs integ
check_console integ
e2e_finish
