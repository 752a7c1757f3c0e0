// SPDX-License-Identifier: GPL-2.0
/* kunit-sources: drivers/vmbus/protocol.c */
/*
 * KUnit tests for the VMBus bus driver's hardware-free logic: version
 * choice and parsing, host-message and offer validation, device codes,
 * GPADL message packing, OPENCHANNEL building and the ring bookkeeping
 * (space checks, packet put/peek with wrap-around, signalling decisions).
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "protocol.h"

static void vmbus_test_version_list(struct kunit *test)
{
	unsigned int i;

	KUNIT_EXPECT_EQ(test, vmbus_proto_versions[0], VMBUS_VERSION(5, 3));
	KUNIT_EXPECT_EQ(test, vmbus_proto_versions[VMBUS_PROTO_NR_VERSIONS - 1],
			VMBUS_VERSION(2, 4));
	for (i = 1; i < VMBUS_PROTO_NR_VERSIONS; i++)
		KUNIT_EXPECT_LT(test, vmbus_proto_versions[i],
				vmbus_proto_versions[i - 1]);

	KUNIT_EXPECT_TRUE(test, vmbus_proto_version_supported(VMBUS_VERSION(5, 3)));
	KUNIT_EXPECT_TRUE(test, vmbus_proto_version_supported(VMBUS_VERSION(4, 1)));
	KUNIT_EXPECT_TRUE(test, vmbus_proto_version_supported(VMBUS_VERSION(2, 4)));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_version_supported(VMBUS_VERSION_WIN7));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_version_supported(VMBUS_VERSION_WS2008));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_version_supported(VMBUS_VERSION(6, 0)));
}

static void vmbus_test_next_version(struct kunit *test)
{
	static const u32 walk[] = {
		VMBUS_VERSION(5, 3), VMBUS_VERSION(5, 2), VMBUS_VERSION(5, 1),
		VMBUS_VERSION(5, 0), VMBUS_VERSION(4, 1), VMBUS_VERSION(4, 0),
		VMBUS_VERSION(3, 0), VMBUS_VERSION(2, 4),
	};
	u32 v = 0;
	unsigned int i;

	/* Uncapped: every version, highest first, then nothing. */
	for (i = 0; i < ARRAY_SIZE(walk); i++) {
		v = vmbus_proto_next_version(v, VMBUS_VERSION(5, 3));
		KUNIT_EXPECT_EQ(test, v, walk[i]);
	}
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(v, VMBUS_VERSION(5, 3)), 0u);

	/* A cap between versions starts at the one below it. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(0, VMBUS_VERSION(4, 5)),
			VMBUS_VERSION(4, 1));
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(0, VMBUS_VERSION(9, 0)),
			VMBUS_VERSION(5, 3));
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(0, VMBUS_VERSION(2, 4)),
			VMBUS_VERSION(2, 4));
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(0, VMBUS_VERSION(2, 3)), 0u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(0, 0), 0u);
	/* After a refusal, the next lower one. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(VMBUS_VERSION(3, 0),
						       VMBUS_VERSION(5, 3)),
			VMBUS_VERSION(2, 4));
	KUNIT_EXPECT_EQ(test, vmbus_proto_next_version(VMBUS_VERSION(5, 0),
						       VMBUS_VERSION(4, 0)),
			VMBUS_VERSION(4, 0));
}

static void vmbus_test_parse_version(struct kunit *test)
{
	char long_str[32];
	u32 v;

	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("5.3", &v), 0);
	KUNIT_EXPECT_EQ(test, v, VMBUS_VERSION(5, 3));
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("2.4\n", &v), 0);
	KUNIT_EXPECT_EQ(test, v, VMBUS_VERSION(2, 4));
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("4.10", &v), 0);
	KUNIT_EXPECT_EQ(test, v, VMBUS_VERSION(4, 10));
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("0x40001", &v), 0);
	KUNIT_EXPECT_EQ(test, v, VMBUS_VERSION(4, 1));
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("327683", &v), 0);
	KUNIT_EXPECT_EQ(test, v, VMBUS_VERSION(5, 3));

	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version(NULL, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("\n", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("5.", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version(".3", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("5.3.1", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("v5.3", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("-5.3", &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version("65536.0", &v), -EINVAL);
	KUNIT_EXPECT_NE(test, vmbus_proto_parse_version("five", &v), 0);

	memset(long_str, '1', sizeof(long_str) - 1);
	long_str[sizeof(long_str) - 1] = '\0';
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version(long_str, &v), -EINVAL);
}

static void vmbus_test_initiate_contact(struct kunit *test)
{
	struct vmbus_channel_initiate_contact msg;

	KUNIT_EXPECT_EQ(test, vmbus_proto_contact_connection_id(VMBUS_VERSION(5, 3)),
			(u32)VMBUS_MESSAGE_CONNECTION_ID_4);
	KUNIT_EXPECT_EQ(test, vmbus_proto_contact_connection_id(VMBUS_VERSION(5, 0)),
			(u32)VMBUS_MESSAGE_CONNECTION_ID_4);
	KUNIT_EXPECT_EQ(test, vmbus_proto_contact_connection_id(VMBUS_VERSION(4, 1)),
			(u32)VMBUS_MESSAGE_CONNECTION_ID);
	KUNIT_EXPECT_EQ(test, vmbus_proto_contact_connection_id(VMBUS_VERSION(2, 4)),
			(u32)VMBUS_MESSAGE_CONNECTION_ID);

	memset(&msg, 0xa5, sizeof(msg));
	vmbus_proto_build_initiate_contact(&msg, VMBUS_VERSION(5, 2), 3,
					   0x1000, 0x2000);
	KUNIT_EXPECT_EQ(test, msg.header.msgtype, (u32)CHANNELMSG_INITIATE_CONTACT);
	KUNIT_EXPECT_EQ(test, msg.header.padding, 0u);
	KUNIT_EXPECT_EQ(test, msg.vmbus_version_requested, VMBUS_VERSION(5, 2));
	KUNIT_EXPECT_EQ(test, msg.target_vcpu, 3u);
	/* SINT 2 in byte 0, VTL 0 in byte 1. */
	KUNIT_EXPECT_EQ(test, msg.interrupt_page_or_sint, (u64)VMBUS_MESSAGE_SINT);
	KUNIT_EXPECT_EQ(test, msg.monitor_page1, 0x1000ull);
	KUNIT_EXPECT_EQ(test, msg.monitor_page2, 0x2000ull);

	vmbus_proto_build_initiate_contact(&msg, VMBUS_VERSION(4, 0), 0,
					   0x3000, 0x4000);
	KUNIT_EXPECT_EQ(test, msg.vmbus_version_requested, VMBUS_VERSION(4, 0));
	KUNIT_EXPECT_EQ(test, msg.interrupt_page_or_sint, 0ull);
	KUNIT_EXPECT_EQ(test, msg.monitor_page1, 0x3000ull);
	KUNIT_EXPECT_EQ(test, msg.monitor_page2, 0x4000ull);
}

static void vmbus_test_version_response(struct kunit *test)
{
	struct vmbus_channel_version_response r;
	u32 conn = 0;

	memset(&r, 0, sizeof(r));
	r.header.msgtype = CHANNELMSG_VERSION_RESPONSE;
	r.version_supported = 0;
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version_response(&r, VMBUS_VERSION(5, 3),
								 &conn),
			-EPROTONOSUPPORT);

	r.version_supported = 1;
	r.msg_conn_id = 4;
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version_response(&r, VMBUS_VERSION(5, 3),
								 &conn), 0);
	KUNIT_EXPECT_EQ(test, conn, 4u);

	/* Before 5.0 the field is not there: the fixed ID applies. */
	r.msg_conn_id = 77;
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version_response(&r, VMBUS_VERSION(4, 1),
								 &conn), 0);
	KUNIT_EXPECT_EQ(test, conn, (u32)VMBUS_MESSAGE_CONNECTION_ID);

	r.msg_conn_id = 0;
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version_response(&r, VMBUS_VERSION(5, 0),
								 &conn), -EPROTO);

	r.msg_conn_id = 4;
	r.connection_state = 1;
	KUNIT_EXPECT_EQ(test, vmbus_proto_parse_version_response(&r, VMBUS_VERSION(5, 0),
								 &conn), -EPROTO);
}

static void vmbus_test_host_messages(struct kunit *test)
{
	u8 buf[HV_MESSAGE_PAYLOAD_BYTES + 8] = {};
	struct vmbus_channel_message_header *hdr = (void *)buf;
	u32 type = 0;

	hdr->msgtype = CHANNELMSG_OFFERCHANNEL;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 196, &type), 0);
	KUNIT_EXPECT_EQ(test, type, (u32)CHANNELMSG_OFFERCHANNEL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 195, &type), -EBADMSG);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 240, &type), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 241, &type), -EBADMSG);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 7, &type), -EBADMSG);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 0, &type), -EBADMSG);

	hdr->msgtype = CHANNELMSG_ALLOFFERS_DELIVERED;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 8, &type), 0);
	hdr->msgtype = CHANNELMSG_RESCIND_CHANNELOFFER;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 12, &type), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 11, &type), -EBADMSG);
	hdr->msgtype = CHANNELMSG_VERSION_RESPONSE;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 16, &type), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 12, &type), -EBADMSG);
	hdr->msgtype = CHANNELMSG_GPADL_CREATED;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 20, &type), 0);
	hdr->msgtype = CHANNELMSG_GPADL_TORNDOWN;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 12, &type), 0);
	hdr->msgtype = CHANNELMSG_OPENCHANNEL_RESULT;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 19, &type), -EBADMSG);
	hdr->msgtype = CHANNELMSG_MODIFYCHANNEL_RESPONSE;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 16, &type), 0);
	hdr->msgtype = CHANNELMSG_UNLOAD_RESPONSE;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 8, &type), 0);

	/* Guest-to-host types and nonsense never come from a host. */
	hdr->msgtype = CHANNELMSG_INITIATE_CONTACT;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 40, &type), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, type, (u32)CHANNELMSG_INITIATE_CONTACT);
	hdr->msgtype = CHANNELMSG_GPADL_HEADER;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 40, &type), -EOPNOTSUPP);
	hdr->msgtype = CHANNELMSG_INVALID;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 40, &type), -EOPNOTSUPP);
	hdr->msgtype = 0xdeadbeef;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_host_msg(buf, 40, &type), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, vmbus_proto_host_msg_min_size(CHANNELMSG_COUNT), 0u);
}

static void vmbus_test_offer_checks(struct kunit *test)
{
	struct vmbus_channel_offer_channel offer;

	memset(&offer, 0, sizeof(offer));
	offer.child_relid = 2047;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_offer(&offer), 0);
	offer.child_relid = 2048;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_offer(&offer), -EBADMSG);
	offer.child_relid = 0xffffffff;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_offer(&offer), -EBADMSG);

	offer.child_relid = 5;
	offer.monitorid = 200;
	/* Without an allocated monitor the ID is never used. */
	KUNIT_EXPECT_FALSE(test, vmbus_proto_offer_monitored(&offer));
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_offer(&offer), 0);
	offer.monitor_flags = VMBUS_OFFER_MONITOR_ALLOCATED;
	KUNIT_EXPECT_TRUE(test, vmbus_proto_offer_monitored(&offer));
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_offer(&offer), -EBADMSG);
	offer.monitorid = 128;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_offer(&offer), -EBADMSG);
	offer.monitorid = 127;
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_offer(&offer), 0);
}

static void vmbus_test_device_type(struct kunit *test)
{
	guid_t g;

	g = VMBUS_CLASS_IDE;
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), 0);
	g = VMBUS_CLASS_SCSI;
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), 1);
	g = VMBUS_CLASS_NETWORK;
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), 3);
	g = VMBUS_CLASS_VIDEO;
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), 6);
	g = VMBUS_CLASS_HEARTBEAT;
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), 11);
	g = VMBUS_CLASS_SHUTDOWN;
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), 12);
	g = VMBUS_CLASS_DYNMEM;
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), 15);
	g = GUID_INIT(0x12345678, 0x1234, 0x1234, 1, 2, 3, 4, 5, 6, 7, 8);
	KUNIT_EXPECT_EQ(test, vmbus_proto_device_type(&g), VMBUS_PROTO_DEVICE_UNKNOWN);
}

static void vmbus_test_gpadl_sizes(struct kunit *test)
{
	u32 n = 0;

	KUNIT_EXPECT_EQ(test, VMBUS_GPADL_HEADER_PFNS, 26);
	KUNIT_EXPECT_EQ(test, VMBUS_GPADL_BODY_PFNS, 28);

	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_pages(0, &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_pages(4095, &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_pages(4097, &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_pages(4096, &n), 0);
	KUNIT_EXPECT_EQ(test, n, 1u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_pages(8190 * 4096, &n), 0);
	KUNIT_EXPECT_EQ(test, n, 8190u);
	/* range_buflen is 16 bits: 8 + 8191 * 8 would not fit. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_pages(8191 * 4096, &n), -E2BIG);

	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_msg_count(1), 1u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_msg_count(26), 1u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_msg_count(27), 2u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_msg_count(54), 2u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_msg_count(55), 3u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_msg_count(8190),
			1u + DIV_ROUND_UP(8190 - 26, 28));
}

static void vmbus_test_gpadl_header_body(struct kunit *test)
{
	u64 msg[HV_MESSAGE_PAYLOAD_QWORDS];
	const struct vmbus_channel_gpadl_header *hdr = (const void *)msg;
	const struct vmbus_channel_gpadl_body *body = (const void *)msg;
	u64 pfns[30];
	unsigned int i;
	u32 size;

	for (i = 0; i < ARRAY_SIZE(pfns); i++)
		pfns[i] = 0x100000ull + i * 3;

	size = vmbus_proto_gpadl_build_msg(msg, 0, 7, 0xe1e10, pfns, 30);
	KUNIT_EXPECT_EQ(test, size, 20u + 8u + 26u * 8u);
	KUNIT_EXPECT_EQ(test, hdr->header.msgtype, (u32)CHANNELMSG_GPADL_HEADER);
	KUNIT_EXPECT_EQ(test, hdr->child_relid, 7u);
	KUNIT_EXPECT_EQ(test, hdr->gpadl, 0xe1e10u);
	KUNIT_EXPECT_EQ(test, hdr->rangecount, 1);
	/* The range length covers every PFN, not only this message's. */
	KUNIT_EXPECT_EQ(test, hdr->range_buflen, 8 + 30 * 8);
	KUNIT_EXPECT_EQ(test, hdr->range[0].byte_count, 30u * 4096u);
	KUNIT_EXPECT_EQ(test, hdr->range[0].byte_offset, 0u);
	for (i = 0; i < 26; i++)
		KUNIT_EXPECT_EQ(test, hdr->range[0].pfn_array[i], pfns[i]);

	size = vmbus_proto_gpadl_build_msg(msg, 1, 7, 0xe1e10, pfns, 30);
	KUNIT_EXPECT_EQ(test, size, 16u + 4u * 8u);
	KUNIT_EXPECT_EQ(test, body->header.msgtype, (u32)CHANNELMSG_GPADL_BODY);
	KUNIT_EXPECT_EQ(test, body->gpadl, 0xe1e10u);
	KUNIT_EXPECT_EQ(test, body->msgnumber, 1u);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, body->pfn[i], pfns[26 + i]);

	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_build_msg(msg, 2, 7, 1, pfns, 30), 0u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_build_msg(msg, 0, 7, 1, pfns, 0), 0u);

	/* A single page fits the header alone. */
	size = vmbus_proto_gpadl_build_msg(msg, 0, 1, 2, pfns, 1);
	KUNIT_EXPECT_EQ(test, size, 36u);
	KUNIT_EXPECT_EQ(test, hdr->range_buflen, 16);
	KUNIT_EXPECT_EQ(test, hdr->range[0].byte_count, 4096u);
}

/* Every PFN lands exactly once, in order, and no message overflows. */
static void vmbus_test_gpadl_many_pages(struct kunit *test)
{
	const u32 count = 1000;
	u64 msg[HV_MESSAGE_PAYLOAD_QWORDS];
	const struct vmbus_channel_gpadl_header *hdr = (const void *)msg;
	const struct vmbus_channel_gpadl_body *body = (const void *)msg;
	u32 nmsgs, i, j, size, seen = 0, carried;
	u64 *pfns;

	pfns = kunit_kmalloc_array(test, count, sizeof(*pfns), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	for (i = 0; i < count; i++)
		pfns[i] = 0xabc000ull + i;

	nmsgs = vmbus_proto_gpadl_msg_count(count);
	for (i = 0; i < nmsgs; i++) {
		size = vmbus_proto_gpadl_build_msg(msg, i, 3, 9, pfns, count);
		KUNIT_ASSERT_GT(test, size, 0u);
		KUNIT_EXPECT_LE(test, size, (u32)HV_MESSAGE_PAYLOAD_BYTES);
		if (i == 0) {
			carried = (size - 28) / 8;
			for (j = 0; j < carried; j++)
				KUNIT_EXPECT_EQ(test, hdr->range[0].pfn_array[j],
						pfns[seen + j]);
		} else {
			KUNIT_EXPECT_EQ(test, body->msgnumber, i);
			carried = (size - 16) / 8;
			for (j = 0; j < carried; j++)
				KUNIT_EXPECT_EQ(test, body->pfn[j], pfns[seen + j]);
		}
		seen += carried;
	}
	KUNIT_EXPECT_EQ(test, seen, count);
	KUNIT_EXPECT_EQ(test, vmbus_proto_gpadl_build_msg(msg, nmsgs, 3, 9, pfns,
							  count), 0u);
}

static void vmbus_test_open_message(struct kunit *test)
{
	struct vmbus_channel_open_channel msg;
	u8 userdata[VMBUS_MAX_USER_DEFINED_BYTES + 1];

	memset(userdata, 0x5a, sizeof(userdata));
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_ring_sizes(8192, 8192), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_ring_sizes(64 * 4096, 4 * 4096), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_ring_sizes(4096, 8192), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_ring_sizes(8192, 4096), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_ring_sizes(8192 + 8, 8192), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_ring_sizes(4096 * 4096, 4096 * 4096),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_check_ring_sizes(0xfffff000u, 0xfffff000u),
			-EINVAL);

	KUNIT_EXPECT_EQ(test, vmbus_proto_build_open(&msg, 12, 99, 0xe1e11, 1,
						     16 * 4096, userdata, 4), 0);
	KUNIT_EXPECT_EQ(test, msg.header.msgtype, (u32)CHANNELMSG_OPENCHANNEL);
	KUNIT_EXPECT_EQ(test, msg.child_relid, 12u);
	KUNIT_EXPECT_EQ(test, msg.openid, 99u);
	KUNIT_EXPECT_EQ(test, msg.ringbuffer_gpadlhandle, 0xe1e11u);
	KUNIT_EXPECT_EQ(test, msg.target_vp, 1u);
	KUNIT_EXPECT_EQ(test, msg.downstream_ringbuffer_pageoffset, 16u);
	KUNIT_EXPECT_EQ(test, msg.userdata[0], 0x5a);
	KUNIT_EXPECT_EQ(test, msg.userdata[3], 0x5a);
	KUNIT_EXPECT_EQ(test, msg.userdata[4], 0);

	KUNIT_EXPECT_EQ(test, vmbus_proto_build_open(&msg, 1, 1, 1, 0, 8192, userdata,
						     VMBUS_MAX_USER_DEFINED_BYTES), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_open(&msg, 1, 1, 1, 0, 8192, userdata,
						     VMBUS_MAX_USER_DEFINED_BYTES + 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_open(&msg, 1, 1, 1, 0, 8192, NULL, 4),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_open(&msg, 1, 1, 1, 0, 8192, NULL, 0), 0);
}

static void vmbus_test_build_desc(struct kunit *test)
{
	struct vmpacket_descriptor d;
	u32 bytes = 0;

	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, VM_PKT_DATA_INBAND,
						     VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
						     0x1122334455ull, 16, 5, &bytes), 0);
	KUNIT_EXPECT_EQ(test, d.type, VM_PKT_DATA_INBAND);
	KUNIT_EXPECT_EQ(test, d.offset8, 2);
	KUNIT_EXPECT_EQ(test, d.len8, 3);
	KUNIT_EXPECT_EQ(test, d.flags, VMBUS_PKT_FLAG_COMPLETION_REQUESTED);
	KUNIT_EXPECT_EQ(test, d.trans_id, 0x1122334455ull);
	KUNIT_EXPECT_EQ(test, bytes, 21u);

	/* A GPA-direct header with one two-page range. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, VM_PKT_DATA_USING_GPA_DIRECT,
						     0, 1, 24 + 24, 64, &bytes), 0);
	KUNIT_EXPECT_EQ(test, d.offset8, 6);
	KUNIT_EXPECT_EQ(test, d.len8, 14);
	KUNIT_EXPECT_EQ(test, bytes, 112u);

	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, 6, 0, 0, 16, 0, &bytes), 0);
	KUNIT_EXPECT_EQ(test, d.len8, 2);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, 6, 0, 0, 15, 0, &bytes), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, 6, 0, 0, 20, 0, &bytes), -EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, 6, 0, 0, 16,
						     VMBUS_MAX_PACKET_SIZE - 16, &bytes), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, 6, 0, 0, 16,
						     VMBUS_MAX_PACKET_SIZE - 15, &bytes),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, vmbus_proto_build_desc(&d, 6, 0, 0, 16, 0xffffffffu, &bytes),
			-EINVAL);
}

static void vmbus_test_ring_space(struct kunit *test)
{
	/* Empty 4 KiB ring: 4096 free, a packet may use at most 4088. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(0, 0, 4096, 100), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(0, 0, 4096, 4080), 0);
	/* 4088 + 8 of trailer would fill it: equal indices would lie. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(0, 0, 4096, 4088), -EAGAIN);
	/* Writer right behind the reader: 8 free bytes, nothing fits. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(1000, 1008, 4096, 16), -EAGAIN);
	/* Writer ahead: 4096 - 1000 free. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(1008, 8, 4096, 3080), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(1008, 8, 4096, 3088), -EAGAIN);
	/* A host-supplied index outside the ring or misaligned. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(0, 4096, 4096, 16), -EBADMSG);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(0, 12, 4096, 16), -EBADMSG);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_check_space(0xfffffff8u, 0, 4096, 16),
			-EBADMSG);
	KUNIT_EXPECT_TRUE(test, vmbus_proto_ring_index_ok(4088, 4096));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_ring_index_ok(4096, 4096));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_ring_index_ok(4, 4096));
}

/* Put a packet across the end of a small ring and read it back. */
static void vmbus_test_ring_put_peek_wrap(struct kunit *test)
{
	static const u8 payload[5] = { 1, 2, 3, 4, 5 };
	struct vmpacket_descriptor d, got;
	struct vmbus_proto_chunk chunks[2];
	u8 data[64], out[8];
	u32 bytes = 0, next, got_bytes = 0;
	u64 trailer;

	memset(data, 0xee, sizeof(data));
	KUNIT_ASSERT_EQ(test, vmbus_proto_build_desc(&d, VM_PKT_DATA_INBAND, 0, 42, 16,
						     sizeof(payload), &bytes), 0);
	chunks[0].data = &d;
	chunks[0].len = sizeof(d);
	chunks[1].data = payload;
	chunks[1].len = sizeof(payload);
	KUNIT_ASSERT_EQ(test, vmbus_proto_ring_check_space(48, 48, 64, bytes), 0);

	/* 16 + 5 bytes, 3 of padding, 8 of trailer: 32 bytes from 48. */
	next = vmbus_proto_ring_put(data, 64, 48, chunks, 2, bytes);
	KUNIT_EXPECT_EQ(test, next, 16u);
	KUNIT_EXPECT_EQ(test, data[0], 1);
	KUNIT_EXPECT_EQ(test, data[4], 5);
	KUNIT_EXPECT_EQ(test, data[5], 0);
	KUNIT_EXPECT_EQ(test, data[7], 0);
	memcpy(&trailer, &data[8], sizeof(trailer));
	KUNIT_EXPECT_EQ(test, trailer, 48ull << 32);
	KUNIT_EXPECT_EQ(test, data[16], 0xee);

	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 64, next, 48, &got, &got_bytes),
			0);
	KUNIT_EXPECT_EQ(test, got_bytes, 24u);
	KUNIT_EXPECT_EQ(test, got.trans_id, 42ull);
	KUNIT_EXPECT_EQ(test, got.offset8, 2);
	vmbus_ring_copy_out(data, 64, 0, out, sizeof(payload));
	KUNIT_EXPECT_EQ(test, memcmp(out, payload, sizeof(payload)), 0);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_advance(48, 64, got_bytes), next);

	/* Consumed: the ring is empty again. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 64, next, next, &got,
						    &got_bytes), -EAGAIN);
}

static void vmbus_test_ring_peek_hostile(struct kunit *test)
{
	struct vmpacket_descriptor d = {}, got;
	u8 data[256] = {};
	u32 bytes;

	d.type = VM_PKT_DATA_INBAND;
	d.offset8 = 2;
	d.len8 = 4;
	memcpy(data, &d, sizeof(d));
	/* 32 bytes of packet and 8 of trailer published. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 40, 0, &got, &bytes), 0);
	KUNIT_EXPECT_EQ(test, bytes, 32u);
	/* Published less than the descriptor claims. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 32, 0, &got, &bytes),
			-EBADMSG);
	/* A fragment shorter than a descriptor and trailer. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 16, 0, &got, &bytes),
			-EBADMSG);
	/* Indices outside the ring or misaligned. */
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 256, 0, &got, &bytes),
			-EBADMSG);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 44, 0, &got, &bytes),
			-EBADMSG);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 40, 300, &got, &bytes),
			-EBADMSG);

	/* Payload offset beyond the packet. */
	d.offset8 = 5;
	memcpy(data, &d, sizeof(d));
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 40, 0, &got, &bytes),
			-EBADMSG);
	/* Offset inside the descriptor. */
	d.offset8 = 1;
	memcpy(data, &d, sizeof(d));
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 40, 0, &got, &bytes),
			-EBADMSG);
	/* Length shorter than a descriptor. */
	d.offset8 = 2;
	d.len8 = 1;
	memcpy(data, &d, sizeof(d));
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 40, 0, &got, &bytes),
			-EBADMSG);
	/* A huge length. */
	d.len8 = 0xffff;
	memcpy(data, &d, sizeof(d));
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_peek(data, 256, 40, 0, &got, &bytes),
			-EBADMSG);
}

static void vmbus_test_signal_rules(struct kunit *test)
{
	/* After a write: only into an empty ring, only if not masked. */
	KUNIT_EXPECT_TRUE(test, vmbus_proto_signal_after_write(64, 64, 0));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_signal_after_write(64, 64, 1));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_signal_after_write(64, 32, 0));

	/* After a read: once, when the free space crosses pending_send_sz. */
	KUNIT_EXPECT_FALSE(test, vmbus_proto_signal_after_read(4000, 100, 0));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_signal_after_read(1000, 100, 1000));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_signal_after_read(999, 100, 1000));
	KUNIT_EXPECT_TRUE(test, vmbus_proto_signal_after_read(1001, 100, 1000));
	KUNIT_EXPECT_TRUE(test, vmbus_proto_signal_after_read(1100, 100, 1000));
	KUNIT_EXPECT_FALSE(test, vmbus_proto_signal_after_read(1101, 100, 1000));
	/* The producer wrote meanwhile: no underflow, still signalled. */
	KUNIT_EXPECT_TRUE(test, vmbus_proto_signal_after_read(1001, 5000, 1000));
}

static void vmbus_test_ring_advance(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_advance(0, 4096, 24), 32u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_advance(4064, 4096, 24), 0u);
	KUNIT_EXPECT_EQ(test, vmbus_proto_ring_advance(4080, 4096, 24), 16u);
}

static struct kunit_case vmbus_protocol_cases[] = {
	KUNIT_CASE(vmbus_test_version_list),
	KUNIT_CASE(vmbus_test_next_version),
	KUNIT_CASE(vmbus_test_parse_version),
	KUNIT_CASE(vmbus_test_initiate_contact),
	KUNIT_CASE(vmbus_test_version_response),
	KUNIT_CASE(vmbus_test_host_messages),
	KUNIT_CASE(vmbus_test_offer_checks),
	KUNIT_CASE(vmbus_test_device_type),
	KUNIT_CASE(vmbus_test_gpadl_sizes),
	KUNIT_CASE(vmbus_test_gpadl_header_body),
	KUNIT_CASE(vmbus_test_gpadl_many_pages),
	KUNIT_CASE(vmbus_test_open_message),
	KUNIT_CASE(vmbus_test_build_desc),
	KUNIT_CASE(vmbus_test_ring_space),
	KUNIT_CASE(vmbus_test_ring_put_peek_wrap),
	KUNIT_CASE(vmbus_test_ring_peek_hostile),
	KUNIT_CASE(vmbus_test_signal_rules),
	KUNIT_CASE(vmbus_test_ring_advance),
	{}
};

static struct kunit_suite vmbus_protocol_suite = {
	.name = "viridian_vmbus_protocol",
	.test_cases = vmbus_protocol_cases,
};

kunit_test_suite(vmbus_protocol_suite);

MODULE_LICENSE("GPL");
