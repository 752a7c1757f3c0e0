// SPDX-License-Identifier: GPL-2.0
/*
 * IC wire logic with no hardware behind it; see ic_protocol.h.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include "ic_protocol.h"

const u32 viridian_ic_framework_versions[] = {
	IC_FRAMEWORK_VERSION_3,
	IC_FRAMEWORK_VERSION_1,
};

const unsigned int viridian_ic_nr_framework_versions =
	ARRAY_SIZE(viridian_ic_framework_versions);

int viridian_ic_parse(void *packet, u32 len, struct viridian_ic_message *msg)
{
	u8 *bytes = packet;

	memset(msg, 0, sizeof(*msg));
	if (len < IC_HEADER_SIZE)
		return -EBADMSG;

	msg->pipe = packet;
	msg->hdr = (struct icmsg_hdr *)(bytes + sizeof(struct vmbus_pipe_header));
	if (msg->hdr->icmsgsize > len - IC_HEADER_SIZE)
		return -EMSGSIZE;

	msg->body = bytes + IC_HEADER_SIZE;
	msg->body_len = msg->hdr->icmsgsize;
	return 0;
}

void viridian_ic_mark_response(struct icmsg_hdr *hdr, u32 status)
{
	hdr->status = status;
	hdr->icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
}

static bool ic_version_supported(u32 version, const u32 *supported,
				 unsigned int nr_supported)
{
	unsigned int i;

	for (i = 0; i < nr_supported; i++)
		if (supported[i] == version)
			return true;
	return false;
}

/* The highest offered version that we support; the host's order is not trusted. */
static bool ic_best_common_version(const struct ic_version *offered,
				   unsigned int nr_offered,
				   const u32 *supported,
				   unsigned int nr_supported, u32 *best)
{
	bool found = false;
	unsigned int i;

	for (i = 0; i < nr_offered; i++) {
		u32 version = IC_VERSION(offered[i].major, offered[i].minor);

		if (!ic_version_supported(version, supported, nr_supported))
			continue;
		if (!found || version > *best) {
			*best = version;
			found = true;
		}
	}
	return found;
}

int viridian_ic_negotiate_select(const void *body, u32 body_len,
				 const u32 *fw_supported, unsigned int nr_fw,
				 const u32 *msg_supported, unsigned int nr_msg,
				 u32 *fw_chosen, u32 *msg_chosen)
{
	const struct icmsg_negotiate *negotiate = body;
	unsigned int fw_count, msg_count;
	size_t needed;

	if (body_len < sizeof(*negotiate))
		return -EBADMSG;

	fw_count = negotiate->icframe_vercnt;
	msg_count = negotiate->icmsg_vercnt;
	if (fw_count > IC_NEGOTIATE_MAX_VERSIONS ||
	    msg_count > IC_NEGOTIATE_MAX_VERSIONS)
		return -EBADMSG;

	needed = sizeof(*negotiate) +
		 (size_t)(fw_count + msg_count) * sizeof(struct ic_version);
	if (needed > body_len)
		return -EBADMSG;

	if (!ic_best_common_version(negotiate->icversion_data, fw_count,
				    fw_supported, nr_fw, fw_chosen))
		return -EPROTONOSUPPORT;
	if (!ic_best_common_version(negotiate->icversion_data + fw_count,
				    msg_count, msg_supported, nr_msg,
				    msg_chosen))
		return -EPROTONOSUPPORT;
	return 0;
}

static void ic_put_version(struct ic_version *slot, u32 version)
{
	slot->major = version >> 16;
	slot->minor = version & 0xffff;
}

u32 viridian_ic_negotiate_answer(void *packet, u32 len, u32 capacity,
				 bool matched, u32 fw_version, u32 msg_version)
{
	struct vmbus_pipe_header *pipe = packet;
	struct icmsg_hdr *hdr = (struct icmsg_hdr *)(pipe + 1);
	struct icmsg_negotiate *negotiate = (struct icmsg_negotiate *)(hdr + 1);
	u32 answer_len;

	if (capacity < VIRIDIAN_IC_NEGOTIATE_ANSWER_SIZE ||
	    len < IC_HEADER_SIZE || len > capacity)
		return 0;

	/*
	 * The answer is written whole, even where the host sent less, so no
	 * stale bytes from an earlier packet go back out.
	 */
	negotiate->reserved = 0;
	if (matched) {
		negotiate->icframe_vercnt = 1;
		negotiate->icmsg_vercnt = 1;
		ic_put_version(&negotiate->icversion_data[0], fw_version);
		ic_put_version(&negotiate->icversion_data[1], msg_version);
	} else {
		negotiate->icframe_vercnt = 0;
		negotiate->icmsg_vercnt = 0;
		ic_put_version(&negotiate->icversion_data[0], 0);
		ic_put_version(&negotiate->icversion_data[1], 0);
	}

	/* Hosts read the versions through icmsgsize, so it must cover them. */
	hdr->icmsgsize = VIRIDIAN_IC_NEGOTIATE_ANSWER_BODY;
	viridian_ic_mark_response(hdr, matched ? IC_S_OK : IC_E_FAIL);

	answer_len = max_t(u32, len, VIRIDIAN_IC_NEGOTIATE_ANSWER_SIZE);
	if (answer_len != len)
		pipe->msgsize = answer_len - sizeof(*pipe);
	return answer_len;
}

int viridian_ic_heartbeat_answer(void *body, u32 body_len)
{
	struct ic_heartbeat_msg *heartbeat = body;

	if (body_len < VIRIDIAN_IC_HEARTBEAT_MIN_BODY)
		return -EBADMSG;

	/* Linux's convention, which hosts check: echo the sequence plus one. */
	heartbeat->seq_num++;
	return 0;
}

enum viridian_ic_shutdown_action viridian_ic_shutdown_action(u32 flags)
{
	switch (flags & ~IC_SHUTDOWN_FLAG_FORCE) {
	case 0:
		return VIRIDIAN_IC_SHUTDOWN_POWER_OFF;
	case IC_SHUTDOWN_FLAG_REBOOT:
		return VIRIDIAN_IC_SHUTDOWN_REBOOT;
	case IC_SHUTDOWN_FLAG_HIBERNATE:
		return VIRIDIAN_IC_SHUTDOWN_HIBERNATE;
	default:
		return VIRIDIAN_IC_SHUTDOWN_INVALID;
	}
}

const char *viridian_ic_shutdown_action_name(enum viridian_ic_shutdown_action action)
{
	switch (action) {
	case VIRIDIAN_IC_SHUTDOWN_POWER_OFF:
		return "power off";
	case VIRIDIAN_IC_SHUTDOWN_REBOOT:
		return "reboot";
	case VIRIDIAN_IC_SHUTDOWN_HIBERNATE:
		return "hibernate";
	default:
		return "invalid request";
	}
}

size_t viridian_ic_display_message(char *dst, size_t dst_size,
				   const u8 *src, size_t src_len)
{
	/* An ASCII first character followed by a zero byte means UTF-16LE. */
	bool wide = src_len >= 2 && src[0] && !src[1];
	size_t step = wide ? 2 : 1;
	size_t in, out = 0;

	if (!dst_size)
		return 0;

	for (in = 0; in + step <= src_len && out + 1 < dst_size; in += step) {
		u8 c = src[in];

		if (wide && src[in + 1])
			c = '?';
		else if (!c)
			break;
		/* The log is no place for the host's control characters. */
		dst[out++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	dst[out] = '\0';
	return out;
}

int viridian_ic_timesync_parse(const void *body, u32 body_len, u32 msg_version,
			       struct viridian_ic_time_sample *sample)
{
	memset(sample, 0, sizeof(*sample));

	if (msg_version >= IC_TIMESYNC_VERSION_4) {
		const struct ic_timesync_ref_msg *ref = body;

		if (body_len < VIRIDIAN_IC_TIMESYNC_REF_MIN_BODY)
			return -EBADMSG;
		sample->host_time = ref->parenttime;
		sample->reference_time = ref->vmreferencetime;
		sample->has_reference = true;
		sample->flags = ref->flags;
	} else {
		const struct ic_timesync_msg *old = body;

		if (body_len < VIRIDIAN_IC_TIMESYNC_MIN_BODY)
			return -EBADMSG;
		sample->host_time = old->parenttime;
		sample->flags = old->flags;
	}
	return 0;
}

bool viridian_ic_host_time_to_unix_ns(u64 host_time, s64 *unix_ns)
{
	u64 since_1970;

	if (host_time < IC_WINDOWS_EPOCH_DELTA)
		return false;
	since_1970 = host_time - IC_WINDOWS_EPOCH_DELTA;
	if (since_1970 > (u64)S64_MAX / 100)
		return false;
	*unix_ns = (s64)(since_1970 * 100);
	return true;
}

s64 viridian_ic_time_extrapolate(s64 sample_ns, u64 sample_reference,
				 u64 reference_now)
{
	u64 elapsed;

	if (reference_now <= sample_reference || sample_ns < 0)
		return sample_ns;
	elapsed = reference_now - sample_reference;
	if (elapsed > ((u64)S64_MAX - (u64)sample_ns) / 100)
		return S64_MAX;
	return sample_ns + (s64)(elapsed * 100);
}
