// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The VMBus server: channel-management messages in, offers and replies out,
 * with every effect routed through host_ops (see server.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viridian/wire/sim.h"
#include "vmbus/vmbus_internal.h"

/* Every channel's connection ID has a bit in the simulator's bitmap. */
_Static_assert(VMBUS_SERVER_CHANNEL_CONN_ID(VMBUS_SERVER_MAX_CHANNELS) <
	       HVSIM_SIGNAL_CONNECTIONS, "channel connection IDs overflow");
_Static_assert(VMBUS_SERVER_MAX_CHANNELS < HV_SYNIC_EVENT_FLAG_COUNT,
	       "relids are event flag numbers");

#define LOG_WINDOW_NS		(5ull * 1000000000ull)
#define LOG_LINES_PER_WINDOW	20u
#define LINE_MAX_LEN		512

/*
 * The latency monitor page 2 promises for a monitored channel, in 100 ns
 * units: the hypervisor polls the page every millisecond.
 */
#define MONITOR_LATENCY_100NS	10000u

/* Highest GPA a PFN may name before the shift overflows. */
#define MAX_PFN			((1ull << (64 - VIRIDIAN_PAGE_SHIFT)) - 1)

static const uint32_t supported_versions[] = {
	VMBUS_VERSION_WIN10_V5_3, VMBUS_VERSION_WIN10_V5_2,
	VMBUS_VERSION_WIN10_V5_1, VMBUS_VERSION_WIN10_V5,
	VMBUS_VERSION_WIN10_V4_1, VMBUS_VERSION_WIN10,
	VMBUS_VERSION_WIN8_1, VMBUS_VERSION_WIN8,
};

/* ------------------------------------------------------------------ */
/* Logging and tracing                                                 */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool vmbus_tracing(const struct vmbus_server *srv)
{
	if (!srv->ops.trace)
		return false;
	return !srv->ops.trace_enabled || srv->ops.trace_enabled(srv->ops_ctx);
}

void vmbus_trace(struct vmbus_server *srv, const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;

	if (!vmbus_tracing(srv))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	srv->ops.trace(srv->ops_ctx, line);
}

static void emit_log(struct vmbus_server *srv, const char *line)
{
	if (srv->ops.log)
		srv->ops.log(srv->ops_ctx, line);
	else
		fprintf(stderr, "hvsim: vmbus: %s\n", line);
}

/*
 * A guest can produce errors as fast as it can post messages; keep the log
 * readable with a burst allowance per window and a count of what was
 * dropped. The trace still gets every line (from the log sink, or here).
 */
void vmbus_log(struct vmbus_server *srv, const char *fmt, ...)
{
	char line[LINE_MAX_LEN], note[96];
	unsigned int suppressed = 0;
	bool emit = false;
	uint64_t now = now_ns();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&srv->log_lock);
	if (now - srv->log_window_start >= LOG_WINDOW_NS) {
		suppressed = srv->log_suppressed;
		srv->log_window_start = now;
		srv->log_in_window = 0;
		srv->log_suppressed = 0;
	}
	if (srv->log_in_window < LOG_LINES_PER_WINDOW) {
		srv->log_in_window++;
		emit = true;
	} else {
		srv->log_suppressed++;
	}
	pthread_mutex_unlock(&srv->log_lock);

	if (suppressed) {
		snprintf(note, sizeof(note), "%u similar messages suppressed",
			 suppressed);
		emit_log(srv, note);
	}
	if (emit)
		emit_log(srv, line);
	if (!emit || !srv->ops.log)
		vmbus_trace(srv, "vmbus error: %s", line);
}

/* A malformed or out-of-state message: count, log, leave state alone. */
#define REJECT(srv, ...)						\
	do {								\
		__atomic_fetch_add(&(srv)->rejected, 1, __ATOMIC_RELAXED); \
		vmbus_log((srv), __VA_ARGS__);				\
	} while (0)

/* ------------------------------------------------------------------ */
/* GUIDs and names                                                     */

static bool hex_digit(char c, unsigned int *v)
{
	if (c >= '0' && c <= '9')
		*v = (unsigned int)(c - '0');
	else if (c >= 'a' && c <= 'f')
		*v = (unsigned int)(c - 'a' + 10);
	else if (c >= 'A' && c <= 'F')
		*v = (unsigned int)(c - 'A' + 10);
	else
		return false;
	return true;
}

void vmbus_guid_to_str(const guid_t *g, char *buf)
{
	const uint8_t *b = g->b;

	snprintf(buf, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

const char *vmbus_class_name(const guid_t *class_id)
{
	static const struct {
		guid_t guid;
		const char *name;
	} classes[] = {
		{ VMBUS_CLASS_NETWORK, "network" },
		{ VMBUS_CLASS_SCSI, "scsi" },
		{ VMBUS_CLASS_IDE, "ide" },
		{ VMBUS_CLASS_FC, "fc" },
		{ VMBUS_CLASS_VIDEO, "video" },
		{ VMBUS_CLASS_KEYBOARD, "keyboard" },
		{ VMBUS_CLASS_MOUSE, "mouse" },
		{ VMBUS_CLASS_KVP, "kvp" },
		{ VMBUS_CLASS_TIMESYNC, "timesync" },
		{ VMBUS_CLASS_HEARTBEAT, "heartbeat" },
		{ VMBUS_CLASS_SHUTDOWN, "shutdown" },
		{ VMBUS_CLASS_FCOPY, "fcopy" },
		{ VMBUS_CLASS_VSS, "vss" },
		{ VMBUS_CLASS_DYNMEM, "dynmem" },
	};
	size_t i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (guid_equal(&classes[i].guid, class_id))
			return classes[i].name;
	return NULL;
}

static const char *msg_name(uint32_t type)
{
	static const char *const names[CHANNELMSG_COUNT] = {
		[CHANNELMSG_INVALID] = "INVALID",
		[CHANNELMSG_OFFERCHANNEL] = "OFFERCHANNEL",
		[CHANNELMSG_RESCIND_CHANNELOFFER] = "RESCIND_CHANNELOFFER",
		[CHANNELMSG_REQUESTOFFERS] = "REQUESTOFFERS",
		[CHANNELMSG_ALLOFFERS_DELIVERED] = "ALLOFFERS_DELIVERED",
		[CHANNELMSG_OPENCHANNEL] = "OPENCHANNEL",
		[CHANNELMSG_OPENCHANNEL_RESULT] = "OPENCHANNEL_RESULT",
		[CHANNELMSG_CLOSECHANNEL] = "CLOSECHANNEL",
		[CHANNELMSG_GPADL_HEADER] = "GPADL_HEADER",
		[CHANNELMSG_GPADL_BODY] = "GPADL_BODY",
		[CHANNELMSG_GPADL_CREATED] = "GPADL_CREATED",
		[CHANNELMSG_GPADL_TEARDOWN] = "GPADL_TEARDOWN",
		[CHANNELMSG_GPADL_TORNDOWN] = "GPADL_TORNDOWN",
		[CHANNELMSG_RELID_RELEASED] = "RELID_RELEASED",
		[CHANNELMSG_INITIATE_CONTACT] = "INITIATE_CONTACT",
		[CHANNELMSG_VERSION_RESPONSE] = "VERSION_RESPONSE",
		[CHANNELMSG_UNLOAD] = "UNLOAD",
		[CHANNELMSG_UNLOAD_RESPONSE] = "UNLOAD_RESPONSE",
		[CHANNELMSG_TL_CONNECT_REQUEST] = "TL_CONNECT_REQUEST",
		[CHANNELMSG_MODIFYCHANNEL] = "MODIFYCHANNEL",
		[CHANNELMSG_TL_CONNECT_RESULT] = "TL_CONNECT_RESULT",
		[CHANNELMSG_MODIFYCHANNEL_RESPONSE] = "MODIFYCHANNEL_RESPONSE",
	};

	if (type < CHANNELMSG_COUNT && names[type])
		return names[type];
	return "UNKNOWN";
}

/* Key fields of a message, for --trace. */
static void describe_msg(const void *msg, uint32_t len, char *out, size_t cap)
{
	union vmbus_channel_msg_any u;
	char g1[37], g2[37];

	memset(&u, 0, sizeof(u));
	memcpy(u.bytes, msg, len < sizeof(u) ? len : sizeof(u));
	out[0] = '\0';
	switch (u.hdr.msgtype) {
	case CHANNELMSG_OFFERCHANNEL: {
		const struct vmbus_channel_offer_channel *m = &u.offer;

		if (len < sizeof(*m))
			break;
		vmbus_guid_to_str(&m->offer.if_type, g1);
		vmbus_guid_to_str(&m->offer.if_instance, g2);
		snprintf(out, cap,
			 " relid=%u class=%s instance=%s sub=%u monitor=%u/%u conn=%#x",
			 m->child_relid, g1, g2, m->offer.sub_channel_index,
			 m->monitorid, m->monitor_flags, m->connection_id);
		break;
	}
	case CHANNELMSG_RESCIND_CHANNELOFFER:
	case CHANNELMSG_CLOSECHANNEL:
	case CHANNELMSG_RELID_RELEASED: {
		const struct vmbus_channel_close_channel *m = &u.close;

		if (len >= sizeof(*m))
			snprintf(out, cap, " relid=%u", m->child_relid);
		break;
	}
	case CHANNELMSG_OPENCHANNEL: {
		const struct vmbus_channel_open_channel *m = &u.open;

		if (len >= offsetof(struct vmbus_channel_open_channel, userdata))
			snprintf(out, cap,
				 " relid=%u openid=%u gpadl=%#x vp=%u offset=%u",
				 m->child_relid, m->openid,
				 m->ringbuffer_gpadlhandle, m->target_vp,
				 m->downstream_ringbuffer_pageoffset);
		break;
	}
	case CHANNELMSG_OPENCHANNEL_RESULT: {
		const struct vmbus_channel_open_result *m = &u.open_result;

		if (len >= sizeof(*m))
			snprintf(out, cap, " relid=%u openid=%u status=%#x",
				 m->child_relid, m->openid, m->status);
		break;
	}
	case CHANNELMSG_GPADL_HEADER: {
		const struct vmbus_channel_gpadl_header *m = &u.gpadl_header;

		if (len >= sizeof(*m))
			snprintf(out, cap,
				 " relid=%u gpadl=%#x range_buflen=%u rangecount=%u",
				 m->child_relid, m->gpadl, m->range_buflen,
				 m->rangecount);
		break;
	}
	case CHANNELMSG_GPADL_BODY: {
		const struct vmbus_channel_gpadl_body *m = &u.gpadl_body;

		if (len >= sizeof(*m))
			snprintf(out, cap, " msgnumber=%u gpadl=%#x pfns=%u",
				 m->msgnumber, m->gpadl,
				 (unsigned int)((len - sizeof(*m)) / 8));
		break;
	}
	case CHANNELMSG_GPADL_CREATED: {
		const struct vmbus_channel_gpadl_created *m = &u.gpadl_created;

		if (len >= sizeof(*m))
			snprintf(out, cap, " relid=%u gpadl=%#x status=%#x",
				 m->child_relid, m->gpadl, m->creation_status);
		break;
	}
	case CHANNELMSG_GPADL_TEARDOWN: {
		const struct vmbus_channel_gpadl_teardown *m = &u.gpadl_teardown;

		if (len >= sizeof(*m))
			snprintf(out, cap, " relid=%u gpadl=%#x",
				 m->child_relid, m->gpadl);
		break;
	}
	case CHANNELMSG_GPADL_TORNDOWN: {
		const struct vmbus_channel_gpadl_torndown *m = &u.gpadl_torndown;

		if (len >= sizeof(*m))
			snprintf(out, cap, " gpadl=%#x", m->gpadl);
		break;
	}
	case CHANNELMSG_INITIATE_CONTACT: {
		const struct vmbus_channel_initiate_contact *m = &u.initiate;

		if (len >= sizeof(*m))
			snprintf(out, cap,
				 " version=%u.%u target_vcpu=%u sint_or_page=%#" PRIx64
				 " monitor1=%#" PRIx64 " monitor2=%#" PRIx64,
				 VMBUS_VERSION_MAJOR(m->vmbus_version_requested),
				 VMBUS_VERSION_MINOR(m->vmbus_version_requested),
				 m->target_vcpu,
				 (uint64_t)m->interrupt_page_or_sint,
				 (uint64_t)m->monitor_page1,
				 (uint64_t)m->monitor_page2);
		break;
	}
	case CHANNELMSG_VERSION_RESPONSE: {
		const struct vmbus_channel_version_response *m = &u.version;

		if (len >= sizeof(*m))
			snprintf(out, cap,
				 " supported=%u state=%u msg_conn_id=%u",
				 m->version_supported, m->connection_state,
				 m->msg_conn_id);
		break;
	}
	case CHANNELMSG_MODIFYCHANNEL: {
		const struct vmbus_channel_modifychannel *m = &u.modify;

		if (len >= sizeof(*m))
			snprintf(out, cap, " relid=%u vp=%u", m->child_relid,
				 m->target_vp);
		break;
	}
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE: {
		const struct vmbus_channel_modifychannel_response *m = &u.modify_response;

		if (len >= sizeof(*m))
			snprintf(out, cap, " relid=%u status=%#x",
				 m->child_relid, m->status);
		break;
	}
	case CHANNELMSG_TL_CONNECT_REQUEST: {
		const struct vmbus_channel_tl_connect_request *m = &u.tl_request;

		if (len >= sizeof(*m)) {
			vmbus_guid_to_str(&m->guest_endpoint_id, g1);
			vmbus_guid_to_str(&m->host_service_id, g2);
			snprintf(out, cap, " endpoint=%s service=%s", g1, g2);
		}
		break;
	}
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Messages to the guest                                               */


static void send_msg_to(struct vmbus_server *srv, uint32_t vp, uint32_t sint,
			const void *msg, uint32_t len)
{
	uint32_t type;
	int rc;

	memcpy(&type, msg, sizeof(type));

	if (vmbus_tracing(srv)) {
		char fields[LINE_MAX_LEN - 64];

		describe_msg(msg, len, fields, sizeof(fields));
		vmbus_trace(srv, "vmbus -> %s vp=%u sint=%u len=%u%s",
			    msg_name(type), vp, sint, len, fields);
	}
	rc = srv->ops.post_message(srv->ops_ctx, vp, sint, HVMSG_VMBUS, msg,
				   len);
	/* -ENODEV: held until the guest enables the SINT, not lost. */
	if (rc && rc != -ENODEV)
		vmbus_log(srv, "posting %s to VP %u failed (%d)",
			  msg_name(type), vp, rc);
}

static void send_msg(struct vmbus_server *srv, const void *msg, uint32_t len)
{
	send_msg_to(srv, srv->msg_vp, srv->msg_sint, msg, len);
}

/*
 * What the hypervisor keeps in monitor page 2 for a monitored channel: the
 * connection a pending bit signals and the latency it promises. Guests only
 * show them (Linux's client_monitor_* sysfs attributes). The page is
 * packed, so the fields are reached by offset.
 */
static void monitor_describe(struct vmbus_server *srv, const struct channel *ch,
			     bool set)
{
	uint8_t *page = (uint8_t *)srv->monitor[1];
	unsigned int group, bit;
	size_t param, latency;

	if (!page || ch->monitor_id < 0)
		return;
	group = (unsigned int)ch->monitor_id / VMBUS_MONITOR_IDS_PER_GROUP;
	bit = (unsigned int)ch->monitor_id % VMBUS_MONITOR_IDS_PER_GROUP;
	param = offsetof(struct hv_monitor_page, parameter) +
		(group * VMBUS_MONITOR_IDS_PER_GROUP + bit) *
		sizeof(struct hv_monitor_parameter);
	latency = offsetof(struct hv_monitor_page, latency) +
		  (group * VMBUS_MONITOR_IDS_PER_GROUP + bit) * sizeof(uint16_t);
	__atomic_store_n((uint32_t *)(page + param +
				      offsetof(struct hv_monitor_parameter,
					       connection_id)),
			 set ? ch->connection_id : 0, __ATOMIC_RELAXED);
	__atomic_store_n((uint16_t *)(page + latency),
			 (uint16_t)(set ? MONITOR_LATENCY_100NS : 0),
			 __ATOMIC_RELAXED);
}

static void send_offer(struct vmbus_server *srv, struct channel *ch)
{
	struct vmbus_channel_offer_channel m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_OFFERCHANNEL;
	m.offer.if_type = ch->dev->ops->class;
	m.offer.if_instance = ch->dev->instance;
	m.offer.sub_channel_index = ch->sub_index;
	m.child_relid = ch->relid;
	if (ch->monitor_id >= 0) {
		m.monitorid = (uint8_t)ch->monitor_id;
		m.monitor_flags = VMBUS_OFFER_MONITOR_ALLOCATED;
		monitor_describe(srv, ch, true);
	}
	/* Signals arrive by connection ID; the guest need not set bits. */
	m.interrupt_flags = VMBUS_OFFER_DEDICATED_INTERRUPT;
	m.connection_id = ch->connection_id;
	send_msg(srv, &m, sizeof(m));
	ch->offered = true;
}

static void send_gpadl_created(struct vmbus_server *srv, uint32_t relid,
			       uint32_t handle, uint32_t status)
{
	struct vmbus_channel_gpadl_created m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_GPADL_CREATED;
	m.child_relid = relid;
	m.gpadl = handle;
	m.creation_status = status;
	send_msg(srv, &m, sizeof(m));
}

static void send_gpadl_torndown(struct vmbus_server *srv, uint32_t handle)
{
	struct vmbus_channel_gpadl_torndown m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_GPADL_TORNDOWN;
	m.gpadl = handle;
	send_msg(srv, &m, sizeof(m));
}

static void send_open_result(struct vmbus_server *srv, uint32_t relid,
			     uint32_t openid, uint32_t status)
{
	struct vmbus_channel_open_result m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_OPENCHANNEL_RESULT;
	m.child_relid = relid;
	m.openid = openid;
	m.status = status;
	send_msg(srv, &m, sizeof(m));
}

static void send_header_only(struct vmbus_server *srv, uint32_t type)
{
	struct vmbus_channel_message_header m;

	memset(&m, 0, sizeof(m));
	m.msgtype = type;
	send_msg(srv, &m, sizeof(m));
}

/* ------------------------------------------------------------------ */
/* Objects                                                             */

static struct gpadl *find_gpadl(struct vmbus_server *srv, uint32_t handle)
{
	struct gpadl *g;

	for (g = srv->gpadls; g; g = g->next)
		if (g->handle == handle)
			return g;
	return NULL;
}

static void free_gpadl(struct vmbus_server *srv, struct gpadl *g)
{
	struct gpadl **pp;

	for (pp = &srv->gpadls; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	if (g->complete) {
		srv->ngpadls--;
		srv->gpadl_pages -= g->npfns;
	} else {
		srv->npending--;
	}
	free(g->raw);
	free(g->pfns);
	free(g);
}

static void free_gpadls_of(struct vmbus_server *srv, uint32_t relid)
{
	struct gpadl *g, *next;

	for (g = srv->gpadls; g; g = next) {
		next = g->next;
		if (g->relid == relid)
			free_gpadl(srv, g);
	}
}

static void free_all_gpadls(struct vmbus_server *srv)
{
	while (srv->gpadls)
		free_gpadl(srv, srv->gpadls);
}

static uint32_t alloc_relid(struct vmbus_server *srv)
{
	uint32_t relid;

	for (relid = 1; relid <= VMBUS_SERVER_MAX_CHANNELS; relid++)
		if (!srv->by_relid[relid])
			return relid;
	return 0;
}

static struct channel *new_channel(struct vmbus_device *dev)
{
	struct vmbus_server *srv = dev->srv;
	struct channel **chans;
	struct channel *ch;
	uint32_t relid;
	int id;

	relid = alloc_relid(srv);
	if (!relid)
		return NULL;
	if (dev->nchans >= UINT16_MAX)
		return NULL;
	chans = realloc(dev->chans, (dev->nchans + 1) * sizeof(*chans));
	if (!chans)
		return NULL;
	dev->chans = chans;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	if (channel_init(ch)) {
		free(ch);
		return NULL;
	}
	ch->srv = srv;
	ch->dev = dev;
	ch->relid = relid;
	ch->connection_id = VMBUS_SERVER_CHANNEL_CONN_ID(relid);
	ch->sub_index = (uint16_t)dev->nchans;
	if (dev->ops->use_monitor) {
		for (id = 0; id < VMBUS_MONITOR_IDS; id++) {
			if (!srv->by_monitor[id]) {
				ch->monitor_id = id;
				srv->by_monitor[id] = ch;
				break;
			}
		}
		if (ch->monitor_id < 0)
			vmbus_log(srv, "out of monitor IDs: channel %u signals by event",
				  relid);
	}
	srv->by_relid[relid] = ch;
	dev->chans[dev->nchans++] = ch;
	dev->live++;
	return ch;
}

/* Close an open channel: VSP first, then the rings it was using. */
static void close_channel(struct vmbus_server *srv, struct channel *ch,
			  bool complete_teardown)
{
	struct gpadl *g;

	if (!ch->open)
		return;
	if (ch->dev->ops->close)
		ch->dev->ops->close(ch, ch->dev->ctx);
	channel_unmap_rings(ch);
	ch->open = false;
	g = find_gpadl(srv, ch->ring_gpadl);
	if (g && g->complete && g->users) {
		g->users--;
		if (!g->users && g->teardown_pending && complete_teardown) {
			uint32_t handle = g->handle;

			free_gpadl(srv, g);
			send_gpadl_torndown(srv, handle);
		}
	}
}

static void free_device(struct vmbus_server *srv, struct vmbus_device *dev)
{
	struct vmbus_device **pp;

	for (pp = &srv->devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	if (dev->ops->release)
		dev->ops->release(dev->ctx);
	free(dev->chans);
	free(dev);
}

/* Forget a channel for good; frees its device with its last channel. */
static void free_channel(struct vmbus_server *srv, struct channel *ch)
{
	struct vmbus_device *dev = ch->dev;

	close_channel(srv, ch, false);
	free_gpadls_of(srv, ch->relid);
	srv->by_relid[ch->relid] = NULL;
	if (ch->monitor_id >= 0) {
		if (ch->offered)
			monitor_describe(srv, ch, false);
		srv->by_monitor[ch->monitor_id] = NULL;
	}
	dev->chans[ch->sub_index] = NULL;
	dev->live--;
	channel_fini(ch);
	free(ch);
	if (!dev->live && dev->rescinded)
		free_device(srv, dev);
}

/*
 * Back to the state before INITIATE_CONTACT: channels closed, GPADLs gone,
 * rescinded devices forgotten, the rest to be offered again.
 */
static void disconnect(struct vmbus_server *srv)
{
	struct vmbus_device *dev, *next;
	unsigned int i;

	for (dev = srv->devices; dev; dev = next) {
		next = dev->next;
		for (i = 0; i < dev->nchans; i++) {
			struct channel *ch = dev->chans[i];

			if (!ch)
				continue;
			close_channel(srv, ch, false);
			ch->offered = false;
			if (dev->rescinded || ch->rescinded) {
				/* May free dev with its last channel. */
				bool last = dev->live == 1 && dev->rescinded;

				free_channel(srv, ch);
				if (last)
					break;
			}
		}
	}
	free_all_gpadls(srv);
	srv->connected = false;
	srv->version = 0;
	srv->offers_delivered = false;
	srv->monitor[0] = srv->monitor[1] = NULL;
	srv->monitor_gpa[0] = srv->monitor_gpa[1] = 0;
}

/* ------------------------------------------------------------------ */
/* Message handlers                                                    */

static bool version_supported(uint32_t version)
{
	size_t i;

	for (i = 0; i < sizeof(supported_versions) / sizeof(supported_versions[0]); i++)
		if (supported_versions[i] == version)
			return true;
	return false;
}

static bool monitor_gpa_ok(struct vmbus_server *srv, uint64_t gpa)
{
	return gpa && !(gpa & (VIRIDIAN_PAGE_SIZE - 1)) &&
	       srv->ops.gpa_ptr(srv->ops_ctx, gpa, VIRIDIAN_PAGE_SIZE);
}

static void reply_version(struct vmbus_server *srv, uint32_t vp, uint32_t sint,
			  bool ok, uint8_t state, uint32_t conn_id)
{
	struct vmbus_channel_version_response m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_VERSION_RESPONSE;
	m.version_supported = ok;
	m.connection_state = state;
	m.msg_conn_id = conn_id;
	send_msg_to(srv, vp, sint, &m, sizeof(m));
}

static void on_initiate_contact(struct vmbus_server *srv, uint32_t vp,
				uint32_t conn_id, const union vmbus_channel_msg_any *u,
				uint32_t len)
{
	const struct vmbus_channel_initiate_contact *m = &u->initiate;
	uint32_t version, target_vp, sint = VMBUS_MESSAGE_SINT;
	bool v5;

	if (len < sizeof(*m)) {
		REJECT(srv, "INITIATE_CONTACT too short (%u bytes)", len);
		return;
	}
	version = m->vmbus_version_requested;
	target_vp = m->target_vcpu;
	v5 = version >= VMBUS_VERSION_WIN10_V5;
	if (v5) {
		sint = (uint32_t)(m->interrupt_page_or_sint & 0xff);
		if (sint >= HV_SYNIC_SINT_COUNT ||
		    ((m->interrupt_page_or_sint >> 8) & 0xff) != 0) {
			REJECT(srv, "INITIATE_CONTACT: bad SINT/VTL %#" PRIx64,
			       (uint64_t)m->interrupt_page_or_sint);
			sint = VMBUS_MESSAGE_SINT;
			goto refuse;
		}
	}
	if (target_vp >= srv->nr_vps) {
		REJECT(srv, "INITIATE_CONTACT: target VP %u of %u", target_vp,
		       srv->nr_vps);
		target_vp = vp;
		goto refuse;
	}
	if (srv->connected) {
		REJECT(srv, "INITIATE_CONTACT while connected (version %u.%u)",
		       VMBUS_VERSION_MAJOR(srv->version),
		       VMBUS_VERSION_MINOR(srv->version));
		goto refuse;
	}
	if (!version_supported(version)) {
		/* Normal negotiation: the guest tries the next lower one. */
		vmbus_trace(srv, "vmbus: version %u.%u not supported",
			    VMBUS_VERSION_MAJOR(version),
			    VMBUS_VERSION_MINOR(version));
		goto refuse;
	}
	if (conn_id != (v5 ? VMBUS_MESSAGE_CONNECTION_ID_4 :
			     VMBUS_MESSAGE_CONNECTION_ID)) {
		REJECT(srv, "INITIATE_CONTACT %u.%u on connection %u",
		       VMBUS_VERSION_MAJOR(version),
		       VMBUS_VERSION_MINOR(version), conn_id);
		goto refuse;
	}
	if (!monitor_gpa_ok(srv, m->monitor_page1) ||
	    !monitor_gpa_ok(srv, m->monitor_page2) ||
	    m->monitor_page1 == m->monitor_page2) {
		REJECT(srv, "INITIATE_CONTACT: bad monitor pages %#" PRIx64
		       " %#" PRIx64, (uint64_t)m->monitor_page1,
		       (uint64_t)m->monitor_page2);
		reply_version(srv, target_vp, sint, false, 2, 0);
		return;
	}

	srv->connected = true;
	srv->version = version;
	srv->msg_vp = target_vp;
	srv->msg_sint = sint;
	srv->offers_delivered = false;
	srv->monitor_gpa[0] = m->monitor_page1;
	srv->monitor_gpa[1] = m->monitor_page2;
	srv->monitor[0] = srv->ops.gpa_ptr(srv->ops_ctx, m->monitor_page1,
					   VIRIDIAN_PAGE_SIZE);
	srv->monitor[1] = srv->ops.gpa_ptr(srv->ops_ctx, m->monitor_page2,
					   VIRIDIAN_PAGE_SIZE);
	reply_version(srv, target_vp, sint, true, 0,
		      v5 ? VMBUS_SERVER_MSG_CONN_ID : 0);
	return;

refuse:
	reply_version(srv, target_vp, sint, false, 0, 0);
}

static void on_request_offers(struct vmbus_server *srv)
{
	struct vmbus_device *dev;
	unsigned int i;

	if (srv->offers_delivered) {
		REJECT(srv, "REQUESTOFFERS twice");
		return;
	}
	for (dev = srv->devices; dev; dev = dev->next) {
		if (dev->rescinded || dev->unplugged)
			continue;
		for (i = 0; i < dev->nchans; i++)
			if (dev->chans[i] && !dev->chans[i]->rescinded)
				send_offer(srv, dev->chans[i]);
	}
	send_header_only(srv, CHANNELMSG_ALLOFFERS_DELIVERED);
	srv->offers_delivered = true;
}

/* A channel the guest may use: offered to it and still in the table. */
static struct channel *offered_channel(struct vmbus_server *srv,
				       uint32_t relid)
{
	struct channel *ch;

	if (relid == 0 || relid > VMBUS_SERVER_MAX_CHANNELS)
		return NULL;
	ch = srv->by_relid[relid];
	return ch && ch->offered ? ch : NULL;
}

/* Parse a fully received range buffer into the GPADL's PFN list. */
static uint32_t gpadl_parse(struct vmbus_server *srv, struct gpadl *g)
{
	uint32_t words = g->range_buflen / 8, off = 0, r, i, total = 0;
	uint64_t *pfns;

	/* First pass: structure and page count. */
	for (r = 0; r < g->rangecount; r++) {
		struct vmbus_gpa_range range;
		uint64_t pages;

		if (off >= words)
			return VMBUS_STATUS_INVALID_PARAMETER;
		memcpy(&range, g->raw + (size_t)off * 8, sizeof(range));
		off++;
		if (range.byte_count == 0 ||
		    range.byte_offset >= VIRIDIAN_PAGE_SIZE)
			return VMBUS_STATUS_INVALID_PARAMETER;
		pages = ((uint64_t)range.byte_offset + range.byte_count +
			 VIRIDIAN_PAGE_SIZE - 1) >> VIRIDIAN_PAGE_SHIFT;
		if (pages > words - off)
			return VMBUS_STATUS_INVALID_PARAMETER;
		off += (uint32_t)pages;
		total += (uint32_t)pages;
	}
	if (off != words)
		return VMBUS_STATUS_INVALID_PARAMETER;
	if (srv->gpadl_pages + total > VMBUS_SERVER_MAX_GPADL_PAGES)
		return VMBUS_STATUS_INSUFFICIENT_RES;

	pfns = malloc((size_t)total * sizeof(*pfns));
	if (!pfns)
		return VMBUS_STATUS_INSUFFICIENT_RES;
	g->page_aligned = true;
	off = 0;
	total = 0;
	for (r = 0; r < g->rangecount; r++) {
		struct vmbus_gpa_range range;
		uint32_t pages;

		memcpy(&range, g->raw + (size_t)off * 8, sizeof(range));
		off++;
		pages = (uint32_t)(((uint64_t)range.byte_offset +
				    range.byte_count + VIRIDIAN_PAGE_SIZE - 1) >>
				   VIRIDIAN_PAGE_SHIFT);
		if (range.byte_offset || range.byte_count % VIRIDIAN_PAGE_SIZE)
			g->page_aligned = false;
		for (i = 0; i < pages; i++) {
			uint64_t pfn;

			memcpy(&pfn, g->raw + ((size_t)off + i) * 8, sizeof(pfn));
			if (pfn > MAX_PFN ||
			    !srv->ops.gpa_ptr(srv->ops_ctx,
					      pfn << VIRIDIAN_PAGE_SHIFT,
					      VIRIDIAN_PAGE_SIZE)) {
				free(pfns);
				return VMBUS_STATUS_INVALID_PARAMETER;
			}
			pfns[total++] = pfn;
		}
		off += pages;
	}
	g->pfns = pfns;
	g->npfns = total;
	return 0;
}

/* All bytes are in: parse, then answer GPADL_CREATED either way. */
static void gpadl_finish(struct vmbus_server *srv, struct gpadl *g)
{
	uint32_t status = gpadl_parse(srv, g);
	uint32_t relid = g->relid, handle = g->handle;

	free(g->raw);
	g->raw = NULL;
	if (status) {
		REJECT(srv, "GPADL %#x of channel %u: bad ranges (status %#x)",
		       handle, relid, status);
		free_gpadl(srv, g);
		send_gpadl_created(srv, relid, handle, status);
		return;
	}
	g->complete = true;
	srv->npending--;
	srv->ngpadls++;
	srv->gpadl_pages += g->npfns;
	send_gpadl_created(srv, relid, handle, 0);
}

static void gpadl_fail(struct vmbus_server *srv, struct gpadl *g,
		       uint32_t status, const char *why)
{
	uint32_t relid = g->relid, handle = g->handle;

	REJECT(srv, "GPADL %#x of channel %u: %s", handle, relid, why);
	free_gpadl(srv, g);
	send_gpadl_created(srv, relid, handle, status);
}

static void on_gpadl_header(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			    uint32_t len)
{
	const struct vmbus_channel_gpadl_header *m = &u->gpadl_header;
	uint32_t chunk, status = VMBUS_STATUS_INVALID_PARAMETER;
	const char *why;
	struct channel *ch;
	struct gpadl *g;

	if (len < sizeof(*m)) {
		REJECT(srv, "GPADL_HEADER too short (%u bytes)", len);
		return;
	}
	chunk = len - (uint32_t)sizeof(*m);
	ch = offered_channel(srv, m->child_relid);
	if (!ch || ch->rescinded) {
		why = "no such channel";
		goto fail;
	}
	if (m->gpadl == 0) {
		why = "handle 0";
		goto fail;
	}
	if (find_gpadl(srv, m->gpadl)) {
		why = "duplicate handle";
		goto fail;
	}
	if (srv->ngpadls >= VMBUS_SERVER_MAX_GPADLS ||
	    srv->npending >= VMBUS_SERVER_MAX_PENDING_GPADLS) {
		status = VMBUS_STATUS_INSUFFICIENT_RES;
		why = "too many GPADLs";
		goto fail;
	}
	/* Each range needs its 8-byte header and at least one PFN. */
	if (m->rangecount == 0 || m->range_buflen % 8 ||
	    m->range_buflen < 16u * m->rangecount) {
		why = "range count and buffer length disagree";
		goto fail;
	}
	if (chunk == 0 || chunk % 8 || chunk > m->range_buflen) {
		why = "message length disagrees with range_buflen";
		goto fail;
	}

	g = calloc(1, sizeof(*g));
	if (!g) {
		status = VMBUS_STATUS_INSUFFICIENT_RES;
		why = "out of memory";
		goto fail;
	}
	g->raw = malloc(m->range_buflen);
	if (!g->raw) {
		free(g);
		status = VMBUS_STATUS_INSUFFICIENT_RES;
		why = "out of memory";
		goto fail;
	}
	g->handle = m->gpadl;
	g->relid = m->child_relid;
	g->rangecount = m->rangecount;
	g->range_buflen = m->range_buflen;
	memcpy(g->raw, u->bytes + sizeof(*m), chunk);
	g->filled = chunk;
	g->next = srv->gpadls;
	srv->gpadls = g;
	srv->npending++;
	if (g->filled == g->range_buflen)
		gpadl_finish(srv, g);
	return;

fail:
	REJECT(srv, "GPADL_HEADER %#x of channel %u: %s", m->gpadl,
	       m->child_relid, why);
	send_gpadl_created(srv, m->child_relid, m->gpadl, status);
}

/*
 * Body messages carry the rest of the range buffer. Linux leaves msgnumber
 * at 0; a guest that numbers them must count from 1 (the header being
 * message 0) without gaps. A GPADL uses one convention throughout.
 */
static void on_gpadl_body(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			  uint32_t len)
{
	const struct vmbus_channel_gpadl_body *m = &u->gpadl_body;
	uint32_t chunk, expected;
	struct gpadl *g;

	if (len < sizeof(*m) + 8) {
		REJECT(srv, "GPADL_BODY too short (%u bytes)", len);
		return;
	}
	g = find_gpadl(srv, m->gpadl);
	if (!g || g->complete) {
		REJECT(srv, "GPADL_BODY for %#x, which is not being created",
		       m->gpadl);
		return;
	}
	chunk = len - (uint32_t)sizeof(*m);
	if (chunk % 8 || chunk > g->range_buflen - g->filled) {
		gpadl_fail(srv, g, VMBUS_STATUS_INVALID_PARAMETER,
			   "body overruns range_buflen");
		return;
	}
	expected = g->bodies + 1;
	if (m->msgnumber == 0 && g->numbering != 2) {
		g->numbering = 1;
	} else if (m->msgnumber == expected && g->numbering != 1) {
		g->numbering = 2;
	} else {
		gpadl_fail(srv, g, VMBUS_STATUS_INVALID_PARAMETER,
			   "body message out of sequence");
		return;
	}
	memcpy(g->raw + g->filled, u->bytes + sizeof(*m),
	       chunk);
	g->filled += chunk;
	g->bodies++;
	if (g->filled == g->range_buflen)
		gpadl_finish(srv, g);
}

static void on_gpadl_teardown(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			      uint32_t len)
{
	const struct vmbus_channel_gpadl_teardown *m = &u->gpadl_teardown;
	struct gpadl *g;

	if (len < sizeof(*m)) {
		REJECT(srv, "GPADL_TEARDOWN too short (%u bytes)", len);
		return;
	}
	g = find_gpadl(srv, m->gpadl);
	if (!g || !g->complete || g->relid != m->child_relid) {
		REJECT(srv, "GPADL_TEARDOWN of unknown GPADL %#x (channel %u)",
		       m->gpadl, m->child_relid);
		return;
	}
	if (g->teardown_pending) {
		REJECT(srv, "GPADL_TEARDOWN of %#x twice", m->gpadl);
		return;
	}
	if (g->users) {
		/* The rings are in use: finish once the channel closes. */
		REJECT(srv, "GPADL_TEARDOWN of %#x while channel %u is open; "
		       "deferred until it closes", m->gpadl, m->child_relid);
		g->teardown_pending = true;
		return;
	}
	free_gpadl(srv, g);
	send_gpadl_torndown(srv, m->gpadl);
}

static void on_open_channel(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			    uint32_t len)
{
	struct vmbus_channel_open_channel m;
	const uint32_t fixed = offsetof(struct vmbus_channel_open_channel,
					userdata);
	uint32_t status = VMBUS_STATUS_INVALID_PARAMETER;
	struct channel *ch;
	struct gpadl *g;
	const char *why;
	int rc;

	if (len < fixed) {
		REJECT(srv, "OPENCHANNEL too short (%u bytes)", len);
		return;
	}
	memset(&m, 0, sizeof(m));
	memcpy(&m, u->bytes, len < sizeof(m) ? len : sizeof(m));

	ch = offered_channel(srv, m.child_relid);
	if (!ch) {
		why = "no such channel";
		goto fail;
	}
	if (ch->open) {
		REJECT(srv, "OPENCHANNEL of channel %u, already open",
		       m.child_relid);
		return;
	}
	if (ch->rescinded) {
		why = "channel rescinded";
		goto fail;
	}
	g = find_gpadl(srv, m.ringbuffer_gpadlhandle);
	if (!g || !g->complete || g->relid != m.child_relid ||
	    g->teardown_pending) {
		why = "no such ring GPADL on this channel";
		goto fail;
	}
	if (!g->page_aligned) {
		why = "ring GPADL is not whole pages";
		goto fail;
	}
	if (m.downstream_ringbuffer_pageoffset < 2 ||
	    m.downstream_ringbuffer_pageoffset > g->npfns ||
	    g->npfns - m.downstream_ringbuffer_pageoffset < 2) {
		why = "ring page offset leaves a ring under 2 pages";
		goto fail;
	}
	if (m.target_vp >= srv->nr_vps) {
		why = "target VP out of range";
		goto fail;
	}
	rc = channel_map_rings(ch, g->pfns, g->npfns,
			       m.downstream_ringbuffer_pageoffset);
	if (rc) {
		why = "cannot map the rings";
		goto fail;
	}
	__atomic_store_n(&ch->target_vp, m.target_vp, __ATOMIC_RELAXED);
	__atomic_store_n(&ch->sint, srv->msg_sint, __ATOMIC_RELAXED);
	ch->ring_gpadl = g->handle;
	ch->openid = m.openid;
	memcpy(ch->userdata, m.userdata, sizeof(ch->userdata));
	ch->open = true;
	g->users++;

	rc = ch->dev->ops->open ? ch->dev->ops->open(ch, ch->dev->ctx) : 0;
	if (rc) {
		vmbus_log(srv, "channel %u (%s): VSP refused the open (%d)",
			  ch->relid, ch->dev->ops->name, rc);
		channel_unmap_rings(ch);
		ch->open = false;
		g->users--;
		send_open_result(srv, m.child_relid, m.openid,
				 VMBUS_STATUS_UNSUCCESSFUL);
		return;
	}
	send_open_result(srv, m.child_relid, m.openid, 0);
	return;

fail:
	REJECT(srv, "OPENCHANNEL of channel %u: %s", m.child_relid, why);
	send_open_result(srv, m.child_relid, m.openid, status);
}

static void on_close_channel(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			     uint32_t len)
{
	const struct vmbus_channel_close_channel *m = &u->close;
	struct channel *ch;

	if (len < sizeof(*m)) {
		REJECT(srv, "CLOSECHANNEL too short (%u bytes)", len);
		return;
	}
	ch = offered_channel(srv, m->child_relid);
	if (!ch || !ch->open) {
		REJECT(srv, "CLOSECHANNEL of channel %u, which is not open",
		       m->child_relid);
		return;
	}
	close_channel(srv, ch, true);
}

static void on_relid_released(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			      uint32_t len)
{
	const struct vmbus_channel_relid_released *m = &u->relid_released;
	struct channel *ch;

	if (len < sizeof(*m)) {
		REJECT(srv, "RELID_RELEASED too short (%u bytes)", len);
		return;
	}
	ch = offered_channel(srv, m->child_relid);
	if (!ch || !ch->rescinded) {
		REJECT(srv, "RELID_RELEASED of channel %u, which is not rescinded",
		       m->child_relid);
		return;
	}
	if (ch->open)
		vmbus_log(srv, "channel %u released while open; closing it",
			  ch->relid);
	free_channel(srv, ch);
}

static void on_unload(struct vmbus_server *srv)
{
	uint32_t vp = srv->msg_vp, sint = srv->msg_sint;
	struct vmbus_channel_message_header m;

	disconnect(srv);
	memset(&m, 0, sizeof(m));
	m.msgtype = CHANNELMSG_UNLOAD_RESPONSE;
	send_msg_to(srv, vp, sint, &m, sizeof(m));
}

static void on_modify_channel(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			      uint32_t len)
{
	const struct vmbus_channel_modifychannel *m = &u->modify;
	struct vmbus_channel_modifychannel_response r;
	uint32_t status = 0;
	struct channel *ch;

	if (srv->version < VMBUS_VERSION_WIN10_V4_1) {
		REJECT(srv, "MODIFYCHANNEL needs version 4.1");
		return;
	}
	if (len < sizeof(*m)) {
		REJECT(srv, "MODIFYCHANNEL too short (%u bytes)", len);
		return;
	}
	ch = offered_channel(srv, m->child_relid);
	if (!ch || !ch->open) {
		REJECT(srv, "MODIFYCHANNEL of channel %u, which is not open",
		       m->child_relid);
		status = VMBUS_STATUS_INVALID_PARAMETER;
	} else if (m->target_vp >= srv->nr_vps) {
		REJECT(srv, "MODIFYCHANNEL of channel %u to VP %u of %u",
		       m->child_relid, m->target_vp, srv->nr_vps);
		status = VMBUS_STATUS_INVALID_PARAMETER;
	} else {
		__atomic_store_n(&ch->target_vp, m->target_vp,
				 __ATOMIC_RELAXED);
	}
	if (srv->version < VMBUS_VERSION_WIN10_V5_3)
		return;
	memset(&r, 0, sizeof(r));
	r.header.msgtype = CHANNELMSG_MODIFYCHANNEL_RESPONSE;
	r.child_relid = m->child_relid;
	r.status = status;
	send_msg(srv, &r, sizeof(r));
}

static void on_tl_connect(struct vmbus_server *srv, const union vmbus_channel_msg_any *u,
			  uint32_t len)
{
	const struct vmbus_channel_tl_connect_request *m = &u->tl_request;
	struct vmbus_channel_tl_connect_result r;

	if (len < sizeof(*m)) {
		REJECT(srv, "TL_CONNECT_REQUEST too short (%u bytes)", len);
		return;
	}
	/* No hv_sock services here: refuse every connection. */
	memset(&r, 0, sizeof(r));
	r.header.msgtype = CHANNELMSG_TL_CONNECT_RESULT;
	r.guest_endpoint_id = m->guest_endpoint_id;
	r.host_service_id = m->host_service_id;
	r.status = VMBUS_STATUS_CONNECTION_REFUSED;
	send_msg(srv, &r, sizeof(r));
}

uint16_t vmbus_server_post(struct vmbus_server *srv, uint32_t vp,
			   uint32_t connection_id, uint32_t message_type,
			   const void *payload, uint32_t len)
{
	union vmbus_channel_msg_any buf;
	uint16_t status = HV_STATUS_SUCCESS;
	uint32_t type;

	if (len > HV_MESSAGE_PAYLOAD_BYTES || (len && !payload) ||
	    message_type == HVMSG_NONE || (message_type & 0x80000000u)) {
		REJECT(srv, "HvPostMessage: bad type %#x or size %u",
		       message_type, len);
		return HV_STATUS_INVALID_PARAMETER;
	}
	/* The guest may change its buffer under us: work on a copy. */
	memset(&buf, 0, sizeof(buf));
	if (len)
		memcpy(buf.bytes, payload, len);

	pthread_mutex_lock(&srv->lock);
	if (connection_id != VMBUS_SERVER_MSG_CONN_ID &&
	    (connection_id != VMBUS_MESSAGE_CONNECTION_ID_4 ||
	     srv->connected)) {
		vmbus_trace(srv, "vmbus <- message on connection %u refused",
			    connection_id);
		status = HV_STATUS_INVALID_CONNECTION_ID;
		goto out;
	}
	if (len < sizeof(buf.hdr)) {
		REJECT(srv, "message without header (%u bytes)", len);
		goto out;
	}
	type = buf.hdr.msgtype;
	if (vmbus_tracing(srv)) {
		char fields[LINE_MAX_LEN - 64];

		describe_msg(buf.bytes, len, fields, sizeof(fields));
		vmbus_trace(srv, "vmbus <- %s vp=%u conn=%u len=%u%s",
			    msg_name(type), vp, connection_id, len, fields);
	}

	if (type == CHANNELMSG_INITIATE_CONTACT) {
		on_initiate_contact(srv, vp, connection_id, &buf, len);
		goto out;
	}
	if (!srv->connected || connection_id != VMBUS_SERVER_MSG_CONN_ID) {
		REJECT(srv, "%s (%u) before INITIATE_CONTACT", msg_name(type),
		       type);
		goto out;
	}
	switch (type) {
	case CHANNELMSG_REQUESTOFFERS:
		on_request_offers(srv);
		break;
	case CHANNELMSG_GPADL_HEADER:
		on_gpadl_header(srv, &buf, len);
		break;
	case CHANNELMSG_GPADL_BODY:
		on_gpadl_body(srv, &buf, len);
		break;
	case CHANNELMSG_GPADL_TEARDOWN:
		on_gpadl_teardown(srv, &buf, len);
		break;
	case CHANNELMSG_OPENCHANNEL:
		on_open_channel(srv, &buf, len);
		break;
	case CHANNELMSG_CLOSECHANNEL:
		on_close_channel(srv, &buf, len);
		break;
	case CHANNELMSG_RELID_RELEASED:
		on_relid_released(srv, &buf, len);
		break;
	case CHANNELMSG_UNLOAD:
		on_unload(srv);
		break;
	case CHANNELMSG_MODIFYCHANNEL:
		on_modify_channel(srv, &buf, len);
		break;
	case CHANNELMSG_TL_CONNECT_REQUEST:
		on_tl_connect(srv, &buf, len);
		break;
	default:
		REJECT(srv, "unexpected message %s (%u) from the guest",
		       msg_name(type), type);
		break;
	}
out:
	pthread_mutex_unlock(&srv->lock);
	return status;
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */

static void dispatch_signal(struct channel *ch)
{
	if (!ch || !ch->open || channel_is_broken(ch))
		return;
	__atomic_fetch_add(&ch->signals_in, 1, __ATOMIC_RELAXED);
	if (ch->dev->ops->on_signal)
		ch->dev->ops->on_signal(ch, ch->dev->ctx);
}

void vmbus_server_signal(struct vmbus_server *srv, uint32_t connection_id)
{
	uint32_t relid = connection_id - VMBUS_SERVER_CHANNEL_CONN_BASE;
	struct channel *ch = NULL;

	pthread_mutex_lock(&srv->lock);
	if (connection_id > VMBUS_SERVER_CHANNEL_CONN_BASE &&
	    relid <= VMBUS_SERVER_MAX_CHANNELS)
		ch = srv->by_relid[relid];
	if (vmbus_tracing(srv))
		vmbus_trace(srv, "vmbus <- signal conn=%#x%s", connection_id,
			    ch && ch->open ? "" : " (no open channel)");
	dispatch_signal(ch);
	pthread_mutex_unlock(&srv->lock);
}

bool vmbus_server_wants_monitor_poll(struct vmbus_server *srv)
{
	bool wants = false;
	int id;

	pthread_mutex_lock(&srv->lock);
	if (srv->connected && srv->monitor[1]) {
		for (id = 0; id < VMBUS_MONITOR_IDS && !wants; id++)
			wants = srv->by_monitor[id] && srv->by_monitor[id]->open;
	}
	pthread_mutex_unlock(&srv->lock);
	return wants;
}

void vmbus_server_poll_monitor(struct vmbus_server *srv)
{
	struct channel *ch;
	uint8_t *page;
	uint32_t *pending, bits;
	int group, bit;

	pthread_mutex_lock(&srv->lock);
	if (!srv->connected || !srv->monitor[1])
		goto out;
	page = (uint8_t *)srv->monitor[1];
	for (group = 0; group < VMBUS_MONITOR_GROUPS; group++) {
		pending = (uint32_t *)(page +
			offsetof(struct hv_monitor_page, trigger_group) +
			group * sizeof(struct hv_monitor_trigger_group) +
			offsetof(struct hv_monitor_trigger_group, pending));
		if (!__atomic_load_n(pending, __ATOMIC_RELAXED))
			continue;
		bits = __atomic_exchange_n(pending, 0, __ATOMIC_ACQ_REL);
		for (bit = 0; bit < VMBUS_MONITOR_IDS_PER_GROUP; bit++) {
			int id = group * VMBUS_MONITOR_IDS_PER_GROUP + bit;

			if (!(bits & (1u << bit)))
				continue;
			ch = srv->by_monitor[id];
			if (vmbus_tracing(srv))
				vmbus_trace(srv, "vmbus <- monitor id=%d relid=%u%s",
					    id, ch ? ch->relid : 0,
					    ch && ch->open ? "" : " (no open channel)");
			if (ch && ch->open)
				__atomic_fetch_add(&ch->monitor_signals, 1,
						   __ATOMIC_RELAXED);
			dispatch_signal(ch);
		}
	}
out:
	pthread_mutex_unlock(&srv->lock);
}

/* ------------------------------------------------------------------ */
/* Devices                                                             */

struct vmbus_server *vmbus_server_create(const struct vmbus_server_host_ops *ops,
					 void *ops_ctx, uint32_t nr_vps)
{
	struct vmbus_server *srv;
	pthread_mutexattr_t attr;

	if (!ops || !ops->post_message || !ops->signal_guest ||
	    !ops->map_pfns || !ops->unmap || !ops->gpa_ptr || nr_vps == 0)
		return NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->ops = *ops;
	srv->ops_ctx = ops_ctx;
	srv->nr_vps = nr_vps;
	srv->msg_sint = VMBUS_MESSAGE_SINT;
	if (pthread_mutexattr_init(&attr))
		goto err_free;
	if (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) ||
	    pthread_mutex_init(&srv->lock, &attr)) {
		pthread_mutexattr_destroy(&attr);
		goto err_free;
	}
	pthread_mutexattr_destroy(&attr);
	if (pthread_mutex_init(&srv->log_lock, NULL)) {
		pthread_mutex_destroy(&srv->lock);
		goto err_free;
	}
	return srv;

err_free:
	free(srv);
	return NULL;
}

void vmbus_server_destroy(struct vmbus_server *srv)
{
	struct vmbus_device *dev;
	unsigned int i;

	if (!srv)
		return;
	pthread_mutex_lock(&srv->lock);
	disconnect(srv);
	while ((dev = srv->devices) != NULL) {
		dev->rescinded = true;
		if (!dev->live) {
			free_device(srv, dev);
			continue;
		}
		/* The device goes with its last channel. */
		for (i = 0; i < dev->nchans; i++) {
			bool last = dev->live == 1;

			if (!dev->chans[i])
				continue;
			free_channel(srv, dev->chans[i]);
			if (last)
				break;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	pthread_mutex_destroy(&srv->log_lock);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

struct vmbus_device *vmbus_server_add_device(struct vmbus_server *srv,
					     const struct vsp_ops *ops,
					     const guid_t *instance, void *ctx)
{
	struct vmbus_device *dev, **pp;
	struct channel *ch;

	if (!srv || !ops || !instance)
		return NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->srv = srv;
	dev->ops = ops;
	dev->ctx = ctx;
	dev->instance = *instance;

	pthread_mutex_lock(&srv->lock);
	ch = new_channel(dev);
	if (!ch) {
		pthread_mutex_unlock(&srv->lock);
		vmbus_log(srv, "cannot add device %s: out of relids or memory",
			  ops->name ? ops->name : "?");
		free(dev->chans);
		free(dev);
		return NULL;
	}
	for (pp = &srv->devices; *pp; pp = &(*pp)->next)
		;
	*pp = dev;
	if (srv->connected && srv->offers_delivered)
		send_offer(srv, ch);
	pthread_mutex_unlock(&srv->lock);
	return dev;
}

int vmbus_server_offer_subchannels(struct vmbus_device *dev, unsigned int n)
{
	struct vmbus_server *srv;
	unsigned int i;
	int rc = 0;

	if (!dev)
		return -EINVAL;
	srv = dev->srv;
	pthread_mutex_lock(&srv->lock);
	if (dev->rescinded || dev->unplugged) {
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct channel *ch = new_channel(dev);

		if (!ch) {
			vmbus_log(srv, "device %s: out of relids after %u sub-channels",
				  dev->ops->name ? dev->ops->name : "?", i);
			rc = -ENOSPC;
			break;
		}
		if (srv->connected && srv->offers_delivered)
			send_offer(srv, ch);
	}
out:
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

unsigned int vmbus_server_device_channels(const struct vmbus_device *dev)
{
	unsigned int n;

	pthread_mutex_lock(&dev->srv->lock);
	n = dev->nchans;
	pthread_mutex_unlock(&dev->srv->lock);
	return n;
}

struct channel *vmbus_server_device_channel(struct vmbus_device *dev,
					    unsigned int sub_index)
{
	struct channel *ch = NULL;

	pthread_mutex_lock(&dev->srv->lock);
	if (sub_index < dev->nchans)
		ch = dev->chans[sub_index];
	pthread_mutex_unlock(&dev->srv->lock);
	return ch;
}

static bool device_listed(struct vmbus_server *srv,
			  const struct vmbus_device *dev)
{
	const struct vmbus_device *d;

	for (d = srv->devices; d; d = d->next)
		if (d == dev)
			return true;
	return false;
}

/*
 * RESCIND_CHANNELOFFER for each channel of dev the guest knows about,
 * sub-channels before the primary, as the guest tears them down. A channel
 * the guest never heard of goes at once. A device rescinded for good goes
 * with its last channel: dev may be freed on return.
 */
static void withdraw_channels(struct vmbus_server *srv,
			      struct vmbus_device *dev)
{
	unsigned int i;

	for (i = dev->nchans; i-- > 0;) {
		struct channel *ch = dev->chans[i];
		bool last;

		if (!ch || ch->rescinded)
			continue;
		if (ch->offered) {
			struct vmbus_channel_rescind_offer m;

			memset(&m, 0, sizeof(m));
			m.header.msgtype = CHANNELMSG_RESCIND_CHANNELOFFER;
			m.child_relid = ch->relid;
			send_msg(srv, &m, sizeof(m));
			/* Device workers read it unlocked (channel_send_ext). */
			__atomic_store_n(&ch->rescinded, true, __ATOMIC_RELEASE);
			continue;
		}
		last = dev->live == 1 && dev->rescinded;
		free_channel(srv, ch);
		if (last)
			return;
	}
	/* Unplugged earlier and released since: nothing left to wait for. */
	if (!dev->live && dev->rescinded)
		free_device(srv, dev);
}

int vmbus_server_rescind(struct vmbus_server *srv, struct vmbus_device *dev)
{
	pthread_mutex_lock(&srv->lock);
	if (!device_listed(srv, dev) || dev->rescinded) {
		pthread_mutex_unlock(&srv->lock);
		return -EINVAL;
	}
	dev->rescinded = true;
	withdraw_channels(srv, dev);
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

int vmbus_server_unplug(struct vmbus_server *srv, struct vmbus_device *dev)
{
	int rc = 0;

	pthread_mutex_lock(&srv->lock);
	if (!device_listed(srv, dev) || dev->rescinded || dev->unplugged) {
		rc = -EINVAL;
	} else {
		dev->unplugged = true;
		vmbus_trace(srv, "vmbus: unplugging %s",
			    dev->ops->name ? dev->ops->name : "device");
		withdraw_channels(srv, dev);
	}
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

int vmbus_server_replug(struct vmbus_server *srv, struct vmbus_device *dev)
{
	struct channel *ch;
	int rc = 0;

	pthread_mutex_lock(&srv->lock);
	if (!device_listed(srv, dev) || dev->rescinded || !dev->unplugged) {
		rc = -EINVAL;
		goto out;
	}
	if (dev->live) {
		rc = -EBUSY;
		goto out;
	}
	/* A new life: sub-channel indices start again from the primary. */
	dev->nchans = 0;
	ch = new_channel(dev);
	if (!ch) {
		rc = -ENOSPC;
		goto out;
	}
	dev->unplugged = false;
	if (srv->connected && srv->offers_delivered)
		send_offer(srv, ch);
out:
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

bool vmbus_server_device_unplugged(const struct vmbus_device *dev)
{
	bool unplugged;

	pthread_mutex_lock(&dev->srv->lock);
	unplugged = dev->unplugged;
	pthread_mutex_unlock(&dev->srv->lock);
	return unplugged;
}

bool vmbus_server_instance_taken(struct vmbus_server *srv,
				 const guid_t *instance)
{
	const struct vmbus_device *dev;
	bool taken = false;

	pthread_mutex_lock(&srv->lock);
	for (dev = srv->devices; dev && !taken; dev = dev->next)
		taken = !dev->rescinded && guid_equal(&dev->instance, instance);
	pthread_mutex_unlock(&srv->lock);
	return taken;
}

void vmbus_server_reset(struct vmbus_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	vmbus_trace(srv, "vmbus: reset");
	disconnect(srv);
	pthread_mutex_unlock(&srv->lock);
}

static const char *channel_state(const struct channel *ch)
{
	if (ch->rescinded)
		return "rescinded";
	if (ch->open)
		return channel_is_broken(ch) ? "broken" : "open";
	return ch->offered ? "offered" : "pending";
}

static const char *device_class_name(const struct vmbus_device *dev)
{
	const char *name = vmbus_class_name(&dev->ops->class);

	if (name)
		return name;
	return dev->ops->name ? dev->ops->name : "unknown";
}

static void describe_stats(const struct channel *ch, FILE *out)
{
	if (ch->monitor_id >= 0)
		fprintf(out, " monitor=%d", ch->monitor_id);
	else
		fputs(" monitor=-", out);
	fprintf(out,
		" signals_in=%" PRIu64 " monitor_signals=%" PRIu64
		" signals_out=%" PRIu64 " packets_in=%" PRIu64
		" packets_out=%" PRIu64,
		__atomic_load_n(&ch->signals_in, __ATOMIC_RELAXED),
		__atomic_load_n(&ch->monitor_signals, __ATOMIC_RELAXED),
		__atomic_load_n(&ch->signals_out, __ATOMIC_RELAXED),
		__atomic_load_n(&ch->packets_in, __ATOMIC_RELAXED),
		__atomic_load_n(&ch->packets_out, __ATOMIC_RELAXED));
}

int vmbus_server_describe_ex(struct vmbus_server *srv, FILE *out,
			     bool verbose)
{
	struct vmbus_device *dev;
	char guid[37];
	unsigned int i;
	int lines = 0;

	pthread_mutex_lock(&srv->lock);
	for (dev = srv->devices; dev; dev = dev->next) {
		vmbus_guid_to_str(&dev->instance, guid);
		if (dev->unplugged && !dev->live) {
			fprintf(out, "- %s %s unplugged - -\n",
				device_class_name(dev), guid);
			lines++;
			continue;
		}
		for (i = 0; i < dev->nchans; i++) {
			const struct channel *ch = dev->chans[i];

			if (!ch)
				continue;
			fprintf(out, "%u %s %s %s %u ", ch->relid,
				device_class_name(dev), guid,
				channel_state(ch), ch->sub_index);
			if (ch->open)
				fprintf(out, "%u", channel_target_vp(ch));
			else
				fputc('-', out);
			if (verbose)
				describe_stats(ch, out);
			fputc('\n', out);
			lines++;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	return ferror(out) ? -1 : lines;
}

int vmbus_server_describe(struct vmbus_server *srv, FILE *out)
{
	return vmbus_server_describe_ex(srv, out, false);
}

int vmbus_server_ctl_devices(void *ctx, int argc, char **argv, FILE *reply)
{
	bool verbose = false;

	if (argc == 2 && strcmp(argv[1], "-v") == 0) {
		verbose = true;
	} else if (argc != 1) {
		fprintf(reply, "usage: devices [-v]\n");
		return -1;
	}
	return vmbus_server_describe_ex(ctx, reply, verbose) < 0 ? -1 : 0;
}

bool vmbus_guid_from_str(const char *text, guid_t *g)
{
	/* Byte order of each text position: the first three groups reversed. */
	static const uint8_t order[16] = {
		3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15,
	};
	size_t len, pos = 0, i;
	bool braced;

	if (!text)
		return false;
	len = strlen(text);
	braced = len == 38 && text[0] == '{' && text[37] == '}';
	if (braced)
		text++;
	else if (len != 36)
		return false;
	for (i = 0; i < 16; i++) {
		unsigned int hi, lo;

		if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
			if (text[pos] != '-')
				return false;
			pos++;
		}
		if (!hex_digit(text[pos], &hi) || !hex_digit(text[pos + 1], &lo))
			return false;
		g->b[order[i]] = (uint8_t)(hi << 4 | lo);
		pos += 2;
	}
	return pos == 36;
}

/*
 * The device a ctl argument names: a relid (any of its channels) or an
 * instance GUID. Under the server lock.
 */
static struct vmbus_device *ctl_find_device(struct vmbus_server *srv,
					    const char *arg)
{
	struct vmbus_device *dev;
	unsigned long relid;
	guid_t instance;
	char *end;

	/* A GUID may start with digits too: a relid is nothing else. */
	if (arg[0] && strspn(arg, "0123456789") == strlen(arg)) {
		errno = 0;
		relid = strtoul(arg, &end, 10);
		if (errno || *end || relid == 0 ||
		    relid > VMBUS_SERVER_MAX_CHANNELS ||
		    !srv->by_relid[relid])
			return NULL;
		dev = srv->by_relid[relid]->dev;
		return dev->rescinded ? NULL : dev;
	}
	if (!vmbus_guid_from_str(arg, &instance))
		return NULL;
	for (dev = srv->devices; dev; dev = dev->next)
		if (!dev->rescinded && guid_equal(&dev->instance, &instance))
			return dev;
	return NULL;
}

int vmbus_server_ctl_rescind(void *ctx, int argc, char **argv, FILE *reply)
{
	struct vmbus_server *srv = ctx;
	struct vmbus_device *dev;
	char guid[37];
	unsigned int i;
	int rc = -1;

	if (argc != 2) {
		fprintf(reply, "usage: rescind RELID|INSTANCE\n");
		return -1;
	}
	pthread_mutex_lock(&srv->lock);
	dev = ctl_find_device(srv, argv[1]);
	if (!dev) {
		fprintf(reply, "no device with relid or instance '%s'\n", argv[1]);
		goto out;
	}
	vmbus_guid_to_str(&dev->instance, guid);
	if (dev->unplugged) {
		fprintf(reply, "%s %s is already rescinded\n",
			device_class_name(dev), guid);
		goto out;
	}
	/* Before the unplug: channels the guest never saw go at once. */
	fprintf(reply, "rescinded %s %s relids", device_class_name(dev), guid);
	for (i = 0; i < dev->nchans; i++)
		if (dev->chans[i])
			fprintf(reply, " %u", dev->chans[i]->relid);
	fputc('\n', reply);
	rc = vmbus_server_unplug(srv, dev);
out:
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

int vmbus_server_ctl_offer(void *ctx, int argc, char **argv, FILE *reply)
{
	struct vmbus_server *srv = ctx;
	struct vmbus_device *dev;
	unsigned int i;
	guid_t instance;
	char guid[37];
	int rc = -1, err;

	if (argc != 2 || !vmbus_guid_from_str(argv[1], &instance)) {
		fprintf(reply, "usage: offer INSTANCE (of a rescinded device)\n");
		return -1;
	}
	vmbus_guid_to_str(&instance, guid);
	pthread_mutex_lock(&srv->lock);
	for (dev = srv->devices; dev; dev = dev->next)
		if (dev->unplugged && !dev->rescinded &&
		    guid_equal(&dev->instance, &instance))
			break;
	if (!dev) {
		fprintf(reply, "no rescinded device with instance %s\n", guid);
		goto out;
	}
	err = vmbus_server_replug(srv, dev);
	if (err == -EBUSY) {
		fprintf(reply, "the guest has not released");
		for (i = 0; i < dev->nchans; i++)
			if (dev->chans[i])
				fprintf(reply, " relid %u", dev->chans[i]->relid);
		fprintf(reply, " of %s yet\n", guid);
		goto out;
	}
	if (err) {
		fprintf(reply, "cannot offer %s: %s\n", guid, strerror(-err));
		goto out;
	}
	fprintf(reply, "offered %s %s relid %u\n", device_class_name(dev), guid,
		dev->chans[0]->relid);
	rc = 0;
out:
	pthread_mutex_unlock(&srv->lock);
	return rc;
}

uint32_t vmbus_server_version(struct vmbus_server *srv)
{
	uint32_t v;

	pthread_mutex_lock(&srv->lock);
	v = srv->connected ? srv->version : 0;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

bool vmbus_server_offers_delivered(struct vmbus_server *srv)
{
	bool d;

	pthread_mutex_lock(&srv->lock);
	d = srv->connected && srv->offers_delivered;
	pthread_mutex_unlock(&srv->lock);
	return d;
}

uint64_t vmbus_server_rejected_count(struct vmbus_server *srv)
{
	return __atomic_load_n(&srv->rejected, __ATOMIC_RELAXED);
}

struct channel *vmbus_server_find_channel(struct vmbus_server *srv,
					  uint32_t relid)
{
	struct channel *ch = NULL;

	pthread_mutex_lock(&srv->lock);
	if (relid && relid <= VMBUS_SERVER_MAX_CHANNELS)
		ch = srv->by_relid[relid];
	pthread_mutex_unlock(&srv->lock);
	return ch;
}
