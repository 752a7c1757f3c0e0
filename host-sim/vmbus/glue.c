// SPDX-License-Identifier: GPL-2.0 OR MIT
/* host_ops for the VMBus server on top of hvsim's core (see glue.h). */
#include <string.h>

#include "core/guest_mem.h"
#include "core/log.h"
#include "hypervisor/synic.h"
#include "trace.h"
#include "vmbus/glue.h"

static int glue_post_message(void *ctx, uint32_t vp, uint32_t sint,
			     uint32_t message_type, const void *payload,
			     uint32_t len)
{
	struct vmbus_glue *g = ctx;

	return synic_post_message(g->synic, vp, sint, message_type, payload,
				  len);
}

static int glue_signal_guest(void *ctx, uint32_t vp, uint32_t sint,
			     uint32_t flag)
{
	struct vmbus_glue *g = ctx;

	return synic_signal_event(g->synic, vp, sint, flag);
}

static void *glue_map_pfns(void *ctx, const uint64_t *pfns, size_t count,
			   size_t mirror_pages)
{
	struct vmbus_glue *g = ctx;

	return guest_mem_map_pfns(g->mem, pfns, count, mirror_pages);
}

static void glue_unmap(void *ctx, void *view, size_t count,
		       size_t mirror_pages)
{
	(void)ctx;
	guest_mem_unmap(view, count, mirror_pages);
}

static void *glue_gpa_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vmbus_glue *g = ctx;

	return guest_mem_ptr(g->mem, gpa, len);
}

static void glue_trace(void *ctx, const char *line)
{
	(void)ctx;
	trace_printf("%s", line);
}

static bool glue_trace_enabled(void *ctx)
{
	(void)ctx;
	return __atomic_load_n(&trace_on, __ATOMIC_RELAXED);
}

static void glue_log(void *ctx, const char *line)
{
	(void)ctx;
	/* Already rate-limited by the server; log_msg copies to the trace. */
	log_msg("vmbus: %s", line);
}

void vmbus_glue_host_ops(struct vmbus_server_host_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->post_message = glue_post_message;
	ops->signal_guest = glue_signal_guest;
	ops->map_pfns = glue_map_pfns;
	ops->unmap = glue_unmap;
	ops->gpa_ptr = glue_gpa_ptr;
	ops->trace = glue_trace;
	ops->trace_enabled = glue_trace_enabled;
	ops->log = glue_log;
}
