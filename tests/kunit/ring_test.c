// SPDX-License-Identifier: GPL-2.0
/* kunit-sources: */
/*
 * KUnit tests for the ring-buffer helpers of include/viridian/wire/ring.h,
 * which the guest and host-sim share (header-only, so no sources above):
 * alignment and footprints, bytes to read and write, copies that wrap, and
 * descriptor validation against a hostile peer.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <viridian/wire/ring.h>

static void ring_test_align_and_footprint(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vmbus_align8(0), 0u);
	KUNIT_EXPECT_EQ(test, vmbus_align8(1), 8u);
	KUNIT_EXPECT_EQ(test, vmbus_align8(8), 8u);
	KUNIT_EXPECT_EQ(test, vmbus_align8(9), 16u);
	KUNIT_EXPECT_EQ(test, vmbus_ring_packet_footprint(16), 24u);
	KUNIT_EXPECT_EQ(test, vmbus_ring_packet_footprint(21), 32u);
	KUNIT_EXPECT_EQ(test, VMBUS_PACKET_TRAILER_SIZE, 8u);
	KUNIT_EXPECT_EQ(test, VMBUS_RING_CONTROL_SIZE, 4096u);
}

static void ring_test_bytes_to_read_write(struct kunit *test)
{
	const u32 size = 4096;

	/* Equal indices: empty, everything writable. */
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_read(0, 0, size), 0u);
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_write(0, 0, size), size);
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_read(2048, 2048, size), 0u);

	/* Writer ahead of the reader. */
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_read(100, 40, size), 60u);
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_write(100, 40, size), size - 60);

	/* Writer wrapped behind the reader. */
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_read(40, 100, size), size - 60);
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_write(40, 100, size), 60u);

	/* One quadword short of full. */
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_read(size - 8, 0, size), size - 8);
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_write(size - 8, 0, size), 8u);

	/* Read plus write is always the whole ring. */
	KUNIT_EXPECT_EQ(test, vmbus_ring_bytes_to_read(8, 4088, size) +
			vmbus_ring_bytes_to_write(8, 4088, size), size);
}

static void ring_test_copy_in_wrap(struct kunit *test)
{
	static const u8 src[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	u8 data[16];
	u32 next;

	/* No wrap. */
	memset(data, 0, sizeof(data));
	next = vmbus_ring_copy_in(data, sizeof(data), 0, src, 8);
	KUNIT_EXPECT_EQ(test, next, 8u);
	KUNIT_EXPECT_EQ(test, memcmp(data, src, 8), 0);

	/* Ends exactly at the end: the next offset wraps to 0. */
	memset(data, 0, sizeof(data));
	next = vmbus_ring_copy_in(data, sizeof(data), 8, src, 8);
	KUNIT_EXPECT_EQ(test, next, 0u);
	KUNIT_EXPECT_EQ(test, memcmp(&data[8], src, 8), 0);

	/* Split: four bytes at the end, four at the start. */
	memset(data, 0, sizeof(data));
	next = vmbus_ring_copy_in(data, sizeof(data), 12, src, 8);
	KUNIT_EXPECT_EQ(test, next, 4u);
	KUNIT_EXPECT_EQ(test, memcmp(&data[12], src, 4), 0);
	KUNIT_EXPECT_EQ(test, memcmp(data, &src[4], 4), 0);
	KUNIT_EXPECT_EQ(test, data[4], 0);
	KUNIT_EXPECT_EQ(test, data[11], 0);

	/* Nothing to copy leaves the offset. */
	next = vmbus_ring_copy_in(data, sizeof(data), 12, src, 0);
	KUNIT_EXPECT_EQ(test, next, 12u);
}

static void ring_test_copy_out_wrap(struct kunit *test)
{
	u8 data[16], dst[8];
	u32 next, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = i;

	next = vmbus_ring_copy_out(data, sizeof(data), 2, dst, 8);
	KUNIT_EXPECT_EQ(test, next, 10u);
	KUNIT_EXPECT_EQ(test, dst[0], 2);
	KUNIT_EXPECT_EQ(test, dst[7], 9);

	next = vmbus_ring_copy_out(data, sizeof(data), 10, dst, 8);
	KUNIT_EXPECT_EQ(test, next, 2u);
	KUNIT_EXPECT_EQ(test, dst[0], 10);
	KUNIT_EXPECT_EQ(test, dst[5], 15);
	KUNIT_EXPECT_EQ(test, dst[6], 0);
	KUNIT_EXPECT_EQ(test, dst[7], 1);

	next = vmbus_ring_copy_out(data, sizeof(data), 8, dst, 8);
	KUNIT_EXPECT_EQ(test, next, 0u);
	KUNIT_EXPECT_EQ(test, dst[7], 15);
}

/* copy_in then copy_out at every offset of a small ring gives the data back. */
static void ring_test_round_trip_all_offsets(struct kunit *test)
{
	u8 data[32], src[24], dst[24];
	u32 off, i, in_next, out_next;

	for (i = 0; i < sizeof(src); i++)
		src[i] = 0x40 + i;
	for (off = 0; off < sizeof(data); off += 8) {
		memset(data, 0, sizeof(data));
		memset(dst, 0, sizeof(dst));
		in_next = vmbus_ring_copy_in(data, sizeof(data), off, src, sizeof(src));
		out_next = vmbus_ring_copy_out(data, sizeof(data), off, dst, sizeof(dst));
		KUNIT_EXPECT_EQ(test, in_next, out_next);
		KUNIT_EXPECT_EQ(test, in_next, (off + 24) % 32);
		KUNIT_EXPECT_EQ(test, memcmp(src, dst, sizeof(src)), 0);
	}
}

static void ring_test_packet_validate(struct kunit *test)
{
	struct vmpacket_descriptor d = {};

	d.type = VM_PKT_DATA_INBAND;
	d.offset8 = 2;
	d.len8 = 3;
	/* 24 bytes of packet need 32 published. */
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 32), 24u);
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 4096), 24u);
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 31), 0u);
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 24), 0u);
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 0), 0u);

	/* A payload offset equal to the length: a packet with no payload. */
	d.offset8 = 3;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 32), 24u);
	d.offset8 = 4;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 4096), 0u);
	d.offset8 = 1;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 4096), 0u);
	d.offset8 = 0;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 4096), 0u);

	d.offset8 = 2;
	d.len8 = 1;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 4096), 0u);
	d.len8 = 0;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 4096), 0u);

	/* The hardening limit, and a length past it. */
	d.len8 = VMBUS_MAX_PACKET_SIZE / 8;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, VMBUS_MAX_PACKET_SIZE + 8),
			VMBUS_MAX_PACKET_SIZE);
	d.len8 = VMBUS_MAX_PACKET_SIZE / 8 + 1;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 1u << 20), 0u);
	d.len8 = 0xffff;
	KUNIT_EXPECT_EQ(test, vmbus_packet_validate(&d, 0xffffffffu), 0u);
}

static struct kunit_case ring_test_cases[] = {
	KUNIT_CASE(ring_test_align_and_footprint),
	KUNIT_CASE(ring_test_bytes_to_read_write),
	KUNIT_CASE(ring_test_copy_in_wrap),
	KUNIT_CASE(ring_test_copy_out_wrap),
	KUNIT_CASE(ring_test_round_trip_all_offsets),
	KUNIT_CASE(ring_test_packet_validate),
	{}
};

static struct kunit_suite ring_test_suite = {
	.name = "viridian_vmbus_ring",
	.test_cases = ring_test_cases,
};

kunit_test_suite(ring_test_suite);

MODULE_LICENSE("GPL");
