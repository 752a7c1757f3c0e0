#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 20 cycles of unloading the stack (rmmod viridian_ic viridian_vmbus
# viridian_hv) and loading viridian_vmbus: the devices come back each time,
# with their drivers, and the kernel never warns.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init reload

cycles=20
E2E_RUN_TIMEOUT=600 hvsim_exec reload --exec "bash $E2E_GUEST/reload-cycles.sh $cycles"
sed 's/^/  guest: /' "$(out reload)"
ok=$(grep -c '^cycle [0-9]* ok$' "$(out reload)")
if [[ $HVSIM_RC -eq 0 && $ok -eq $cycles ]]; then
	pass "$cycles of $cycles unload/reload cycles brought every device back"
else
	fail "$ok of $cycles cycles ok (hvsim exit $HVSIM_RC)"
	show_run reload
fi
check_console reload
e2e_finish
