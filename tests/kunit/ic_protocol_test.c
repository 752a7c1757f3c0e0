// SPDX-License-Identifier: GPL-2.0
/* kunit-sources: drivers/ic/ic_protocol.c */
/*
 * KUnit tests for the pure IC logic: packet checks, version negotiation and
 * request decoding, fed both well-formed and hostile packets.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/slab.h>
#include <linux/string.h>

/* tests/kunit/run puts drivers/ic on the include path. */
#include "ic_protocol.h"

#define TEST_BUF_SIZE	512

struct ic_test_packet {
	u8 bytes[TEST_BUF_SIZE];
};

static struct vmbus_pipe_header *pkt_pipe(struct ic_test_packet *p)
{
	return (struct vmbus_pipe_header *)p->bytes;
}

static struct icmsg_hdr *pkt_hdr(struct ic_test_packet *p)
{
	return (struct icmsg_hdr *)(p->bytes + sizeof(struct vmbus_pipe_header));
}

static struct icmsg_negotiate *pkt_negotiate(struct ic_test_packet *p)
{
	return (struct icmsg_negotiate *)(p->bytes + IC_HEADER_SIZE);
}

/* Build a request as a host would; returns its length. */
static u32 build_request(struct ic_test_packet *p, u16 type, u16 body_len)
{
	memset(p->bytes, 0xa5, sizeof(p->bytes));
	pkt_pipe(p)->flags = 1;
	pkt_pipe(p)->msgsize = sizeof(struct icmsg_hdr) + body_len;
	memset(pkt_hdr(p), 0, sizeof(struct icmsg_hdr));
	pkt_hdr(p)->icmsgtype = type;
	pkt_hdr(p)->icmsgsize = body_len;
	pkt_hdr(p)->icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
	pkt_hdr(p)->ictransaction_id = 7;
	return IC_HEADER_SIZE + body_len;
}

/* A negotiate request listing fw[] then msg[] (as u32 IC_VERSION values). */
static u32 build_negotiate(struct ic_test_packet *p, const u32 *fw,
			   unsigned int nr_fw, const u32 *msg,
			   unsigned int nr_msg)
{
	struct icmsg_negotiate *neg = pkt_negotiate(p);
	u16 body = sizeof(*neg) + (nr_fw + nr_msg) * sizeof(struct ic_version);
	unsigned int i;
	u32 len;

	len = build_request(p, ICMSGTYPE_NEGOTIATE, body);
	neg->icframe_vercnt = nr_fw;
	neg->icmsg_vercnt = nr_msg;
	neg->reserved = 0;
	for (i = 0; i < nr_fw; i++) {
		neg->icversion_data[i].major = fw[i] >> 16;
		neg->icversion_data[i].minor = fw[i] & 0xffff;
	}
	for (i = 0; i < nr_msg; i++) {
		neg->icversion_data[nr_fw + i].major = msg[i] >> 16;
		neg->icversion_data[nr_fw + i].minor = msg[i] & 0xffff;
	}
	return len;
}

static const u32 shutdown_versions[] = {
	IC_SHUTDOWN_VERSION_3_2, IC_SHUTDOWN_VERSION_3_1,
	IC_SHUTDOWN_VERSION_3, IC_SHUTDOWN_VERSION_1,
};

static int select_for(struct ic_test_packet *p, u32 len, u32 *fw, u32 *msg)
{
	struct viridian_ic_message m;
	int ret;

	ret = viridian_ic_parse(p->bytes, len, &m);
	if (ret)
		return ret;
	return viridian_ic_negotiate_select(m.body, m.body_len,
					    viridian_ic_framework_versions,
					    viridian_ic_nr_framework_versions,
					    shutdown_versions,
					    ARRAY_SIZE(shutdown_versions),
					    fw, msg);
}

/* ---- viridian_ic_parse ---- */

static void parse_rejects_short_packets(struct kunit *test)
{
	struct ic_test_packet p;
	struct viridian_ic_message m;
	u32 len;

	len = build_request(&p, ICMSGTYPE_HEARTBEAT, 0);
	KUNIT_EXPECT_EQ(test, viridian_ic_parse(p.bytes, 0, &m), -EBADMSG);
	KUNIT_EXPECT_EQ(test, viridian_ic_parse(p.bytes, len - 1, &m), -EBADMSG);
	KUNIT_EXPECT_PTR_EQ(test, m.hdr, NULL);
	KUNIT_EXPECT_EQ(test, viridian_ic_parse(p.bytes, len, &m), 0);
	KUNIT_EXPECT_EQ(test, m.body_len, 0u);
}

static void parse_checks_icmsgsize_against_packet(struct kunit *test)
{
	struct ic_test_packet p;
	struct viridian_ic_message m;
	u32 len;

	len = build_request(&p, ICMSGTYPE_HEARTBEAT, 40);
	KUNIT_ASSERT_EQ(test, viridian_ic_parse(p.bytes, len, &m), 0);
	KUNIT_EXPECT_PTR_EQ(test, m.hdr, pkt_hdr(&p));
	KUNIT_EXPECT_PTR_EQ(test, m.body, (void *)(p.bytes + IC_HEADER_SIZE));
	KUNIT_EXPECT_EQ(test, m.body_len, 40u);

	/* One byte short of what icmsgsize claims. */
	KUNIT_EXPECT_EQ(test, viridian_ic_parse(p.bytes, len - 1, &m), -EMSGSIZE);
	/* The header is still usable for an IC_E_FAIL answer. */
	KUNIT_EXPECT_PTR_EQ(test, m.hdr, pkt_hdr(&p));

	/* A host claiming the largest icmsgsize. */
	pkt_hdr(&p)->icmsgsize = 0xffff;
	KUNIT_EXPECT_EQ(test, viridian_ic_parse(p.bytes, len, &m), -EMSGSIZE);

	/* Trailing bytes beyond icmsgsize are allowed, but not part of the body. */
	pkt_hdr(&p)->icmsgsize = 8;
	KUNIT_EXPECT_EQ(test, viridian_ic_parse(p.bytes, len, &m), 0);
	KUNIT_EXPECT_EQ(test, m.body_len, 8u);
}

static void mark_response_sets_flags_and_status(struct kunit *test)
{
	struct ic_test_packet p;

	build_request(&p, ICMSGTYPE_HEARTBEAT, 0);
	viridian_ic_mark_response(pkt_hdr(&p), IC_E_FAIL);
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->icflags,
			ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE);
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->status, IC_E_FAIL);
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->ictransaction_id, 7);
}

/* ---- negotiation choice ---- */

static void negotiate_picks_highest_common(struct kunit *test)
{
	static const u32 fw[] = { IC_FRAMEWORK_VERSION_1, IC_FRAMEWORK_VERSION_3 };
	static const u32 msg[] = {
		IC_SHUTDOWN_VERSION_1, IC_SHUTDOWN_VERSION_3,
		IC_SHUTDOWN_VERSION_3_1, IC_SHUTDOWN_VERSION_3_2,
	};
	struct ic_test_packet p;
	u32 chosen_fw = 0, chosen_msg = 0;
	u32 len;

	len = build_negotiate(&p, fw, ARRAY_SIZE(fw), msg, ARRAY_SIZE(msg));
	KUNIT_ASSERT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg), 0);
	KUNIT_EXPECT_EQ(test, chosen_fw, IC_FRAMEWORK_VERSION_3);
	KUNIT_EXPECT_EQ(test, chosen_msg, IC_SHUTDOWN_VERSION_3_2);
}

static void negotiate_ignores_host_order_and_unknown_versions(struct kunit *test)
{
	static const u32 fw[] = {
		IC_VERSION(9, 0), IC_FRAMEWORK_VERSION_1, IC_VERSION(2, 0),
	};
	static const u32 msg[] = {
		IC_VERSION(3, 3), IC_SHUTDOWN_VERSION_3, IC_VERSION(0, 0),
		IC_SHUTDOWN_VERSION_1, IC_SHUTDOWN_VERSION_3_1,
	};
	struct ic_test_packet p;
	u32 chosen_fw = 0, chosen_msg = 0;
	u32 len;

	len = build_negotiate(&p, fw, ARRAY_SIZE(fw), msg, ARRAY_SIZE(msg));
	KUNIT_ASSERT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg), 0);
	KUNIT_EXPECT_EQ(test, chosen_fw, IC_FRAMEWORK_VERSION_1);
	KUNIT_EXPECT_EQ(test, chosen_msg, IC_SHUTDOWN_VERSION_3_1);
}

static void negotiate_fails_without_common_version(struct kunit *test)
{
	static const u32 fw_ok[] = { IC_FRAMEWORK_VERSION_3 };
	static const u32 fw_bad[] = { IC_VERSION(2, 0), IC_VERSION(3, 1) };
	static const u32 msg_ok[] = { IC_SHUTDOWN_VERSION_3 };
	static const u32 msg_bad[] = { IC_VERSION(4, 0) };
	struct ic_test_packet p;
	u32 chosen_fw, chosen_msg;
	u32 len;

	len = build_negotiate(&p, fw_bad, ARRAY_SIZE(fw_bad), msg_ok,
			      ARRAY_SIZE(msg_ok));
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EPROTONOSUPPORT);

	len = build_negotiate(&p, fw_ok, ARRAY_SIZE(fw_ok), msg_bad,
			      ARRAY_SIZE(msg_bad));
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EPROTONOSUPPORT);

	/* Zero counts: nothing offered, nothing chosen. */
	len = build_negotiate(&p, NULL, 0, NULL, 0);
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EPROTONOSUPPORT);
}

static void negotiate_rejects_counts_past_the_body(struct kunit *test)
{
	static const u32 fw[] = { IC_FRAMEWORK_VERSION_3 };
	static const u32 msg[] = { IC_SHUTDOWN_VERSION_3 };
	struct ic_test_packet p;
	u32 chosen_fw, chosen_msg;
	u32 len;

	len = build_negotiate(&p, fw, 1, msg, 1);

	/* Counts claim one more version than icmsgsize covers. */
	pkt_negotiate(&p)->icmsg_vercnt = 2;
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EBADMSG);

	/* The bytes are in the buffer, but icmsgsize does not include them. */
	pkt_negotiate(&p)->icmsg_vercnt = 1;
	pkt_hdr(&p)->icmsgsize -= sizeof(struct ic_version);
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EBADMSG);

	/* Too short for even the counts. */
	len = build_request(&p, ICMSGTYPE_NEGOTIATE, 3);
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EBADMSG);
}

static void negotiate_rejects_absurd_counts(struct kunit *test)
{
	static const u32 fw[] = { IC_FRAMEWORK_VERSION_3 };
	static const u32 msg[] = { IC_SHUTDOWN_VERSION_3 };
	struct ic_test_packet p;
	u32 chosen_fw, chosen_msg;
	u32 len;

	len = build_negotiate(&p, fw, 1, msg, 1);
	pkt_negotiate(&p)->icframe_vercnt = 0xffff;
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EBADMSG);

	len = build_negotiate(&p, fw, 1, msg, 1);
	pkt_negotiate(&p)->icmsg_vercnt = IC_NEGOTIATE_MAX_VERSIONS + 1;
	KUNIT_EXPECT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg),
			-EBADMSG);
}

static void negotiate_accepts_the_maximum_count(struct kunit *test)
{
	u32 fw[IC_NEGOTIATE_MAX_VERSIONS], msg[IC_NEGOTIATE_MAX_VERSIONS];
	struct ic_test_packet p;
	u32 chosen_fw = 0, chosen_msg = 0;
	unsigned int i;
	u32 len;

	for (i = 0; i < IC_NEGOTIATE_MAX_VERSIONS; i++) {
		fw[i] = IC_VERSION(10 + i, 0);
		msg[i] = IC_VERSION(10 + i, 0);
	}
	fw[5] = IC_FRAMEWORK_VERSION_1;
	msg[IC_NEGOTIATE_MAX_VERSIONS - 1] = IC_SHUTDOWN_VERSION_1;
	len = build_negotiate(&p, fw, ARRAY_SIZE(fw), msg, ARRAY_SIZE(msg));
	KUNIT_ASSERT_EQ(test, select_for(&p, len, &chosen_fw, &chosen_msg), 0);
	KUNIT_EXPECT_EQ(test, chosen_fw, IC_FRAMEWORK_VERSION_1);
	KUNIT_EXPECT_EQ(test, chosen_msg, IC_SHUTDOWN_VERSION_1);
}

/* ---- negotiation answer ---- */

static void negotiate_answer_on_match(struct kunit *test)
{
	static const u32 fw[] = { IC_FRAMEWORK_VERSION_1, IC_FRAMEWORK_VERSION_3 };
	static const u32 msg[] = { IC_SHUTDOWN_VERSION_1, IC_SHUTDOWN_VERSION_3 };
	struct ic_test_packet p;
	struct icmsg_negotiate *neg = pkt_negotiate(&p);
	u32 len, answer;

	len = build_negotiate(&p, fw, ARRAY_SIZE(fw), msg, ARRAY_SIZE(msg));
	pkt_hdr(&p)->status = 0x12345678;
	answer = viridian_ic_negotiate_answer(p.bytes, len, sizeof(p.bytes),
					      true, IC_FRAMEWORK_VERSION_3,
					      IC_SHUTDOWN_VERSION_3);

	/* The host's request was longer than the answer: keep its length. */
	KUNIT_EXPECT_EQ(test, answer, len);
	KUNIT_EXPECT_EQ(test, pkt_pipe(&p)->msgsize,
			(u32)(len - sizeof(struct vmbus_pipe_header)));
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->status, IC_S_OK);
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->icflags,
			ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE);
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->icmsgsize,
			(u16)VIRIDIAN_IC_NEGOTIATE_ANSWER_BODY);
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->ictransaction_id, 7);
	KUNIT_EXPECT_EQ(test, neg->icframe_vercnt, 1);
	KUNIT_EXPECT_EQ(test, neg->icmsg_vercnt, 1);
	KUNIT_EXPECT_EQ(test, neg->icversion_data[0].major, 3);
	KUNIT_EXPECT_EQ(test, neg->icversion_data[0].minor, 0);
	KUNIT_EXPECT_EQ(test, neg->icversion_data[1].major, 3);
	KUNIT_EXPECT_EQ(test, neg->icversion_data[1].minor, 0);
}

static void negotiate_answer_on_failure(struct kunit *test)
{
	static const u32 fw[] = { IC_VERSION(7, 0) };
	static const u32 msg[] = { IC_VERSION(7, 0) };
	struct ic_test_packet p;
	struct icmsg_negotiate *neg = pkt_negotiate(&p);
	u32 len, answer;

	len = build_negotiate(&p, fw, 1, msg, 1);
	answer = viridian_ic_negotiate_answer(p.bytes, len, sizeof(p.bytes),
					      false, 0, 0);
	KUNIT_EXPECT_EQ(test, answer, (u32)VIRIDIAN_IC_NEGOTIATE_ANSWER_SIZE);
	KUNIT_EXPECT_EQ(test, pkt_hdr(&p)->status, IC_E_FAIL);
	KUNIT_EXPECT_EQ(test, neg->icframe_vercnt, 0);
	KUNIT_EXPECT_EQ(test, neg->icmsg_vercnt, 0);
	KUNIT_EXPECT_EQ(test, neg->icversion_data[0].major, 0);
	KUNIT_EXPECT_EQ(test, neg->icversion_data[1].major, 0);
}

static void negotiate_answer_grows_a_short_request(struct kunit *test)
{
	struct ic_test_packet p;
	struct icmsg_negotiate *neg = pkt_negotiate(&p);
	u32 len, answer;

	/* A malformed request with only 2 body bytes still gets a whole answer. */
	len = build_request(&p, ICMSGTYPE_NEGOTIATE, 2);
	answer = viridian_ic_negotiate_answer(p.bytes, len, sizeof(p.bytes),
					      false, 0, 0);
	KUNIT_EXPECT_EQ(test, answer, (u32)VIRIDIAN_IC_NEGOTIATE_ANSWER_SIZE);
	KUNIT_EXPECT_EQ(test, pkt_pipe(&p)->msgsize,
			(u32)(answer - sizeof(struct vmbus_pipe_header)));
	/* No stale bytes (0xa5) left in the part the host did not send. */
	KUNIT_EXPECT_EQ(test, neg->reserved, 0u);
	KUNIT_EXPECT_EQ(test, neg->icversion_data[1].minor, 0);
}

static void negotiate_answer_refuses_small_buffers(struct kunit *test)
{
	struct ic_test_packet p;
	u32 len;

	len = build_request(&p, ICMSGTYPE_NEGOTIATE, 0);
	KUNIT_EXPECT_EQ(test,
			viridian_ic_negotiate_answer(p.bytes, len,
						     VIRIDIAN_IC_NEGOTIATE_ANSWER_SIZE - 1,
						     false, 0, 0), 0u);
	KUNIT_EXPECT_EQ(test,
			viridian_ic_negotiate_answer(p.bytes, IC_HEADER_SIZE - 1,
						     sizeof(p.bytes), false, 0, 0),
			0u);
}

/* ---- heartbeat ---- */

static void heartbeat_answers_seq_plus_one(struct kunit *test)
{
	struct ic_test_packet p;
	struct viridian_ic_message m;
	struct ic_heartbeat_msg *hb;
	u32 len;

	len = build_request(&p, ICMSGTYPE_HEARTBEAT, sizeof(*hb));
	KUNIT_ASSERT_EQ(test, viridian_ic_parse(p.bytes, len, &m), 0);
	hb = m.body;
	hb->seq_num = 41;
	KUNIT_EXPECT_EQ(test, viridian_ic_heartbeat_answer(m.body, m.body_len), 0);
	KUNIT_EXPECT_EQ(test, hb->seq_num, 42ull);

	hb->seq_num = U64_MAX;
	KUNIT_EXPECT_EQ(test, viridian_ic_heartbeat_answer(m.body, m.body_len), 0);
	KUNIT_EXPECT_EQ(test, hb->seq_num, 0ull);

	/* The reserved words are optional; the sequence number is not. */
	KUNIT_EXPECT_EQ(test, viridian_ic_heartbeat_answer(m.body, 8), 0);
	KUNIT_EXPECT_EQ(test, viridian_ic_heartbeat_answer(m.body, 7), -EBADMSG);
	KUNIT_EXPECT_EQ(test, hb->seq_num, 1ull);
}

/* ---- shutdown ---- */

static void shutdown_flags_map_to_actions(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, viridian_ic_shutdown_action(0),
			VIRIDIAN_IC_SHUTDOWN_POWER_OFF);
	KUNIT_EXPECT_EQ(test, viridian_ic_shutdown_action(IC_SHUTDOWN_FLAG_FORCE),
			VIRIDIAN_IC_SHUTDOWN_POWER_OFF);
	KUNIT_EXPECT_EQ(test, viridian_ic_shutdown_action(IC_SHUTDOWN_FLAG_REBOOT),
			VIRIDIAN_IC_SHUTDOWN_REBOOT);
	KUNIT_EXPECT_EQ(test,
			viridian_ic_shutdown_action(IC_SHUTDOWN_FLAG_REBOOT |
						    IC_SHUTDOWN_FLAG_FORCE),
			VIRIDIAN_IC_SHUTDOWN_REBOOT);
	KUNIT_EXPECT_EQ(test, viridian_ic_shutdown_action(IC_SHUTDOWN_FLAG_HIBERNATE),
			VIRIDIAN_IC_SHUTDOWN_HIBERNATE);
	KUNIT_EXPECT_EQ(test,
			viridian_ic_shutdown_action(IC_SHUTDOWN_FLAG_HIBERNATE |
						    IC_SHUTDOWN_FLAG_FORCE),
			VIRIDIAN_IC_SHUTDOWN_HIBERNATE);

	/* Contradictory or unknown requests are refused, not guessed at. */
	KUNIT_EXPECT_EQ(test,
			viridian_ic_shutdown_action(IC_SHUTDOWN_FLAG_REBOOT |
						    IC_SHUTDOWN_FLAG_HIBERNATE),
			VIRIDIAN_IC_SHUTDOWN_INVALID);
	KUNIT_EXPECT_EQ(test, viridian_ic_shutdown_action(0x8),
			VIRIDIAN_IC_SHUTDOWN_INVALID);
	KUNIT_EXPECT_EQ(test, viridian_ic_shutdown_action(0xffffffff),
			VIRIDIAN_IC_SHUTDOWN_INVALID);
	KUNIT_EXPECT_STREQ(test,
			   viridian_ic_shutdown_action_name(VIRIDIAN_IC_SHUTDOWN_REBOOT),
			   "reboot");
}

static void display_message_is_bounded_and_terminated(struct kunit *test)
{
	static const u8 text[] = "Planned maintenance";
	u8 *unterminated;
	char out[16];

	/* As large as the wire field: too much for the stack. */
	unterminated = kunit_kmalloc(test, IC_SHUTDOWN_MESSAGE_BYTES, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, unterminated);

	/* Truncated to the destination, always terminated. */
	KUNIT_EXPECT_EQ(test,
			viridian_ic_display_message(out, sizeof(out), text,
						    sizeof(text)), (size_t)15);
	KUNIT_EXPECT_STREQ(test, out, "Planned mainten");

	/* The host's length bounds the read even without a NUL. */
	memset(unterminated, 'x', IC_SHUTDOWN_MESSAGE_BYTES);
	KUNIT_EXPECT_EQ(test,
			viridian_ic_display_message(out, sizeof(out), unterminated, 3),
			(size_t)3);
	KUNIT_EXPECT_STREQ(test, out, "xxx");

	KUNIT_EXPECT_EQ(test, viridian_ic_display_message(out, sizeof(out), text, 0),
			(size_t)0);
	KUNIT_EXPECT_STREQ(test, out, "");

	/* A zero-sized destination is left alone. */
	out[0] = 'z';
	KUNIT_EXPECT_EQ(test, viridian_ic_display_message(out, 0, text, sizeof(text)),
			(size_t)0);
	KUNIT_EXPECT_EQ(test, out[0], 'z');
}

static void display_message_filters_control_characters(struct kunit *test)
{
	static const u8 hostile[] = { 'o', 'k', '\n', 0x1b, '[', 0xff, 'x', 0, 'y' };
	char out[32];

	viridian_ic_display_message(out, sizeof(out), hostile, sizeof(hostile));
	KUNIT_EXPECT_STREQ(test, out, "ok??[?x");
}

static void display_message_reads_utf16(struct kunit *test)
{
	static const u8 wide[] = {
		'R', 0, 'e', 0, 'b', 0, 0xe9, 0x00, 0x3a, 0x26, 't', 0, 0, 0, 'z', 0,
	};
	char out[32];

	viridian_ic_display_message(out, sizeof(out), wide, sizeof(wide));
	KUNIT_EXPECT_STREQ(test, out, "Reb??t");

	/* An odd trailing byte is not half a character to print. */
	viridian_ic_display_message(out, sizeof(out), wide, 3);
	KUNIT_EXPECT_STREQ(test, out, "R");
}

/* ---- time sync ---- */

static void timesync_parses_by_version(struct kunit *test)
{
	struct ic_timesync_ref_msg ref = {
		.parenttime = 1000, .vmreferencetime = 2000,
		.flags = IC_TIMESYNC_FLAG_SYNC,
	};
	struct ic_timesync_msg old = {
		.parenttime = 3000, .childtime = 1, .roundtriptime = 2,
		.flags = IC_TIMESYNC_FLAG_SAMPLE,
	};
	struct viridian_ic_time_sample s;

	KUNIT_ASSERT_EQ(test,
			viridian_ic_timesync_parse(&ref, sizeof(ref),
						   IC_TIMESYNC_VERSION_4, &s), 0);
	KUNIT_EXPECT_EQ(test, s.host_time, 1000ull);
	KUNIT_EXPECT_EQ(test, s.reference_time, 2000ull);
	KUNIT_EXPECT_TRUE(test, s.has_reference);
	KUNIT_EXPECT_EQ(test, s.flags, IC_TIMESYNC_FLAG_SYNC);

	KUNIT_ASSERT_EQ(test,
			viridian_ic_timesync_parse(&old, sizeof(old),
						   IC_TIMESYNC_VERSION_3, &s), 0);
	KUNIT_EXPECT_EQ(test, s.host_time, 3000ull);
	KUNIT_EXPECT_FALSE(test, s.has_reference);
	KUNIT_EXPECT_EQ(test, s.flags, IC_TIMESYNC_FLAG_SAMPLE);

	/* Each layout needs its bytes up to the flags. */
	KUNIT_EXPECT_EQ(test,
			viridian_ic_timesync_parse(&ref, VIRIDIAN_IC_TIMESYNC_REF_MIN_BODY - 1,
						   IC_TIMESYNC_VERSION_4, &s), -EBADMSG);
	KUNIT_EXPECT_EQ(test,
			viridian_ic_timesync_parse(&ref, VIRIDIAN_IC_TIMESYNC_REF_MIN_BODY,
						   IC_TIMESYNC_VERSION_4, &s), 0);
	KUNIT_EXPECT_EQ(test,
			viridian_ic_timesync_parse(&old, sizeof(old) - 1,
						   IC_TIMESYNC_VERSION_1, &s), -EBADMSG);
}

static void timesync_converts_windows_epoch(struct kunit *test)
{
	s64 ns = -1;

	KUNIT_EXPECT_TRUE(test,
			  viridian_ic_host_time_to_unix_ns(IC_WINDOWS_EPOCH_DELTA, &ns));
	KUNIT_EXPECT_EQ(test, ns, 0ll);

	/* 2001-09-09 01:46:40 UTC is 1e9 s after 1970. */
	KUNIT_EXPECT_TRUE(test,
			  viridian_ic_host_time_to_unix_ns(IC_WINDOWS_EPOCH_DELTA +
							   10000000000000000ull, &ns));
	KUNIT_EXPECT_EQ(test, ns, 1000000000000000000ll);

	KUNIT_EXPECT_FALSE(test,
			   viridian_ic_host_time_to_unix_ns(IC_WINDOWS_EPOCH_DELTA - 1,
							    &ns));
	KUNIT_EXPECT_FALSE(test, viridian_ic_host_time_to_unix_ns(U64_MAX, &ns));
}

static void timesync_extrapolates_safely(struct kunit *test)
{
	/* 100 ns units of reference time become ns. */
	KUNIT_EXPECT_EQ(test, viridian_ic_time_extrapolate(5000, 10, 30), 7000ll);
	/* A reference clock behind the sample adds nothing. */
	KUNIT_EXPECT_EQ(test, viridian_ic_time_extrapolate(5000, 30, 10), 5000ll);
	KUNIT_EXPECT_EQ(test, viridian_ic_time_extrapolate(5000, 30, 30), 5000ll);
	/* Saturates rather than wrapping negative. */
	KUNIT_EXPECT_EQ(test, viridian_ic_time_extrapolate(S64_MAX - 50, 0, 1),
			S64_MAX);
	KUNIT_EXPECT_EQ(test, viridian_ic_time_extrapolate(0, 0, U64_MAX), S64_MAX);
}

static struct kunit_case ic_protocol_test_cases[] = {
	KUNIT_CASE(parse_rejects_short_packets),
	KUNIT_CASE(parse_checks_icmsgsize_against_packet),
	KUNIT_CASE(mark_response_sets_flags_and_status),
	KUNIT_CASE(negotiate_picks_highest_common),
	KUNIT_CASE(negotiate_ignores_host_order_and_unknown_versions),
	KUNIT_CASE(negotiate_fails_without_common_version),
	KUNIT_CASE(negotiate_rejects_counts_past_the_body),
	KUNIT_CASE(negotiate_rejects_absurd_counts),
	KUNIT_CASE(negotiate_accepts_the_maximum_count),
	KUNIT_CASE(negotiate_answer_on_match),
	KUNIT_CASE(negotiate_answer_on_failure),
	KUNIT_CASE(negotiate_answer_grows_a_short_request),
	KUNIT_CASE(negotiate_answer_refuses_small_buffers),
	KUNIT_CASE(heartbeat_answers_seq_plus_one),
	KUNIT_CASE(shutdown_flags_map_to_actions),
	KUNIT_CASE(display_message_is_bounded_and_terminated),
	KUNIT_CASE(display_message_filters_control_characters),
	KUNIT_CASE(display_message_reads_utf16),
	KUNIT_CASE(timesync_parses_by_version),
	KUNIT_CASE(timesync_converts_windows_epoch),
	KUNIT_CASE(timesync_extrapolates_safely),
	{}
};

static struct kunit_suite ic_protocol_test_suite = {
	.name = "viridian_ic_protocol",
	.test_cases = ic_protocol_test_cases,
};

kunit_test_suite(ic_protocol_test_suite);

MODULE_LICENSE("GPL");
