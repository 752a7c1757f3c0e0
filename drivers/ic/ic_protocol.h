/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure half of the IC framework: checking what the host sent, choosing
 * versions and decoding requests. No channel, no locking, no allocation and
 * no clock, so the KUnit suite runs exactly this code under UML.
 *
 * Every function here treats the packet as hostile: lengths come from the
 * ring, counts and sizes from the host, and nothing is read past either.
 */
#ifndef VIRIDIAN_IC_PROTOCOL_H
#define VIRIDIAN_IC_PROTOCOL_H

#include <linux/stddef.h>
#include <linux/types.h>
#include <viridian/wire/ic.h>

/* A negotiate answer: the two counts, then one framework and one message version. */
#define VIRIDIAN_IC_NEGOTIATE_ANSWER_BODY \
	(sizeof(struct icmsg_negotiate) + 2 * sizeof(struct ic_version))
#define VIRIDIAN_IC_NEGOTIATE_ANSWER_SIZE \
	(IC_HEADER_SIZE + VIRIDIAN_IC_NEGOTIATE_ANSWER_BODY)

/* Bytes the host must send before a message can be acted on. */
#define VIRIDIAN_IC_HEARTBEAT_MIN_BODY \
	offsetofend(struct ic_heartbeat_msg, seq_num)
#define VIRIDIAN_IC_SHUTDOWN_MIN_BODY \
	offsetof(struct ic_shutdown_msg, display_message)
#define VIRIDIAN_IC_TIMESYNC_MIN_BODY \
	offsetofend(struct ic_timesync_msg, flags)
#define VIRIDIAN_IC_TIMESYNC_REF_MIN_BODY \
	offsetofend(struct ic_timesync_ref_msg, flags)

/* One received IC packet, split into its parts. */
struct viridian_ic_message {
	struct vmbus_pipe_header *pipe;
	struct icmsg_hdr *hdr;
	void *body;
	u32 body_len;		/* icmsgsize, known to lie inside the packet */
};

/*
 * Split a packet of len bytes. Returns 0; -EBADMSG when not even the
 * headers arrived (nothing can be answered); -EMSGSIZE when icmsgsize
 * claims more than arrived (msg->hdr is valid, so the caller can still
 * answer IC_E_FAIL).
 */
int viridian_ic_parse(void *packet, u32 len, struct viridian_ic_message *msg);

/* Turn the host's request header into our answer. */
void viridian_ic_mark_response(struct icmsg_hdr *hdr, u32 status);

/* Framework versions the guest speaks, highest first. */
extern const u32 viridian_ic_framework_versions[];
extern const unsigned int viridian_ic_nr_framework_versions;

/*
 * Choose versions from a negotiate body of body_len bytes: the highest
 * framework and the highest message version that both the host lists and
 * the guest supports (our lists may be in any order). Returns 0 with both
 * set, -EBADMSG when the counts are absurd or run past the body,
 * -EPROTONOSUPPORT when nothing is in common.
 */
int viridian_ic_negotiate_select(const void *body, u32 body_len,
				 const u32 *fw_supported, unsigned int nr_fw,
				 const u32 *msg_supported, unsigned int nr_msg,
				 u32 *fw_chosen, u32 *msg_chosen);

/*
 * Rewrite the negotiate packet (len bytes received, capacity bytes of
 * buffer) into the answer: one version of each and IC_S_OK, or no versions
 * and IC_E_FAIL. Returns the bytes to send (at least the answer's size), or
 * 0 if capacity cannot hold the answer.
 */
u32 viridian_ic_negotiate_answer(void *packet, u32 len, u32 capacity,
				 bool matched, u32 fw_version, u32 msg_version);

/* Answer a heartbeat body in place (seq_num + 1). -EBADMSG if too short. */
int viridian_ic_heartbeat_answer(void *body, u32 body_len);

enum viridian_ic_shutdown_action {
	VIRIDIAN_IC_SHUTDOWN_INVALID,
	VIRIDIAN_IC_SHUTDOWN_POWER_OFF,
	VIRIDIAN_IC_SHUTDOWN_REBOOT,
	VIRIDIAN_IC_SHUTDOWN_HIBERNATE,
};

/* What the host's shutdown flags ask for; FORCE may accompany any of them. */
enum viridian_ic_shutdown_action viridian_ic_shutdown_action(u32 flags);
const char *viridian_ic_shutdown_action_name(enum viridian_ic_shutdown_action action);

/*
 * Copy the host's display message for the log into dst (dst_size bytes,
 * always NUL-terminated): stops at the first NUL or src_len, keeps only
 * printable ASCII, and reads ASCII sent as UTF-16LE. Returns the length.
 */
size_t viridian_ic_display_message(char *dst, size_t dst_size,
				   const u8 *src, size_t src_len);

/* A time sample from the host. */
struct viridian_ic_time_sample {
	u64 host_time;		/* 100 ns units since 1601-01-01 */
	u64 reference_time;	/* VM reference time it was read at */
	bool has_reference;	/* version 4 carries reference_time */
	u8 flags;		/* IC_TIMESYNC_FLAG_* */
};

/* Decode a time sync body in the layout of msg_version. -EBADMSG if short. */
int viridian_ic_timesync_parse(const void *body, u32 body_len, u32 msg_version,
			       struct viridian_ic_time_sample *sample);

/* Host time to ns since 1970; false when before 1970 or beyond s64 ns. */
bool viridian_ic_host_time_to_unix_ns(u64 host_time, s64 *unix_ns);

/*
 * The host's time now: the sample plus the reference time elapsed since
 * it was taken (100 ns units). A reference clock that went backwards adds
 * nothing; the result saturates instead of overflowing.
 */
s64 viridian_ic_time_extrapolate(s64 sample_ns, u64 sample_reference,
				 u64 reference_now);

#endif /* VIRIDIAN_IC_PROTOCOL_H */
