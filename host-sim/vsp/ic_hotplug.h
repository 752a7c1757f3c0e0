/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Integration components added while the guest runs, from the control
 * socket (`hvsim ctl NAME ic ...`):
 *
 *   ic add heartbeat|shutdown|timesync [monitor] [INSTANCE]
 *        a new device of that class, offered at once if the guest is
 *        connected (hot add); with monitor, its channel uses monitored
 *        notification (the guest signals through monitor page 2). The
 *        instance GUID defaults to the next free 8a8c2b8e-...-6e3b7a02NNNN.
 *        Replies "added CLASS INSTANCE relid R".
 *   ic list
 *        one line per added IC: INSTANCE CLASS monitor|event STATE
 *   ic status INSTANCE
 *        a heartbeat's or time sync's status line (the format of
 *        `heartbeat`, `timesync`), or a shutdown IC's "state=S version=M.m"
 *
 * Removing and offering again are the server's `rescind` and `offer`
 * commands, which work for every device: an added IC stays registered
 * (unplugged) until hvsim exits.
 *
 * Threading: the event-loop thread, like every ctl handler.
 */
#ifndef HVSIM_VSP_IC_HOTPLUG_H
#define HVSIM_VSP_IC_HOTPLUG_H

#include <stdio.h>

struct hypervisor;
struct ic_hotplug;
struct vmbus_server;

#define IC_HOTPLUG_MAX		16

/* hv: the reference time of added time-sync ICs (NULL: no version 4). */
struct ic_hotplug *ic_hotplug_create(struct vmbus_server *srv,
				     struct hypervisor *hv);
/* After vmbus_server_destroy, which closes the ICs' channels. */
void ic_hotplug_destroy(struct ic_hotplug *hp);
/* The `ic` ctl command (ctx: the ic_hotplug; argv[0] is "ic"). */
int ic_hotplug_ctl(void *ctx, int argc, char **argv, FILE *reply);

#endif /* HVSIM_VSP_IC_HOTPLUG_H */
