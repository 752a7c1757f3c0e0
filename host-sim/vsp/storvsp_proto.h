/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The storage VSP's protocol engine, free of threads and channels so that
 * unit tests and the fuzz target can drive it with crafted packets: one
 * SCSI controller (its LUN table and vstor protocol state) and the handling
 * of one guest packet at a time, producing the completion to send.
 *
 * storvsp.c runs one engine per controller offer, feeding it from a worker
 * thread per channel.
 */
#ifndef HVSIM_VSP_STORVSP_PROTO_H
#define HVSIM_VSP_STORVSP_PROTO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "viridian/wire/ring.h"
#include "viridian/wire/storage.h"
#include "core/log.h"

struct scsi_disk;

/* LUNs per controller (target 0, LUN 0..63), as Hyper-V attaches them. */
#define STORVSP_MAX_LUNS		64
/* Sub-channels a controller offers at most, whatever the VP count. */
#define STORVSP_MAX_SUBCHANNELS		8
/* Largest data buffer of one SRB (QUERY_PROPERTIES max_transfer_bytes). */
#define STORVSP_MAX_TRANSFER_BYTES	(2u * 1024u * 1024u)
/* Pages such a buffer can touch when it does not start page aligned. */
#define STORVSP_MAX_DATA_PAGES \
	(STORVSP_MAX_TRANSFER_BYTES / VIRIDIAN_PAGE_SIZE + 1)

enum storvsp_state {
	STORVSP_STATE_IDLE,		/* channel not initialised */
	STORVSP_STATE_INIT,		/* BEGIN_INITIALIZATION seen */
	STORVSP_STATE_READY,		/* END_INITIALIZATION seen */
};

struct storvsp_lun {
	struct scsi_disk *disk;
	unsigned int id;		/* host-wide disk number, for ctl */
	unsigned int lun;
	unsigned int refs;		/* under the controller lock */
	bool removed;
};

/* Translates a guest physical range to a host pointer, NULL if not RAM. */
typedef void *(*storvsp_gpa_fn)(void *ctx, uint64_t gpa, uint64_t len);

/* What the controller is offered as (its VMBus class). */
enum storvsp_kind {
	STORVSP_KIND_SCSI,
	STORVSP_KIND_IDE,		/* one disk, at ide_target, LUN 0 */
	STORVSP_KIND_FC,		/* SCSI plus FCHBA_DATA (WWNs) */
};

struct storvsp_ctrl {
	pthread_mutex_t lock;
	unsigned int index;		/* controller number */
	uint16_t max_subchannels;	/* advertised in QUERY_PROPERTIES */
	enum storvsp_kind kind;
	uint16_t ide_target;		/* IDE: the target its SRBs name */
	struct vmstorage_fc_wwn wwn;	/* FC: answered to FCHBA_DATA */

	/* Under lock. */
	struct storvsp_lun *luns[STORVSP_MAX_LUNS];
	enum storvsp_state state;
	uint16_t version;		/* 0 until QUERY_PROTOCOL_VERSION agrees */

	struct log_ratelimit rl;	/* complaints about the guest */
	uint64_t rejected;		/* malformed packets, for tests */
};

int storvsp_ctrl_init(struct storvsp_ctrl *c, unsigned int index,
		      uint16_t max_subchannels);
/*
 * Make an initialised controller an IDE accelerator (no sub-channels,
 * SRBs to target ide_target) or a synthetic FC HBA (WWNs derived from its
 * index). Before the first packet.
 */
void storvsp_ctrl_set_kind(struct storvsp_ctrl *c, enum storvsp_kind kind,
			   uint16_t ide_target);
/* Drops every LUN (closing its disk); no packet may be in flight. */
void storvsp_ctrl_fini(struct storvsp_ctrl *c);

/* Attach an open disk as LUN lun (0 on success, -EEXIST, -EINVAL). */
int storvsp_ctrl_attach(struct storvsp_ctrl *c, unsigned int lun,
			unsigned int id, struct scsi_disk *disk);
/*
 * Detach LUN lun; its disk closes once no command uses it. Returns 0 or
 * -ENOENT.
 */
int storvsp_ctrl_detach(struct storvsp_ctrl *c, unsigned int lun);
/* Lowest free LUN number, or -ENOSPC. */
int storvsp_ctrl_free_lun(struct storvsp_ctrl *c);
/* Reference a LUN by number (NULL if absent); drop it with put. */
struct storvsp_lun *storvsp_ctrl_get(struct storvsp_ctrl *c, unsigned int lun);
void storvsp_ctrl_put(struct storvsp_ctrl *c, struct storvsp_lun *l);
/* Negotiated version, 0 when not READY (no notification may go out). */
uint16_t storvsp_ctrl_ready_version(struct storvsp_ctrl *c);
/* The primary channel closed: forget the negotiation. */
void storvsp_ctrl_reset_state(struct storvsp_ctrl *c);

/* What the caller does with a packet after storvsp_handle_packet. */
enum storvsp_action {
	STORVSP_ACT_NONE,		/* nothing to send */
	STORVSP_ACT_REPLY,		/* send reply as a completion */
	STORVSP_ACT_HOLD,		/* keep the packet, run it again later */
};

struct storvsp_reply {
	uint64_t trans_id;
	uint32_t len;			/* bytes of data to send */
	uint8_t data[VSTOR_PACKET_SIZE];

	/* Side effects the caller carries out before sending the reply. */
	bool reset;			/* flush held commands (RESET_*) */
	unsigned int offer_subchannels;	/* CREATE_SUB_CHANNELS: how many */

	/* STORVSP_ACT_HOLD: run again at hold_until_ns (UINT64_MAX: never
	 * by time) or once the LUN's stall generation leaves hold_gen. */
	uint64_t hold_until_ns;
	uint64_t hold_gen;
	unsigned int hold_lun;
};

/* Scratch space for one packet; big enough for the largest SRB. */
struct storvsp_io {
	storvsp_gpa_fn gpa;
	void *gpa_ctx;
	struct iovec iov[STORVSP_MAX_DATA_PAGES];
};

/* Flags of storvsp_handle_packet. */
#define STORVSP_NO_STALL	0x1u	/* a held command's second run */

/*
 * Handle one packet the guest sent on a channel of this controller.
 * desc is a validated copy of the packet's descriptor; body/body_len the
 * bytes after it (as channel_recv returns them). primary says whether the
 * channel is the primary one. Never trusts a byte of body.
 */
enum storvsp_action storvsp_handle_packet(struct storvsp_ctrl *c,
					  bool primary,
					  const struct vmpacket_descriptor *desc,
					  const void *body, uint32_t body_len,
					  unsigned int flags, uint64_t now_ns,
					  struct storvsp_io *io,
					  struct storvsp_reply *out);

/*
 * The completion for a held EXECUTE_SRB dropped by a reset: ABORTED with
 * ABORTED COMMAND sense. Returns STORVSP_ACT_NONE if the packet asked for
 * no completion.
 */
enum storvsp_action storvsp_abort_packet(struct storvsp_ctrl *c,
					 const struct vmpacket_descriptor *desc,
					 const void *body, uint32_t body_len,
					 struct storvsp_reply *out);

/* Whether a held SRB may run now (its stall expired or was released). */
bool storvsp_hold_expired(struct storvsp_ctrl *c, const struct storvsp_reply *hold,
			  uint64_t now_ns);

/*
 * Build a host-initiated notification (VSTOR_OPERATION_ENUMERATE_BUS or
 * REMOVE_DEVICE) for the negotiated version into buf (VSTOR_PACKET_SIZE
 * bytes); returns its length, 0 if the controller is not READY.
 */
uint32_t storvsp_build_notification(struct storvsp_ctrl *c, uint32_t operation,
				    void *buf);

#endif /* HVSIM_VSP_STORVSP_PROTO_H */
