#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernel style: scripts/checkpatch.pl --strict from linux-source-6.1 on
# every kernel C file and every header the modules include. One PASS or
# FAIL line per file.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=$repo/build/checkpatch
tarball=$(find /usr/src -maxdepth 1 -name 'linux-source-6.*.tar.xz' 2>/dev/null | sort -V | tail -n 1)

if [[ ! -x $cache/scripts/checkpatch.pl ]]; then
	if [[ -z $tarball ]]; then
		echo "FAIL build/checkpatch: no /usr/src/linux-source-6.*.tar.xz (apt-get install linux-source-6.1)"
		exit 1
	fi
	inner=$(basename "$tarball" .tar.xz)
	mkdir -p "$cache"
	tar -xJf "$tarball" -C "$cache" --strip-components=1 "$inner/scripts/checkpatch.pl" \
		"$inner/scripts/spelling.txt" "$inner/scripts/const_structs.checkpatch" || {
		echo "FAIL build/checkpatch: cannot extract checkpatch.pl from $tarball"
		exit 1
	}
fi

failed=0
cd "$repo" || exit 1
while IFS= read -r file; do
	ignore=
	# The one place that must name LINUX_VERSION_CODE: the compat header.
	[[ $file == include/viridian/compat.h ]] && ignore=--ignore=LINUX_VERSION_CODE
	out=$(perl "$cache/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
		$ignore -f "$file" 2>&1 | grep -E ': (ERROR|WARNING|CHECK):' |
		grep -v 'CAMELCASE: Avoid CamelCase: <Scsi_Host>')
	if [[ -n $out ]]; then
		printf '  %s\n' "$out" | head -n 10
		echo "FAIL build/checkpatch: $file"
		failed=1
	else
		echo "PASS build/checkpatch: $file"
	fi
# wire/userspace.h is the userspace shim of the wire headers, not kernel code.
done < <(find drivers include -name '*.[ch]' -not -name '*.mod.c' \
	-not -path include/viridian/wire/userspace.h | LC_ALL=C sort)
exit "$failed"
