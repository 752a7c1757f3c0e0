#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shell style: shellcheck -x, every severity, on every shell script git
# tracks: the *.sh and *.bash files, and any other file whose first line is
# a #!/bin/sh or #!/bin/bash (or /usr/bin/env) shebang, so a new script is
# covered as soon as it is added. One PASS or FAIL line per file, a FAIL
# followed by its first findings.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The scripts' "# shellcheck source=" paths are relative to the top.
cd "$repo" || exit 1

if ! command -v shellcheck >/dev/null; then
	echo "FAIL build/shellcheck: shellcheck missing (run .ci/install-deps)"
	exit 1
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "FAIL build/shellcheck: $repo is not a git checkout (the script list comes from git ls-files)"
	exit 1
fi

shebang='^#![[:space:]]*(/usr)?/bin/(env[[:space:]]+)?(ba|da)?sh([[:space:]]|$)'

# Every tracked shell script, once, in a stable order.
scripts() {
	local file first
	while IFS= read -r -d '' file; do
		[[ -f $file ]] || continue
		if [[ $file == *.sh || $file == *.bash ]]; then
			printf '%s\n' "$file"
			continue
		fi
		first=
		IFS= read -r -n 200 first <"$file" 2>/dev/null
		[[ $first =~ $shebang ]] && printf '%s\n' "$file"
	done < <(git ls-files -z)
}

failed=0
checked=0
while IFS= read -r file; do
	checked=$((checked + 1))
	out=$(shellcheck -x -f gcc "$file" 2>&1)
	rc=$?
	if [[ $rc -ne 0 || -n $out ]]; then
		echo "FAIL build/shellcheck: $file"
		[[ -n $out ]] || out="shellcheck exited with status $rc"
		mapfile -t findings < <(head -n 10 <<<"$out")
		printf '  %s\n' "${findings[@]}"
		failed=1
	else
		echo "PASS build/shellcheck: $file"
	fi
done < <(LC_ALL=C scripts | LC_ALL=C sort -u)

if [[ $checked -eq 0 ]]; then
	echo "FAIL build/shellcheck: git ls-files lists no shell script"
	exit 1
fi
exit "$failed"
