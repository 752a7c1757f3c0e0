#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The modules build with W=1 and not one warning against every kernel whose
# headers are installed (Debian 6.1 and 6.12 in CI), as DKMS will build them
# on a distro kernel update. Each build runs on a private copy of the
# sources, so it never touches the tree's own build.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0

shopt -s nullglob
builds=(/lib/modules/*/build)
shopt -u nullglob
if [[ ${#builds[@]} -eq 0 ]]; then
	echo "FAIL build/kernels: no /lib/modules/*/build (install linux-headers-amd64)"
	exit 1
fi
if [[ ${#builds[@]} -lt 2 ]]; then
	echo "FAIL build/kernels: only ${builds[0]}; .ci/install-deps also installs the 6.12 headers"
	failed=1
fi

for build in "${builds[@]}"; do
	kver=${build#/lib/modules/}
	kver=${kver%/build}
	src=$scratch/$kver
	mkdir -p "$src"
	rsync -a --exclude='*.o' --exclude='*.ko' --exclude='*.mod*' --exclude='.*.cmd' \
		"$repo/Kbuild" "$repo/drivers" "$repo/include" "$src/"
	log=$scratch/$kver.log
	if ! make -C "$build" M="$src" W=1 -j2 modules >"$log" 2>&1; then
		sed 's/^/  /' "$log" | tail -n 30
		echo "FAIL build/kernels: $kver: the modules do not build"
		failed=1
		continue
	fi
	warnings=$(grep -E 'warning:|WARNING:' "$log" | grep -v 'Skipping BTF' || true)
	if [[ -n $warnings ]]; then
		printf '  %s\n' "$warnings" | head -n 20
		echo "FAIL build/kernels: $kver: W=1 warnings"
		failed=1
		continue
	fi
	count=$(find "$src/drivers" -name '*.ko' | wc -l)
	modules=$(find "$repo/drivers" -mindepth 2 -maxdepth 2 -name Kbuild | wc -l)
	if [[ $count -ne $modules ]]; then
		echo "FAIL build/kernels: $kver: $count of $modules modules built"
		failed=1
		continue
	fi
	echo "PASS build/kernels: $kver: $count modules, no warnings with W=1"
done
exit "$failed"
