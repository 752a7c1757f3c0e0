/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Wiring of the VMBus server's host_ops to hvsim's real guest memory,
 * SynIC, trace and log. Kept apart from server.c so that the state machine
 * builds and is tested without them.
 *
 *	static struct vmbus_glue glue = { .mem = &r->mem, .synic = synic };
 *	struct vmbus_server_host_ops ops;
 *
 *	vmbus_glue_host_ops(&ops);
 *	srv = vmbus_server_create(&ops, &glue, nr_vps);
 *	ctl_register(ctl, "devices", vmbus_server_ctl_devices, srv);
 */
#ifndef HVSIM_VMBUS_GLUE_H
#define HVSIM_VMBUS_GLUE_H

#include "vmbus/server.h"

struct guest_mem;
struct synic;

/* The host_ops context; must outlive the server. */
struct vmbus_glue {
	struct guest_mem *mem;
	struct synic *synic;
};

void vmbus_glue_host_ops(struct vmbus_server_host_ops *ops);

#endif /* HVSIM_VMBUS_GLUE_H */
