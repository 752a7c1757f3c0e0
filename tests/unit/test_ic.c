// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The host's integration components: message building and negotiation
 * parsing, then heartbeat and shutdown end to end through the VMBus server
 * against a scripted guest that answers the way Linux's hv_utils does.
 */
#include <time.h>

#include "check.h"
#include "ic_guest.h"
#include "vmbus_fake.h"
#include "vsp/ic.h"
#include "vsp/ic_hotplug.h"

/* ------------------------------------------------------------------ */
/* Pure building and parsing                                           */

static void test_build_negotiate(void)
{
	static const uint32_t msg[] = { IC_VERSION(3, 2), IC_VERSION(3, 1),
					IC_VERSION(1, 0) };
	uint8_t buf[256];
	struct vmbus_pipe_header pipe;
	struct icmsg_hdr hdr;
	struct icmsg_negotiate neg;
	struct ic_version v[5];
	int len;

	len = ic_build_negotiate(buf, sizeof(buf), ic_framework_versions, 2,
				 msg, 3, 9);
	REQUIRE(len == (int)(IC_HEADER_SIZE + sizeof(neg) + 5 * 4));
	memcpy(&pipe, buf, sizeof(pipe));
	memcpy(&hdr, buf + 8, sizeof(hdr));
	memcpy(&neg, buf + IC_HEADER_SIZE, sizeof(neg));
	memcpy(v, buf + IC_HEADER_SIZE + sizeof(neg), sizeof(v));
	CHECK(pipe.msgsize == (uint32_t)len - 8);
	CHECK(hdr.icmsgtype == ICMSGTYPE_NEGOTIATE);
	CHECK(hdr.icmsgsize == sizeof(neg) + 5 * 4);
	CHECK(hdr.icflags == (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST));
	CHECK(hdr.ictransaction_id == 9);
	CHECK(hdr.status == 0);
	CHECK(neg.icframe_vercnt == 2 && neg.icmsg_vercnt == 3);
	CHECK(v[0].major == 3 && v[0].minor == 0);
	CHECK(v[1].major == 1 && v[1].minor == 0);
	CHECK(v[2].major == 3 && v[2].minor == 2);
	CHECK(v[3].major == 3 && v[3].minor == 1);
	CHECK(v[4].major == 1 && v[4].minor == 0);
	/* Too small a buffer, too many versions. */
	CHECK(ic_build_negotiate(buf, 40, ic_framework_versions, 2, msg, 3, 0) ==
	      -EMSGSIZE);
	CHECK(ic_build_negotiate(buf, sizeof(buf), ic_framework_versions, 2,
				 msg, IC_NEGOTIATE_MAX_VERSIONS, 0) == -EINVAL);
}


static const uint32_t hb_versions[] = { IC_HEARTBEAT_VERSION_3,
					IC_HEARTBEAT_VERSION_1 };
static const uint32_t sd_versions[] = { IC_SHUTDOWN_VERSION_3_2,
					IC_SHUTDOWN_VERSION_3_1,
					IC_SHUTDOWN_VERSION_3,
					IC_SHUTDOWN_VERSION_1 };
static const uint32_t fw_both[] = { IC_FRAMEWORK_VERSION_3,
				    IC_FRAMEWORK_VERSION_1 };
static const uint32_t fw_old[] = { IC_FRAMEWORK_VERSION_1 };

static void test_parse_negotiate_response(void)
{
	static const uint32_t old_sd[] = { IC_SHUTDOWN_VERSION_3 };
	static const uint32_t alien[] = { IC_VERSION(9, 9) };
	uint8_t buf[256], copy[256];
	struct icmsg_hdr hdr;
	uint32_t fw = 0, sv = 0;
	int len;

	len = ic_build_negotiate(buf, sizeof(buf), ic_framework_versions, 2,
				 sd_versions, 4, 1);
	REQUIRE(len > 0);
	memcpy(copy, buf, (size_t)len);

	/* A request is not an answer. */
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == -EBADMSG);
	/* A new guest takes the best of each. */
	ic_guest_negotiate(buf, (uint32_t)len, fw_both, 2, sd_versions, 4);
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == 0);
	CHECK(fw == IC_FRAMEWORK_VERSION_3 && sv == IC_SHUTDOWN_VERSION_3_2);
	/* An old guest: framework 1.0, shutdown 3.0. */
	memcpy(buf, copy, (size_t)len);
	ic_guest_negotiate(buf, (uint32_t)len, fw_old, 1, old_sd, 1);
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == 0);
	CHECK(fw == IC_FRAMEWORK_VERSION_1 && sv == IC_SHUTDOWN_VERSION_3);
	/* Nothing in common: zero counts. */
	memcpy(buf, copy, (size_t)len);
	ic_guest_negotiate(buf, (uint32_t)len, fw_both, 2, alien, 1);
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == -EPROTO);
	/* A failure status, whatever the counts. */
	memcpy(buf, copy, (size_t)len);
	ic_guest_negotiate(buf, (uint32_t)len, fw_both, 2, sd_versions, 4);
	memcpy(&hdr, buf + 8, sizeof(hdr));
	hdr.status = IC_E_FAIL;
	memcpy(buf + 8, &hdr, sizeof(hdr));
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == -EPROTO);
	/* A version the host never offered. */
	memcpy(buf, copy, (size_t)len);
	ic_guest_negotiate(buf, (uint32_t)len, fw_both, 2, sd_versions, 4);
	buf[IC_HEADER_SIZE + 8 + 4] = 7;
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == -EBADMSG);
	/* Two of each, or cut short. */
	memcpy(buf, copy, (size_t)len);
	ic_guest_negotiate(buf, (uint32_t)len, fw_both, 2, sd_versions, 4);
	buf[IC_HEADER_SIZE] = 2;
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == -EBADMSG);
	buf[IC_HEADER_SIZE] = 1;
	CHECK(ic_parse_negotiate_response(buf, IC_HEADER_SIZE + 12,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == -EBADMSG);
	CHECK(ic_parse_negotiate_response(buf, 10, ic_framework_versions, 2,
					  sd_versions, 4, &fw, &sv) == -EBADMSG);
	/* Another message type answered. */
	memcpy(&hdr, buf + 8, sizeof(hdr));
	hdr.icmsgtype = ICMSGTYPE_HEARTBEAT;
	memcpy(buf + 8, &hdr, sizeof(hdr));
	CHECK(ic_parse_negotiate_response(buf, (uint32_t)len,
					  ic_framework_versions, 2, sd_versions,
					  4, &fw, &sv) == -EBADMSG);
}

static void test_build_heartbeat_and_shutdown(void)
{
	uint8_t buf[4096];
	struct icmsg_hdr hdr;
	struct ic_heartbeat_msg hb;
	struct ic_shutdown_msg sd;
	uint32_t flags;
	int len;

	len = ic_build_heartbeat(buf, sizeof(buf), IC_FRAMEWORK_VERSION_3,
				 IC_HEARTBEAT_VERSION_3, 4, 77);
	REQUIRE(len == (int)(IC_HEADER_SIZE + sizeof(hb)));
	memcpy(&hdr, buf + 8, sizeof(hdr));
	memcpy(&hb, buf + IC_HEADER_SIZE, sizeof(hb));
	CHECK(hdr.icmsgtype == ICMSGTYPE_HEARTBEAT);
	CHECK(hdr.icverframe.major == 3 && hdr.icverframe.minor == 0);
	CHECK(hdr.icvermsg.major == 3 && hdr.icvermsg.minor == 0);
	CHECK(hdr.icmsgsize == sizeof(hb));
	CHECK(hdr.ictransaction_id == 4);
	CHECK(hb.seq_num == 77);

	CHECK(ic_shutdown_flags(IC_SHUTDOWN_POWEROFF, false,
				IC_SHUTDOWN_VERSION_1, &flags) == 0 && flags == 0);
	CHECK(ic_shutdown_flags(IC_SHUTDOWN_POWEROFF, true,
				IC_SHUTDOWN_VERSION_3, &flags) == 0 &&
	      flags == IC_SHUTDOWN_FLAG_FORCE);
	CHECK(ic_shutdown_flags(IC_SHUTDOWN_REBOOT, false,
				IC_SHUTDOWN_VERSION_3, &flags) == -ENOTSUP);
	CHECK(ic_shutdown_flags(IC_SHUTDOWN_REBOOT, true,
				IC_SHUTDOWN_VERSION_3_1, &flags) == 0 &&
	      flags == (IC_SHUTDOWN_FLAG_REBOOT | IC_SHUTDOWN_FLAG_FORCE));
	CHECK(ic_shutdown_flags(IC_SHUTDOWN_HIBERNATE, false,
				IC_SHUTDOWN_VERSION_3_1, &flags) == -ENOTSUP);
	CHECK(ic_shutdown_flags(IC_SHUTDOWN_HIBERNATE, false,
				IC_SHUTDOWN_VERSION_3_2, &flags) == 0 &&
	      flags == IC_SHUTDOWN_FLAG_HIBERNATE);
	CHECK(ic_shutdown_flags(IC_SHUTDOWN_HIBERNATE, true,
				IC_SHUTDOWN_VERSION_3_2, &flags) == -EINVAL);

	len = ic_build_shutdown(buf, sizeof(buf), IC_FRAMEWORK_VERSION_3,
				IC_SHUTDOWN_VERSION_3_1, 1,
				IC_SHUTDOWN_FLAG_REBOOT, "bye");
	REQUIRE(len == (int)(IC_HEADER_SIZE + sizeof(sd)));
	memcpy(&hdr, buf + 8, sizeof(hdr));
	memcpy(&sd, buf + IC_HEADER_SIZE, sizeof(sd));
	CHECK(hdr.icmsgtype == ICMSGTYPE_SHUTDOWN);
	CHECK(hdr.icvermsg.major == 3 && hdr.icvermsg.minor == 1);
	CHECK(sd.flags == IC_SHUTDOWN_FLAG_REBOOT);
	CHECK(strcmp((char *)sd.display_message, "bye") == 0);
	/* Linux needs the whole shutdown_msg_data in its one-page buffer. */
	CHECK(len + 16 <= 4096);
	CHECK(ic_build_shutdown(buf, 100, IC_FRAMEWORK_VERSION_3,
				IC_SHUTDOWN_VERSION_3, 1, 0, NULL) == -EMSGSIZE);
}

/* ------------------------------------------------------------------ */
/* A Linux-like guest IC driver                                        */

struct gic {
	struct fake_host *fh;
	struct gchan gc;
	uint32_t relid;
	const uint32_t *fw, *sv;
	size_t nfw, nsv;
	bool silent;			/* never answers */
	uint32_t sd_status;		/* status for shutdown requests */
	int negotiations, heartbeats, shutdowns;
	uint32_t last_flags;
	uint64_t last_seq;
	struct icmsg_hdr last_hdr;
	int errors;
};

/* Read every request and answer it in place, as hv_utils does. */
static void gic_service(struct gic *g)
{
	static uint8_t pkt[8192];
	struct vmpacket_descriptor d;
	struct icmsg_hdr hdr;
	uint32_t len;
	bool sig;

	while (guest_recv(&g->gc.recv, &d, pkt, sizeof(pkt), &len, &sig) == 0) {
		if (g->silent)
			continue;
		if (len < IC_HEADER_SIZE) {
			g->errors++;
			continue;
		}
		memcpy(&hdr, pkt + 8, sizeof(hdr));
		g->last_hdr = hdr;
		if (hdr.icmsgtype == ICMSGTYPE_NEGOTIATE) {
			g->negotiations++;
			ic_guest_negotiate(pkt, len, g->fw, g->nfw, g->sv, g->nsv);
			memcpy(&hdr, pkt + 8, sizeof(hdr));
		} else if (hdr.icmsgtype == ICMSGTYPE_HEARTBEAT &&
			   len >= IC_HEADER_SIZE + sizeof(struct ic_heartbeat_msg)) {
			struct ic_heartbeat_msg m;

			memcpy(&m, pkt + IC_HEADER_SIZE, sizeof(m));
			g->heartbeats++;
			g->last_seq = m.seq_num;
			m.seq_num += 1;
			memcpy(pkt + IC_HEADER_SIZE, &m, sizeof(m));
		} else if (hdr.icmsgtype == ICMSGTYPE_SHUTDOWN &&
			   len >= IC_HEADER_SIZE + sizeof(struct ic_shutdown_msg)) {
			struct ic_shutdown_msg m;

			memcpy(&m, pkt + IC_HEADER_SIZE, sizeof(m));
			g->shutdowns++;
			g->last_flags = m.flags;
			hdr.status = g->sd_status;
		} else {
			g->errors++;
			hdr.status = IC_E_FAIL;
		}
		hdr.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
		memcpy(pkt + 8, &hdr, sizeof(hdr));
		if (guest_send(&g->gc.send, VM_PKT_DATA_INBAND, 0, d.trans_id,
			       pkt, len, &sig))
			g->errors++;
	}
}

static void gic_hook(struct fake_host *fh, uint32_t vp, uint32_t sint,
		     uint32_t flag)
{
	struct gic *g = fh->hook_ctx;

	(void)vp;
	(void)sint;
	if (g && flag == g->relid && g->gc.recv.pages)
		gic_service(g);
}

static void gic_signal_host(struct gic *g)
{
	vmbus_server_signal(g->fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(g->relid));
}

/* Connect, find the one offer, open it with IC-sized rings. */
static bool gic_open(struct gic *g, struct fake_host *fh, const uint32_t *fw,
		     size_t nfw, const uint32_t *sv, size_t nsv)
{
	struct vmbus_channel_offer_channel offers[4];

	memset(g, 0, sizeof(*g));
	g->fh = fh;
	g->fw = fw;
	g->nfw = nfw;
	g->sv = sv;
	g->nsv = nsv;
	fh->hook_ctx = g;
	fh->on_signal_guest = gic_hook;
	if (guest_connect(fh) || guest_take_offers(fh, offers, 4) != 1)
		return false;
	g->relid = offers[0].child_relid;
	/* The hook answers NEGOTIATE as soon as the host sends it. */
	g->gc.recv.pages = 0;
	if (guest_open(fh, &g->gc, g->relid, 0x77, IC_RING_SIZE / 4096,
		       IC_RING_SIZE / 4096, 0) != 0)
		return false;
	/* The open's NEGOTIATE arrived before the guest knew its rings. */
	gic_service(g);
	gic_signal_host(g);
	return true;
}

static int ctl_run(int (*fn)(void *, int, char **, FILE *), void *ctx,
		   char *out, size_t cap, const char *a0, const char *a1,
		   const char *a2)
{
	char *argv[3] = { (char *)a0, (char *)a1, (char *)a2 };
	int argc = a2 ? 3 : a1 ? 2 : 1;
	FILE *f = fmemopen(out, cap, "w");
	int rc;

	if (!f)
		return -100;
	rc = fn(ctx, argc, argv, f);
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------------ */
/* End to end                                                          */

static const guid_t hb_instance = GUID_INIT(0x12345678, 1, 2, 3, 4, 5, 6, 7,
					    8, 9, 10);
static const guid_t sd_instance = GUID_INIT(0x87654321, 1, 2, 3, 4, 5, 6, 7,
					    8, 9, 10);

static void test_heartbeat_end_to_end(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_heartbeat *hb = ic_heartbeat_create(0);
	struct ic_heartbeat_status st;
	struct gic g;
	uint32_t fw = 0, mv = 0;
	char out[512];
	int i;

	REQUIRE(fh && hb);
	REQUIRE(ic_heartbeat_attach(hb, fh->srv, &hb_instance));
	CHECK(ic_heartbeat_tick(hb) == -ENOTCONN);
	REQUIRE(gic_open(&g, fh, fw_both, 2, hb_versions, 2));
	CHECK(g.negotiations == 1);
	CHECK(ic_service_state(ic_heartbeat_service(hb), &fw, &mv) ==
	      IC_STATE_READY);
	CHECK(fw == IC_FRAMEWORK_VERSION_3 && mv == IC_HEARTBEAT_VERSION_3);

	for (i = 0; i < 3; i++) {
		CHECK(ic_heartbeat_tick(hb) == 0);
		gic_signal_host(&g);
	}
	CHECK(g.heartbeats == 3 && g.last_seq == 3);
	CHECK(g.last_hdr.icverframe.major == 3 && g.last_hdr.icvermsg.major == 3);
	CHECK(g.last_hdr.icflags == (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST));
	ic_heartbeat_get_status(hb, &st);
	CHECK(st.state == IC_STATE_READY);
	CHECK(st.sent == 3 && st.last_sent_seq == 3);
	CHECK(st.answers == 3 && st.last_answer_seq == 4);
	CHECK(st.bad_answers == 0);
	CHECK(st.last_answer_age_ms >= 0 && st.last_answer_age_ms < 5000);
	CHECK(ctl_run(ic_heartbeat_ctl, hb, out, sizeof(out), "heartbeat",
		      NULL, NULL) == 0);
	CHECK(strncmp(out, "state=ready version=3.0 sent=3 last_sent=3 answers=3 last_answer=4 age_ms=",
		      strlen("state=ready version=3.0 sent=3 last_sent=3 answers=3 last_answer=4 age_ms=")) == 0);
	CHECK(g.errors == 0);

	/* The guest closes: no more heartbeats, state closed. */
	guest_close(fh, g.relid);
	CHECK(ic_heartbeat_tick(hb) == -ENOTCONN);
	ic_heartbeat_get_status(hb, &st);
	CHECK(st.state == IC_STATE_CLOSED);
	CHECK(fake_host_free(fh) == 0);
	ic_heartbeat_destroy(hb);
}

static void test_heartbeat_old_guest_and_bad_answers(void)
{
	static const uint32_t hb_old[] = { IC_HEARTBEAT_VERSION_1 };
	struct fake_host *fh = fake_host_new();
	struct ic_heartbeat *hb = ic_heartbeat_create(0);
	struct ic_heartbeat_status st;
	struct gic g;
	uint32_t fw = 0, mv = 0;
	uint8_t pkt[256];
	bool sig;
	int len;

	REQUIRE(fh && hb);
	REQUIRE(ic_heartbeat_attach(hb, fh->srv, &hb_instance));
	REQUIRE(gic_open(&g, fh, fw_old, 1, hb_old, 1));
	CHECK(ic_service_state(ic_heartbeat_service(hb), &fw, &mv) ==
	      IC_STATE_READY);
	CHECK(fw == IC_FRAMEWORK_VERSION_1 && mv == IC_HEARTBEAT_VERSION_1);
	CHECK(ic_heartbeat_tick(hb) == 0);
	gic_signal_host(&g);
	CHECK(g.last_hdr.icverframe.major == 1 && g.last_hdr.icvermsg.major == 1);

	/* Answers for heartbeats never sent, and junk, are counted as bad. */
	len = ic_build_heartbeat(pkt, sizeof(pkt), IC_FRAMEWORK_VERSION_1,
				 IC_HEARTBEAT_VERSION_1, 0, 1000);
	REQUIRE(len > 0);
	pkt[8 + offsetof(struct icmsg_hdr, icflags)] = ICMSGHDRFLAG_RESPONSE;
	CHECK(guest_send(&g.gc.send, VM_PKT_DATA_INBAND, 0, 555, pkt,
			 (uint32_t)len, &sig) == 0);
	CHECK(guest_send(&g.gc.send, VM_PKT_DATA_INBAND, 0, 556, pkt, 10,
			 &sig) == 0);
	CHECK(guest_send(&g.gc.send, VM_PKT_COMP, 0, 557, pkt, 40, &sig) == 0);
	gic_signal_host(&g);
	ic_heartbeat_get_status(hb, &st);
	CHECK(st.answers == 1 && st.last_answer_seq == 2);
	CHECK(st.bad_answers == 1);
	CHECK(fake_host_free(fh) == 0);
	ic_heartbeat_destroy(hb);
}

static void test_negotiation_failure(void)
{
	static const uint32_t alien[] = { IC_VERSION(7, 0) };
	struct fake_host *fh = fake_host_new();
	struct ic_shutdown *sd = ic_shutdown_create();
	struct gic g;
	char out[512];

	REQUIRE(fh && sd);
	REQUIRE(ic_shutdown_attach(sd, fh->srv, &sd_instance));
	REQUIRE(gic_open(&g, fh, fw_both, 2, alien, 1));
	CHECK(ic_service_state(ic_shutdown_service(sd), NULL, NULL) ==
	      IC_STATE_FAILED);
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown", NULL,
		      NULL) != 0);
	CHECK(strcmp(out, "error: shutdown IC not ready (failed)\n") == 0);
	CHECK(g.shutdowns == 0);
	CHECK(fake_host_free(fh) == 0);
	ic_shutdown_destroy(sd);
}

static void test_shutdown_end_to_end(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_shutdown *sd = ic_shutdown_create();
	struct gic g;
	uint32_t status = 1;
	char out[512];

	REQUIRE(fh && sd);
	REQUIRE(ic_shutdown_attach(sd, fh->srv, &sd_instance));
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown", NULL,
		      NULL) != 0);
	CHECK(strcmp(out, "error: shutdown IC not ready (closed)\n") == 0);
	REQUIRE(gic_open(&g, fh, fw_both, 2, sd_versions, 4));

	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown",
		      "reboot", "--force") == 0);
	CHECK(strcmp(out, "ok\n") == 0);
	CHECK(g.shutdowns == 1 &&
	      g.last_flags == (IC_SHUTDOWN_FLAG_REBOOT | IC_SHUTDOWN_FLAG_FORCE));
	CHECK(g.last_hdr.icvermsg.major == 3 && g.last_hdr.icvermsg.minor == 2);

	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown",
		      "hibernate", NULL) == 0);
	CHECK(g.last_flags == IC_SHUTDOWN_FLAG_HIBERNATE);
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown", NULL,
		      NULL) == 0);
	CHECK(g.shutdowns == 3 && g.last_flags == 0);

	/* The guest says no (Linux does for hibernate without swap). */
	g.sd_status = IC_E_FAIL;
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown",
		      "hibernate", NULL) != 0);
	CHECK(strcmp(out, "refused status=0x80004005\n") == 0);
	CHECK(ic_shutdown_request(sd, IC_SHUTDOWN_POWEROFF, true, 1000,
				  &status) == 0);
	CHECK(status == IC_E_FAIL && g.last_flags == IC_SHUTDOWN_FLAG_FORCE);

	/* Bad arguments never reach the guest. */
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown",
		      "sideways", NULL) != 0);
	CHECK(strncmp(out, "error: usage:", 13) == 0);
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown",
		      "hibernate", "--force") != 0);
	CHECK(strncmp(out, "error: --force", 14) == 0);
	CHECK(g.shutdowns == 5);

	/* A guest that never answers: timeout, and the next one still works. */
	g.silent = true;
	CHECK(ic_shutdown_request(sd, IC_SHUTDOWN_POWEROFF, false, 50,
				  &status) == -ETIMEDOUT);
	g.silent = false;
	g.sd_status = IC_S_OK;
	CHECK(ic_shutdown_request(sd, IC_SHUTDOWN_REBOOT, false, 1000,
				  &status) == 0);
	CHECK(status == IC_S_OK);
	CHECK(g.errors == 0);
	CHECK(fake_host_free(fh) == 0);
	ic_shutdown_destroy(sd);
}

static void test_shutdown_old_guest(void)
{
	static const uint32_t sd_old[] = { IC_SHUTDOWN_VERSION_3,
					   IC_SHUTDOWN_VERSION_1 };
	struct fake_host *fh = fake_host_new();
	struct ic_shutdown *sd = ic_shutdown_create();
	struct gic g;
	char out[512];

	REQUIRE(fh && sd);
	REQUIRE(ic_shutdown_attach(sd, fh->srv, &sd_instance));
	REQUIRE(gic_open(&g, fh, fw_both, 2, sd_old, 2));
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown",
		      "reboot", NULL) != 0);
	CHECK(strcmp(out, "error: the guest's shutdown IC 3.0 cannot reboot\n") == 0);
	CHECK(ctl_run(ic_shutdown_ctl, sd, out, sizeof(out), "shutdown",
		      "poweroff", "-f") == 0);
	CHECK(g.shutdowns == 1 && g.last_flags == IC_SHUTDOWN_FLAG_FORCE);
	CHECK(fake_host_free(fh) == 0);
	ic_shutdown_destroy(sd);
}

static void test_heartbeat_thread(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_heartbeat *hb = ic_heartbeat_create(10);
	struct ic_heartbeat_status st;
	struct timespec ts = { 0, 2 * 1000000L };
	struct gic g;
	int i;

	REQUIRE(fh && hb);
	REQUIRE(ic_heartbeat_attach(hb, fh->srv, &hb_instance));
	REQUIRE(gic_open(&g, fh, fw_both, 2, hb_versions, 2));
	for (i = 0; i < 150; i++) {
		nanosleep(&ts, NULL);
		gic_signal_host(&g);
	}
	ic_heartbeat_get_status(hb, &st);
	CHECK(st.sent >= 3);
	CHECK(st.answers >= 2);
	CHECK(st.bad_answers == 0);
	CHECK(fake_host_free(fh) == 0);
	ic_heartbeat_destroy(hb);
}

static int ctl_runv(int (*fn)(void *, int, char **, FILE *), void *ctx,
		    char *out, size_t cap, int argc, char **argv)
{
	FILE *f;
	int rc;

	memset(out, 0, cap);
	f = fmemopen(out, cap - 1, "w");
	if (!f)
		return -100;
	rc = fn(ctx, argc, argv, f);
	fclose(f);
	return rc;
}

#define IC_CTL(hp, out, ...)						\
	ctl_runv(ic_hotplug_ctl, (hp), (out), sizeof(out),		\
		 (int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
		 (char *[]){ __VA_ARGS__ })

/* `ic add` offers at once, with MNF when asked; `ic list` and `status`. */
static void test_ic_hotplug(void)
{
	const guid_t hb_class = VMBUS_CLASS_HEARTBEAT;
	const guid_t sd_class = VMBUS_CLASS_SHUTDOWN;
	const guid_t ts_class = VMBUS_CLASS_TIMESYNC;
	struct fake_host *fh = fake_host_new();
	struct vmbus_channel_offer_channel offers[2], *o;
	struct ic_hotplug *hp;
	struct gic g;
	char out[1024];

	REQUIRE(fh);
	REQUIRE(guest_connect(fh) == 0);
	REQUIRE(guest_take_offers(fh, offers, 2) == 0);
	CHECK(ic_hotplug_create(NULL, NULL) == NULL);
	hp = ic_hotplug_create(fh->srv, NULL);
	REQUIRE(hp);

	CHECK(IC_CTL(hp, out, "ic", "add", "heartbeat", "monitor") == 0);
	CHECK(strcmp(out, "added heartbeat 8a8c2b8e-5e1d-4b0a-9c11-6e3b7a020001 relid 1\n") == 0);
	o = fake_expect(fh, CHANNELMSG_OFFERCHANNEL);
	REQUIRE(o);
	CHECK(guid_equal(&o->offer.if_type, &hb_class));
	CHECK(o->child_relid == 1);
	CHECK(o->monitor_flags & VMBUS_OFFER_MONITOR_ALLOCATED);

	CHECK(IC_CTL(hp, out, "ic", "add", "shutdown",
		     "{11111111-2222-3333-4444-555555555555}") == 0);
	CHECK(strcmp(out, "added shutdown 11111111-2222-3333-4444-555555555555 relid 2\n") == 0);
	o = fake_expect(fh, CHANNELMSG_OFFERCHANNEL);
	REQUIRE(o);
	CHECK(guid_equal(&o->offer.if_type, &sd_class));
	CHECK(!(o->monitor_flags & VMBUS_OFFER_MONITOR_ALLOCATED));

	CHECK(IC_CTL(hp, out, "ic", "add", "timesync") == 0);
	CHECK(strcmp(out, "added timesync 8a8c2b8e-5e1d-4b0a-9c11-6e3b7a020002 relid 3\n") == 0);
	o = fake_expect(fh, CHANNELMSG_OFFERCHANNEL);
	REQUIRE(o);
	CHECK(guid_equal(&o->offer.if_type, &ts_class));
	CHECK(IC_CTL(hp, out, "ic", "status", "8a8c2b8e-5e1d-4b0a-9c11-6e3b7a020002") == 0);
	CHECK(strncmp(out, "state=closed version=0.0 syncs=0 ", 33) == 0);

	/* Refused: nothing offered. */
	CHECK(IC_CTL(hp, out, "ic", "add", "heartbeat",
		     "11111111-2222-3333-4444-555555555555") != 0);
	CHECK(strstr(out, "exists") != NULL);
	CHECK(IC_CTL(hp, out, "ic", "add", "kvp") != 0);
	CHECK(IC_CTL(hp, out, "ic", "add", "shutdown", "monitor", "monitor") != 0);
	CHECK(strstr(out, "not a GUID") != NULL);
	CHECK(IC_CTL(hp, out, "ic", "add", "shutdown", "monitor",
		     "11111111-2222-3333-4444-000000000001", "x") != 0);
	CHECK(IC_CTL(hp, out, "ic") != 0);
	CHECK(strncmp(out, "usage:", 6) == 0);
	CHECK(IC_CTL(hp, out, "ic", "status", "8a8c2b8e-5e1d-4b0a-9c11-6e3b7a029999") != 0);
	CHECK(IC_CTL(hp, out, "ic", "status", "nonsense") != 0);
	CHECK(fake_pending_msgs(fh) == 0);

	/* The guest opens the added shutdown IC: it negotiates like any. */
	memset(&g, 0, sizeof(g));
	g.fh = fh;
	g.fw = fw_both;
	g.nfw = 2;
	g.sv = sd_versions;
	g.nsv = 4;
	g.relid = 2;
	fh->hook_ctx = &g;
	fh->on_signal_guest = gic_hook;
	REQUIRE(guest_open(fh, &g.gc, 2, 0x88, IC_RING_SIZE / 4096,
			   IC_RING_SIZE / 4096, 0) == 0);
	gic_service(&g);
	gic_signal_host(&g);
	CHECK(g.negotiations == 1);
	CHECK(IC_CTL(hp, out, "ic", "status", "11111111-2222-3333-4444-555555555555") == 0);
	CHECK(strcmp(out, "state=ready version=3.2\n") == 0);
	CHECK(IC_CTL(hp, out, "ic", "status", "8a8c2b8e-5e1d-4b0a-9c11-6e3b7a020001") == 0);
	CHECK(strncmp(out, "state=closed version=0.0 sent=0 ", 32) == 0);
	CHECK(IC_CTL(hp, out, "ic", "list") == 0);
	CHECK(strcmp(out,
		     "8a8c2b8e-5e1d-4b0a-9c11-6e3b7a020001 heartbeat monitor state=closed version=0.0\n"
		     "11111111-2222-3333-4444-555555555555 shutdown event state=ready version=3.2\n"
		     "8a8c2b8e-5e1d-4b0a-9c11-6e3b7a020002 timesync event state=closed version=0.0\n") == 0);
	CHECK(g.errors == 0);

	/* The server goes first: it closes the ICs' channels. */
	CHECK(fake_host_free(fh) == 0);
	ic_hotplug_destroy(hp);
	ic_hotplug_destroy(NULL);
}

int main(void)
{
	RUN_TEST(test_build_negotiate);
	RUN_TEST(test_parse_negotiate_response);
	RUN_TEST(test_build_heartbeat_and_shutdown);
	RUN_TEST(test_heartbeat_end_to_end);
	RUN_TEST(test_heartbeat_old_guest_and_bad_answers);
	RUN_TEST(test_negotiation_failure);
	RUN_TEST(test_shutdown_end_to_end);
	RUN_TEST(test_shutdown_old_guest);
	RUN_TEST(test_heartbeat_thread);
	RUN_TEST(test_ic_hotplug);
	return check_finish();
}
