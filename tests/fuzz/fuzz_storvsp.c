// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target for the storage VSP's packet handling
 * (host-sim/vsp/storvsp_proto.c) and, through it, the SCSI disk emulation.
 *
 * Input: one flags byte, then packets, each a little-endian u16 length
 * followed by that many bytes (descriptor first, as the ring layer hands
 * them over). Flags: bit 0 negotiates protocol 6.2 first (so SRBs reach
 * the disk), bit 1 stalls the disk (exercising holds and aborts), bit 2
 * treats the packets as arriving on a sub-channel, bits 3-4 pick the
 * controller kind (SCSI, IDE at target 1, FC).
 *
 * Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -Iinclude -Ihost-sim tests/fuzz/fuzz_storvsp.c \
 *     host-sim/vsp/storvsp_proto.c host-sim/scsi/disk.c \
 *     host-sim/core/guest_mem.c host-sim/core/log.c host-sim/trace.c \
 *     -lpthread -o /tmp/fuzz_storvsp
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "scsi/disk.h"
#include "viridian/wire/ring.h"
#include "viridian/wire/storage.h"
#include "vsp/storvsp_proto.h"

#define RAM_PAGES	256
#define DISK_BYTES	(1u * 1024u * 1024u)

static struct guest_mem ram;
static struct storvsp_io io;
static struct storvsp_ctrl ctrl;
static struct scsi_disk *disk;
static uint8_t body[VMBUS_MAX_PACKET_SIZE];

static void *gpa(void *ctx, uint64_t addr, uint64_t len)
{
	return guest_mem_ptr(ctx, addr, len);
}

static int setup(void)
{
	char path[] = "/tmp/fuzz_storvsp.XXXXXX", err[256];
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, DISK_BYTES) < 0)
		return -1;
	close(fd);
	disk = scsi_disk_open(path, 512, false, err, sizeof(err));
	/* The open descriptor keeps the image; no file is left behind. */
	unlink(path);
	if (!disk)
		return -1;
	ram.base = aligned_alloc(GUEST_PAGE_SIZE, RAM_PAGES * GUEST_PAGE_SIZE);
	if (!ram.base)
		return -1;
	memset(ram.base, 0, RAM_PAGES * GUEST_PAGE_SIZE);
	ram.size = RAM_PAGES * GUEST_PAGE_SIZE;
	ram.nr_pages = RAM_PAGES;
	ram.fd = -1;
	io.gpa = gpa;
	io.gpa_ctx = &ram;
	if (storvsp_ctrl_init(&ctrl, 0, 4) ||
	    storvsp_ctrl_attach(&ctrl, 0, 0, disk))
		return -1;
	return 0;
}

static void control(uint32_t op, uint16_t version)
{
	struct vmpacket_descriptor d = {
		.type = VM_PKT_DATA_INBAND,
		.offset8 = 2,
		.len8 = (16 + VSTOR_PACKET_SIZE) / 8,
		.flags = VMBUS_PKT_FLAG_COMPLETION_REQUESTED,
	};
	struct vstor_packet vp;
	struct storvsp_reply r;

	memset(&vp, 0, sizeof(vp));
	vp.operation = op;
	vp.flags = VSTOR_FLAG_REQUEST_COMPLETION;
	vp.version.major_minor = version;
	storvsp_handle_packet(&ctrl, true, &d, &vp, sizeof(vp), 0, 0, &io, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct vmpacket_descriptor desc;
	struct storvsp_reply r;
	uint8_t flags;

	if (!ready) {
		if (setup()) {
			fprintf(stderr, "fuzz_storvsp: setup failed\n");
			abort();
		}
		ready = true;
	}
	if (!size)
		return 0;
	flags = data[0];
	data++;
	size--;

	storvsp_ctrl_reset_state(&ctrl);
	scsi_disk_fault_clear(disk);
	switch ((flags >> 3) & 3) {
	case 1:
		storvsp_ctrl_set_kind(&ctrl, STORVSP_KIND_IDE, 1);
		break;
	case 2:
		storvsp_ctrl_set_kind(&ctrl, STORVSP_KIND_FC, 0);
		break;
	default:
		storvsp_ctrl_set_kind(&ctrl, STORVSP_KIND_SCSI, 0);
		ctrl.max_subchannels = 4;
		break;
	}
	if (flags & 1) {
		control(VSTOR_OPERATION_BEGIN_INITIALIZATION, 0);
		control(VSTOR_OPERATION_QUERY_PROTOCOL_VERSION,
			VMSTOR_PROTO_VERSION_WIN10);
		control(VSTOR_OPERATION_END_INITIALIZATION, 0);
	}
	if (flags & 2)
		scsi_disk_fault_stall(disk, 0);

	while (size >= 2) {
		uint32_t len = (uint32_t)data[0] | (uint32_t)data[1] << 8;

		data += 2;
		size -= 2;
		if (len > size)
			len = (uint32_t)size;
		if (len < sizeof(desc)) {
			data += len;
			size -= len;
			continue;
		}
		/* As channel_recv does: a copied descriptor, then the rest. */
		memcpy(&desc, data, sizeof(desc));
		memcpy(body, data + sizeof(desc), len - sizeof(desc));
		if (storvsp_handle_packet(&ctrl, !(flags & 4), &desc, body,
					  len - (uint32_t)sizeof(desc), 0, 0,
					  &io, &r) == STORVSP_ACT_HOLD) {
			storvsp_hold_expired(&ctrl, &r, 0);
			storvsp_abort_packet(&ctrl, &desc, body,
					     len - (uint32_t)sizeof(desc), &r);
			storvsp_handle_packet(&ctrl, !(flags & 4), &desc, body,
					      len - (uint32_t)sizeof(desc),
					      STORVSP_NO_STALL, 0, &io, &r);
		}
		data += len;
		size -= len;
	}
	return 0;
}
