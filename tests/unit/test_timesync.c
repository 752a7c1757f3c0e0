// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The host's time-sync IC: time conversion, message bodies and the offset
 * syntax, then the service through the VMBus server against a scripted
 * guest that negotiates and answers the way Linux's hv_utils (and our
 * viridian_ic) do, with a real hypervisor simulator as the source of the
 * reference time.
 */
#include <sys/eventfd.h>
#include <time.h>

#include "check.h"
#include "ic_guest.h"
#include "vmbus_fake.h"
#include "core/guest_mem.h"
#include "core/loop.h"
#include "hypervisor/hypervisor.h"
#include "viridian/wire/sim.h"
#include "vsp/timesync.h"

#define NR_VPS		1u
#define RAM_PAGES	16u
/* 100 ns units per second. */
#define UNITS_PER_S	10000000LL

static struct hypervisor *hv;

/* ------------------------------------------------------------------ */
/* Pure helpers                                                        */

static void test_host_time(void)
{
	struct timespec t = { 0, 0 };
	int64_t max = IC_TIMESYNC_MAX_OFFSET_MS;

	CHECK(ic_timesync_host_time(&t, 0) == IC_WINDOWS_EPOCH_DELTA);
	t.tv_sec = 1;
	t.tv_nsec = 250;
	CHECK(ic_timesync_host_time(&t, 0) ==
	      IC_WINDOWS_EPOCH_DELTA + 10000000u + 2u);
	CHECK(ic_timesync_host_time(&t, 1500) ==
	      IC_WINDOWS_EPOCH_DELTA + 25000000u + 2u);
	CHECK(ic_timesync_host_time(&t, -1000) == IC_WINDOWS_EPOCH_DELTA + 2u);
	/* 2024-01-01 one hour ahead. */
	t.tv_sec = 1704067200;
	t.tv_nsec = 0;
	CHECK(ic_timesync_host_time(&t, 3600000) ==
	      IC_WINDOWS_EPOCH_DELTA + (1704067200ull + 3600u) * 10000000u);
	/* Out-of-bound offsets are clamped, never wrapped. */
	CHECK(ic_timesync_host_time(&t, INT64_MAX) ==
	      ic_timesync_host_time(&t, max));
	CHECK(ic_timesync_host_time(&t, INT64_MIN) ==
	      ic_timesync_host_time(&t, -max));
	/* Before 1601: 0. */
	t.tv_sec = -(int64_t)(IC_WINDOWS_EPOCH_DELTA / 10000000u) - 5;
	CHECK(ic_timesync_host_time(&t, 0) == 0);
}

static void test_build_body(void)
{
	uint8_t buf[64];
	struct ic_timesync_ref_msg ref;
	struct ic_timesync_msg old;

	memset(buf, 0xa5, sizeof(buf));
	REQUIRE(ic_timesync_build_body(buf, sizeof(buf), IC_TIMESYNC_VERSION_4,
				       IC_TIMESYNC_FLAG_SYNC, 1234, 5678) ==
		(int)sizeof(ref));
	memcpy(&ref, buf, sizeof(ref));
	CHECK(ref.parenttime == 1234 && ref.vmreferencetime == 5678);
	CHECK(ref.flags == IC_TIMESYNC_FLAG_SYNC);
	CHECK(ref.leapflags == 0 && ref.reserved[0] == 0 && ref.reserved[2] == 0);

	memset(buf, 0xa5, sizeof(buf));
	REQUIRE(ic_timesync_build_body(buf, sizeof(buf), IC_TIMESYNC_VERSION_3,
				       IC_TIMESYNC_FLAG_SAMPLE, 99, 5678) ==
		(int)sizeof(old));
	memcpy(&old, buf, sizeof(old));
	CHECK(old.parenttime == 99 && old.childtime == 0 &&
	      old.roundtriptime == 0 && old.flags == IC_TIMESYNC_FLAG_SAMPLE);
	CHECK(ic_timesync_build_body(buf, sizeof(buf), IC_TIMESYNC_VERSION_1,
				     0, 1, 2) == (int)sizeof(old));
	CHECK(ic_timesync_build_body(buf, sizeof(ref) - 1,
				     IC_TIMESYNC_VERSION_4, 0, 1, 2) == -EMSGSIZE);
	CHECK(ic_timesync_build_body(buf, sizeof(old) - 1,
				     IC_TIMESYNC_VERSION_3, 0, 1, 2) == -EMSGSIZE);
}

static void test_parse_offset(void)
{
	int64_t v = 7;

	CHECK(ic_timesync_parse_offset("0", &v) == 0 && v == 0);
	CHECK(ic_timesync_parse_offset("3600000", &v) == 0 && v == 3600000);
	CHECK(ic_timesync_parse_offset("-86400000", &v) == 0 && v == -86400000);
	CHECK(ic_timesync_parse_offset("+5", &v) == 0 && v == 5);
	CHECK(ic_timesync_parse_offset("315576000000", &v) == 0 &&
	      v == IC_TIMESYNC_MAX_OFFSET_MS);
	CHECK(ic_timesync_parse_offset("-315576000000", &v) == 0 &&
	      v == -IC_TIMESYNC_MAX_OFFSET_MS);
	v = 7;
	CHECK(ic_timesync_parse_offset("315576000001", &v) == -ERANGE);
	CHECK(ic_timesync_parse_offset("-315576000001", &v) == -ERANGE);
	CHECK(ic_timesync_parse_offset("99999999999999999999", &v) == -ERANGE);
	CHECK(ic_timesync_parse_offset("-99999999999999999999", &v) == -ERANGE);
	CHECK(ic_timesync_parse_offset("", &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset(NULL, &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset("abc", &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset("12x", &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset("1.5", &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset("1e3", &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset(" 5", &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset("-", &v) == -EINVAL);
	CHECK(ic_timesync_parse_offset("0x10", &v) == -EINVAL);
	CHECK(v == 7);
}

/* ------------------------------------------------------------------ */
/* A scripted guest                                                    */


#define TG_MAX_MSGS	256

/* One time-sync message as the guest received it. */
struct tg_msg {
	uint32_t msg_version;
	uint32_t body_len;
	uint8_t flags;
	uint64_t parenttime;
	uint64_t reference;		/* version 4 */
	uint64_t childtime, roundtrip;	/* versions 1 and 3 */
};

struct tguest {
	struct fake_host *fh;
	struct gchan gc;
	uint32_t relid;
	const uint32_t *fw, *sv;
	size_t nfw, nsv;
	uint32_t answer_status;		/* status of time-sync answers */
	int negotiations;
	pthread_mutex_t lock;		/* the sample thread's sends come too */
	struct tg_msg msgs[TG_MAX_MSGS];
	unsigned int nmsgs;
	int errors;
};

static void tguest_service(struct tguest *g)
{
	static uint8_t pkt[8192];
	struct vmpacket_descriptor d;
	struct icmsg_hdr hdr;
	uint32_t len, body_len, mv;
	bool sig;

	pthread_mutex_lock(&g->lock);
	while (guest_recv(&g->gc.recv, &d, pkt, sizeof(pkt), &len, &sig) == 0) {
		if (len < IC_HEADER_SIZE) {
			g->errors++;
			continue;
		}
		memcpy(&hdr, pkt + 8, sizeof(hdr));
		body_len = len - (uint32_t)IC_HEADER_SIZE;
		mv = IC_VERSION(hdr.icvermsg.major, hdr.icvermsg.minor);
		if (hdr.icmsgtype == ICMSGTYPE_NEGOTIATE) {
			g->negotiations++;
			ic_guest_negotiate(pkt, len, g->fw, g->nfw, g->sv, g->nsv);
			memcpy(&hdr, pkt + 8, sizeof(hdr));
		} else if (hdr.icmsgtype == ICMSGTYPE_TIMESYNC &&
			   g->nmsgs < TG_MAX_MSGS) {
			struct tg_msg *m = &g->msgs[g->nmsgs++];

			memset(m, 0, sizeof(*m));
			m->msg_version = mv;
			m->body_len = hdr.icmsgsize;
			if (mv >= IC_TIMESYNC_VERSION_4 &&
			    body_len >= sizeof(struct ic_timesync_ref_msg)) {
				struct ic_timesync_ref_msg r;

				memcpy(&r, pkt + IC_HEADER_SIZE, sizeof(r));
				m->parenttime = r.parenttime;
				m->reference = r.vmreferencetime;
				m->flags = r.flags;
			} else if (mv < IC_TIMESYNC_VERSION_4 &&
				   body_len >= sizeof(struct ic_timesync_msg)) {
				struct ic_timesync_msg o;

				memcpy(&o, pkt + IC_HEADER_SIZE, sizeof(o));
				m->parenttime = o.parenttime;
				m->childtime = o.childtime;
				m->roundtrip = o.roundtriptime;
				m->flags = o.flags;
			} else {
				g->errors++;
			}
			hdr.status = g->answer_status;
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
	pthread_mutex_unlock(&g->lock);
}

static void tguest_hook(struct fake_host *fh, uint32_t vp, uint32_t sint,
			uint32_t flag)
{
	struct tguest *g = fh->hook_ctx;

	(void)vp;
	(void)sint;
	if (g && flag == g->relid && g->gc.recv.pages)
		tguest_service(g);
}

static void tguest_signal_host(struct tguest *g)
{
	vmbus_server_signal(g->fh->srv, VMBUS_SERVER_CHANNEL_CONN_ID(g->relid));
}

/* Connect, take the one offer, open it with IC-sized rings. */
static bool tguest_open(struct tguest *g, struct fake_host *fh,
			const uint32_t *fw, size_t nfw, const uint32_t *sv,
			size_t nsv)
{
	const guid_t class = VMBUS_CLASS_TIMESYNC;
	struct vmbus_channel_offer_channel offers[4];

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->fh = fh;
	g->fw = fw;
	g->nfw = nfw;
	g->sv = sv;
	g->nsv = nsv;
	fh->hook_ctx = g;
	fh->on_signal_guest = tguest_hook;
	if (guest_connect(fh) || guest_take_offers(fh, offers, 4) != 1 ||
	    !guid_equal(&offers[0].offer.if_type, &class))
		return false;
	g->relid = offers[0].child_relid;
	/* The NEGOTIATE comes before the guest knows its rings: read after. */
	if (guest_open(fh, &g->gc, g->relid, 0x77, IC_RING_SIZE / 4096,
		       IC_RING_SIZE / 4096, 0) != 0)
		return false;
	tguest_service(g);
	/* The answer makes the host ready; its SYNC is answered by the hook. */
	tguest_signal_host(g);
	return true;
}

static void tguest_fini(struct tguest *g)
{
	pthread_mutex_destroy(&g->lock);
}

static const uint32_t fw_both[] = { IC_FRAMEWORK_VERSION_3,
				    IC_FRAMEWORK_VERSION_1 };
static const uint32_t fw_old[] = { IC_FRAMEWORK_VERSION_1 };
static const uint32_t ts_all[] = { IC_TIMESYNC_VERSION_4,
				   IC_TIMESYNC_VERSION_3,
				   IC_TIMESYNC_VERSION_1 };
static const uint32_t ts_v3[] = { IC_TIMESYNC_VERSION_3,
				  IC_TIMESYNC_VERSION_1 };
static const uint32_t ts_v1[] = { IC_TIMESYNC_VERSION_1 };

static const guid_t ts_instance = GUID_INIT(0x7157e000, 1, 2, 3, 4, 5, 6, 7,
					    8, 9, 10);

static int64_t realtime_units(int64_t offset_ms)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * UNITS_PER_S + now.tv_nsec / 100 +
	       (int64_t)IC_WINDOWS_EPOCH_DELTA + offset_ms * 10000LL;
}

/* parenttime within a second of the host's clock shifted by offset_ms. */
static bool near_now(uint64_t parenttime, int64_t offset_ms)
{
	int64_t diff = (int64_t)parenttime - realtime_units(offset_ms);

	return diff > -UNITS_PER_S && diff < UNITS_PER_S;
}

static int ctl_run(struct ic_timesync *ts, char *out, size_t cap, int argc,
		   char **argv)
{
	FILE *f;
	int rc;

	memset(out, 0, cap);
	f = fmemopen(out, cap - 1, "w");
	if (!f)
		return -100;
	rc = ic_timesync_ctl(ts, argc, argv, f);
	fclose(f);
	return rc;
}

#define TS_CTL(ts, out, ...)						\
	ctl_run((ts), (out), sizeof(out),				\
		(int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
		(char *[]){ __VA_ARGS__ })

/* ------------------------------------------------------------------ */
/* End to end                                                          */

/* Version 4: SYNC once ready, then samples, each with the reference time. */
static void test_v4_sync_then_samples(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_timesync *ts = ic_timesync_create(hv, 0);
	struct ic_timesync_status st;
	uint64_t ref_before, ref_after, sent = 0;
	uint32_t fw = 0, mv = 0;
	struct tguest g;
	unsigned int i;

	REQUIRE(fh && ts);
	REQUIRE(ic_timesync_attach(ts, fh->srv, &ts_instance));
	CHECK(ic_timesync_send(ts, IC_TIMESYNC_FLAG_SAMPLE, NULL) == -ENOTCONN);
	ref_before = hypervisor_reference_time(hv);
	REQUIRE(tguest_open(&g, fh, fw_both, 2, ts_all, 3));
	ref_after = hypervisor_reference_time(hv);
	CHECK(g.negotiations == 1);
	CHECK(ic_service_state(ic_timesync_service(ts), &fw, &mv) ==
	      IC_STATE_READY);
	CHECK(fw == IC_FRAMEWORK_VERSION_3 && mv == IC_TIMESYNC_VERSION_4);

	/* The SYNC came by itself, right after the negotiation. */
	REQUIRE(g.nmsgs == 1);
	CHECK(g.msgs[0].msg_version == IC_TIMESYNC_VERSION_4);
	CHECK(g.msgs[0].body_len == sizeof(struct ic_timesync_ref_msg));
	CHECK(g.msgs[0].flags == IC_TIMESYNC_FLAG_SYNC);
	CHECKF(near_now(g.msgs[0].parenttime, 0), "parenttime %llu, now %lld",
	       (unsigned long long)g.msgs[0].parenttime,
	       (long long)realtime_units(0));
	CHECKF(g.msgs[0].reference >= ref_before &&
	       g.msgs[0].reference <= ref_after,
	       "reference %llu outside [%llu, %llu]",
	       (unsigned long long)g.msgs[0].reference,
	       (unsigned long long)ref_before, (unsigned long long)ref_after);

	for (i = 1; i <= 3; i++) {
		struct timespec pause = { 0, 5 * 1000000L };

		nanosleep(&pause, NULL);
		ref_before = hypervisor_reference_time(hv);
		CHECK(ic_timesync_send(ts, IC_TIMESYNC_FLAG_SAMPLE, &sent) == 0);
		ref_after = hypervisor_reference_time(hv);
		tguest_signal_host(&g);
		REQUIRE(g.nmsgs == i + 1);
		CHECK(g.msgs[i].flags == IC_TIMESYNC_FLAG_SAMPLE);
		CHECK(g.msgs[i].parenttime == sent);
		CHECK(near_now(g.msgs[i].parenttime, 0));
		CHECK(g.msgs[i].parenttime > g.msgs[i - 1].parenttime);
		CHECK(g.msgs[i].reference >= ref_before &&
		      g.msgs[i].reference <= ref_after);
		CHECK(g.msgs[i].reference > g.msgs[i - 1].reference);
	}

	ic_timesync_get_status(ts, &st);
	CHECK(st.state == IC_STATE_READY && st.msg_version == IC_TIMESYNC_VERSION_4);
	CHECK(st.syncs == 1 && st.samples == 3);
	CHECK(st.answers == 4 && st.bad_answers == 0);
	CHECK(st.offset_ms == 0);
	CHECK(g.errors == 0);

	/* The guest closes: nothing more goes out. */
	guest_close(fh, g.relid);
	CHECK(ic_timesync_send(ts, IC_TIMESYNC_FLAG_SAMPLE, NULL) == -ENOTCONN);
	CHECK(ic_service_state(ic_timesync_service(ts), NULL, NULL) ==
	      IC_STATE_CLOSED);
	CHECK(fake_host_free(fh) == 0);
	ic_timesync_destroy(ts);
	tguest_fini(&g);
}

/*
 * An older guest: version 3.0 (or 1.0 with framework 1.0) and struct
 * ic_timesync_msg, with no reference time and zero child and round-trip
 * times.
 */
static void old_guest(const uint32_t *fw, size_t nfw, const uint32_t *sv,
		      size_t nsv, uint32_t want_fw, uint32_t want_mv)
{
	struct fake_host *fh = fake_host_new();
	struct ic_timesync *ts = ic_timesync_create(hv, 0);
	struct ic_timesync_status st;
	uint32_t got_fw = 0, got_mv = 0;
	struct tguest g;

	REQUIRE(fh && ts);
	REQUIRE(ic_timesync_attach(ts, fh->srv, &ts_instance));
	REQUIRE(tguest_open(&g, fh, fw, nfw, sv, nsv));
	CHECK(ic_service_state(ic_timesync_service(ts), &got_fw, &got_mv) ==
	      IC_STATE_READY);
	CHECK(got_fw == want_fw && got_mv == want_mv);
	CHECK(ic_timesync_send(ts, IC_TIMESYNC_FLAG_SAMPLE, NULL) == 0);
	tguest_signal_host(&g);
	REQUIRE(g.nmsgs == 2);
	CHECK(g.msgs[0].flags == IC_TIMESYNC_FLAG_SYNC);
	CHECK(g.msgs[1].flags == IC_TIMESYNC_FLAG_SAMPLE);
	CHECK(g.msgs[0].msg_version == want_mv && g.msgs[1].msg_version == want_mv);
	CHECK(g.msgs[0].body_len == sizeof(struct ic_timesync_msg));
	CHECK(near_now(g.msgs[0].parenttime, 0) && near_now(g.msgs[1].parenttime, 0));
	CHECK(g.msgs[0].childtime == 0 && g.msgs[0].roundtrip == 0);
	CHECK(g.msgs[1].childtime == 0 && g.msgs[1].roundtrip == 0);
	ic_timesync_get_status(ts, &st);
	CHECK(st.syncs == 1 && st.samples == 1 && st.answers == 2 &&
	      st.bad_answers == 0);
	CHECK(g.errors == 0);
	CHECK(fake_host_free(fh) == 0);
	ic_timesync_destroy(ts);
	tguest_fini(&g);
}

static void test_v3_guest(void)
{
	old_guest(fw_both, 2, ts_v3, 2, IC_FRAMEWORK_VERSION_3,
		  IC_TIMESYNC_VERSION_3);
}

static void test_v1_guest(void)
{
	old_guest(fw_old, 1, ts_v1, 1, IC_FRAMEWORK_VERSION_1,
		  IC_TIMESYNC_VERSION_1);
}

/* Without a hypervisor there is no reference time: 4.0 is not offered. */
static void test_no_hypervisor_offers_v3(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_timesync *ts = ic_timesync_create(NULL, 0);
	uint32_t mv = 0;
	struct tguest g;

	REQUIRE(fh && ts);
	REQUIRE(ic_timesync_attach(ts, fh->srv, &ts_instance));
	REQUIRE(tguest_open(&g, fh, fw_both, 2, ts_all, 3));
	CHECK(ic_service_state(ic_timesync_service(ts), NULL, &mv) ==
	      IC_STATE_READY);
	CHECK(mv == IC_TIMESYNC_VERSION_3);
	CHECK(g.nmsgs == 1 && g.msgs[0].flags == IC_TIMESYNC_FLAG_SYNC &&
	      g.msgs[0].body_len == sizeof(struct ic_timesync_msg));
	CHECK(fake_host_free(fh) == 0);
	ic_timesync_destroy(ts);
	tguest_fini(&g);
}

static void test_ctl(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_timesync *ts = ic_timesync_create(hv, 0);
	struct ic_timesync_status st;
	struct tguest g;
	char out[512];

	REQUIRE(fh && ts);
	REQUIRE(ic_timesync_attach(ts, fh->srv, &ts_instance));
	CHECK(TS_CTL(ts, out, "timesync") == 0);
	CHECK(strcmp(out, "state=closed version=0.0 syncs=0 samples=0 answers=0 bad=0 offset_ms=0\n") == 0);
	CHECK(TS_CTL(ts, out, "timesync", "sync") == 1);
	CHECK(strcmp(out, "error: time sync IC not ready (closed)\n") == 0);
	/* The offset can be set before the guest is there. */
	CHECK(TS_CTL(ts, out, "timesync", "offset", "-86400000") == 0);
	CHECK(strcmp(out, "offset_ms=-86400000\n") == 0);

	REQUIRE(tguest_open(&g, fh, fw_both, 2, ts_all, 3));
	REQUIRE(g.nmsgs == 1);
	CHECK(near_now(g.msgs[0].parenttime, -86400000));
	CHECK(!near_now(g.msgs[0].parenttime, 0));

	CHECK(TS_CTL(ts, out, "timesync", "offset", "3600000") == 0);
	CHECK(strcmp(out, "offset_ms=3600000\n") == 0);
	CHECK(TS_CTL(ts, out, "timesync", "sync") == 0);
	CHECK(strncmp(out, "sync sent: host_time=", 21) == 0);
	tguest_signal_host(&g);
	REQUIRE(g.nmsgs == 2);
	CHECK(g.msgs[1].flags == IC_TIMESYNC_FLAG_SYNC);
	CHECKF(near_now(g.msgs[1].parenttime, 3600000),
	       "parenttime %llu, now + 1 h %lld",
	       (unsigned long long)g.msgs[1].parenttime,
	       (long long)realtime_units(3600000));
	/* What ctl printed is what went out, to the millisecond. */
	{
		uint64_t unix_units = g.msgs[1].parenttime - IC_WINDOWS_EPOCH_DELTA;
		char want[64];

		snprintf(want, sizeof(want), "sync sent: host_time=%llu.%03llu\n",
			 (unsigned long long)(unix_units / 10000000u),
			 (unsigned long long)(unix_units % 10000000u / 10000u));
		CHECK(strcmp(out, want) == 0);
	}
	/* Samples carry the offset too. */
	CHECK(ic_timesync_send(ts, IC_TIMESYNC_FLAG_SAMPLE, NULL) == 0);
	tguest_signal_host(&g);
	REQUIRE(g.nmsgs == 3);
	CHECK(near_now(g.msgs[2].parenttime, 3600000));

	/* Refused offsets change nothing and send nothing. */
	CHECK(TS_CTL(ts, out, "timesync", "offset", "abc") == 1);
	CHECK(strcmp(out, "error: offset 'abc' is not a whole number of milliseconds\n") == 0);
	CHECK(TS_CTL(ts, out, "timesync", "offset", "1.5") == 1);
	CHECK(TS_CTL(ts, out, "timesync", "offset", "") == 1);
	CHECK(TS_CTL(ts, out, "timesync", "offset", "315576000001") == 1);
	CHECK(strcmp(out, "error: offset '315576000001' is beyond +-315576000000 ms (ten years)\n") == 0);
	CHECK(TS_CTL(ts, out, "timesync", "offset", "-315576000001") == 1);
	CHECK(TS_CTL(ts, out, "timesync", "offset", "-99999999999999999999999") == 1);
	CHECK(strncmp(out, "error: offset", 13) == 0);
	CHECK(TS_CTL(ts, out, "timesync", "offset") == 1);
	CHECK(strcmp(out, "error: usage: timesync [sync | offset MS]\n") == 0);
	CHECK(TS_CTL(ts, out, "timesync", "offset", "5", "6") == 1);
	CHECK(TS_CTL(ts, out, "timesync", "sideways") == 1);
	CHECK(strncmp(out, "error: usage:", 13) == 0);
	CHECK(TS_CTL(ts, out, "timesync", "sync", "now") == 1);
	CHECK(ic_timesync_set_offset(ts, IC_TIMESYNC_MAX_OFFSET_MS + 1) == -ERANGE);
	CHECK(ic_timesync_set_offset(ts, INT64_MIN) == -ERANGE);
	CHECK(g.nmsgs == 3);

	CHECK(TS_CTL(ts, out, "timesync") == 0);
	CHECK(strcmp(out, "state=ready version=4.0 syncs=2 samples=1 answers=3 bad=0 offset_ms=3600000\n") == 0);
	/* The extreme offsets are allowed, and the guest gets them. */
	CHECK(TS_CTL(ts, out, "timesync", "offset", "-315576000000") == 0);
	CHECK(TS_CTL(ts, out, "timesync", "sync") == 0);
	tguest_signal_host(&g);
	REQUIRE(g.nmsgs == 4);
	CHECK(near_now(g.msgs[3].parenttime, -IC_TIMESYNC_MAX_OFFSET_MS));
	ic_timesync_get_status(ts, &st);
	CHECK(st.offset_ms == -IC_TIMESYNC_MAX_OFFSET_MS && st.syncs == 3);
	CHECK(g.errors == 0);
	CHECK(fake_host_free(fh) == 0);
	ic_timesync_destroy(ts);
	tguest_fini(&g);
}

/* Failures, junk and answers to nothing are counted apart. */
static void test_bad_answers(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_timesync *ts = ic_timesync_create(hv, 0);
	struct ic_timesync_status st;
	struct icmsg_hdr hdr;
	struct tguest g;
	uint8_t pkt[256];
	bool sig;
	int len;

	REQUIRE(fh && ts);
	REQUIRE(ic_timesync_attach(ts, fh->srv, &ts_instance));
	REQUIRE(tguest_open(&g, fh, fw_both, 2, ts_all, 3));

	/* The guest refuses a sample. */
	g.answer_status = IC_E_FAIL;
	CHECK(ic_timesync_send(ts, IC_TIMESYNC_FLAG_SAMPLE, NULL) == 0);
	tguest_signal_host(&g);
	g.answer_status = IC_S_OK;
	ic_timesync_get_status(ts, &st);
	CHECK(st.answers == 1 && st.bad_answers == 1);

	/* An answer when nothing is outstanding. */
	len = ic_build_request(pkt, sizeof(pkt), ICMSGTYPE_TIMESYNC,
			       IC_FRAMEWORK_VERSION_3, IC_TIMESYNC_VERSION_4, 0,
			       "0123456789012345678901", 22);
	REQUIRE(len > 0);
	memcpy(&hdr, pkt + 8, sizeof(hdr));
	hdr.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy(pkt + 8, &hdr, sizeof(hdr));
	CHECK(guest_send(&g.gc.send, VM_PKT_DATA_INBAND, 0, 999, pkt,
			 (uint32_t)len, &sig) == 0);
	/* Another type's answer. */
	hdr.icmsgtype = ICMSGTYPE_HEARTBEAT;
	memcpy(pkt + 8, &hdr, sizeof(hdr));
	CHECK(guest_send(&g.gc.send, VM_PKT_DATA_INBAND, 0, 1000, pkt,
			 (uint32_t)len, &sig) == 0);
	/* Not an IC answer at all: the framework drops it uncounted. */
	CHECK(guest_send(&g.gc.send, VM_PKT_DATA_INBAND, 0, 1001, pkt, 10,
			 &sig) == 0);
	tguest_signal_host(&g);
	ic_timesync_get_status(ts, &st);
	CHECK(st.answers == 1 && st.bad_answers == 3);

	/*
	 * A short answer to a message really sent: the guest's own answer
	 * is held back (silent) and a truncated one sent instead.
	 */
	fh->on_signal_guest = NULL;
	CHECK(ic_timesync_send(ts, IC_TIMESYNC_FLAG_SAMPLE, NULL) == 0);
	hdr.icmsgtype = ICMSGTYPE_TIMESYNC;
	hdr.icmsgsize = 4;
	memcpy(pkt + 8, &hdr, sizeof(hdr));
	CHECK(guest_send(&g.gc.send, VM_PKT_DATA_INBAND, 0, 1002, pkt,
			 IC_HEADER_SIZE + 4, &sig) == 0);
	tguest_signal_host(&g);
	ic_timesync_get_status(ts, &st);
	CHECK(st.answers == 1 && st.bad_answers == 4);
	CHECK(st.samples == 2 && st.syncs == 1);
	CHECK(fake_host_free(fh) == 0);
	ic_timesync_destroy(ts);
	tguest_fini(&g);
}

/* The sample thread sends on its own, every interval. */
static void test_sample_thread(void)
{
	struct fake_host *fh = fake_host_new();
	struct ic_timesync *ts = ic_timesync_create(hv, 10);
	struct timespec pause = { 0, 2 * 1000000L };
	struct tguest g;
	unsigned int i, n;
	int i_last;

	REQUIRE(fh && ts);
	REQUIRE(ic_timesync_attach(ts, fh->srv, &ts_instance));
	REQUIRE(tguest_open(&g, fh, fw_both, 2, ts_all, 3));
	for (i = 0; i < 150; i++) {
		nanosleep(&pause, NULL);
		tguest_signal_host(&g);
	}
	/*
	 * The server goes first (it closes the channel: the thread's sends
	 * fail from then on), the service after; then nothing writes g.
	 */
	CHECK(fake_host_free(fh) == 0);
	ic_timesync_destroy(ts);
	n = g.nmsgs;
	CHECK(n >= 4);
	CHECK(g.msgs[0].flags == IC_TIMESYNC_FLAG_SYNC);
	for (i_last = 1; i_last < (int)n; i_last++) {
		CHECK(g.msgs[i_last].flags == IC_TIMESYNC_FLAG_SAMPLE);
		CHECK(g.msgs[i_last].reference > g.msgs[i_last - 1].reference);
	}
	CHECK(g.errors == 0);
	tguest_fini(&g);
}

int main(void)
{
	struct guest_mem mem;
	struct loop *loop;
	char ram_path[64];
	uint8_t *shm;
	int irq_fds[NR_VPS];
	struct hypervisor_config cfg;
	unsigned int vp;
	int err;

	RUN_TEST(test_host_time);
	RUN_TEST(test_build_body);
	RUN_TEST(test_parse_offset);

	/* A hypervisor simulator, for the reference time. */
	memset(&mem, 0, sizeof(mem));
	snprintf(ram_path, sizeof(ram_path), "/tmp/hvsim-test-timesync-%d",
		 (int)getpid());
	unlink(ram_path);
	err = guest_mem_create(&mem, ram_path, RAM_PAGES * GUEST_PAGE_SIZE);
	if (err) {
		printf("FAIL setup: guest_mem_create: %s\n", strerror(-err));
		return 1;
	}
	for (vp = 0; vp < NR_VPS; vp++)
		irq_fds[vp] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	shm = aligned_alloc(4096, HVSIM_SHM_SIZE);
	loop = loop_new();
	if (!shm || !loop) {
		printf("FAIL setup: out of memory\n");
		return 1;
	}
	memset(shm, 0, HVSIM_SHM_SIZE);
	cfg = (struct hypervisor_config) {
		.loop = loop,
		.mem = &mem,
		.shm = shm,
		.nr_vps = NR_VPS,
		.vp_irq_fds = irq_fds,
	};
	hv = hypervisor_new(&cfg);
	if (!hv) {
		printf("FAIL setup: hypervisor_new: %s\n", strerror(errno));
		return 1;
	}

	RUN_TEST(test_v4_sync_then_samples);
	RUN_TEST(test_v3_guest);
	RUN_TEST(test_v1_guest);
	RUN_TEST(test_no_hypervisor_offers_v3);
	RUN_TEST(test_ctl);
	RUN_TEST(test_bad_answers);
	RUN_TEST(test_sample_thread);

	hypervisor_free(hv);
	loop_free(loop);
	free(shm);
	for (vp = 0; vp < NR_VPS; vp++)
		close(irq_fds[vp]);
	guest_mem_close(&mem);
	return check_finish();
}
