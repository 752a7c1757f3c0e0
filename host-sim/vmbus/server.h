/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * host-sim's VMBus server: the host end of the channel-management protocol
 * (wire/vmbus.h) as a state machine with no I/O of its own. Every effect on
 * the guest (SynIC messages, event flags, mapping guest pages) goes through
 * struct vmbus_server_host_ops, which hvsim wires to the hypervisor
 * simulator and guest memory, and the unit tests wire to a scripted fake.
 *
 * Threading. Every vmbus_server_* function takes the server's (recursive)
 * lock, so they may be called from any thread; in hvsim they all run on the
 * event-loop thread. The VSP callbacks (open, on_signal, close, release) run
 * with that lock held, on the thread that called into the server: they may
 * call vmbus_server_* functions themselves, but must never block waiting for
 * another thread that calls into the server. Worker threads of a VSP touch
 * only their channel's I/O (channel.h), never the server.
 *
 * The guest is never trusted: every malformed or out-of-state message is
 * logged (rate-limited), traced, counted and otherwise ignored, leaving the
 * state as it was. Nothing the guest sends can crash the server.
 */
#ifndef HVSIM_VMBUS_SERVER_H
#define HVSIM_VMBUS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "viridian/wire/types.h"
#include "viridian/wire/vmbus.h"

struct channel;
struct vmbus_device;
struct vmbus_server;

/*
 * The connection ID answered in VERSION_RESPONSE from 5.0 on, on which all
 * later messages must arrive. Before 5.0 the guest always uses
 * VMBUS_MESSAGE_CONNECTION_ID, which is the same number.
 */
#define VMBUS_SERVER_MSG_CONN_ID	VMBUS_MESSAGE_CONNECTION_ID

/* Channels (relids 1..VMBUS_SERVER_MAX_CHANNELS) the server can offer. */
#define VMBUS_SERVER_MAX_CHANNELS	256
/* A channel is signalled by the guest on this connection ID. */
#define VMBUS_SERVER_CHANNEL_CONN_BASE	0x100u
#define VMBUS_SERVER_CHANNEL_CONN_ID(relid) \
	(VMBUS_SERVER_CHANNEL_CONN_BASE + (uint32_t)(relid))

/* Limits that keep a hostile guest from exhausting host memory. */
#define VMBUS_SERVER_MAX_GPADLS		1024
#define VMBUS_SERVER_MAX_PENDING_GPADLS	16
/* Pages described by all GPADLs together (3 GiB, the largest guest RAM). */
#define VMBUS_SERVER_MAX_GPADL_PAGES	(3u << (30 - VIRIDIAN_PAGE_SHIFT))

/* Error codes put in OPENCHANNEL_RESULT, GPADL_CREATED and friends. */
#define VMBUS_STATUS_UNSUCCESSFUL	0xC0000001u
#define VMBUS_STATUS_INVALID_PARAMETER	0xC000000Du
#define VMBUS_STATUS_INSUFFICIENT_RES	0xC000009Au
#define VMBUS_STATUS_CONNECTION_REFUSED	0xC0000236u

/*
 * Effects on the guest. All pointers are required except the last three.
 * post_message and signal_guest must be thread-safe: channels signal from
 * VSP worker threads.
 */
struct vmbus_server_host_ops {
	/*
	 * Queue a SynIC message (HVMSG_VMBUS) for SINT sint of VP vp. 0, or
	 * -errno; -ENODEV means held until the guest enables the SINT.
	 */
	int (*post_message)(void *ctx, uint32_t vp, uint32_t sint,
			    uint32_t message_type, const void *payload,
			    uint32_t len);
	/* Set event flag `flag` of SINT sint on VP vp and interrupt it. */
	int (*signal_guest)(void *ctx, uint32_t vp, uint32_t sint,
			    uint32_t flag);
	/*
	 * Map guest pages into one contiguous view; the last mirror_pages of
	 * them are mapped a second time right after. NULL if a page is not
	 * guest RAM or mapping fails.
	 */
	void *(*map_pfns)(void *ctx, const uint64_t *pfns, size_t count,
			  size_t mirror_pages);
	void (*unmap)(void *ctx, void *view, size_t count, size_t mirror_pages);
	/* Host pointer to [gpa, gpa + len) of guest RAM, or NULL. */
	void *(*gpa_ptr)(void *ctx, uint64_t gpa, uint64_t len);
	/* One decoded line per message or packet; NULL: no tracing. */
	void (*trace)(void *ctx, const char *line);
	/*
	 * Whether to format trace lines at all right now (--trace may be
	 * switched on later). NULL: whenever trace is set.
	 */
	bool (*trace_enabled)(void *ctx);
	/*
	 * One error line, already rate-limited, which the sink also copies to
	 * the trace. NULL: stderr, and the server traces it itself.
	 */
	void (*log)(void *ctx, const char *line);
};

/*
 * A device's back end (VSP). One vsp_ops serves every channel of a device
 * (the primary and its sub-channels); ctx is the pointer given to
 * vmbus_server_add_device.
 */
struct vsp_ops {
	const char *name;		/* short, for logs and `devices` */
	guid_t class;			/* device class GUID offered */
	bool use_monitor;		/* ask for monitored notification (MNF) */
	/*
	 * The guest opened a channel; its rings are mapped. Nonzero refuses
	 * the open (the guest sees a failed OPENCHANNEL_RESULT). May send.
	 */
	int (*open)(struct channel *ch, void *ctx);
	/*
	 * The guest signalled the channel (event or monitor page). Runs on
	 * the event-loop thread: read until the ring is empty.
	 */
	void (*on_signal)(struct channel *ch, void *ctx);
	/*
	 * The channel is closing (guest close, unload, reset, release or
	 * server destruction). Stop every worker that touches it before
	 * returning: the rings are unmapped right after. Optional.
	 */
	void (*close)(struct channel *ch, void *ctx);
	/* The device is gone for good (rescinded and released). Optional. */
	void (*release)(void *ctx);
};

struct vmbus_server *vmbus_server_create(const struct vmbus_server_host_ops *ops,
					 void *ops_ctx, uint32_t nr_vps);
/* Closes every channel (VSP close, then release) and frees everything. */
void vmbus_server_destroy(struct vmbus_server *srv);

/*
 * Register a device with one primary channel. If the guest has already
 * received its offers, the new one is offered at once (hot add). Returns
 * NULL when out of relids or memory.
 */
struct vmbus_device *vmbus_server_add_device(struct vmbus_server *srv,
					     const struct vsp_ops *ops,
					     const guid_t *instance, void *ctx);

/*
 * Offer n more channels of the device (same class and instance GUIDs,
 * sub_channel_index continuing from the last one, starting at 1). 0 or
 * -errno (-EINVAL for a rescinded device, -ENOSPC when out of relids).
 */
int vmbus_server_offer_subchannels(struct vmbus_device *dev, unsigned int n);
/* Channels of the device, the primary included (1 + sub-channels). */
unsigned int vmbus_server_device_channels(const struct vmbus_device *dev);
/* Its channel with this sub-channel index (0: primary), or NULL. */
struct channel *vmbus_server_device_channel(struct vmbus_device *dev,
					    unsigned int sub_index);

/*
 * Withdraw a device: RESCIND_CHANNELOFFER for each of its channels the
 * guest knows about (sub-channels first). Each relid is freed when the
 * guest releases it (RELID_RELEASED), or on unload or reset; the device,
 * and with it `dev`, is freed when its last channel goes. Do not use dev
 * after this call.
 */
int vmbus_server_rescind(struct vmbus_server *srv, struct vmbus_device *dev);

/*
 * Hot unplug, as when Hyper-V removes a device that may come back: the
 * same rescinds as vmbus_server_rescind, but the device stays registered,
 * "unplugged". Its VSP sees its open channels close, never release, and
 * keeps using dev. Each relid is freed when the guest releases it. 0, or
 * -EINVAL for a device that is unknown, rescinded or already unplugged.
 */
int vmbus_server_unplug(struct vmbus_server *srv, struct vmbus_device *dev);
/*
 * Offer an unplugged device again: a new primary channel under a new relid
 * (sub-channels follow when the VSP offers them), at once if the guest has
 * its offers. 0, -EINVAL (not unplugged), -EBUSY while the guest still
 * holds a relid of the device's previous life, -ENOSPC (out of relids).
 */
int vmbus_server_replug(struct vmbus_server *srv, struct vmbus_device *dev);
bool vmbus_server_device_unplugged(const struct vmbus_device *dev);
/* True if a device not rescinded for good has this instance GUID. */
bool vmbus_server_instance_taken(struct vmbus_server *srv,
				 const guid_t *instance);

/*
 * HvPostMessage from VP vp. Returns the hypercall status: success for
 * every well-addressed message (the content is the server's business),
 * HV_STATUS_INVALID_CONNECTION_ID for a connection ID that is not the
 * message port now, HV_STATUS_INVALID_PARAMETER for a bad size or type.
 */
uint16_t vmbus_server_post(struct vmbus_server *srv, uint32_t vp,
			   uint32_t connection_id, uint32_t message_type,
			   const void *payload, uint32_t len);

/* HvSignalEvent on connection_id: dispatches the channel's on_signal. */
void vmbus_server_signal(struct vmbus_server *srv, uint32_t connection_id);

/*
 * Monitored notification: while wants_monitor_poll is true, call
 * poll_monitor every millisecond; each pending bit of monitor page 2 is
 * taken (atomic exchange) and signals that monitor ID's channel. When a
 * monitored channel is offered, its connection ID and latency are written
 * into monitor page 2, as the hypervisor does.
 */
bool vmbus_server_wants_monitor_poll(struct vmbus_server *srv);
void vmbus_server_poll_monitor(struct vmbus_server *srv);

/*
 * Guest reset: close every channel, drop every GPADL, forget rescinded
 * devices, disconnect. Registered devices are offered again on the next
 * REQUESTOFFERS.
 */
void vmbus_server_reset(struct vmbus_server *srv);

/*
 * `hvsim ctl NAME devices`: one line per channel, space-separated:
 *   relid class instance-guid state sub-channel-index target-vp
 * class is the class's short name (scsi, heartbeat, ...) or the VSP name;
 * state is pending (not offered yet), offered, open, broken or rescinded;
 * target-vp is '-' unless open. An unplugged device whose relids are all
 * released has one line "- class instance unplugged - -". Verbose adds the
 * channel's counters: monitor=ID|- signals_in=N monitor_signals=N
 * signals_out=N packets_in=N packets_out=N (monitor_signals: the part of
 * signals_in that came through monitor page 2). Returns the number of
 * lines, or -1.
 */
int vmbus_server_describe(struct vmbus_server *srv, FILE *out);
int vmbus_server_describe_ex(struct vmbus_server *srv, FILE *out,
			     bool verbose);
/*
 * ctl command handlers; ctx is the server.
 *   devices [-v]              vmbus_server_describe_ex
 *   rescind RELID|INSTANCE    vmbus_server_unplug of the device that owns
 *                             the relid or has the instance GUID
 *   offer INSTANCE            vmbus_server_replug of an unplugged device
 */
int vmbus_server_ctl_devices(void *ctx, int argc, char **argv, FILE *reply);
int vmbus_server_ctl_rescind(void *ctx, int argc, char **argv, FILE *reply);
int vmbus_server_ctl_offer(void *ctx, int argc, char **argv, FILE *reply);

/* Negotiated version (VMBUS_VERSION_*), 0 while disconnected. */
uint32_t vmbus_server_version(struct vmbus_server *srv);
/* True once ALLOFFERS_DELIVERED went out for this connection. */
bool vmbus_server_offers_delivered(struct vmbus_server *srv);
/* Malformed or out-of-state messages seen so far (diagnostics, tests). */
uint64_t vmbus_server_rejected_count(struct vmbus_server *srv);
/* The channel with this relid, or NULL. */
struct channel *vmbus_server_find_channel(struct vmbus_server *srv,
					  uint32_t relid);

/* Text form of a GUID (8-4-4-4-12, Windows field order); buf >= 37 bytes. */
void vmbus_guid_to_str(const guid_t *g, char *buf);
/* The inverse, either case, braces optional. False if malformed. */
bool vmbus_guid_from_str(const char *text, guid_t *g);
/* Short name of a known class GUID, or NULL. */
const char *vmbus_class_name(const guid_t *class_id);

#endif /* HVSIM_VMBUS_SERVER_H */
