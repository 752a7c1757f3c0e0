#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hibernation, which the VMBus driver cannot go through yet:
#   - `hvsim ctl NAME shutdown hibernate` is refused by the guest's shutdown
#     IC (the VM would not come back), which sends no hibernate event, and
#     the guest keeps running;
#   - in the guest, hibernation and suspend are refused by viridian_vmbus,
#     which says why.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-storage.bash
source "$(dirname "$0")/lib-storage.bash"
e2e_init hibernate

hvsim_start hib --exec "bash $E2E_GUEST/hibernate.sh"
if ! wait_guest_mark hib armed 300; then
	fail "guest did not become ready"
	show_run hib
	check_console hib
	e2e_finish
fi
if reply=$(hvsim_ctl hib shutdown hibernate 2>&1); then
	fail "hvsim ctl shutdown hibernate was accepted: $reply"
elif [[ $reply == *refused* ]]; then
	pass "hvsim ctl shutdown hibernate refused by the guest: $reply"
else
	fail "hvsim ctl shutdown hibernate failed, but not as a refusal: $reply"
fi
host_mark hib asked
hvsim_wait hib 300
if [[ $HVSIM_RC -ne 0 ]]; then
	fail "hvsim exited $HVSIM_RC"
	show_run hib
fi
storage_relay hib
check_console hib
e2e_finish
