#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of tests/e2e/hibernate.sh. usage: hibernate.sh RULES_FILE
# Installs the rule and a stand-in systemctl, says "armed", then waits (at
# most 100 s) for the stand-in to be called and prints what it was asked.
rules=$1
called=/run/systemctl-called

cp "$rules" /etc/udev/rules.d/ || exit 1
# /usr/bin is the overlay's: the host's systemctl stays as it is.
cat >/usr/bin/systemctl <<EOS || exit 1
#!/bin/sh
echo "\$*" >$called
EOS
chmod 0755 /usr/bin/systemctl || exit 1
udevadm control --reload || exit 1
echo armed
for ((i = 0; i < 1000; i++)); do
	if [[ -s $called ]]; then
		echo "systemctl: $(cat "$called")"
		exit 0
	fi
	sleep 0.1
done
echo "systemctl: never called"
exit 1
