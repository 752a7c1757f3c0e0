/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The time-sync IC on the host (wire/ic.h): once the guest has negotiated,
 * one SYNC (the guest steps its clock to it), then a SAMPLE every interval
 * (the guest keeps it and serves it as PTP clock "hyperv").
 *
 * The time sent is the host's CLOCK_REALTIME plus an offset that ctl can
 * set, in 100 ns units since 1601. From message version 4 it goes with the
 * partition reference time (TIME_REF_COUNT) read at the same moment, so the
 * guest can tell how old the sample is; versions 3 and 1 carry no reference
 * time, and are all that is offered without a hypervisor to read it from.
 *
 * Threading as ic.h: every function may be called from any thread, the ctl
 * handler runs on the event loop. Life cycle as the other ICs: destroy only
 * after the server is destroyed (or the device rescinded and released), and
 * before the hypervisor is freed (the sample thread reads its clock).
 */
#ifndef HVSIM_VSP_TIMESYNC_H
#define HVSIM_VSP_TIMESYNC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "vsp/ic.h"

struct hypervisor;
struct ic_timesync;

/* hvsim's sample period. */
#define IC_TIMESYNC_SAMPLE_INTERVAL_MS	5000u

/*
 * The largest offset, either way: ten Julian years. Far enough for any
 * test of a wrong clock, near enough that the time stays inside what every
 * guest converts without overflow.
 */
#define IC_TIMESYNC_MAX_OFFSET_MS	(3652LL * 86400000LL + 43200000LL)

/* ------------------------------------------------------------------ */
/* Pure helpers (unit-tested)                                          */

/*
 * A CLOCK_REALTIME reading shifted by offset_ms, in 100 ns units since
 * 1601-01-01. Times before 1601 come out as 0.
 */
uint64_t ic_timesync_host_time(const struct timespec *realtime,
			       int64_t offset_ms);

/*
 * The body of a time-sync message for msg_version: struct
 * ic_timesync_ref_msg from version 4 (with reference_time), else struct
 * ic_timesync_msg (reference_time unused, child and round-trip times 0).
 * Returns its length, or -EMSGSIZE when cap is too small.
 */
int ic_timesync_build_body(void *buf, size_t cap, uint32_t msg_version,
			   uint8_t flags, uint64_t parenttime,
			   uint64_t reference_time);

/*
 * Parse `timesync offset MS`'s MS: a signed decimal integer within
 * ±IC_TIMESYNC_MAX_OFFSET_MS. 0 or -EINVAL (not a number) or -ERANGE.
 */
int ic_timesync_parse_offset(const char *text, int64_t *offset_ms);

/* ------------------------------------------------------------------ */
/* The service                                                         */

struct ic_timesync_status {
	enum ic_state state;
	uint32_t msg_version;
	uint64_t syncs;			/* SYNC messages sent */
	uint64_t samples;		/* SAMPLE messages sent */
	uint64_t answers;		/* good answers from the guest */
	uint64_t bad_answers;		/* failures, junk, answers to nothing */
	int64_t offset_ms;
};

/*
 * hv: where the reference time comes from (NULL: versions 3.0 and 1.0
 * only). interval_ms: sample period (IC_TIMESYNC_SAMPLE_INTERVAL_MS in
 * hvsim); 0 starts no thread, and samples go out only through
 * ic_timesync_send (tests). NULL on failure.
 */
struct ic_timesync *ic_timesync_create(struct hypervisor *hv,
				       unsigned int interval_ms);
void ic_timesync_destroy(struct ic_timesync *ts);
struct vmbus_device *ic_timesync_attach(struct ic_timesync *ts,
					struct vmbus_server *srv,
					const guid_t *instance);
struct ic_service *ic_timesync_service(struct ic_timesync *ts);

/*
 * Send the host's time now with flags (IC_TIMESYNC_FLAG_SYNC or _SAMPLE),
 * without waiting for the answer. On 0, *parenttime (if not NULL) is the
 * time sent. -ENOTCONN unless ready, or a channel_send error.
 */
int ic_timesync_send(struct ic_timesync *ts, uint8_t flags,
		     uint64_t *parenttime);

/* Offset for every later message; -ERANGE beyond the bound. */
int ic_timesync_set_offset(struct ic_timesync *ts, int64_t offset_ms);
void ic_timesync_get_status(struct ic_timesync *ts,
			    struct ic_timesync_status *st);

/*
 * `hvsim ctl NAME timesync [sync | offset MS]` (ctx: the ic_timesync;
 * argv[0] is the command name). Without arguments, one line:
 *   state=ready version=4.0 syncs=N samples=N answers=N bad=N offset_ms=N
 * `sync` sends a SYNC now, `offset MS` sets the offset. 0 on success; on
 * failure a line "error: ..." and 1.
 */
int ic_timesync_ctl(void *ctx, int argc, char **argv, FILE *reply);

#endif /* HVSIM_VSP_TIMESYNC_H */
