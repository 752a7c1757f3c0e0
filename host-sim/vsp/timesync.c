// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Time-sync IC: the host's clock to the guest, SYNC once the channel is up
 * and on request, SAMPLE periodically. The guest answers every message in
 * place; the answers are only counted, since they carry nothing new.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hypervisor/hypervisor.h"
#include "viridian/wire/vmbus.h"
#include "vsp/timesync.h"

static const uint32_t timesync_versions[] = {
	IC_TIMESYNC_VERSION_4, IC_TIMESYNC_VERSION_3, IC_TIMESYNC_VERSION_1,
};

/* Without a reference time to send, version 4 cannot be spoken. */
static const uint32_t timesync_versions_no_reference[] = {
	IC_TIMESYNC_VERSION_3, IC_TIMESYNC_VERSION_1,
};

struct ic_timesync {
	struct ic_service *ic;
	struct hypervisor *hv;
	pthread_mutex_t lock;
	struct ic_ticker *ticker;	/* NULL without an interval */

	int64_t offset_ms;
	uint32_t msg_version;		/* negotiated, for checking answers */
	/*
	 * Messages sent and not answered yet: an answer beyond them answers
	 * nothing we sent.
	 */
	uint64_t in_flight;
	uint64_t syncs;
	uint64_t samples;
	uint64_t answers;
	uint64_t bad_answers;
};

static struct log_ratelimit rl_answer, rl_send;

/* ------------------------------------------------------------------ */
/* Pure helpers                                                        */

uint64_t ic_timesync_host_time(const struct timespec *realtime,
			       int64_t offset_ms)
{
	/*
	 * 100 ns units since 1970 fit an int64_t until the year 31000; the
	 * offset is bounded by the caller, yet clamp rather than wrap.
	 */
	int64_t units = (int64_t)realtime->tv_sec * 10000000LL +
			(int64_t)(realtime->tv_nsec / 100);
	int64_t shift = offset_ms * 10000LL;

	if (offset_ms > IC_TIMESYNC_MAX_OFFSET_MS ||
	    offset_ms < -IC_TIMESYNC_MAX_OFFSET_MS)
		shift = offset_ms > 0 ? IC_TIMESYNC_MAX_OFFSET_MS * 10000LL :
					-IC_TIMESYNC_MAX_OFFSET_MS * 10000LL;
	units += shift;
	if (units < -(int64_t)IC_WINDOWS_EPOCH_DELTA)
		return 0;
	return (uint64_t)(units + (int64_t)IC_WINDOWS_EPOCH_DELTA);
}

int ic_timesync_build_body(void *buf, size_t cap, uint32_t msg_version,
			   uint8_t flags, uint64_t parenttime,
			   uint64_t reference_time)
{
	if (msg_version >= IC_TIMESYNC_VERSION_4) {
		struct ic_timesync_ref_msg m;

		if (cap < sizeof(m))
			return -EMSGSIZE;
		memset(&m, 0, sizeof(m));
		m.parenttime = parenttime;
		m.vmreferencetime = reference_time;
		m.flags = flags;
		/* No leap second announced; the stratum is not known here. */
		memcpy(buf, &m, sizeof(m));
		return (int)sizeof(m);
	} else {
		struct ic_timesync_msg m;

		if (cap < sizeof(m))
			return -EMSGSIZE;
		memset(&m, 0, sizeof(m));
		m.parenttime = parenttime;
		m.flags = flags;
		memcpy(buf, &m, sizeof(m));
		return (int)sizeof(m);
	}
}

int ic_timesync_parse_offset(const char *text, int64_t *offset_ms)
{
	long long v;
	char *end;

	/* strtoll would skip blanks; the number is the whole word or none. */
	if (!text || !(isdigit((unsigned char)text[0]) || text[0] == '-' ||
		       text[0] == '+'))
		return -EINVAL;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || *end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > IC_TIMESYNC_MAX_OFFSET_MS ||
	    v < -IC_TIMESYNC_MAX_OFFSET_MS)
		return -ERANGE;
	*offset_ms = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The service                                                         */

static size_t body_size(uint32_t msg_version)
{
	return msg_version >= IC_TIMESYNC_VERSION_4 ?
		sizeof(struct ic_timesync_ref_msg) :
		sizeof(struct ic_timesync_msg);
}

int ic_timesync_send(struct ic_timesync *ts, uint8_t flags,
		     uint64_t *parenttime)
{
	union {
		struct ic_timesync_msg v1;
		struct ic_timesync_ref_msg v4;
	} body;
	uint64_t parent, reference = 0;
	struct timespec now;
	uint32_t msg_version;
	int64_t offset_ms;
	int len, rc;

	/*
	 * The body follows the version negotiated now; a guest that closed
	 * and negotiated again in between would get the one message in the
	 * old layout, which is no worse than a lost sample.
	 */
	if (ic_service_state(ts->ic, NULL, &msg_version) != IC_STATE_READY)
		return -ENOTCONN;

	/*
	 * Counted before the send: the answer may be handled on another
	 * thread before the send returns.
	 */
	pthread_mutex_lock(&ts->lock);
	offset_ms = ts->offset_ms;
	ts->in_flight++;
	pthread_mutex_unlock(&ts->lock);

	/* Back to back: the reference time names the moment of parenttime. */
	clock_gettime(CLOCK_REALTIME, &now);
	if (ts->hv)
		reference = hypervisor_reference_time(ts->hv);
	parent = ic_timesync_host_time(&now, offset_ms);

	len = ic_timesync_build_body(&body, sizeof(body), msg_version, flags,
				     parent, reference);
	rc = len < 0 ? len :
		ic_service_send(ts->ic, &body, (uint16_t)len, NULL);

	pthread_mutex_lock(&ts->lock);
	if (rc) {
		if (ts->in_flight)
			ts->in_flight--;
	} else if (flags & IC_TIMESYNC_FLAG_SYNC) {
		ts->syncs++;
	} else {
		ts->samples++;
	}
	pthread_mutex_unlock(&ts->lock);
	if (!rc && parenttime)
		*parenttime = parent;
	return rc;
}

static void on_ready(struct ic_service *ic, void *ctx)
{
	struct ic_timesync *ts = ctx;
	uint32_t msg_version = 0;
	int rc;

	ic_service_state(ic, NULL, &msg_version);
	/*
	 * in_flight is left alone: what a closed channel never answered only
	 * makes the check more lenient, while zeroing it here would forget a
	 * SAMPLE the thread sent since the state became ready.
	 */
	pthread_mutex_lock(&ts->lock);
	ts->msg_version = msg_version;
	pthread_mutex_unlock(&ts->lock);

	/* After boot or a reload the guest's clock is wrong until told. */
	rc = ic_timesync_send(ts, IC_TIMESYNC_FLAG_SYNC, NULL);
	if (rc)
		log_ratelimited(&rl_send,
				"time sync IC: cannot send the first SYNC: %s",
				strerror(-rc));
}

static void on_answer(struct ic_service *ic, void *ctx,
		      const struct icmsg_hdr *hdr, const uint8_t *body,
		      uint32_t body_len)
{
	struct ic_timesync *ts = ctx;
	const char *why = NULL;
	uint32_t status = hdr->status;

	(void)ic;
	(void)body;
	pthread_mutex_lock(&ts->lock);
	if (hdr->icmsgtype != ICMSGTYPE_TIMESYNC) {
		why = "an answer of another message type";
	} else if (!ts->in_flight) {
		why = "an answer to no message sent";
	} else {
		ts->in_flight--;
		if (status != IC_S_OK)
			why = "a failure status";
		else if (body_len < body_size(ts->msg_version))
			why = "a short answer";
	}
	if (why)
		ts->bad_answers++;
	else
		ts->answers++;
	pthread_mutex_unlock(&ts->lock);
	if (why)
		log_ratelimited(&rl_answer,
				"time sync IC: the guest sent %s (type %u, status %#x, %u bytes)",
				why, hdr->icmsgtype, status, body_len);
}

/* Not ready or ring full: the next period tries again. */
static void sample_tick(void *ctx)
{
	(void)ic_timesync_send(ctx, IC_TIMESYNC_FLAG_SAMPLE, NULL);
}

struct ic_timesync *ic_timesync_create(struct hypervisor *hv,
				       unsigned int interval_ms)
{
	struct ic_service_config cfg = {
		.name = "timesync",
		.class = VMBUS_CLASS_TIMESYNC,
		.msg_type = ICMSGTYPE_TIMESYNC,
		.on_ready = on_ready,
		.on_response = on_answer,
	};
	struct ic_timesync *ts;

	if (hv) {
		cfg.versions = timesync_versions;
		cfg.nversions = sizeof(timesync_versions) /
				sizeof(timesync_versions[0]);
	} else {
		cfg.versions = timesync_versions_no_reference;
		cfg.nversions = sizeof(timesync_versions_no_reference) /
				sizeof(timesync_versions_no_reference[0]);
	}
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return NULL;
	ts->hv = hv;
	cfg.ctx = ts;
	if (pthread_mutex_init(&ts->lock, NULL))
		goto err_free;
	ts->ic = ic_service_create(&cfg);
	if (!ts->ic)
		goto err_lock;
	if (interval_ms) {
		ts->ticker = ic_ticker_start(interval_ms, sample_tick, ts);
		if (!ts->ticker)
			goto err_ic;
	}
	return ts;

err_ic:
	ic_service_destroy(ts->ic);
err_lock:
	pthread_mutex_destroy(&ts->lock);
err_free:
	free(ts);
	return NULL;
}

void ic_timesync_destroy(struct ic_timesync *ts)
{
	if (!ts)
		return;
	ic_ticker_stop(ts->ticker);
	ic_service_destroy(ts->ic);
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}

struct vmbus_device *ic_timesync_attach(struct ic_timesync *ts,
					struct vmbus_server *srv,
					const guid_t *instance)
{
	return ic_service_attach(ts->ic, srv, instance);
}

struct ic_service *ic_timesync_service(struct ic_timesync *ts)
{
	return ts->ic;
}

int ic_timesync_set_offset(struct ic_timesync *ts, int64_t offset_ms)
{
	if (offset_ms > IC_TIMESYNC_MAX_OFFSET_MS ||
	    offset_ms < -IC_TIMESYNC_MAX_OFFSET_MS)
		return -ERANGE;
	pthread_mutex_lock(&ts->lock);
	ts->offset_ms = offset_ms;
	pthread_mutex_unlock(&ts->lock);
	return 0;
}

void ic_timesync_get_status(struct ic_timesync *ts,
			    struct ic_timesync_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = ic_service_state(ts->ic, NULL, &st->msg_version);
	pthread_mutex_lock(&ts->lock);
	st->syncs = ts->syncs;
	st->samples = ts->samples;
	st->answers = ts->answers;
	st->bad_answers = ts->bad_answers;
	st->offset_ms = ts->offset_ms;
	pthread_mutex_unlock(&ts->lock);
}

#define TIMESYNC_USAGE "error: usage: timesync [sync | offset MS]\n"

static int ctl_sync(struct ic_timesync *ts, FILE *reply)
{
	uint64_t parent = 0, since_1970;
	int rc;

	rc = ic_timesync_send(ts, IC_TIMESYNC_FLAG_SYNC, &parent);
	if (rc == -ENOTCONN) {
		fprintf(reply, "error: time sync IC not ready (%s)\n",
			ic_state_name(ic_service_state(ts->ic, NULL, NULL)));
		return 1;
	}
	if (rc) {
		fprintf(reply, "error: cannot send the SYNC: %s\n",
			strerror(-rc));
		return 1;
	}
	since_1970 = parent > IC_WINDOWS_EPOCH_DELTA ?
		     parent - IC_WINDOWS_EPOCH_DELTA : 0;
	fprintf(reply, "sync sent: host_time=%llu.%03llu\n",
		(unsigned long long)(since_1970 / 10000000u),
		(unsigned long long)(since_1970 % 10000000u / 10000u));
	return 0;
}

static int ctl_offset(struct ic_timesync *ts, const char *text, FILE *reply)
{
	int64_t offset_ms = 0;
	int rc;

	rc = ic_timesync_parse_offset(text, &offset_ms);
	if (!rc)
		rc = ic_timesync_set_offset(ts, offset_ms);
	if (rc == -EINVAL) {
		fprintf(reply,
			"error: offset '%s' is not a whole number of milliseconds\n",
			text);
		return 1;
	}
	if (rc) {
		fprintf(reply,
			"error: offset '%s' is beyond +-%lld ms (ten years)\n",
			text, (long long)IC_TIMESYNC_MAX_OFFSET_MS);
		return 1;
	}
	fprintf(reply, "offset_ms=%lld\n", (long long)offset_ms);
	return 0;
}

int ic_timesync_ctl(void *ctx, int argc, char **argv, FILE *reply)
{
	struct ic_timesync *ts = ctx;
	struct ic_timesync_status st;
	int first = 0;

	if (argc > 0 && strcmp(argv[0], "timesync") == 0)
		first = 1;
	argc -= first;
	argv += first;

	if (argc == 1 && strcmp(argv[0], "sync") == 0)
		return ctl_sync(ts, reply);
	if (argc == 2 && strcmp(argv[0], "offset") == 0)
		return ctl_offset(ts, argv[1], reply);
	if (argc != 0) {
		fprintf(reply, TIMESYNC_USAGE);
		return 1;
	}
	ic_timesync_get_status(ts, &st);
	fprintf(reply,
		"state=%s version=%u.%u syncs=%llu samples=%llu answers=%llu bad=%llu offset_ms=%lld\n",
		ic_state_name(st.state), st.msg_version >> 16,
		st.msg_version & 0xffff, (unsigned long long)st.syncs,
		(unsigned long long)st.samples,
		(unsigned long long)st.answers,
		(unsigned long long)st.bad_answers, (long long)st.offset_ms);
	return 0;
}
