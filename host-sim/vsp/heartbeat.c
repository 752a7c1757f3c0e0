// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Heartbeat IC: a request with an increasing sequence number every
 * interval; the guest answers each with seq_num + 1 (what Linux does), and
 * the latest answer tells whether the guest is alive.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "viridian/wire/vmbus.h"
#include "vsp/ic.h"

static const uint32_t heartbeat_versions[] = {
	IC_HEARTBEAT_VERSION_3, IC_HEARTBEAT_VERSION_1,
};

struct ic_heartbeat {
	struct ic_service *ic;
	pthread_mutex_t lock;
	struct ic_ticker *ticker;	/* NULL without an interval */

	uint64_t next_seq;
	uint64_t sent;
	uint64_t last_sent_seq;
	uint64_t answers;
	uint64_t last_answer_seq;
	uint64_t last_answer_ms;
	uint64_t bad_answers;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_answer(struct ic_service *ic, void *ctx,
		      const struct icmsg_hdr *hdr, const uint8_t *body,
		      uint32_t body_len)
{
	struct ic_heartbeat *hb = ctx;
	struct ic_heartbeat_msg m;

	(void)ic;
	pthread_mutex_lock(&hb->lock);
	/* Only seq_num matters; the reserved words may be left out. */
	if (hdr->icmsgtype != ICMSGTYPE_HEARTBEAT || hdr->status != IC_S_OK ||
	    body_len < sizeof(m.seq_num)) {
		hb->bad_answers++;
		goto out;
	}
	memcpy(&m.seq_num, body, sizeof(m.seq_num));
	/* An answer is seq + 1 of a heartbeat we sent; ours start at 1. */
	if (m.seq_num < 2 || m.seq_num - 1 > hb->last_sent_seq) {
		hb->bad_answers++;
		goto out;
	}
	hb->answers++;
	if (m.seq_num > hb->last_answer_seq)
		hb->last_answer_seq = m.seq_num;
	hb->last_answer_ms = mono_ms();
out:
	pthread_mutex_unlock(&hb->lock);
}

int ic_heartbeat_tick(struct ic_heartbeat *hb)
{
	struct ic_heartbeat_msg m;
	uint64_t seq, prev_sent_seq;
	int rc;

	if (ic_service_state(hb->ic, NULL, NULL) != IC_STATE_READY)
		return -ENOTCONN;
	/*
	 * Published before the send: the answer may be handled on another
	 * thread before the send returns, and must not look invented.
	 */
	pthread_mutex_lock(&hb->lock);
	seq = hb->next_seq + 1;
	prev_sent_seq = hb->last_sent_seq;
	hb->last_sent_seq = seq;
	pthread_mutex_unlock(&hb->lock);

	memset(&m, 0, sizeof(m));
	m.seq_num = seq;
	/* No lock held: the answer may arrive (and take it) before we return. */
	rc = ic_service_send(hb->ic, &m, sizeof(m), NULL);

	pthread_mutex_lock(&hb->lock);
	if (!rc) {
		hb->next_seq = seq;
		hb->sent++;
	} else if (hb->last_sent_seq == seq) {
		hb->last_sent_seq = prev_sent_seq;
	}
	pthread_mutex_unlock(&hb->lock);
	return rc;
}

/* Not ready or ring full: the next period tries again. */
static void heartbeat_tick(void *ctx)
{
	(void)ic_heartbeat_tick(ctx);
}

struct ic_heartbeat *ic_heartbeat_create(unsigned int interval_ms)
{
	struct ic_service_config cfg = {
		.name = "heartbeat",
		.class = VMBUS_CLASS_HEARTBEAT,
		.msg_type = ICMSGTYPE_HEARTBEAT,
		.versions = heartbeat_versions,
		.nversions = sizeof(heartbeat_versions) /
			     sizeof(heartbeat_versions[0]),
		.on_response = on_answer,
	};
	struct ic_heartbeat *hb;

	hb = calloc(1, sizeof(*hb));
	if (!hb)
		return NULL;
	cfg.ctx = hb;
	if (pthread_mutex_init(&hb->lock, NULL))
		goto err_free;
	hb->ic = ic_service_create(&cfg);
	if (!hb->ic)
		goto err_lock;
	if (interval_ms) {
		hb->ticker = ic_ticker_start(interval_ms, heartbeat_tick, hb);
		if (!hb->ticker)
			goto err_ic;
	}
	return hb;

err_ic:
	ic_service_destroy(hb->ic);
err_lock:
	pthread_mutex_destroy(&hb->lock);
err_free:
	free(hb);
	return NULL;
}

void ic_heartbeat_destroy(struct ic_heartbeat *hb)
{
	if (!hb)
		return;
	ic_ticker_stop(hb->ticker);
	ic_service_destroy(hb->ic);
	pthread_mutex_destroy(&hb->lock);
	free(hb);
}

struct vmbus_device *ic_heartbeat_attach(struct ic_heartbeat *hb,
					 struct vmbus_server *srv,
					 const guid_t *instance)
{
	return ic_service_attach(hb->ic, srv, instance);
}

struct ic_service *ic_heartbeat_service(struct ic_heartbeat *hb)
{
	return hb->ic;
}

void ic_heartbeat_get_status(struct ic_heartbeat *hb,
			     struct ic_heartbeat_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = ic_service_state(hb->ic, NULL, &st->msg_version);
	pthread_mutex_lock(&hb->lock);
	st->sent = hb->sent;
	st->last_sent_seq = hb->last_sent_seq;
	st->answers = hb->answers;
	st->last_answer_seq = hb->last_answer_seq;
	st->last_answer_age_ms = hb->answers ?
		(int64_t)(mono_ms() - hb->last_answer_ms) : -1;
	st->bad_answers = hb->bad_answers;
	pthread_mutex_unlock(&hb->lock);
}

int ic_heartbeat_ctl(void *ctx, int argc, char **argv, FILE *reply)
{
	struct ic_heartbeat_status st;

	(void)argc;
	(void)argv;
	ic_heartbeat_get_status(ctx, &st);
	fprintf(reply,
		"state=%s version=%u.%u sent=%llu last_sent=%llu answers=%llu last_answer=%llu age_ms=%lld bad=%llu\n",
		ic_state_name(st.state), st.msg_version >> 16,
		st.msg_version & 0xffff, (unsigned long long)st.sent,
		(unsigned long long)st.last_sent_seq,
		(unsigned long long)st.answers,
		(unsigned long long)st.last_answer_seq,
		(long long)st.last_answer_age_ms,
		(unsigned long long)st.bad_answers);
	return 0;
}
