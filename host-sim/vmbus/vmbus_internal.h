/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Private to host-sim/vmbus: the objects server.c and channel.c share.
 * VSPs use only server.h and channel.h.
 */
#ifndef HVSIM_VMBUS_INTERNAL_H
#define HVSIM_VMBUS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "viridian/wire/ring.h"
#include "viridian/wire/vmbus.h"
#include "vmbus/server.h"
#include "vmbus/channel.h"

/* One direction of a channel, as mapped from guest RAM. */
struct ring_map {
	void *view;			/* control page, data, data again */
	struct vmbus_ring_control *ctrl;
	uint8_t *data;			/* valid for 2 * size bytes (mirror) */
	uint32_t size;			/* data bytes */
	size_t pages;			/* pages mapped once */
	size_t mirror;			/* data pages mapped twice */
};

struct channel {
	struct vmbus_server *srv;
	struct vmbus_device *dev;
	uint32_t relid;
	uint32_t connection_id;
	uint16_t sub_index;
	int monitor_id;			/* -1: none */

	/* Protocol state, under the server lock. */
	bool offered;			/* offer sent on this connection */
	bool rescinded;			/* rescind sent */
	bool open;
	uint32_t ring_gpadl;
	uint32_t openid;
	uint8_t userdata[VMBUS_MAX_USER_DEFINED_BYTES];

	/* Read from worker threads: __atomic accesses. */
	uint32_t target_vp;
	uint32_t sint;
	int broken;

	/* Rings; set up before the VSP's open, torn down after its close. */
	struct ring_map in;		/* guest to host */
	struct ring_map out;		/* host to guest */
	uint32_t in_read;		/* our read index into in */
	uint32_t peek_bytes;		/* ring bytes of the packet peeked */
	struct vmpacket_descriptor peek_desc;
	uint32_t out_write;		/* our write index into out */
	bool out_pending;		/* we set out's pending_send_sz */
	pthread_mutex_t send_lock;	/* sends, and ring map/unmap */

	void *priv;

	/* Statistics, __atomic. */
	uint64_t packets_in;
	uint64_t packets_out;
	uint64_t signals_in;
	uint64_t signals_out;
	uint64_t monitor_signals;	/* of signals_in: via monitor page 2 */
};

struct vmbus_device {
	struct vmbus_server *srv;
	const struct vsp_ops *ops;
	void *ctx;
	guid_t instance;
	struct channel **chans;		/* index = sub-channel index */
	unsigned int nchans;		/* created so far */
	unsigned int live;		/* not yet freed */
	bool rescinded;			/* gone for good once released */
	bool unplugged;			/* rescinded, to be offered again */
	struct vmbus_device *next;
};

struct gpadl {
	struct gpadl *next;
	uint32_t handle;
	uint32_t relid;
	bool complete;
	bool teardown_pending;		/* torn down once its channel closes */
	/* Assembly. */
	uint16_t rangecount;
	uint32_t range_buflen;
	uint32_t filled;
	uint32_t bodies;
	int numbering;			/* 0 unknown, 1 all zero, 2 sequential */
	uint8_t *raw;			/* range_buflen bytes as received */
	/* Result. */
	uint64_t *pfns;
	uint32_t npfns;
	bool page_aligned;		/* every range whole pages from offset 0 */
	uint32_t users;			/* open channels whose rings it holds */
};

struct vmbus_server {
	pthread_mutex_t lock;		/* recursive */
	struct vmbus_server_host_ops ops;
	void *ops_ctx;
	uint32_t nr_vps;

	/* Connection. */
	bool connected;
	uint32_t version;
	uint32_t msg_vp;
	uint32_t msg_sint;
	bool offers_delivered;
	struct hv_monitor_page *monitor[2];
	uint64_t monitor_gpa[2];

	struct vmbus_device *devices;
	struct channel *by_relid[VMBUS_SERVER_MAX_CHANNELS + 1];
	struct channel *by_monitor[VMBUS_MONITOR_IDS];

	struct gpadl *gpadls;
	unsigned int ngpadls;
	unsigned int npending;
	uint64_t gpadl_pages;

	/* Rate limit of error lines, shared with channel threads. */
	pthread_mutex_t log_lock;
	uint64_t log_window_start;
	unsigned int log_in_window;
	unsigned int log_suppressed;
	uint64_t rejected;
};

/* Logging shared by server.c and channel.c. */
void vmbus_log(struct vmbus_server *srv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vmbus_trace(struct vmbus_server *srv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool vmbus_tracing(const struct vmbus_server *srv);

/* channel.c: life cycle, called by the server under its lock. */
int channel_init(struct channel *ch);
void channel_fini(struct channel *ch);
int channel_map_rings(struct channel *ch, const uint64_t *pfns,
		      uint32_t npfns, uint32_t out_offset);
void channel_unmap_rings(struct channel *ch);

#endif /* HVSIM_VMBUS_INTERNAL_H */
