// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The VMBus server and channel rings against a scripted guest: version
 * negotiation, offers, GPADLs, open/close, packets both ways, signalling
 * rules, rescind, sub-channels, unload and malformed input.
 */
#include <stdarg.h>

#include "check.h"
#include "vmbus_fake.h"

typedef int (*ctl_handler)(void *ctx, int argc, char **argv, FILE *reply);

/* ------------------------------------------------------------------ */
/* A VSP double                                                        */

#define TVSP_MAX_PKTS 1024

struct tvsp_pkt {
	uint16_t type;
	uint64_t trans;
	uint32_t len;		/* payload bytes after offset8 */
	uint32_t sum;
};

struct tvsp {
	int opens, closes, signals, releases;
	int open_rc;
	struct channel *ch;
	bool drain;		/* read everything on a signal */
	bool use_peek;		/* ... with peek/advance instead of recv */
	bool echo;		/* answer each packet with a completion */
	int last_rc;
	struct tvsp_pkt pkts[TVSP_MAX_PKTS];
	int npkts;
};

static uint32_t sum_bytes(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0x12345678u, i;

	for (i = 0; i < len; i++)
		s = s * 31u + p[i];
	return s;
}

static int tvsp_open(struct channel *ch, void *ctx)
{
	struct tvsp *t = ctx;

	t->opens++;
	if (t->open_rc)
		return t->open_rc;
	t->ch = ch;
	return 0;
}

static void tvsp_record(struct tvsp *t, const struct vmpacket_descriptor *d,
			const uint8_t *payload, uint32_t len)
{
	if (t->npkts < TVSP_MAX_PKTS) {
		t->pkts[t->npkts].type = d->type;
		t->pkts[t->npkts].trans = d->trans_id;
		t->pkts[t->npkts].len = len;
		t->pkts[t->npkts].sum = sum_bytes(payload, len);
		t->npkts++;
	}
}

static void tvsp_signal(struct channel *ch, void *ctx)
{
	struct tvsp *t = ctx;
	static uint8_t buf[VMBUS_MAX_PACKET_SIZE];
	struct vmpacket_descriptor d;
	uint32_t len, off;
	const void *pkt;
	int rc;

	t->signals++;
	if (!t->drain)
		return;
	for (;;) {
		if (t->use_peek) {
			rc = channel_peek(ch, &d, &pkt, &len);
			if (rc)
				break;
			off = (uint32_t)d.offset8 * 8;
			memcpy(buf, (const uint8_t *)pkt + off, len - off);
			channel_advance(ch);
			len -= off;
		} else {
			rc = channel_recv(ch, &d, buf, sizeof(buf), &len);
			if (rc)
				break;
			off = (uint32_t)d.offset8 * 8 - 16;
			memmove(buf, buf + off, len - off);
			len -= off;
		}
		tvsp_record(t, &d, buf, len);
		if (t->echo)
			channel_send_completion(ch, d.trans_id, buf, len);
	}
	t->last_rc = rc;
}

static void tvsp_close(struct channel *ch, void *ctx)
{
	struct tvsp *t = ctx;

	(void)ch;
	t->closes++;
	t->ch = NULL;
}

static void tvsp_release(void *ctx)
{
	struct tvsp *t = ctx;

	t->releases++;
}

static const struct vsp_ops scsi_ops = {
	.name = "tscsi",
	.class = VMBUS_CLASS_SCSI,
	.use_monitor = true,
	.open = tvsp_open,
	.on_signal = tvsp_signal,
	.close = tvsp_close,
	.release = tvsp_release,
};

static const struct vsp_ops hb_ops = {
	.name = "thb",
	.class = VMBUS_CLASS_HEARTBEAT,
	.open = tvsp_open,
	.on_signal = tvsp_signal,
	.close = tvsp_close,
	.release = tvsp_release,
};

static const guid_t inst_a = GUID_INIT(0x11111111, 0x2222, 0x3333, 0x44, 0x44,
				       1, 2, 3, 4, 5, 6);
static const guid_t inst_b = GUID_INIT(0xaaaaaaaa, 0xbbbb, 0xcccc, 0xdd, 0xdd,
				       6, 5, 4, 3, 2, 1);

/* A host with one SCSI-like (MNF) and one heartbeat-like device. */
struct setup {
	struct fake_host *fh;
	struct tvsp scsi, hb;
	struct vmbus_device *scsi_dev, *hb_dev;
	struct vmbus_channel_offer_channel offers[16];
	int noffers;
};

static bool setup_connected(struct setup *s)
{
	memset(s, 0, sizeof(*s));
	s->fh = fake_host_new();
	if (!s->fh)
		return false;
	s->scsi_dev = vmbus_server_add_device(s->fh->srv, &scsi_ops, &inst_a,
					      &s->scsi);
	s->hb_dev = vmbus_server_add_device(s->fh->srv, &hb_ops, &inst_b,
					    &s->hb);
	if (!s->scsi_dev || !s->hb_dev)
		return false;
	if (guest_connect(s->fh))
		return false;
	s->noffers = guest_take_offers(s->fh, s->offers, 16);
	return s->noffers == 2;
}

static uint32_t relid_of(struct setup *s, const guid_t *inst, uint16_t sub)
{
	int i;

	for (i = 0; i < s->noffers && i < 16; i++)
		if (guid_equal(&s->offers[i].offer.if_instance, inst) &&
		    s->offers[i].offer.sub_channel_index == sub)
			return s->offers[i].child_relid;
	return 0;
}

static void teardown(struct setup *s)
{
	CHECKF(fake_host_free(s->fh) == 0, "ring views left mapped");
}

/* ------------------------------------------------------------------ */
/* Version negotiation                                                 */

static void test_version_5_3_accepted(void)
{
	struct fake_host *fh = fake_host_new();
	struct vmbus_channel_version_response *r;
	struct fake_msg *m;
	struct vmbus_channel_message_header h = {
		.msgtype = CHANNELMSG_REQUESTOFFERS,
	};

	REQUIRE(fh);
	r = guest_initiate(fh, VMBUS_VERSION_WIN10_V5_3,
			   VMBUS_MESSAGE_CONNECTION_ID_4, 2);
	REQUIRE(r);
	CHECK(r->version_supported == 1);
	CHECK(r->connection_state == 0);
	CHECK(r->msg_conn_id == VMBUS_SERVER_MSG_CONN_ID);
	m = &fh->msgs[fh->consumed - 1];
	CHECK(m->vp == 2 && m->sint == VMBUS_MESSAGE_SINT &&
	      m->type == HVMSG_VMBUS);
	CHECK(vmbus_server_version(fh->srv) == VMBUS_VERSION_WIN10_V5_3);
	/* Connection ID 4 is for the first contact only. */
	CHECK(guest_post(fh, VMBUS_MESSAGE_CONNECTION_ID_4, &h, sizeof(h)) ==
	      HV_STATUS_INVALID_CONNECTION_ID);
	CHECK(guest_post(fh, 9, &h, sizeof(h)) ==
	      HV_STATUS_INVALID_CONNECTION_ID);
	CHECK(guest_post1(fh, &h, sizeof(h)) == HV_STATUS_SUCCESS);
	/* Messages go to the target VP named in INITIATE_CONTACT. */
	m = fake_next_msg(fh);
	REQUIRE(m);
	CHECK(fake_msg_type(m) == CHANNELMSG_ALLOFFERS_DELIVERED);
	CHECK(m->vp == 2);
	CHECK(vmbus_server_offers_delivered(fh->srv));
	CHECK(fake_host_free(fh) == 0);
}

static void test_version_unknown_rejected(void)
{
	static const uint32_t bad[] = {
		VMBUS_VERSION(6, 0), VMBUS_VERSION(5, 4), VMBUS_VERSION_WIN7,
		VMBUS_VERSION_WS2008, 0, 0xffffffffu,
	};
	struct fake_host *fh = fake_host_new();
	struct vmbus_channel_version_response *r;
	unsigned int i;

	REQUIRE(fh);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = guest_initiate(fh, bad[i], bad[i] >= VMBUS_VERSION_WIN10_V5 ?
				   VMBUS_MESSAGE_CONNECTION_ID_4 :
				   VMBUS_MESSAGE_CONNECTION_ID, 0);
		CHECKF(r && r->version_supported == 0,
		       "version %#x was not refused", bad[i]);
		CHECK(vmbus_server_version(fh->srv) == 0);
	}
	/* Unsupported versions are normal negotiation, not errors. */
	CHECK(vmbus_server_rejected_count(fh->srv) == 0);
	/* The guest then retries lower and gets in. */
	r = guest_initiate(fh, VMBUS_VERSION_WIN10, VMBUS_MESSAGE_CONNECTION_ID, 1);
	REQUIRE(r);
	CHECK(r->version_supported == 1);
	CHECK(r->msg_conn_id == 0);
	CHECK(vmbus_server_version(fh->srv) == VMBUS_VERSION_WIN10);
	CHECK(fake_host_free(fh) == 0);
}

static void test_version_connection_id_rules(void)
{
	struct fake_host *fh = fake_host_new();
	struct vmbus_channel_version_response *r;
	struct vmbus_channel_initiate_contact ic;
	uint64_t rejected;

	REQUIRE(fh);
	/* 5.x must come on connection 4 ... */
	r = guest_initiate(fh, VMBUS_VERSION_WIN10_V5,
			   VMBUS_MESSAGE_CONNECTION_ID, 0);
	CHECK(r && r->version_supported == 0);
	/* ... and older versions on connection 1. */
	r = guest_initiate(fh, VMBUS_VERSION_WIN10_V4_1,
			   VMBUS_MESSAGE_CONNECTION_ID_4, 0);
	CHECK(r && r->version_supported == 0);
	CHECK(vmbus_server_rejected_count(fh->srv) == 2);
	/* Anything but 1 and 4 is no message port. */
	CHECK(guest_initiate(fh, VMBUS_VERSION_WIN10_V4_1, 3, 0) == NULL);

	/* Bad monitor pages and target VPs are refused, state untouched. */
	memset(&ic, 0, sizeof(ic));
	ic.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	ic.vmbus_version_requested = VMBUS_VERSION_WIN10_V5_2;
	ic.interrupt_page_or_sint = VMBUS_MESSAGE_SINT;
	ic.monitor_page1 = 0x1000 + 8;
	ic.monitor_page2 = 0x2000;
	guest_post(fh, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof(ic));
	r = fake_expect(fh, CHANNELMSG_VERSION_RESPONSE);
	CHECK(r && r->version_supported == 0 && r->connection_state != 0);
	ic.monitor_page1 = (uint64_t)FAKE_RAM_PAGES * VIRIDIAN_PAGE_SIZE;
	guest_post(fh, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof(ic));
	r = fake_expect(fh, CHANNELMSG_VERSION_RESPONSE);
	CHECK(r && r->version_supported == 0);
	ic.monitor_page1 = 0x1000;
	ic.target_vcpu = FAKE_NR_VPS;
	guest_post(fh, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof(ic));
	r = fake_expect(fh, CHANNELMSG_VERSION_RESPONSE);
	CHECK(r && r->version_supported == 0);
	ic.target_vcpu = 0;
	ic.interrupt_page_or_sint = 16;
	guest_post(fh, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof(ic));
	r = fake_expect(fh, CHANNELMSG_VERSION_RESPONSE);
	CHECK(r && r->version_supported == 0);
	/* Too short to be an INITIATE_CONTACT: no answer at all. */
	guest_post(fh, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, 20);
	CHECK(fake_pending_msgs(fh) == 0);
	CHECK(vmbus_server_version(fh->srv) == 0);

	/* 4.1 on connection 1 works and keeps using connection 1. */
	r = guest_initiate(fh, VMBUS_VERSION_WIN10_V4_1,
			   VMBUS_MESSAGE_CONNECTION_ID, 0);
	CHECK(r && r->version_supported == 1);
	/* A second contact while connected is refused; still 4.1. */
	rejected = vmbus_server_rejected_count(fh->srv);
	r = guest_initiate(fh, VMBUS_VERSION_WIN10_V5_3,
			   VMBUS_MESSAGE_CONNECTION_ID_4, 0);
	CHECK(r == NULL);	/* connection 4 is closed once connected */
	r = guest_initiate(fh, VMBUS_VERSION_WIN10,
			   VMBUS_MESSAGE_CONNECTION_ID, 0);
	CHECK(r && r->version_supported == 0);
	CHECK(vmbus_server_rejected_count(fh->srv) == rejected + 1);
	CHECK(vmbus_server_version(fh->srv) == VMBUS_VERSION_WIN10_V4_1);
	CHECK(fake_host_free(fh) == 0);
}

/* ------------------------------------------------------------------ */
/* Offers                                                              */

static void test_offers_and_hot_add(void)
{
	struct fake_host *fh = fake_host_new();
	struct vmbus_channel_offer_channel offers[4], *o;
	struct vmbus_channel_message_header h = {
		.msgtype = CHANNELMSG_REQUESTOFFERS,
	};
	struct tvsp a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t rejected;
	int n;

	REQUIRE(fh);
	/* Before INITIATE_CONTACT nothing but INITIATE_CONTACT is taken. */
	CHECK(guest_post1(fh, &h, sizeof(h)) == HV_STATUS_SUCCESS);
	CHECK(fake_pending_msgs(fh) == 0);
	CHECK(vmbus_server_rejected_count(fh->srv) == 1);

	REQUIRE(vmbus_server_add_device(fh->srv, &scsi_ops, &inst_a, &a));
	REQUIRE(vmbus_server_add_device(fh->srv, &hb_ops, &inst_b, &b));
	REQUIRE(guest_connect(fh) == 0);
	n = guest_take_offers(fh, offers, 4);
	REQUIRE(n == 2);
	CHECK(guid_equal(&offers[0].offer.if_type, &scsi_ops.class));
	CHECK(guid_equal(&offers[0].offer.if_instance, &inst_a));
	CHECK(guid_equal(&offers[1].offer.if_type, &hb_ops.class));
	CHECK(offers[0].child_relid >= 1 && offers[1].child_relid >= 1);
	CHECK(offers[0].child_relid != offers[1].child_relid);
	CHECK(offers[0].connection_id ==
	      VMBUS_SERVER_CHANNEL_CONN_ID(offers[0].child_relid));
	CHECK(offers[1].connection_id != offers[0].connection_id);
	CHECK(offers[0].connection_id < 4096 && offers[1].connection_id < 4096);
	CHECK(offers[0].monitor_flags & VMBUS_OFFER_MONITOR_ALLOCATED);
	CHECK(offers[0].monitorid < VMBUS_MONITOR_IDS);
	CHECK(!(offers[1].monitor_flags & VMBUS_OFFER_MONITOR_ALLOCATED));
	CHECK(offers[0].offer.sub_channel_index == 0);

	/* A second REQUESTOFFERS is out of state. */
	rejected = vmbus_server_rejected_count(fh->srv);
	guest_post1(fh, &h, sizeof(h));
	CHECK(fake_pending_msgs(fh) == 0);
	CHECK(vmbus_server_rejected_count(fh->srv) == rejected + 1);

	/* Hot add: offered at once. */
	REQUIRE(vmbus_server_add_device(fh->srv, &hb_ops, &inst_a, &c));
	o = fake_expect(fh, CHANNELMSG_OFFERCHANNEL);
	REQUIRE(o);
	CHECK(guid_equal(&o->offer.if_instance, &inst_a));
	CHECK(o->child_relid != offers[0].child_relid &&
	      o->child_relid != offers[1].child_relid);
	CHECK(fake_host_free(fh) == 0);
	CHECK(a.releases == 1 && b.releases == 1 && c.releases == 1);
}

/* ------------------------------------------------------------------ */
/* GPADLs                                                              */

static void test_gpadl_multi_range(void)
{
	struct setup s;
	struct vmbus_channel_gpadl_created *c;
	uint64_t raw[200];
	uint32_t relid, w = 0, i;
	struct vmbus_gpa_range r;
	int msgs;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	/* Range 1: 40 whole pages. */
	r.byte_count = 40 * VIRIDIAN_PAGE_SIZE;
	r.byte_offset = 0;
	memcpy(&raw[w++], &r, 8);
	for (i = 0; i < 40; i++)
		raw[w++] = 100 + 2 * i;
	/* Range 2: 5000 bytes from offset 100: two pages. */
	r.byte_count = 5000;
	r.byte_offset = 100;
	memcpy(&raw[w++], &r, 8);
	raw[w++] = 300;
	raw[w++] = 301;
	/* Range 3: 50 pages, ending in the third body message. */
	r.byte_count = 50 * VIRIDIAN_PAGE_SIZE;
	r.byte_offset = 0;
	memcpy(&raw[w++], &r, 8);
	for (i = 0; i < 50; i++)
		raw[w++] = 400 + i;
	msgs = guest_gpadl_raw(s.fh, relid, 0x100, 3, raw, w, 1);
	CHECK(msgs == 4);
	c = fake_expect(s.fh, CHANNELMSG_GPADL_CREATED);
	REQUIRE(c);
	CHECK(c->gpadl == 0x100 && c->child_relid == relid &&
	      c->creation_status == 0);
	CHECK(fake_pending_msgs(s.fh) == 0);

	/* The same, bodies numbered 0 as Linux does. */
	guest_gpadl_raw(s.fh, relid, 0x101, 3, raw, w, 0);
	c = fake_expect(s.fh, CHANNELMSG_GPADL_CREATED);
	CHECK(c && c->gpadl == 0x101 && c->creation_status == 0);

	/* A GPADL that is not whole pages cannot hold rings. */
	{
		struct vmbus_channel_open_channel o;
		struct vmbus_channel_open_result *res;

		memset(&o, 0, sizeof(o));
		o.header.msgtype = CHANNELMSG_OPENCHANNEL;
		o.child_relid = relid;
		o.ringbuffer_gpadlhandle = 0x100;
		o.downstream_ringbuffer_pageoffset = 20;
		guest_post1(s.fh, &o, sizeof(o));
		res = fake_expect(s.fh, CHANNELMSG_OPENCHANNEL_RESULT);
		CHECK(res && res->status != 0);
		CHECK(s.hb.opens == 0);
	}

	/* Teardown answers TORNDOWN; the handle can be used again. */
	guest_teardown(s.fh, relid, 0x100);
	{
		struct vmbus_channel_gpadl_torndown *t =
			fake_expect(s.fh, CHANNELMSG_GPADL_TORNDOWN);

		CHECK(t && t->gpadl == 0x100);
	}
	guest_gpadl_raw(s.fh, relid, 0x100, 3, raw, w, 0);
	c = fake_expect(s.fh, CHANNELMSG_GPADL_CREATED);
	CHECK(c && c->gpadl == 0x100 && c->creation_status == 0);
	teardown(&s);
}

/* Expect exactly one GPADL_CREATED for handle with a nonzero status. */
static bool refused(struct fake_host *fh, uint32_t handle)
{
	struct vmbus_channel_gpadl_created *c =
		fake_expect(fh, CHANNELMSG_GPADL_CREATED);

	return c && c->gpadl == handle && c->creation_status != 0 &&
	       fake_pending_msgs(fh) == 0;
}

static void test_gpadl_malformed(void)
{
	union vmbus_channel_msg_any u;
	struct vmbus_channel_gpadl_header *h = &u.gpadl_header;
	struct vmbus_channel_gpadl_body *b = &u.gpadl_body;
	struct vmbus_gpa_range r;
	uint64_t raw[100];
	uint32_t relid, i;
	uint64_t rej;
	struct setup s;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	r.byte_count = 2 * VIRIDIAN_PAGE_SIZE;
	r.byte_offset = 0;
	memcpy(&raw[0], &r, 8);
	raw[1] = 50;
	raw[2] = 51;

	/* rangecount 0 */
	guest_gpadl_raw(s.fh, relid, 1, 0, raw, 3, 0);
	CHECK(refused(s.fh, 1));
	/* Range claims 3 pages, buffer holds 2 PFNs. */
	r.byte_count = 3 * VIRIDIAN_PAGE_SIZE;
	memcpy(&raw[0], &r, 8);
	guest_gpadl_raw(s.fh, relid, 2, 1, raw, 3, 0);
	CHECK(refused(s.fh, 2));
	/* Range claims 1 page, buffer holds 2 PFNs: trailing junk. */
	r.byte_count = VIRIDIAN_PAGE_SIZE;
	memcpy(&raw[0], &r, 8);
	guest_gpadl_raw(s.fh, relid, 3, 1, raw, 3, 0);
	CHECK(refused(s.fh, 3));
	/* byte_offset past the first page */
	r.byte_count = 100;
	r.byte_offset = VIRIDIAN_PAGE_SIZE;
	memcpy(&raw[0], &r, 8);
	guest_gpadl_raw(s.fh, relid, 4, 1, raw, 2, 0);
	CHECK(refused(s.fh, 4));
	/* byte_count 0 */
	r.byte_count = 0;
	r.byte_offset = 0;
	memcpy(&raw[0], &r, 8);
	guest_gpadl_raw(s.fh, relid, 5, 1, raw, 2, 0);
	CHECK(refused(s.fh, 5));
	/* offset + count spills into a page that is not listed */
	r.byte_count = VIRIDIAN_PAGE_SIZE;
	r.byte_offset = 1;
	memcpy(&raw[0], &r, 8);
	guest_gpadl_raw(s.fh, relid, 6, 1, raw, 2, 0);
	CHECK(refused(s.fh, 6));
	/* PFN outside guest RAM, and one whose GPA overflows */
	r.byte_count = 2 * VIRIDIAN_PAGE_SIZE;
	r.byte_offset = 0;
	memcpy(&raw[0], &r, 8);
	raw[2] = FAKE_RAM_PAGES;
	guest_gpadl_raw(s.fh, relid, 7, 1, raw, 3, 0);
	CHECK(refused(s.fh, 7));
	raw[2] = 1ull << 60;
	guest_gpadl_raw(s.fh, relid, 8, 1, raw, 3, 0);
	CHECK(refused(s.fh, 8));
	raw[2] = 51;
	/* Unknown channel */
	guest_gpadl_raw(s.fh, 77, 9, 1, raw, 3, 0);
	CHECK(refused(s.fh, 9));
	/* Handle 0 */
	guest_gpadl_raw(s.fh, relid, 0, 1, raw, 3, 0);
	CHECK(refused(s.fh, 0));

	/* Header: range_buflen not a multiple of 8, or shorter than the message. */
	memset(&u, 0, sizeof(u));
	h->header.msgtype = CHANNELMSG_GPADL_HEADER;
	h->child_relid = relid;
	h->gpadl = 10;
	h->rangecount = 1;
	h->range_buflen = 23;
	memcpy(u.bytes + sizeof(*h), raw, 24);
	guest_post1(s.fh, u.bytes, sizeof(*h) + 24);
	CHECK(refused(s.fh, 10));
	h->range_buflen = 16;
	guest_post1(s.fh, u.bytes, sizeof(*h) + 24);
	CHECK(refused(s.fh, 10));
	/* Message length not a whole number of PFNs */
	h->range_buflen = 24;
	guest_post1(s.fh, u.bytes, sizeof(*h) + 20);
	CHECK(refused(s.fh, 10));
	/* Too short to carry a handle: ignored without an answer. */
	rej = vmbus_server_rejected_count(s.fh->srv);
	guest_post1(s.fh, u.bytes, 12);
	CHECK(fake_pending_msgs(s.fh) == 0);
	CHECK(vmbus_server_rejected_count(s.fh->srv) == rej + 1);

	/* Bodies: a long GPADL (one range of 60 pages) sent by hand. */
	r.byte_count = 60 * VIRIDIAN_PAGE_SIZE;
	r.byte_offset = 0;
	memcpy(&raw[0], &r, 8);
	for (i = 0; i < 60; i++)
		raw[1 + i] = 200 + i;
	memset(&u, 0, sizeof(u));
	h->header.msgtype = CHANNELMSG_GPADL_HEADER;
	h->child_relid = relid;
	h->gpadl = 11;
	h->rangecount = 1;
	h->range_buflen = 61 * 8;
	memcpy(u.bytes + sizeof(*h), raw, 27 * 8);
	guest_post1(s.fh, u.bytes, sizeof(*h) + 27 * 8);
	CHECK(fake_pending_msgs(s.fh) == 0);
	/* body numbered 2 first: out of sequence */
	memset(&u, 0, sizeof(u));
	b->header.msgtype = CHANNELMSG_GPADL_BODY;
	b->gpadl = 11;
	b->msgnumber = 2;
	memcpy(u.bytes + sizeof(*b), raw + 27, 28 * 8);
	guest_post1(s.fh, u.bytes, sizeof(*b) + 28 * 8);
	CHECK(refused(s.fh, 11));
	/* The GPADL is gone: more bodies are ignored without an answer. */
	rej = vmbus_server_rejected_count(s.fh->srv);
	b->msgnumber = 1;
	guest_post1(s.fh, u.bytes, sizeof(*b) + 28 * 8);
	CHECK(fake_pending_msgs(s.fh) == 0);
	CHECK(vmbus_server_rejected_count(s.fh->srv) == rej + 1);

	/* Mixed numbering (1 then 0) is refused, as is an overrun. */
	memset(&u, 0, sizeof(u));
	h->header.msgtype = CHANNELMSG_GPADL_HEADER;
	h->child_relid = relid;
	h->gpadl = 12;
	h->rangecount = 1;
	h->range_buflen = 61 * 8;
	memcpy(u.bytes + sizeof(*h), raw, 27 * 8);
	guest_post1(s.fh, u.bytes, sizeof(*h) + 27 * 8);
	memset(&u, 0, sizeof(u));
	b->header.msgtype = CHANNELMSG_GPADL_BODY;
	b->gpadl = 12;
	b->msgnumber = 1;
	memcpy(u.bytes + sizeof(*b), raw + 27, 28 * 8);
	guest_post1(s.fh, u.bytes, sizeof(*b) + 28 * 8);
	CHECK(fake_pending_msgs(s.fh) == 0);
	b->msgnumber = 0;
	guest_post1(s.fh, u.bytes, sizeof(*b) + 6 * 8);
	CHECK(refused(s.fh, 12));

	memset(&u, 0, sizeof(u));
	h->header.msgtype = CHANNELMSG_GPADL_HEADER;
	h->child_relid = relid;
	h->gpadl = 13;
	h->rangecount = 1;
	h->range_buflen = 61 * 8;
	memcpy(u.bytes + sizeof(*h), raw, 27 * 8);
	guest_post1(s.fh, u.bytes, sizeof(*h) + 27 * 8);
	memset(&u, 0, sizeof(u));
	b->header.msgtype = CHANNELMSG_GPADL_BODY;
	b->gpadl = 13;
	memcpy(u.bytes + sizeof(*b), raw + 27, 28 * 8);
	guest_post1(s.fh, u.bytes, sizeof(*b) + 28 * 8);
	guest_post1(s.fh, u.bytes, sizeof(*b) + 28 * 8);	/* 6 would do */
	CHECK(refused(s.fh, 13));

	/* Finally the same GPADL done right works, then duplicates fail. */
	guest_gpadl_raw(s.fh, relid, 13, 1, raw, 61, 1);
	{
		struct vmbus_channel_gpadl_created *c =
			fake_expect(s.fh, CHANNELMSG_GPADL_CREATED);

		CHECK(c && c->gpadl == 13 && c->creation_status == 0);
	}
	guest_gpadl_raw(s.fh, relid, 13, 1, raw, 61, 1);
	CHECK(refused(s.fh, 13));
	/* The original survived the duplicate: it tears down normally. */
	guest_teardown(s.fh, relid, 13);
	CHECK(fake_expect(s.fh, CHANNELMSG_GPADL_TORNDOWN) != NULL);
	/* Teardown of what does not exist: logged, no answer. */
	rej = vmbus_server_rejected_count(s.fh->srv);
	guest_teardown(s.fh, relid, 13);
	guest_teardown(s.fh, relid, 0xdead);
	CHECK(fake_pending_msgs(s.fh) == 0);
	CHECK(vmbus_server_rejected_count(s.fh->srv) == rej + 2);
	CHECK(s.fh->logs > 0);
	teardown(&s);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */

static void test_open_close(void)
{
	struct setup s;
	struct gchan gc;
	struct vmbus_channel_open_channel o;
	struct vmbus_channel_open_result *res;
	struct vmbus_channel_gpadl_torndown *t;
	uint32_t relid;
	uint64_t rej;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	CHECK(guest_open(s.fh, &gc, relid, 0x500, 4, 6, 1) == 0);
	REQUIRE(s.hb.opens == 1 && s.hb.ch);
	CHECK(channel_relid(s.hb.ch) == relid);
	CHECK(channel_target_vp(s.hb.ch) == 1);
	CHECK(channel_in_ring_size(s.hb.ch) == 3 * VIRIDIAN_PAGE_SIZE);
	CHECK(channel_out_ring_size(s.hb.ch) == 5 * VIRIDIAN_PAGE_SIZE);
	CHECK(GGET(&gc.send, feature_bits) & VMBUS_RING_FEAT_PENDING_SEND_SZ);
	CHECK(GGET(&gc.recv, feature_bits) & VMBUS_RING_FEAT_PENDING_SEND_SZ);

	/* Open again while open: logged, no answer, still open. */
	rej = vmbus_server_rejected_count(s.fh->srv);
	memset(&o, 0, sizeof(o));
	o.header.msgtype = CHANNELMSG_OPENCHANNEL;
	o.child_relid = relid;
	o.openid = 1;
	o.ringbuffer_gpadlhandle = 0x500;
	o.downstream_ringbuffer_pageoffset = 4;
	guest_post1(s.fh, &o, sizeof(o));
	CHECK(fake_pending_msgs(s.fh) == 0);
	CHECK(vmbus_server_rejected_count(s.fh->srv) == rej + 1);
	CHECK(s.hb.opens == 1);

	/* Teardown of the ring GPADL waits for the close. */
	guest_teardown(s.fh, relid, 0x500);
	CHECK(fake_pending_msgs(s.fh) == 0);
	guest_close(s.fh, relid);
	CHECK(s.hb.closes == 1);
	t = fake_expect(s.fh, CHANNELMSG_GPADL_TORNDOWN);
	CHECK(t && t->gpadl == 0x500);
	CHECK(s.fh->live_maps == 0);
	/* Close when closed: logged only. */
	guest_close(s.fh, relid);
	CHECK(s.hb.closes == 1);
	CHECK(fake_pending_msgs(s.fh) == 0);

	/* Bad opens: each answered with a failure, nothing mapped. */
	CHECK(guest_open(s.fh, &gc, relid, 0x501, 1, 6, 0) != 0);	/* send ring 1 page */
	CHECK(guest_open(s.fh, &gc, relid, 0x502, 4, 1, 0) != 0);	/* recv ring 1 page */
	CHECK(guest_open(s.fh, &gc, relid, 0x503, 2, 2, FAKE_NR_VPS) != 0);
	CHECK(s.hb.opens == 1);
	memset(&o, 0, sizeof(o));
	o.header.msgtype = CHANNELMSG_OPENCHANNEL;
	o.child_relid = relid;
	o.openid = 7;
	o.ringbuffer_gpadlhandle = 0x999;	/* no such GPADL */
	o.downstream_ringbuffer_pageoffset = 2;
	guest_post1(s.fh, &o, sizeof(o));
	res = fake_expect(s.fh, CHANNELMSG_OPENCHANNEL_RESULT);
	CHECK(res && res->status != 0 && res->openid == 7);
	/* The ring GPADL of another channel is not this one's. */
	o.child_relid = relid_of(&s, &inst_a, 0);
	o.ringbuffer_gpadlhandle = 0x503;
	guest_post1(s.fh, &o, sizeof(o));
	res = fake_expect(s.fh, CHANNELMSG_OPENCHANNEL_RESULT);
	CHECK(res && res->status != 0);
	CHECK(s.scsi.opens == 0);
	/* A VSP may refuse. */
	s.hb.open_rc = -EIO;
	CHECK(guest_open(s.fh, &gc, relid, 0x504, 2, 2, 0) ==
	      VMBUS_STATUS_UNSUCCESSFUL);
	CHECK(s.hb.opens == 2);
	CHECK(s.fh->live_maps == 0);
	s.hb.open_rc = 0;
	CHECK(guest_open(s.fh, &gc, relid, 0x505, 2, 2, 0) == 0);
	CHECK(s.fh->live_maps == 2);
	teardown(&s);
	CHECK(s.hb.closes == 2);
}

/* ------------------------------------------------------------------ */
/* Packets                                                             */

static void fill_pattern(uint8_t *p, uint32_t len, uint32_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 7u + i * 13u);
}

/* What the host sees of a pattern packet: the bytes, then zero padding. */
static uint32_t padded_sum(uint32_t n, uint32_t seed)
{
	static uint8_t tmp[8192];
	uint32_t padded = vmbus_align8(16 + n) - 16;

	memset(tmp, 0, padded);
	fill_pattern(tmp, n, seed);
	return sum_bytes(tmp, padded);
}

static void test_packets_both_ways_with_wrap(void)
{
	static uint8_t data[8192], back[8192];
	struct vmpacket_descriptor d;
	struct setup s;
	struct gchan gc;
	uint32_t relid, len, i, sent_sum[400], sent_len[400];
	bool sig;
	int rc, round;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	/* One data page each way: wraps every few packets. */
	REQUIRE(guest_open(s.fh, &gc, relid, 0x600, 2, 2, 0) == 0);
	s.hb.drain = true;
	s.hb.echo = true;

	for (round = 0; round < 2; round++) {
		s.hb.use_peek = round == 1;
		s.hb.npkts = 0;
		for (i = 0; i < 300; i++) {
			uint32_t n = 1 + (i * 37u) % 1500;

			fill_pattern(data, n, i);
			sent_sum[i] = sum_bytes(data, n);
			sent_len[i] = n;
			rc = guest_send(&gc.send, VM_PKT_DATA_INBAND,
					VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
					1000 + i, data, n, &sig);
			REQUIRE(rc == 0);
			/* The ring was empty: the guest signals. */
			CHECK(sig);
			vmbus_server_signal(s.fh->srv,
					    VMBUS_SERVER_CHANNEL_CONN_ID(relid));
			/* The echo came back through the host-to-guest ring. */
			rc = guest_recv(&gc.recv, &d, back, sizeof(back), &len,
					&sig);
			REQUIRE(rc == 0);
			CHECK(d.type == VM_PKT_COMP && d.trans_id == 1000 + i);
			CHECK(len >= n && len < n + 8);
			CHECK(sum_bytes(back, n) == sent_sum[i]);
			CHECK(guest_recv(&gc.recv, &d, back, sizeof(back),
					 &len, &sig) == -EAGAIN);
		}
		REQUIRE(s.hb.npkts == 300);
		for (i = 0; i < 300; i++) {
			CHECK(s.hb.pkts[i].trans == 1000 + i);
			CHECK(s.hb.pkts[i].len == vmbus_align8(16 + sent_len[i]) - 16);
			CHECK(s.hb.pkts[i].sum == padded_sum(sent_len[i], i));
		}
		CHECK(s.hb.last_rc == -EAGAIN);
		CHECK(!channel_is_broken(s.hb.ch));
	}

	/* Several packets in one signal, wrapping inside the batch. */
	s.hb.npkts = 0;
	s.hb.echo = false;
	for (i = 0; i < 5; i++) {
		fill_pattern(data, 700, i);
		REQUIRE(guest_send(&gc.send, VM_PKT_DATA_INBAND, 0, i, data,
				   700, &sig) == 0);
		CHECK(sig == (i == 0));
	}
	vmbus_server_signal(s.fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(relid));
	CHECK(s.hb.npkts == 5);
	CHECK(s.hb.npkts == 5 && s.hb.pkts[4].sum == padded_sum(700, 4));

	/* Too small a buffer: -ENOBUFS, the packet stays. */
	s.hb.drain = false;
	REQUIRE(guest_send(&gc.send, VM_PKT_DATA_INBAND, 0, 99, data, 500,
			   &sig) == 0);
	{
		struct vmpacket_descriptor dd;
		uint8_t small[64];
		uint32_t l;

		CHECK(channel_recv(s.hb.ch, &dd, small, sizeof(small), &l) ==
		      -ENOBUFS);
		CHECK(l == vmbus_align8(16 + 500) - 16);
		CHECK(channel_recv(s.hb.ch, &dd, data, sizeof(data), &l) == 0);
		CHECK(dd.trans_id == 99);
		CHECK(channel_recv(s.hb.ch, &dd, data, sizeof(data), &l) ==
		      -EAGAIN);
	}
	/* A packet that can never fit is refused outright. */
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 1, data, 4096) ==
	      -EMSGSIZE);
	teardown(&s);
}

static void test_interrupt_mask_and_empty_rule(void)
{
	struct vmpacket_descriptor d;
	uint8_t buf[256];
	struct setup s;
	struct gchan gc;
	unsigned int base;
	uint32_t relid, len;
	bool sig;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0x700, 2, 3, 2) == 0);
	base = s.fh->nsignals;
	/* Empty ring, mask clear: one signal, to the channel's VP and SINT. */
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 1, "a", 1) == 0);
	CHECK(fake_signals_for(s.fh, base, relid) == 1);
	CHECK(s.fh->signals[base].vp == 2 &&
	      s.fh->signals[base].sint == VMBUS_MESSAGE_SINT);
	/* Not empty any more: no signal. */
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 2, "b", 1) == 0);
	CHECK(fake_signals_for(s.fh, base, relid) == 1);
	CHECK(guest_recv(&gc.recv, &d, buf, sizeof(buf), &len, &sig) == 0);
	CHECK(guest_recv(&gc.recv, &d, buf, sizeof(buf), &len, &sig) == 0);
	CHECK(d.trans_id == 2);
	/* The guest is polling (mask set): no signal even when empty. */
	GSET(&gc.recv, interrupt_mask, 1);
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 3, "c", 1) == 0);
	CHECK(fake_signals_for(s.fh, base, relid) == 1);
	GSET(&gc.recv, interrupt_mask, 0);
	CHECK(guest_recv(&gc.recv, &d, buf, sizeof(buf), &len, &sig) == 0);
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 4, "d", 1) == 0);
	CHECK(fake_signals_for(s.fh, base, relid) == 2);
	teardown(&s);
}

static void test_pending_send_sz(void)
{
	static uint8_t data[2048];
	struct vmpacket_descriptor d;
	struct setup s;
	struct gchan gc;
	unsigned int base, sent = 0;
	uint32_t relid, len, pending, i;
	bool sig, any;
	int rc;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0x800, 2, 2, 0) == 0);

	/* Host to guest: fill until -EAGAIN. */
	while ((rc = channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, sent, data,
				  1000)) == 0)
		sent++;
	CHECK(rc == -EAGAIN);
	CHECK(sent == 3);	/* 3 * 1024 of 4096; a 4th would fill it */
	CHECK(!channel_send_fits(s.hb.ch, 1000));
	pending = GGET(&gc.recv, pending_send_sz);
	CHECK(pending == vmbus_align8(16 + 1000) + 8);
	/* The guest reads one packet: now there is room, so it signals. */
	CHECK(guest_recv(&gc.recv, &d, data, sizeof(data), &len, &sig) == 0);
	CHECK(sig);
	CHECK(channel_send_fits(s.hb.ch, 1000));
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 42, data, 1000) == 0);
	CHECK(GGET(&gc.recv, pending_send_sz) == 0);
	/* With pending_send_sz clear, reads do not ask for signals. */
	CHECK(guest_recv(&gc.recv, &d, data, sizeof(data), &len, &sig) == 0);
	CHECK(!sig);
	while (guest_recv(&gc.recv, &d, data, sizeof(data), &len, &sig) == 0)
		;

	/* Guest to host: the guest is a blocked producer needing 1500. */
	for (i = 0; i < 3; i++)
		REQUIRE(guest_send(&gc.send, VM_PKT_DATA_INBAND, 0, i, data,
				   1000, &sig) == 0);
	CHECK(guest_send(&gc.send, VM_PKT_DATA_INBAND, 0, 9, data, 1000,
			 &sig) == -EAGAIN);
	GSET(&gc.send, pending_send_sz, 1500);
	base = s.fh->nsignals;
	s.hb.drain = true;
	vmbus_server_signal(s.fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(relid));
	CHECK(s.hb.npkts == 3);
	/* Free space crossed 1500 once: exactly one signal back. */
	CHECK(fake_signals_for(s.fh, base, relid) == 1);
	any = fake_signals_for(s.fh, base, relid) == 1;
	CHECK(any);
	teardown(&s);
}

static void test_garbage_marks_broken(void)
{
	struct vmpacket_descriptor d;
	uint8_t buf[256];
	char text[4096];
	struct setup s;
	struct gchan gc;
	uint32_t relid, len;
	FILE *f;
	bool sig;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0x900, 2, 2, 0) == 0);
	/* A write index beyond the ring. */
	GSET(&gc.send, write_index, 5000);
	CHECK(channel_recv(s.hb.ch, &d, buf, sizeof(buf), &len) == -EPIPE);
	CHECK(channel_is_broken(s.hb.ch));
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 1, "x", 1) == -EPIPE);
	f = fmemopen(text, sizeof(text), "w");
	REQUIRE(f);
	CHECK(vmbus_server_describe(s.fh->srv, f) == 2);
	fclose(f);
	CHECK(strstr(text, " broken ") != NULL);
	/* The guest closes and reopens: a fresh start. */
	guest_close(s.fh, relid);
	guest_teardown(s.fh, relid, 0x900);
	CHECK(fake_expect(s.fh, CHANNELMSG_GPADL_TORNDOWN) != NULL);
	REQUIRE(guest_open(s.fh, &gc, relid, 0x901, 2, 2, 0) == 0);
	CHECK(!channel_is_broken(s.hb.ch));

	/* A descriptor longer than what was published. */
	REQUIRE(guest_send(&gc.send, VM_PKT_DATA_INBAND, 0, 1, "hello", 5,
			   &sig) == 0);
	d.type = VM_PKT_DATA_INBAND;
	d.offset8 = 2;
	d.len8 = 200;
	d.flags = 0;
	d.trans_id = 1;
	gring_copy_in(&gc.send, 0, &d, sizeof(d));
	CHECK(channel_recv(s.hb.ch, &d, buf, sizeof(buf), &len) == -EPIPE);
	CHECK(channel_is_broken(s.hb.ch));
	/* Further signals are not dispatched to a broken channel. */
	s.hb.signals = 0;
	vmbus_server_signal(s.fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(relid));
	CHECK(s.hb.signals == 0);
	guest_close(s.fh, relid);
	guest_teardown(s.fh, relid, 0x901);
	CHECK(fake_expect(s.fh, CHANNELMSG_GPADL_TORNDOWN) != NULL);

	/* offset8 beyond len8, and a read index scribbled by the guest. */
	REQUIRE(guest_open(s.fh, &gc, relid, 0x902, 2, 2, 0) == 0);
	REQUIRE(guest_send(&gc.send, VM_PKT_DATA_INBAND, 0, 1, "hello", 5,
			   &sig) == 0);
	d.type = VM_PKT_DATA_INBAND;
	d.offset8 = 4;
	d.len8 = 3;
	d.flags = 0;
	d.trans_id = 1;
	gring_copy_in(&gc.send, 0, &d, sizeof(d));
	CHECK(channel_recv(s.hb.ch, &d, buf, sizeof(buf), &len) == -EPIPE);
	guest_close(s.fh, relid);
	guest_teardown(s.fh, relid, 0x902);
	fake_drain_msgs(s.fh);
	REQUIRE(guest_open(s.fh, &gc, relid, 0x903, 2, 2, 0) == 0);
	GSET(&gc.recv, read_index, 12);
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 1, "x", 1) == -EPIPE);
	CHECK(channel_is_broken(s.hb.ch));
	teardown(&s);
}

/* ------------------------------------------------------------------ */
/* Rescind, sub-channels, unload                                       */

static void test_rescind(void)
{
	struct vmbus_channel_rescind_offer *r;
	struct vmbus_channel_relid_released rel = {
		.header.msgtype = CHANNELMSG_RELID_RELEASED,
	};
	struct setup s;
	struct gchan gc;
	struct tvsp t2 = { 0 };
	struct vmbus_channel_offer_channel *o;
	uint32_t relid;
	uint64_t rej;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0xa00, 2, 2, 0) == 0);
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 1, "x", 1) == 0);

	/* Releasing a channel that is not rescinded is out of state. */
	rej = vmbus_server_rejected_count(s.fh->srv);
	rel.child_relid = relid;
	guest_post1(s.fh, &rel, sizeof(rel));
	CHECK(vmbus_server_rejected_count(s.fh->srv) == rej + 1);
	CHECK(vmbus_server_find_channel(s.fh->srv, relid) != NULL);

	CHECK(vmbus_server_rescind(s.fh->srv, s.hb_dev) == 0);
	r = fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER);
	REQUIRE(r);
	CHECK(r->child_relid == relid);
	/* Still open until the guest closes; the relid stays taken. */
	CHECK(s.hb.closes == 0 && s.hb.releases == 0);
	/* The VSP sends nothing more: the guest has given the channel up. */
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 2, "y", 1) == -EPIPE);
	guest_close(s.fh, relid);
	CHECK(s.hb.closes == 1);
	guest_teardown(s.fh, relid, 0xa00);
	CHECK(fake_expect(s.fh, CHANNELMSG_GPADL_TORNDOWN) != NULL);
	CHECK(vmbus_server_find_channel(s.fh->srv, relid) != NULL);
	guest_post1(s.fh, &rel, sizeof(rel));
	CHECK(vmbus_server_find_channel(s.fh->srv, relid) == NULL);
	CHECK(s.hb.releases == 1);
	/* Twice: out of state. */
	rej = vmbus_server_rejected_count(s.fh->srv);
	guest_post1(s.fh, &rel, sizeof(rel));
	CHECK(vmbus_server_rejected_count(s.fh->srv) == rej + 1);

	/* The relid is free for the next device. */
	REQUIRE(vmbus_server_add_device(s.fh->srv, &hb_ops, &inst_b, &t2));
	o = fake_expect(s.fh, CHANNELMSG_OFFERCHANNEL);
	CHECK(o && o->child_relid == relid);

	/* Rescinding something the guest never saw frees it at once. */
	{
		struct fake_host *fh = fake_host_new();
		struct tvsp t3 = { 0 };
		struct vmbus_device *dev;

		REQUIRE(fh);
		dev = vmbus_server_add_device(fh->srv, &hb_ops, &inst_a, &t3);
		REQUIRE(dev);
		CHECK(vmbus_server_rescind(fh->srv, dev) == 0);
		CHECK(t3.releases == 1);
		CHECK(fake_pending_msgs(fh) == 0);
		CHECK(fake_host_free(fh) == 0);
	}
	teardown(&s);
	CHECK(t2.releases == 1);
}

static void test_subchannels(void)
{
	struct vmbus_channel_offer_channel offers[8], *o;
	struct vmbus_channel_message_header m;
	struct setup s;
	struct gchan gc;
	char text[4096];
	uint32_t primary;
	FILE *f;
	int i, n;

	REQUIRE(setup_connected(&s));
	primary = relid_of(&s, &inst_a, 0);
	REQUIRE(guest_open(s.fh, &gc, primary, 0xb00, 2, 2, 0) == 0);
	CHECK(vmbus_server_offer_subchannels(s.scsi_dev, 3) == 0);
	for (i = 1; i <= 3; i++) {
		o = fake_expect(s.fh, CHANNELMSG_OFFERCHANNEL);
		REQUIRE(o);
		CHECK(o->offer.sub_channel_index == i);
		CHECK(guid_equal(&o->offer.if_instance, &inst_a));
		CHECK(guid_equal(&o->offer.if_type, &scsi_ops.class));
		CHECK(o->child_relid != primary);
		/* Each has its own monitor ID and connection. */
		CHECK(o->monitor_flags & VMBUS_OFFER_MONITOR_ALLOCATED);
		CHECK(o->connection_id ==
		      VMBUS_SERVER_CHANNEL_CONN_ID(o->child_relid));
	}
	CHECK(vmbus_server_device_channels(s.scsi_dev) == 4);
	CHECK(vmbus_server_device_channel(s.scsi_dev, 2) != NULL);
	CHECK(channel_subchannel_index(vmbus_server_device_channel(s.scsi_dev, 2)) == 2);

	f = fmemopen(text, sizeof(text), "w");
	REQUIRE(f);
	CHECK(vmbus_server_describe(s.fh->srv, f) == 5);
	fclose(f);
	CHECK(strstr(text, " scsi 11111111-2222-3333-4444-010203040506 open 0 0\n") != NULL);
	CHECK(strstr(text, " scsi 11111111-2222-3333-4444-010203040506 offered 3 -\n") != NULL);
	CHECK(strstr(text, " heartbeat aaaaaaaa-bbbb-cccc-dddd-060504030201 offered 0 -\n") != NULL);

	/* After unload and reconnection all of them are offered again. */
	memset(&m, 0, sizeof(m));
	m.msgtype = CHANNELMSG_UNLOAD;
	guest_post1(s.fh, &m, sizeof(m));
	CHECK(fake_expect(s.fh, CHANNELMSG_UNLOAD_RESPONSE) != NULL);
	CHECK(s.scsi.closes == 1);
	REQUIRE(guest_connect(s.fh) == 0);
	n = guest_take_offers(s.fh, offers, 8);
	CHECK(n == 5);
	CHECK(offers[0].offer.sub_channel_index == 0 &&
	      offers[1].offer.sub_channel_index == 1 &&
	      offers[3].offer.sub_channel_index == 3);
	/* Rescind goes sub-channels first, then the primary. */
	CHECK(vmbus_server_rescind(s.fh->srv, s.scsi_dev) == 0);
	for (i = 3; i >= 0; i--) {
		struct vmbus_channel_rescind_offer *r =
			fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER);

		CHECK(r && r->child_relid == offers[i].child_relid);
	}
	teardown(&s);
	CHECK(s.scsi.releases == 1);
}

static void test_unload_resets(void)
{
	struct vmbus_channel_message_header m = { .msgtype = CHANNELMSG_UNLOAD };
	struct setup s;
	struct gchan gc, gc2;
	uint32_t relid_a, relid_b;
	struct fake_msg *fm;

	REQUIRE(setup_connected(&s));
	relid_a = relid_of(&s, &inst_a, 0);
	relid_b = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid_a, 0xc00, 2, 2, 0) == 0);
	REQUIRE(guest_open(s.fh, &gc2, relid_b, 0xc01, 2, 2, 0) == 0);
	CHECK(guest_gpadl_pages(s.fh, relid_b, 0xc02, gc.send.pfn, 1) == 0);
	CHECK(s.fh->live_maps == 4);

	guest_post1(s.fh, &m, sizeof(m));
	fm = fake_next_msg(s.fh);
	REQUIRE(fm);
	CHECK(fake_msg_type(fm) == CHANNELMSG_UNLOAD_RESPONSE);
	CHECK(s.scsi.closes == 1 && s.hb.closes == 1);
	CHECK(s.fh->live_maps == 0);
	CHECK(vmbus_server_version(s.fh->srv) == 0);
	CHECK(!vmbus_server_offers_delivered(s.fh->srv));
	/* Everything else waits for the next INITIATE_CONTACT. */
	guest_close(s.fh, relid_a);
	CHECK(fake_pending_msgs(s.fh) == 0);

	/* Reconnect: GPADL handles are free again, channels can reopen. */
	REQUIRE(guest_connect(s.fh) == 0);
	CHECK(guest_take_offers(s.fh, s.offers, 16) == 2);
	CHECK(guest_gpadl_pages(s.fh, relid_b, 0xc02, gc.send.pfn, 1) == 0);
	CHECK(guest_open(s.fh, &gc, relid_a, 0xc00, 2, 2, 0) == 0);
	CHECK(s.scsi.opens == 2);

	/* A guest reset does the same without a message. */
	vmbus_server_reset(s.fh->srv);
	CHECK(s.scsi.closes == 2);
	CHECK(fake_pending_msgs(s.fh) == 0);
	CHECK(s.fh->live_maps == 0);
	CHECK(vmbus_server_version(s.fh->srv) == 0);
	teardown(&s);
}

/* ------------------------------------------------------------------ */
/* Other messages, signals, monitor pages                              */

static void test_modify_channel(void)
{
	struct vmbus_channel_modifychannel m = {
		.header.msgtype = CHANNELMSG_MODIFYCHANNEL,
	};
	struct vmbus_channel_modifychannel_response *r;
	struct setup s;
	struct gchan gc;
	unsigned int base;
	uint32_t relid;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0xd00, 2, 2, 0) == 0);
	m.child_relid = relid;
	m.target_vp = 3;
	guest_post1(s.fh, &m, sizeof(m));
	r = fake_expect(s.fh, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	CHECK(r && r->child_relid == relid && r->status == 0);
	CHECK(channel_target_vp(s.hb.ch) == 3);
	base = s.fh->nsignals;
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 1, "x", 1) == 0);
	CHECK(s.fh->nsignals == base + 1 && s.fh->signals[base].vp == 3);
	/* A VP that does not exist. */
	m.target_vp = FAKE_NR_VPS;
	guest_post1(s.fh, &m, sizeof(m));
	r = fake_expect(s.fh, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	CHECK(r && r->status != 0);
	CHECK(channel_target_vp(s.hb.ch) == 3);
	/* A channel that is not open. */
	m.child_relid = relid_of(&s, &inst_a, 0);
	m.target_vp = 1;
	guest_post1(s.fh, &m, sizeof(m));
	r = fake_expect(s.fh, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	CHECK(r && r->status != 0);
	teardown(&s);

	/* Before 4.1 there is no MODIFYCHANNEL; 4.1 has no response. */
	{
		struct fake_host *fh = fake_host_new();
		struct vmbus_channel_version_response *v;

		REQUIRE(fh);
		v = guest_initiate(fh, VMBUS_VERSION_WIN10,
				   VMBUS_MESSAGE_CONNECTION_ID, 0);
		CHECK(v && v->version_supported);
		m.child_relid = 1;
		guest_post1(fh, &m, sizeof(m));
		CHECK(fake_pending_msgs(fh) == 0);
		CHECK(vmbus_server_rejected_count(fh->srv) == 1);
		CHECK(fake_host_free(fh) == 0);
	}
}

static void test_tl_connect_refused(void)
{
	struct vmbus_channel_tl_connect_request m;
	struct setup s;
	struct fake_msg *fm;
	uint32_t status;

	REQUIRE(setup_connected(&s));
	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_TL_CONNECT_REQUEST;
	m.guest_endpoint_id = inst_a;
	m.host_service_id = inst_b;
	guest_post1(s.fh, &m, sizeof(m));
	fm = fake_next_msg(s.fh);
	REQUIRE(fm);
	CHECK(fake_msg_type(fm) == CHANNELMSG_TL_CONNECT_RESULT);
	CHECK(fm->len == 44);
	CHECK(memcmp(fm->data.bytes + 8, &inst_a, 16) == 0);
	CHECK(memcmp(fm->data.bytes + 24, &inst_b, 16) == 0);
	memcpy(&status, fm->data.bytes + 40, 4);
	CHECK(status != 0);
	teardown(&s);
}

static void test_signals_and_monitor(void)
{
	struct hv_monitor_page *mp;
	struct setup s;
	struct gchan gc, gc2;
	uint32_t relid_a, relid_b;
	uint8_t monitorid = 0;
	int i;

	REQUIRE(setup_connected(&s));
	relid_a = relid_of(&s, &inst_a, 0);
	relid_b = relid_of(&s, &inst_b, 0);
	for (i = 0; i < s.noffers; i++)
		if (s.offers[i].child_relid == relid_a)
			monitorid = s.offers[i].monitorid;
	CHECK(!vmbus_server_wants_monitor_poll(s.fh->srv));
	REQUIRE(guest_open(s.fh, &gc2, relid_b, 0xe01, 2, 2, 0) == 0);
	/* Only MNF channels need the poll. */
	CHECK(!vmbus_server_wants_monitor_poll(s.fh->srv));
	REQUIRE(guest_open(s.fh, &gc, relid_a, 0xe00, 2, 2, 0) == 0);
	CHECK(vmbus_server_wants_monitor_poll(s.fh->srv));

	/* Event signals go by connection ID; unknown ones are dropped. */
	vmbus_server_signal(s.fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(relid_b));
	CHECK(s.hb.signals == 1);
	vmbus_server_signal(s.fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(200));
	vmbus_server_signal(s.fh->srv, 0);
	vmbus_server_signal(s.fh->srv, 0xffffffffu);
	vmbus_server_signal(s.fh->srv, VMBUS_SERVER_CHANNEL_CONN_BASE);
	CHECK(s.hb.signals == 1 && s.scsi.signals == 0);

	/* A pending bit in monitor page 2 is taken and dispatched once. */
	mp = fake_page(s.fh, FAKE_MONITOR2_PFN);
	{
		uint32_t *pending = (uint32_t *)((uint8_t *)mp + 8 +
				     (monitorid / 32) * 8);

		__atomic_or_fetch(pending, 1u << (monitorid % 32), __ATOMIC_SEQ_CST);
		/* A bit for an ID nobody has is taken and ignored. */
		__atomic_or_fetch((uint32_t *)((uint8_t *)mp + 8 + 3 * 8),
				  1u << 31, __ATOMIC_SEQ_CST);
		vmbus_server_poll_monitor(s.fh->srv);
		CHECK(s.scsi.signals == 1);
		CHECK(__atomic_load_n(pending, __ATOMIC_SEQ_CST) == 0);
		vmbus_server_poll_monitor(s.fh->srv);
		CHECK(s.scsi.signals == 1);
	}
	guest_close(s.fh, relid_a);
	CHECK(!vmbus_server_wants_monitor_poll(s.fh->srv));
	teardown(&s);
}

static void release_relid(struct fake_host *fh, uint32_t relid)
{
	struct vmbus_channel_relid_released rel = {
		.header.msgtype = CHANNELMSG_RELID_RELEASED,
		.child_relid = relid,
	};

	guest_post1(fh, &rel, sizeof(rel));
}

/* Run a ctl handler; its reply in text, its return value returned. */
static int run_ctl(ctl_handler fn, void *ctx, char *text, size_t cap,
		   int argc, ...)
{
	char *argv[8];
	va_list ap;
	FILE *f;
	int i, rc;

	va_start(ap, argc);
	for (i = 0; i < argc && i < 8; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	memset(text, 0, cap);
	f = fmemopen(text, cap - 1, "w");
	if (!f)
		return -100;
	rc = fn(ctx, argc, argv, f);
	fclose(f);
	return rc;
}

static void test_unplug_replug(void)
{
	struct vmbus_channel_offer_channel *o;
	struct vmbus_channel_rescind_offer *r;
	struct setup s;
	struct gchan gc;
	uint32_t relid, sub_relid, primary;
	char text[4096];
	FILE *f;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0xc00, 2, 2, 1) == 0);

	CHECK(vmbus_server_unplug(s.fh->srv, s.hb_dev) == 0);
	CHECK(vmbus_server_device_unplugged(s.hb_dev));
	r = fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER);
	CHECK(r && r->child_relid == relid);
	/* Twice, or offered again while the guest holds the relid: no. */
	CHECK(vmbus_server_unplug(s.fh->srv, s.hb_dev) == -EINVAL);
	CHECK(vmbus_server_replug(s.fh->srv, s.hb_dev) == -EBUSY);
	CHECK(vmbus_server_offer_subchannels(s.hb_dev, 1) == -EINVAL);
	CHECK(s.hb.closes == 0);
	guest_close(s.fh, relid);
	CHECK(s.hb.closes == 1);
	release_relid(s.fh, relid);
	CHECK(vmbus_server_find_channel(s.fh->srv, relid) == NULL);
	/* Unplugged, not gone: the VSP keeps its device. */
	CHECK(s.hb.releases == 0);
	f = fmemopen(text, sizeof(text), "w");
	REQUIRE(f);
	CHECK(vmbus_server_describe(s.fh->srv, f) == 2);
	fclose(f);
	CHECK(strstr(text, "- heartbeat aaaaaaaa-bbbb-cccc-dddd-060504030201 unplugged - -\n") != NULL);

	/* A new life under a free relid, opened anew. */
	CHECK(vmbus_server_replug(s.fh->srv, s.hb_dev) == 0);
	CHECK(!vmbus_server_device_unplugged(s.hb_dev));
	CHECK(vmbus_server_replug(s.fh->srv, s.hb_dev) == -EINVAL);
	o = fake_expect(s.fh, CHANNELMSG_OFFERCHANNEL);
	REQUIRE(o);
	CHECK(guid_equal(&o->offer.if_instance, &inst_b));
	CHECK(o->offer.sub_channel_index == 0);
	CHECK(vmbus_server_device_channels(s.hb_dev) == 1);
	relid = o->child_relid;
	REQUIRE(guest_open(s.fh, &gc, relid, 0xc01, 2, 2, 0) == 0);
	CHECK(s.hb.opens == 2);

	/* Sub-channels go first, and come back only when offered again. */
	primary = relid_of(&s, &inst_a, 0);
	CHECK(vmbus_server_offer_subchannels(s.scsi_dev, 1) == 0);
	o = fake_expect(s.fh, CHANNELMSG_OFFERCHANNEL);
	REQUIRE(o);
	sub_relid = o->child_relid;
	CHECK(vmbus_server_unplug(s.fh->srv, s.scsi_dev) == 0);
	r = fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER);
	CHECK(r && r->child_relid == sub_relid);
	r = fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER);
	CHECK(r && r->child_relid == primary);
	release_relid(s.fh, sub_relid);
	CHECK(vmbus_server_replug(s.fh->srv, s.scsi_dev) == -EBUSY);
	release_relid(s.fh, primary);
	CHECK(vmbus_server_replug(s.fh->srv, s.scsi_dev) == 0);
	o = fake_expect(s.fh, CHANNELMSG_OFFERCHANNEL);
	CHECK(o && o->offer.sub_channel_index == 0);
	CHECK(vmbus_server_device_channels(s.scsi_dev) == 1);
	CHECK(vmbus_server_offer_subchannels(s.scsi_dev, 1) == 0);
	o = fake_expect(s.fh, CHANNELMSG_OFFERCHANNEL);
	CHECK(o && o->offer.sub_channel_index == 1);

	/* Rescinded for good while unplugged and released: gone at once. */
	CHECK(vmbus_server_unplug(s.fh->srv, s.hb_dev) == 0);
	CHECK(fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER) != NULL);
	guest_close(s.fh, relid);
	release_relid(s.fh, relid);
	CHECK(s.hb.releases == 0);
	CHECK(vmbus_server_rescind(s.fh->srv, s.hb_dev) == 0);
	CHECK(s.hb.releases == 1);
	CHECK(fake_pending_msgs(s.fh) == 0);
	teardown(&s);
	CHECK(s.scsi.releases == 1);

	/* Unplugged before the guest connects: never offered, until replug. */
	{
		struct fake_host *fh = fake_host_new();
		struct vmbus_channel_offer_channel offers[4];
		struct tvsp t = { 0 };
		struct vmbus_device *dev;

		REQUIRE(fh);
		dev = vmbus_server_add_device(fh->srv, &hb_ops, &inst_a, &t);
		REQUIRE(dev);
		CHECK(vmbus_server_unplug(fh->srv, dev) == 0);
		CHECK(fake_pending_msgs(fh) == 0);
		CHECK(t.releases == 0);
		REQUIRE(guest_connect(fh) == 0);
		CHECK(guest_take_offers(fh, offers, 4) == 0);
		CHECK(vmbus_server_replug(fh->srv, dev) == 0);
		o = fake_expect(fh, CHANNELMSG_OFFERCHANNEL);
		CHECK(o && guid_equal(&o->offer.if_instance, &inst_a));
		CHECK(fake_host_free(fh) == 0);
		CHECK(t.releases == 1);
	}
}

static void test_guid_text(void)
{
	const guid_t want = GUID_INIT(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55,
				      0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d);
	char text[37];
	guid_t g;

	CHECK(vmbus_guid_from_str("57164f39-9115-4e78-ab55-382f3bd5422d", &g));
	CHECK(guid_equal(&g, &want));
	CHECK(vmbus_guid_from_str("{57164F39-9115-4E78-AB55-382F3BD5422D}", &g));
	CHECK(guid_equal(&g, &want));
	vmbus_guid_to_str(&want, text);
	CHECK(vmbus_guid_from_str(text, &g) && guid_equal(&g, &want));
	CHECK(!vmbus_guid_from_str(NULL, &g));
	CHECK(!vmbus_guid_from_str("", &g));
	CHECK(!vmbus_guid_from_str("57164f39-9115-4e78-ab55-382f3bd5422", &g));
	CHECK(!vmbus_guid_from_str("57164f39-9115-4e78-ab55-382f3bd5422dd", &g));
	CHECK(!vmbus_guid_from_str("57164f39x9115-4e78-ab55-382f3bd5422d", &g));
	CHECK(!vmbus_guid_from_str("57164f39-9115-4e78-ab5g-382f3bd5422d", &g));
	CHECK(!vmbus_guid_from_str("{57164f39-9115-4e78-ab55-382f3bd5422d", &g));
	CHECK(!vmbus_guid_from_str("57164f3909115-4e78-ab55-382f3bd5422d-", &g));
}

static void test_ctl_rescind_offer(void)
{
	struct vmbus_channel_rescind_offer *r;
	struct vmbus_channel_offer_channel *o;
	struct setup s;
	struct gchan gc;
	uint32_t relid;
	char text[4096], arg[16], want[128];
	void *srv;

	REQUIRE(setup_connected(&s));
	srv = s.fh->srv;
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0xd00, 2, 2, 0) == 0);

	/* Bad arguments change nothing. */
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 1,
		      "rescind") != 0);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", "250") != 0);
	CHECK(strstr(text, "no device") != NULL);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", "0") != 0);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", "1x") != 0);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", "99999999999999999999") != 0);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", "aaaaaaaa-bbbb-cccc-dddd-000000000000") != 0);
	CHECK(run_ctl(vmbus_server_ctl_offer, srv, text, sizeof(text), 2,
		      "offer", "aaaaaaaa-bbbb-cccc-dddd-060504030201") != 0);
	CHECK(strstr(text, "no rescinded device") != NULL);
	CHECK(fake_pending_msgs(s.fh) == 0);

	/* By relid. */
	snprintf(arg, sizeof(arg), "%u", relid);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", arg) == 0);
	snprintf(want, sizeof(want),
		 "rescinded heartbeat aaaaaaaa-bbbb-cccc-dddd-060504030201 relids %u\n",
		 relid);
	CHECK(strcmp(text, want) == 0);
	r = fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER);
	CHECK(r && r->child_relid == relid);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", arg) != 0);
	CHECK(strstr(text, "already rescinded") != NULL);
	CHECK(run_ctl(vmbus_server_ctl_offer, srv, text, sizeof(text), 2,
		      "offer", "{AAAAAAAA-BBBB-CCCC-DDDD-060504030201}") != 0);
	snprintf(want, sizeof(want), "the guest has not released relid %u of", relid);
	CHECK(strstr(text, want) != NULL);
	guest_close(s.fh, relid);
	release_relid(s.fh, relid);
	CHECK(run_ctl(vmbus_server_ctl_devices, srv, text, sizeof(text), 1,
		      "devices") == 0);
	CHECK(strstr(text, "- heartbeat aaaaaaaa-bbbb-cccc-dddd-060504030201 unplugged - -\n") != NULL);
	CHECK(run_ctl(vmbus_server_ctl_offer, srv, text, sizeof(text), 2,
		      "offer", "aaaaaaaa-bbbb-cccc-dddd-060504030201") == 0);
	o = fake_expect(s.fh, CHANNELMSG_OFFERCHANNEL);
	REQUIRE(o);
	snprintf(want, sizeof(want),
		 "offered heartbeat aaaaaaaa-bbbb-cccc-dddd-060504030201 relid %u\n",
		 o->child_relid);
	CHECK(strcmp(text, want) == 0);

	/* By instance: every channel of the device. */
	CHECK(vmbus_server_offer_subchannels(s.scsi_dev, 2) == 0);
	fake_drain_msgs(s.fh);
	CHECK(run_ctl(vmbus_server_ctl_rescind, srv, text, sizeof(text), 2,
		      "rescind", "11111111-2222-3333-4444-010203040506") == 0);
	CHECK(strncmp(text, "rescinded scsi 11111111-2222-3333-4444-010203040506 relids ", 59) == 0);
	CHECK(fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER) != NULL);
	CHECK(fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER) != NULL);
	CHECK(fake_expect(s.fh, CHANNELMSG_RESCIND_CHANNELOFFER) != NULL);
	CHECK(fake_pending_msgs(s.fh) == 0);

	CHECK(run_ctl(vmbus_server_ctl_devices, srv, text, sizeof(text), 2,
		      "devices", "-x") != 0);
	CHECK(run_ctl(vmbus_server_ctl_devices, srv, text, sizeof(text), 2,
		      "devices", "-v") == 0);
	CHECK(strstr(text, " rescinded 2 - monitor=") != NULL);
	CHECK(strstr(text, " offered 0 - monitor=- signals_in=0 monitor_signals=0 signals_out=0 packets_in=0 packets_out=0\n") != NULL);
	teardown(&s);
	CHECK(s.hb.releases == 1 && s.scsi.releases == 1);
}

/* Monitor page 2 names a monitored channel's connection; polls count. */
static void test_monitor_page_parameters(void)
{
	const struct vmbus_channel_offer_channel *offer = NULL;
	uint8_t *mp;
	struct setup s;
	struct gchan gc;
	uint32_t relid, conn, *pending;
	uint16_t latency;
	unsigned int id;
	char text[4096], want[160];
	int i;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_a, 0);
	for (i = 0; i < s.noffers; i++)
		if (s.offers[i].child_relid == relid)
			offer = &s.offers[i];
	REQUIRE(offer && (offer->monitor_flags & VMBUS_OFFER_MONITOR_ALLOCATED));
	id = offer->monitorid;
	mp = fake_page(s.fh, FAKE_MONITOR2_PFN);
	memcpy(&conn, mp + offsetof(struct hv_monitor_page, parameter) +
	       id * sizeof(struct hv_monitor_parameter), sizeof(conn));
	memcpy(&latency, mp + offsetof(struct hv_monitor_page, latency) +
	       id * sizeof(uint16_t), sizeof(latency));
	CHECK(conn == offer->connection_id);
	CHECK(latency == 10000);

	REQUIRE(guest_open(s.fh, &gc, relid, 0xf00, 2, 2, 0) == 0);
	pending = (uint32_t *)(mp + 8 + (id / 32) * 8);
	for (i = 0; i < 3; i++) {
		__atomic_or_fetch(pending, 1u << (id % 32), __ATOMIC_SEQ_CST);
		vmbus_server_poll_monitor(s.fh->srv);
	}
	vmbus_server_signal(s.fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(relid));
	CHECK(s.scsi.signals == 4);
	CHECK(run_ctl(vmbus_server_ctl_devices, s.fh->srv, text, sizeof(text),
		      2, "devices", "-v") == 0);
	snprintf(want, sizeof(want), "%u scsi 11111111-2222-3333-4444-010203040506 open 0 0 monitor=%u signals_in=4 monitor_signals=3 ",
		 relid, id);
	CHECK(strstr(text, want) != NULL);

	/* Rescinded and released: the page no longer names it. */
	CHECK(vmbus_server_unplug(s.fh->srv, s.scsi_dev) == 0);
	guest_close(s.fh, relid);
	release_relid(s.fh, relid);
	memcpy(&conn, mp + offsetof(struct hv_monitor_page, parameter) +
	       id * sizeof(struct hv_monitor_parameter), sizeof(conn));
	CHECK(conn == 0);
	teardown(&s);
}

/* Random junk must neither crash the server nor change its state. */
static void test_random_messages(void)
{
	union vmbus_channel_msg_any u;
	struct setup s;
	struct gchan gc;
	uint32_t relid, x = 12345, len, type, rel;
	int i, j;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0xf00, 2, 2, 0) == 0);
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < HV_MESSAGE_PAYLOAD_BYTES; j++) {
			x = x * 1103515245u + 12345u;
			u.bytes[j] = (uint8_t)(x >> 16);
		}
		/* Mostly valid types with small relids, to get past the switch. */
		x = x * 1103515245u + 12345u;
		type = (x >> 8) % 26;
		rel = (x >> 16) % 4;
		/* Keep the guest from unloading or closing our test channel. */
		if (type == CHANNELMSG_UNLOAD || type == CHANNELMSG_INITIATE_CONTACT)
			type = CHANNELMSG_INVALID;
		if (rel == relid)
			rel = 0;
		memcpy(u.bytes, &type, 4);
		memcpy(u.bytes + 8, &rel, 4);
		len = (x >> 3) % (HV_MESSAGE_PAYLOAD_BYTES + 1);
		guest_post1(s.fh, u.bytes, len);
		fake_drain_msgs(s.fh);
		if (s.fh->nmsgs > FAKE_MAX_MSGS - 16)
			s.fh->nmsgs = s.fh->consumed = 0;
	}
	CHECK(guest_post1(s.fh, u.bytes, HV_MESSAGE_PAYLOAD_BYTES + 1) ==
	      HV_STATUS_INVALID_PARAMETER);
	CHECK(vmbus_server_post(s.fh->srv, 0, 1, 0, u.bytes, 8) ==
	      HV_STATUS_INVALID_PARAMETER);
	/* Our channel still works. */
	CHECK(s.hb.ch && !channel_is_broken(s.hb.ch));
	CHECK(channel_send(s.hb.ch, VM_PKT_DATA_INBAND, 0, 1, "ok", 2) == 0);
	CHECK(vmbus_server_version(s.fh->srv) == VMBUS_VERSION_WIN10_V5_3);
	teardown(&s);
}

/* Sends from several threads while the guest drains. */
struct sender_arg {
	struct channel *ch;
	int id;
	int sent;
};

static void *sender(void *p)
{
	struct sender_arg *a = p;
	uint8_t data[100];
	int rc;

	memset(data, a->id, sizeof(data));
	while (a->sent < 2000) {
		rc = channel_send(a->ch, VM_PKT_DATA_INBAND, 0,
				  ((uint64_t)a->id << 32) | (uint64_t)a->sent,
				  data, sizeof(data));
		if (rc == 0)
			a->sent++;
		else if (rc != -EAGAIN)
			break;
	}
	return NULL;
}

static void test_threaded_senders(void)
{
	struct sender_arg args[3];
	pthread_t th[3];
	struct vmpacket_descriptor d;
	uint8_t buf[256];
	struct setup s;
	struct gchan gc;
	uint32_t relid, len, next[3] = { 0, 0, 0 };
	int i, got = 0, bad = 0;
	bool sig;

	REQUIRE(setup_connected(&s));
	relid = relid_of(&s, &inst_b, 0);
	REQUIRE(guest_open(s.fh, &gc, relid, 0xf10, 2, 3, 0) == 0);
	for (i = 0; i < 3; i++) {
		args[i].ch = s.hb.ch;
		args[i].id = i;
		args[i].sent = 0;
		REQUIRE(pthread_create(&th[i], NULL, sender, &args[i]) == 0);
	}
	while (got < 6000) {
		int rc = guest_recv(&gc.recv, &d, buf, sizeof(buf), &len, &sig);

		if (rc == -EAGAIN)
			continue;
		if (rc) {
			bad++;
			break;
		}
		i = (int)(d.trans_id >> 32);
		if (i < 0 || i > 2 || (uint32_t)d.trans_id != next[i] ||
		    buf[0] != i || buf[99] != i)
			bad++;
		else
			next[i]++;
		got++;
	}
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK(bad == 0);
	CHECK(got == 6000);
	teardown(&s);
}

int main(void)
{
	RUN_TEST(test_version_5_3_accepted);
	RUN_TEST(test_version_unknown_rejected);
	RUN_TEST(test_version_connection_id_rules);
	RUN_TEST(test_offers_and_hot_add);
	RUN_TEST(test_gpadl_multi_range);
	RUN_TEST(test_gpadl_malformed);
	RUN_TEST(test_open_close);
	RUN_TEST(test_packets_both_ways_with_wrap);
	RUN_TEST(test_interrupt_mask_and_empty_rule);
	RUN_TEST(test_pending_send_sz);
	RUN_TEST(test_garbage_marks_broken);
	RUN_TEST(test_rescind);
	RUN_TEST(test_subchannels);
	RUN_TEST(test_unload_resets);
	RUN_TEST(test_modify_channel);
	RUN_TEST(test_tl_connect_refused);
	RUN_TEST(test_signals_and_monitor);
	RUN_TEST(test_unplug_replug);
	RUN_TEST(test_guid_text);
	RUN_TEST(test_ctl_rescind_offer);
	RUN_TEST(test_monitor_page_parameters);
	RUN_TEST(test_random_messages);
	RUN_TEST(test_threaded_senders);
	return check_finish();
}
