#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Booting from the synthetic disk: a Debian root-disk image (tests/rootfs/
# make-rootfs, built on first use and cached in build/rootfs/KVER/) is
# booted with `hvsim run --root-disk`, the way a Hyper-V VM boots after a
# DKMS install: the image's own initramfs loads viridian_hv, viridian_vmbus
# and viridian_storvsc, which must find LUN 0 and mount it as /. A copy of
# the cached image is booted, so the cache stays pristine.
#
# Building the image needs root (debootstrap, chroot) and a Debian mirror;
# without them this is a FAIL line that says so.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init root_disk

command -v debugfs >/dev/null || [[ -x /usr/sbin/debugfs || -x /sbin/debugfs ]] ||
	e2e_abort "debugfs missing (apt-get install e2fsprogs): hvsim reads the image's initrd with it"

cache_dir=$E2E_REPO/build/rootfs/$E2E_KVER
cached=$cache_dir/root.img
mkdir -p "$cache_dir" || e2e_abort "cannot create $cache_dir"
started=$SECONDS
if ! "$E2E_REPO/tests/rootfs/make-rootfs" "$cached" "$E2E_KVER" >"$E2E_TMP/make-rootfs.log" 2>&1; then
	sed 's/^/    /' "$E2E_TMP/make-rootfs.log" | tail -n 15
	e2e_abort "cannot build the root-disk image $cached with tests/rootfs/make-rootfs (see above; it needs root and a Debian mirror)"
fi
build_s=$((SECONDS - started))
if grep -q 'up to date' "$E2E_TMP/make-rootfs.log"; then
	echo "root-disk image: $cached (cached)"
else
	echo "root-disk image: $cached built in $build_s s"
fi

image=$E2E_TMP/root.img
cp --sparse=always "$cached" "$image" || e2e_abort "cannot copy $cached to $image"

# The root's source, our module, and the driver behind sda's SCSI host.
cmd='findmnt -n -o SOURCE /; lsmod | grep viridian_storvsc; '
# shellcheck disable=SC2016 # expands in the guest
cmd+='host=$(readlink -f /sys/block/sda/device | grep -o "/host[0-9]*/" | tr -d /); '
# shellcheck disable=SC2016 # expands in the guest
cmd+='echo "sda-host-driver $(cat /sys/class/scsi_host/$host/proc_name)"; '
# shellcheck disable=SC2016 # expands in the guest
cmd+='echo "in-kernel-hyperv $(lsmod | grep -cE "^(hv_vmbus|hv_storvsc) ")"'
started=$SECONDS
hvsim_exec boot --root-disk "$image" --exec "$cmd"
boot_s=$((SECONDS - started))
echo "boot from the root disk, command and power-off: $boot_s s"

if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim --root-disk exited with $HVSIM_RC (the command's status; 124: timeout, 125: no status)"
	show_run boot
else
	pass "the guest booted from the root disk and ran the command"
fi
root_src=$(head -n 1 "$(out boot)" | tr -d '\r')
check "the root file system is /dev/sda (got '$root_src')" test "$root_src" = /dev/sda
check "viridian_storvsc is loaded" grep -q '^viridian_storvsc ' "$(out boot)"
check "/dev/sda sits on a viridian_storvsc SCSI host" grep -qx 'sda-host-driver viridian_storvsc' "$(out boot)"
# The in-kernel drivers are in the initramfs too, as on a VM with Debian's
# default one; the modprobe.d gate must keep them unloaded.
check "the in-kernel hv_vmbus and hv_storvsc stayed unloaded" \
	grep -qx 'in-kernel-hyperv 0' "$(out boot)"
check "the initramfs mounted / from /dev/sda" grep -q 'viridian-root-init: root /dev/sda' "$(console boot)"
check_console boot
e2e_finish
