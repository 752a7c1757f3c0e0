/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A scripted guest for the VMBus server tests: fake guest RAM (a memfd, so
 * that ring views can be mapped twice exactly as hvsim's guest_mem does),
 * host_ops that record every message and signal, and the guest's half of
 * the protocol (INITIATE_CONTACT, GPADLs, OPENCHANNEL, ring producer and
 * consumer with the Linux guest's rules). Header-only: each test program
 * includes it once.
 */
#ifndef VIRIDIAN_TESTS_VMBUS_FAKE_H
#define VIRIDIAN_TESTS_VMBUS_FAKE_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "viridian/wire/hv.h"
#include "viridian/wire/ring.h"
#include "viridian/wire/vmbus.h"
#include "vmbus/channel.h"
#include "vmbus/server.h"

#define FAKE_RAM_PAGES		2048u	/* 8 MiB */
#define FAKE_MAX_MSGS		1024u
#define FAKE_MAX_SIGNALS	4096u
#define FAKE_NR_VPS		4u
#define FAKE_MONITOR1_PFN	1u
#define FAKE_MONITOR2_PFN	2u
#define FAKE_FIRST_FREE_PFN	8u

struct fake_msg {
	uint32_t vp, sint, type, len;
	union vmbus_channel_msg_any data;
};

struct fake_signal {
	uint32_t vp, sint, flag;
};

struct fake_host {
	int fd;
	uint8_t *ram;
	uint64_t npages;
	uint64_t next_pfn;
	int live_maps;

	pthread_mutex_t lock;		/* signals come from other threads */
	struct fake_msg msgs[FAKE_MAX_MSGS];
	unsigned int nmsgs, consumed;
	struct fake_signal signals[FAKE_MAX_SIGNALS];
	unsigned int nsignals;
	unsigned int logs, traces;
	char last_log[512];
	bool verbose;

	/* Called (without locks of ours) for every signal_guest. */
	void (*on_signal_guest)(struct fake_host *fh, uint32_t vp,
				uint32_t sint, uint32_t flag);
	void *hook_ctx;

	struct vmbus_server *srv;
};

static inline int fake_post_message(void *ctx, uint32_t vp, uint32_t sint,
				    uint32_t type, const void *payload,
				    uint32_t len)
{
	struct fake_host *fh = ctx;
	struct fake_msg *m;

	if (len > HV_MESSAGE_PAYLOAD_BYTES)
		return -EINVAL;
	pthread_mutex_lock(&fh->lock);
	if (fh->nmsgs >= FAKE_MAX_MSGS) {
		pthread_mutex_unlock(&fh->lock);
		return -ENOSPC;
	}
	m = &fh->msgs[fh->nmsgs++];
	memset(m, 0, sizeof(*m));
	m->vp = vp;
	m->sint = sint;
	m->type = type;
	m->len = len;
	memcpy(m->data.bytes, payload, len);
	pthread_mutex_unlock(&fh->lock);
	return 0;
}

static inline int fake_signal_guest(void *ctx, uint32_t vp, uint32_t sint,
				    uint32_t flag)
{
	struct fake_host *fh = ctx;

	pthread_mutex_lock(&fh->lock);
	if (fh->nsignals < FAKE_MAX_SIGNALS) {
		fh->signals[fh->nsignals].vp = vp;
		fh->signals[fh->nsignals].sint = sint;
		fh->signals[fh->nsignals].flag = flag;
		fh->nsignals++;
	}
	pthread_mutex_unlock(&fh->lock);
	if (fh->on_signal_guest)
		fh->on_signal_guest(fh, vp, sint, flag);
	return 0;
}

static inline void *fake_map_pfns(void *ctx, const uint64_t *pfns,
				  size_t count, size_t mirror)
{
	struct fake_host *fh = ctx;
	size_t i, total;
	uint8_t *base;

	if (!count || mirror > count)
		return NULL;
	for (i = 0; i < count; i++)
		if (pfns[i] >= fh->npages)
			return NULL;
	total = (count + mirror) * VIRIDIAN_PAGE_SIZE;
	base = mmap(NULL, total, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	for (i = 0; i < count + mirror; i++) {
		uint64_t pfn = i < count ? pfns[i] : pfns[count - mirror + (i - count)];

		if (mmap(base + i * VIRIDIAN_PAGE_SIZE, VIRIDIAN_PAGE_SIZE,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fh->fd,
			 (off_t)(pfn * VIRIDIAN_PAGE_SIZE)) == MAP_FAILED) {
			munmap(base, total);
			return NULL;
		}
	}
	__atomic_fetch_add(&fh->live_maps, 1, __ATOMIC_RELAXED);
	return base;
}

static inline void fake_unmap(void *ctx, void *view, size_t count,
			      size_t mirror)
{
	struct fake_host *fh = ctx;

	munmap(view, (count + mirror) * VIRIDIAN_PAGE_SIZE);
	__atomic_fetch_sub(&fh->live_maps, 1, __ATOMIC_RELAXED);
}

static inline void *fake_gpa_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fake_host *fh = ctx;
	uint64_t size = fh->npages * VIRIDIAN_PAGE_SIZE;

	if (gpa >= size || len > size - gpa)
		return NULL;
	return fh->ram + gpa;
}

static inline void fake_trace(void *ctx, const char *line)
{
	struct fake_host *fh = ctx;

	__atomic_fetch_add(&fh->traces, 1, __ATOMIC_RELAXED);
	if (fh->verbose)
		printf("  trace: %s\n", line);
}

static inline void fake_log(void *ctx, const char *line)
{
	struct fake_host *fh = ctx;

	pthread_mutex_lock(&fh->lock);
	fh->logs++;
	snprintf(fh->last_log, sizeof(fh->last_log), "%s", line);
	pthread_mutex_unlock(&fh->lock);
	if (fh->verbose)
		printf("  log: %s\n", line);
}

static inline const struct vmbus_server_host_ops *fake_ops(void)
{
	static const struct vmbus_server_host_ops ops = {
		.post_message = fake_post_message,
		.signal_guest = fake_signal_guest,
		.map_pfns = fake_map_pfns,
		.unmap = fake_unmap,
		.gpa_ptr = fake_gpa_ptr,
		.trace = fake_trace,
		.log = fake_log,
	};

	return &ops;
}

/* A fresh fake host with its server; NULL on failure. */
static inline struct fake_host *fake_host_new(void)
{
	struct fake_host *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return NULL;
	fh->verbose = getenv("VMBUS_TEST_VERBOSE") != NULL;
	fh->npages = FAKE_RAM_PAGES;
	fh->next_pfn = FAKE_FIRST_FREE_PFN;
	fh->fd = memfd_create("fake-guest-ram", 0);
	if (fh->fd < 0)
		goto err_free;
	if (ftruncate(fh->fd, (off_t)(fh->npages * VIRIDIAN_PAGE_SIZE)))
		goto err_close;
	fh->ram = mmap(NULL, fh->npages * VIRIDIAN_PAGE_SIZE,
		       PROT_READ | PROT_WRITE, MAP_SHARED, fh->fd, 0);
	if (fh->ram == MAP_FAILED)
		goto err_close;
	pthread_mutex_init(&fh->lock, NULL);
	fh->srv = vmbus_server_create(fake_ops(), fh, FAKE_NR_VPS);
	if (!fh->srv)
		goto err_unmap;
	return fh;

err_unmap:
	pthread_mutex_destroy(&fh->lock);
	munmap(fh->ram, fh->npages * VIRIDIAN_PAGE_SIZE);
err_close:
	close(fh->fd);
err_free:
	free(fh);
	return NULL;
}

/* Destroys the server too; returns the number of views left mapped. */
static inline int fake_host_free(struct fake_host *fh)
{
	int left;

	vmbus_server_destroy(fh->srv);
	left = fh->live_maps;
	munmap(fh->ram, fh->npages * VIRIDIAN_PAGE_SIZE);
	close(fh->fd);
	pthread_mutex_destroy(&fh->lock);
	free(fh);
	return left;
}

static inline uint64_t fake_alloc_pages(struct fake_host *fh, unsigned int n)
{
	uint64_t pfn = fh->next_pfn;

	if (fh->next_pfn + n > fh->npages)
		return 0;
	fh->next_pfn += n;
	memset(fh->ram + pfn * VIRIDIAN_PAGE_SIZE, 0,
	       (size_t)n * VIRIDIAN_PAGE_SIZE);
	return pfn;
}

static inline void *fake_page(struct fake_host *fh, uint64_t pfn)
{
	return fh->ram + pfn * VIRIDIAN_PAGE_SIZE;
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static inline uint16_t guest_post(struct fake_host *fh, uint32_t conn,
				  const void *msg, uint32_t len)
{
	return vmbus_server_post(fh->srv, 0, conn, HVMSG_VMBUS, msg, len);
}

static inline uint16_t guest_post1(struct fake_host *fh, const void *msg,
				   uint32_t len)
{
	return guest_post(fh, VMBUS_SERVER_MSG_CONN_ID, msg, len);
}

/* Messages posted but not yet looked at. */
static inline unsigned int fake_pending_msgs(struct fake_host *fh)
{
	return fh->nmsgs - fh->consumed;
}

/* The next message from the host, or NULL. */
static inline struct fake_msg *fake_next_msg(struct fake_host *fh)
{
	if (fh->consumed >= fh->nmsgs)
		return NULL;
	return &fh->msgs[fh->consumed++];
}

static inline uint32_t fake_msg_type(const struct fake_msg *m)
{
	return m->data.hdr.msgtype;
}

/* The next message if it has this type, else NULL (and it stays). */
static inline void *fake_expect(struct fake_host *fh, uint32_t type)
{
	struct fake_msg *m;

	if (fh->consumed >= fh->nmsgs)
		return NULL;
	m = &fh->msgs[fh->consumed];
	if (fake_msg_type(m) != type)
		return NULL;
	fh->consumed++;
	return &m->data;
}

static inline void fake_drain_msgs(struct fake_host *fh)
{
	fh->consumed = fh->nmsgs;
}

/* INITIATE_CONTACT as Linux sends it; returns the VERSION_RESPONSE. */
static inline struct vmbus_channel_version_response *
guest_initiate(struct fake_host *fh, uint32_t version, uint32_t conn,
	       uint32_t target_vcpu)
{
	struct vmbus_channel_initiate_contact m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	m.vmbus_version_requested = version;
	m.target_vcpu = target_vcpu;
	if (version >= VMBUS_VERSION_WIN10_V5)
		m.interrupt_page_or_sint = VMBUS_MESSAGE_SINT;
	else
		m.interrupt_page_or_sint = 5ull * VIRIDIAN_PAGE_SIZE;
	m.monitor_page1 = FAKE_MONITOR1_PFN * VIRIDIAN_PAGE_SIZE;
	m.monitor_page2 = FAKE_MONITOR2_PFN * VIRIDIAN_PAGE_SIZE;
	if (guest_post(fh, conn, &m, sizeof(m)) != HV_STATUS_SUCCESS)
		return NULL;
	return fake_expect(fh, CHANNELMSG_VERSION_RESPONSE);
}

/* Connect at 5.3 and take the offers; returns 0 or -1. */
static inline int guest_connect(struct fake_host *fh)
{
	struct vmbus_channel_version_response *r;
	struct vmbus_channel_message_header h = {
		.msgtype = CHANNELMSG_REQUESTOFFERS,
	};

	r = guest_initiate(fh, VMBUS_VERSION_WIN10_V5_3,
			   VMBUS_MESSAGE_CONNECTION_ID_4, 0);
	if (!r || !r->version_supported)
		return -1;
	if (guest_post1(fh, &h, sizeof(h)) != HV_STATUS_SUCCESS)
		return -1;
	return 0;
}

/* Take OFFERCHANNELs up to ALLOFFERS_DELIVERED; returns how many. */
static inline int guest_take_offers(struct fake_host *fh,
				    struct vmbus_channel_offer_channel *out,
				    int cap)
{
	struct vmbus_channel_offer_channel *o;
	int n = 0;

	while ((o = fake_expect(fh, CHANNELMSG_OFFERCHANNEL)) != NULL) {
		if (n < cap)
			out[n] = *o;
		n++;
	}
	if (!fake_expect(fh, CHANNELMSG_ALLOFFERS_DELIVERED))
		return -1;
	return n;
}

/*
 * Send a GPADL of raw range bytes (ranges with their PFNs), split over a
 * header and as many bodies as needed, numbering bodies as asked (0: all
 * zero like Linux, 1: sequential from 1). Returns the number of messages.
 */
static inline int guest_gpadl_raw(struct fake_host *fh, uint32_t relid,
				  uint32_t handle, uint16_t rangecount,
				  const uint64_t *raw, uint32_t words,
				  int numbering)
{
	union vmbus_channel_msg_any u;
	struct vmbus_channel_gpadl_header *h = &u.gpadl_header;
	struct vmbus_channel_gpadl_body *b = &u.gpadl_body;
	uint32_t first, off, n, msgs = 1, num = 1;

	memset(&u, 0, sizeof(u));
	h->header.msgtype = CHANNELMSG_GPADL_HEADER;
	h->child_relid = relid;
	h->gpadl = handle;
	h->range_buflen = (uint16_t)(words * 8);
	h->rangecount = rangecount;
	first = (HV_MESSAGE_PAYLOAD_BYTES - sizeof(*h)) / 8;
	if (first > words)
		first = words;
	memcpy(u.bytes + sizeof(*h), raw, first * 8);
	guest_post1(fh, u.bytes, (uint32_t)(sizeof(*h) + first * 8));
	for (off = first; off < words; off += n) {
		n = (uint32_t)VMBUS_GPADL_BODY_PFNS;
		if (n > words - off)
			n = words - off;
		memset(&u, 0, sizeof(u));
		b->header.msgtype = CHANNELMSG_GPADL_BODY;
		b->gpadl = handle;
		b->msgnumber = numbering ? num++ : 0;
		memcpy(u.bytes + sizeof(*b), raw + off, n * 8);
		guest_post1(fh, u.bytes, (uint32_t)(sizeof(*b) + n * 8));
		msgs++;
	}
	return (int)msgs;
}

/* One whole-page range over pfns, as Linux builds ring and buffer GPADLs. */
static inline uint32_t guest_gpadl_pages(struct fake_host *fh, uint32_t relid,
					 uint32_t handle, const uint64_t *pfns,
					 uint32_t n)
{
	uint64_t raw[1 + 512];
	struct vmbus_gpa_range r = { .byte_count = n * VIRIDIAN_PAGE_SIZE,
				     .byte_offset = 0 };
	struct vmbus_channel_gpadl_created *c;

	if (n > 512)
		return ~0u;
	memcpy(&raw[0], &r, sizeof(r));
	memcpy(&raw[1], pfns, n * sizeof(uint64_t));
	guest_gpadl_raw(fh, relid, handle, 1, raw, 1 + n, 0);
	c = fake_expect(fh, CHANNELMSG_GPADL_CREATED);
	if (!c || c->gpadl != handle || c->child_relid != relid)
		return ~0u;
	return c->creation_status;
}

/* ------------------------------------------------------------------ */
/* Rings, from the guest's side                                        */

#define GRING_MAX_PAGES 64

/* One ring: control page pfn[0], data pages pfn[1..pages). */
struct gring {
	struct fake_host *fh;
	uint64_t pfn[GRING_MAX_PAGES];
	unsigned int pages;
	uint32_t size;
};

struct gchan {
	uint32_t relid;
	uint32_t gpadl;
	struct gring send;		/* guest to host */
	struct gring recv;		/* host to guest */
};

#define GCTRL_FIELD(r, field)						\
	((uint32_t *)((uint8_t *)fake_page((r)->fh, (r)->pfn[0]) +	\
		      offsetof(struct vmbus_ring_control, field)))

static inline uint32_t gring_get(struct gring *r, size_t off)
{
	return __atomic_load_n((uint32_t *)((uint8_t *)fake_page(r->fh, r->pfn[0]) + off),
			       __ATOMIC_ACQUIRE);
}

static inline void gring_set(struct gring *r, size_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)((uint8_t *)fake_page(r->fh, r->pfn[0]) + off),
			 v, __ATOMIC_RELEASE);
}

#define GGET(r, field) gring_get((r), offsetof(struct vmbus_ring_control, field))
#define GSET(r, field, v) \
	gring_set((r), offsetof(struct vmbus_ring_control, field), (v))

/* Byte copies through the data pages, page by page, with the wrap. */
static inline uint32_t gring_copy_in(struct gring *r, uint32_t off,
				     const void *src, uint32_t len)
{
	const uint8_t *s = src;

	while (len) {
		uint32_t page = off / VIRIDIAN_PAGE_SIZE;
		uint32_t po = off % VIRIDIAN_PAGE_SIZE;
		uint32_t n = VIRIDIAN_PAGE_SIZE - po;

		if (n > len)
			n = len;
		memcpy((uint8_t *)fake_page(r->fh, r->pfn[1 + page]) + po, s, n);
		s += n;
		len -= n;
		off += n;
		if (off >= r->size)
			off -= r->size;
	}
	return off;
}

static inline uint32_t gring_copy_out(struct gring *r, uint32_t off, void *dst,
				      uint32_t len)
{
	uint8_t *d = dst;

	while (len) {
		uint32_t page = off / VIRIDIAN_PAGE_SIZE;
		uint32_t po = off % VIRIDIAN_PAGE_SIZE;
		uint32_t n = VIRIDIAN_PAGE_SIZE - po;

		if (n > len)
			n = len;
		memcpy(d, (uint8_t *)fake_page(r->fh, r->pfn[1 + page]) + po, n);
		d += n;
		len -= n;
		off += n;
		if (off >= r->size)
			off -= r->size;
	}
	return off;
}

/*
 * Guest producer (Linux's hv_ringbuffer_write). Returns 0 and whether the
 * host must be signalled, or -EAGAIN when full.
 */
static inline int guest_send(struct gring *r, uint16_t type, uint16_t flags,
			     uint64_t trans, const void *data, uint32_t len,
			     bool *signal)
{
	struct vmpacket_descriptor d;
	uint32_t pkt = vmbus_align8(16 + len), total = pkt + 8;
	uint32_t w = GGET(r, write_index), rd = GGET(r, read_index), off;
	uint64_t trailer = (uint64_t)w << 32, zero = 0;

	if (vmbus_ring_bytes_to_write(w, rd, r->size) <= total)
		return -EAGAIN;
	d.type = type;
	d.offset8 = 2;
	d.len8 = (uint16_t)(pkt / 8);
	d.flags = flags;
	d.trans_id = trans;
	off = gring_copy_in(r, w, &d, sizeof(d));
	off = gring_copy_in(r, off, data, len);
	off = gring_copy_in(r, off, &zero, pkt - 16 - len);
	off = gring_copy_in(r, off, &trailer, 8);
	GSET(r, write_index, off);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*signal = !GGET(r, interrupt_mask) && GGET(r, read_index) == w;
	return 0;
}

/*
 * Guest consumer (Linux's recvpacket + hv_pkt_iter_close). Copies the
 * payload after offset8; returns 0 and whether the host must be signalled
 * (pending_send_sz), -EAGAIN when empty, -EBADMSG for a bad descriptor.
 */
static inline int guest_recv(struct gring *r, struct vmpacket_descriptor *d,
			     void *buf, uint32_t cap, uint32_t *len,
			     bool *signal)
{
	uint32_t w = GGET(r, write_index), rd = GGET(r, read_index);
	uint32_t avail, pkt, off, bytes, pending, space_now, before;

	*signal = false;
	if (w == rd)
		return -EAGAIN;
	avail = vmbus_ring_bytes_to_read(w, rd, r->size);
	gring_copy_out(r, rd, d, sizeof(*d));
	pkt = vmbus_packet_validate(d, avail);
	if (!pkt)
		return -EBADMSG;
	off = (uint32_t)d->offset8 * 8;
	*len = pkt - off;
	if (*len > cap)
		return -ENOBUFS;
	gring_copy_out(r, (rd + off) % r->size, buf, *len);
	bytes = pkt + 8;
	rd = (rd + bytes) % r->size;
	GSET(r, read_index, rd);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pending = GGET(r, pending_send_sz);
	if (pending) {
		w = GGET(r, write_index);
		space_now = vmbus_ring_bytes_to_write(w, rd, r->size);
		before = space_now > bytes ? space_now - bytes : 0;
		*signal = before <= pending && space_now > pending;
	}
	return 0;
}

/*
 * Allocate rings (send_pages and recv_pages, control pages included) from
 * scattered guest pages, make the ring GPADL and open relid. Returns the
 * OPENCHANNEL_RESULT status, ~0u if no result came.
 */
static inline uint32_t guest_open(struct fake_host *fh, struct gchan *gc,
				  uint32_t relid, uint32_t gpadl,
				  unsigned int send_pages,
				  unsigned int recv_pages, uint32_t target_vp)
{
	uint64_t pfns[2 * GRING_MAX_PAGES];
	struct vmbus_channel_open_channel o;
	struct vmbus_channel_open_result *res;
	unsigned int i, n = send_pages + recv_pages;

	memset(gc, 0, sizeof(*gc));
	gc->relid = relid;
	gc->gpadl = gpadl;
	/* Every other page, so that no two ring pages are adjacent. */
	for (i = 0; i < n; i++) {
		pfns[i] = fake_alloc_pages(fh, 2);
		if (!pfns[i])
			return ~0u;
	}
	gc->send.fh = gc->recv.fh = fh;
	gc->send.pages = send_pages;
	gc->recv.pages = recv_pages;
	memcpy(gc->send.pfn, pfns, send_pages * sizeof(uint64_t));
	memcpy(gc->recv.pfn, pfns + send_pages, recv_pages * sizeof(uint64_t));
	gc->send.size = (send_pages - 1) * VIRIDIAN_PAGE_SIZE;
	gc->recv.size = (recv_pages - 1) * VIRIDIAN_PAGE_SIZE;
	if (guest_gpadl_pages(fh, relid, gpadl, pfns, n) != 0)
		return ~0u;

	memset(&o, 0, sizeof(o));
	o.header.msgtype = CHANNELMSG_OPENCHANNEL;
	o.child_relid = relid;
	o.openid = relid * 10;
	o.ringbuffer_gpadlhandle = gpadl;
	o.target_vp = target_vp;
	o.downstream_ringbuffer_pageoffset = send_pages;
	guest_post1(fh, &o, sizeof(o));
	res = fake_expect(fh, CHANNELMSG_OPENCHANNEL_RESULT);
	if (!res || res->child_relid != relid || res->openid != relid * 10)
		return ~0u;
	return res->status;
}

static inline void guest_close(struct fake_host *fh, uint32_t relid)
{
	struct vmbus_channel_close_channel m = {
		.header.msgtype = CHANNELMSG_CLOSECHANNEL,
		.child_relid = relid,
	};

	guest_post1(fh, &m, sizeof(m));
}

static inline void guest_teardown(struct fake_host *fh, uint32_t relid,
				  uint32_t gpadl)
{
	struct vmbus_channel_gpadl_teardown m = {
		.header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
		.child_relid = relid,
		.gpadl = gpadl,
	};

	guest_post1(fh, &m, sizeof(m));
}

/* Signals to the guest carrying this flag since index `from`. */
static inline unsigned int fake_signals_for(struct fake_host *fh,
					    unsigned int from, uint32_t flag)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&fh->lock);
	for (i = from; i < fh->nsignals; i++)
		if (fh->signals[i].flag == flag)
			n++;
	pthread_mutex_unlock(&fh->lock);
	return n;
}

#endif /* VIRIDIAN_TESTS_VMBUS_FAKE_H */
