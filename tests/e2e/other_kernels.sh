#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The other tests boot the default kernel (the newest installed). This one
# boots every other installed kernel that has its headers (Debian's 6.1
# when 6.12 is the newest), with modules built for it, and checks the
# essentials there: VMBus negotiated, the ICs bound by modalias, a
# synthetic disk that reads back what was written.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init other_kernels

default=$E2E_KVER
others=()
for build in /lib/modules/*/build; do
	kver=${build#/lib/modules/}
	kver=${kver%/build}
	[[ $kver != "$default" && -e /boot/vmlinuz-$kver ]] && others+=("$kver")
done
[[ ${#others[@]} -gt 0 ]] ||
	e2e_abort "only $default is installed with headers; .ci/install-deps installs Debian's 6.1 and 6.12"

# shellcheck disable=SC2016 # expands in the guest
guest_script='
set -e
echo "kernel $(uname -r)"
echo "version $(cat /sys/bus/vmbus/version)"
for d in /sys/bus/vmbus/devices/*; do
	echo "device $(cat $d/class_id) $(basename "$(readlink -f $d/driver 2>/dev/null || echo none)")"
done
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 status=none
dd if=/tmp/pattern of=/dev/sda bs=1M oflag=direct status=none
echo 3 >/proc/sys/vm/drop_caches
cmp /tmp/pattern <(dd if=/dev/sda bs=1M count=4 iflag=direct status=none) && echo "disk ok"
'

for kver in "${others[@]}"; do
	tag=k-${kver%%-*}
	if ! make -C "$E2E_REPO" KVER="$kver" modules guest >"$E2E_TMP/$tag.make.log" 2>&1; then
		sed 's/^/  /' "$E2E_TMP/$tag.make.log" | tail -n 20
		fail "$kver: make KVER=$kver modules guest failed"
		continue
	fi
	E2E_KVER=$kver
	truncate -s 64M "$E2E_TMP/$tag.img"
	hvsim_exec "$tag" --disk "$E2E_TMP/$tag.img" --exec "$guest_script"
	o=$(out "$tag")
	check "$kver: the guest command succeeded (status $HVSIM_RC)" test "$HVSIM_RC" -eq 0
	check "$kver: the guest ran $kver" grep -qx "kernel $kver" "$o"
	check "$kver: VMBus 5.3 negotiated" grep -qx "version 5.3" "$o"
	check "$kver: heartbeat bound by modalias" \
		grep -q "device {57164f39-9115-4e78-ab55-382f3bd5422d} viridian_ic_heartbeat" "$o"
	check "$kver: shutdown bound by modalias" \
		grep -q "device {0e0b6031-5213-4934-818b-38d90ced39db} viridian_ic_shutdown" "$o"
	check "$kver: the synthetic disk reads back what was written" grep -qx "disk ok" "$o"
	check_console "$tag"
done
e2e_finish
