#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `hvsim ctl NAME shutdown hibernate`: the guest's shutdown IC agrees and
# sends EVENT=hibernate, and the packaged udev rule
# (packaging/udev/70-viridian.rules, installed in the guest as `make
# install` would) hands it to the init system: `systemctl hibernate` runs.
# The guest has no systemd: its systemctl is a stand-in that records its
# arguments (the root is a throw-away overlay).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init hibernate

hvsim_start hib --exec "bash $E2E_GUEST/hibernate.sh $E2E_REPO/packaging/udev/70-viridian.rules"
armed=
if hvsim_wait_ready hib 180; then
	for ((i = 0; i < 300; i++)); do
		grep -qx armed "$(out hib)" && { armed=1; break; }
		sleep 0.1
	done
fi
if [[ -z $armed ]]; then
	fail "guest did not become ready and install the rule"
	show_run hib
	check_console hib
	e2e_finish
fi
if reply=$(hvsim_ctl hib shutdown hibernate 2>&1); then
	pass "hvsim ctl shutdown hibernate: the guest agreed"
else
	fail "hvsim ctl shutdown hibernate: $reply"
fi
hvsim_wait hib 120
if [[ $HVSIM_RC -eq 0 ]]; then
	pass "the guest saw systemctl run"
else
	fail "hvsim exited $HVSIM_RC"
	show_run hib
fi
if grep -qx 'systemctl: hibernate' "$(out hib)"; then
	pass "the udev rule ran 'systemctl hibernate'"
else
	fail "the udev rule did not run 'systemctl hibernate': $(grep '^systemctl:' "$(out hib)" | tr -d '\r')"
fi
check_console hib
e2e_finish
