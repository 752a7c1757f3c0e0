/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The host side of the integration components (wire/ic.h): the framework
 * every IC shares (version negotiation when the guest opens the channel,
 * requests with transaction IDs, responses), and the heartbeat and shutdown
 * services built on it.
 *
 * Every IC exchange is a host request answered in place by the guest: the
 * guest sends the same packet back with ICMSGHDRFLAG_RESPONSE set and the
 * VMBus transaction ID of the request, which is how responses are matched.
 *
 * Threading: the VSP callbacks run on the event loop (server lock held).
 * ic_service_send may be called from any thread; ic_service_transact blocks
 * its caller until the answer (it reads the ring itself while it waits, so
 * it also works on the event-loop thread). Lock order: server lock, then
 * the service's receive lock, then its state lock; nothing here calls into
 * the server while holding a service lock.
 *
 * Life cycle: create the service, attach it to a server (one device), and
 * destroy it only after the server is destroyed or the device rescinded and
 * released.
 */
#ifndef HVSIM_VSP_IC_H
#define HVSIM_VSP_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "viridian/wire/ic.h"
#include "viridian/wire/types.h"

struct vmbus_server;
struct vmbus_device;
struct ic_service;

/* Framework versions offered, best first. */
extern const uint32_t ic_framework_versions[2];

/* ------------------------------------------------------------------ */
/* Message building and parsing (pure; unit-tested)                    */

/*
 * A request packet payload: pipe header, IC header (TRANSACTION|REQUEST),
 * then body. Returns its length, or -EMSGSIZE when cap is too small.
 */
int ic_build_request(void *buf, size_t cap, uint16_t msgtype,
		     uint32_t fw_version, uint32_t msg_version,
		     uint8_t ic_trans_id, const void *body, uint16_t body_len);

/* A NEGOTIATE request listing fw then msg versions (IC_VERSION values). */
int ic_build_negotiate(void *buf, size_t cap, const uint32_t *fw, size_t nfw,
		       const uint32_t *msg, size_t nmsg, uint8_t ic_trans_id);

/*
 * Split a guest's answer. Returns 0 with *hdr (copied) and the body that
 * follows it, -EBADMSG when the packet is too short or is not a response.
 */
int ic_parse_response(const void *pkt, uint32_t len, struct icmsg_hdr *hdr,
		      const uint8_t **body, uint32_t *body_len);

/*
 * Check the guest's NEGOTIATE answer: one framework and one message
 * version, each among those offered. Returns 0 with both set, -EPROTO when
 * the guest accepted none (or answered with a failure status), -EBADMSG
 * when the answer is malformed or picks a version never offered.
 */
int ic_parse_negotiate_response(const void *pkt, uint32_t len,
				const uint32_t *fw, size_t nfw,
				const uint32_t *msg, size_t nmsg,
				uint32_t *fw_chosen, uint32_t *msg_chosen);

int ic_build_heartbeat(void *buf, size_t cap, uint32_t fw_version,
		       uint32_t msg_version, uint8_t ic_trans_id, uint64_t seq);

enum ic_shutdown_kind {
	IC_SHUTDOWN_POWEROFF,
	IC_SHUTDOWN_REBOOT,
	IC_SHUTDOWN_HIBERNATE,
};

/*
 * Flags for a shutdown request, given the negotiated message version:
 * reboot needs 3.1, hibernate 3.2; force goes with power off or reboot.
 * Returns 0, or -ENOTSUP / -EINVAL.
 */
int ic_shutdown_flags(enum ic_shutdown_kind kind, bool force,
		      uint32_t msg_version, uint32_t *flags);

int ic_build_shutdown(void *buf, size_t cap, uint32_t fw_version,
		      uint32_t msg_version, uint8_t ic_trans_id,
		      uint32_t flags, const char *message);

/* ------------------------------------------------------------------ */
/* The framework                                                       */

struct ic_service_config {
	const char *name;		/* "heartbeat", "shutdown", ... */
	guid_t class;
	uint16_t msg_type;		/* ICMSGTYPE_* of its requests */
	const uint32_t *versions;	/* message versions, best first */
	size_t nversions;
	void *ctx;
	/* Negotiation succeeded. Optional. */
	void (*on_ready)(struct ic_service *ic, void *ctx);
	/*
	 * An answer to a request sent with ic_service_send (no lock held).
	 * Optional.
	 */
	void (*on_response)(struct ic_service *ic, void *ctx,
			    const struct icmsg_hdr *hdr, const uint8_t *body,
			    uint32_t body_len);
};

enum ic_state {
	IC_STATE_CLOSED,		/* channel not open */
	IC_STATE_NEGOTIATING,		/* NEGOTIATE sent */
	IC_STATE_READY,
	IC_STATE_FAILED,		/* the guest took none of our versions */
};

struct ic_service *ic_service_create(const struct ic_service_config *cfg);
void ic_service_destroy(struct ic_service *ic);

/*
 * A thread that calls fn(ctx) every interval_ms until stopped: the periodic
 * messages of heartbeat and time sync. ic_ticker_stop waits for a call in
 * progress and frees the ticker (NULL is fine).
 */
struct ic_ticker;
struct ic_ticker *ic_ticker_start(unsigned int interval_ms,
				  void (*fn)(void *ctx), void *ctx);
void ic_ticker_stop(struct ic_ticker *t);
/*
 * Offer the service's channel for monitored notification (MNF: the guest
 * signals through monitor page 2) instead of events. Before attach.
 */
void ic_service_set_monitor(struct ic_service *ic, bool use_monitor);
/* Register the service's device with the server. NULL on failure. */
struct vmbus_device *ic_service_attach(struct ic_service *ic,
				       struct vmbus_server *srv,
				       const guid_t *instance);

enum ic_state ic_service_state(struct ic_service *ic, uint32_t *fw_version,
			       uint32_t *msg_version);
const char *ic_state_name(enum ic_state state);

/*
 * Send a request without waiting; its answer goes to on_response.
 * 0, -ENOTCONN unless ready, or a channel_send error.
 */
int ic_service_send(struct ic_service *ic, const void *body,
		    uint16_t body_len, uint64_t *trans_id);

/*
 * Send a request and wait up to timeout_ms for the answer. On 0, *status
 * is the guest's IC status and resp receives up to resp_cap body bytes
 * (*resp_len of them). -ETIMEDOUT, -ENOTCONN (not ready or closed while
 * waiting), -EBUSY (another transaction is waiting).
 */
int ic_service_transact(struct ic_service *ic, const void *body,
			uint16_t body_len, void *resp, uint32_t resp_cap,
			uint32_t *resp_len, uint32_t *status, int timeout_ms);

/* Read and handle everything in the ring (what on_signal does). */
void ic_service_poll(struct ic_service *ic);

/* ------------------------------------------------------------------ */
/* Heartbeat (heartbeat.c)                                             */

struct ic_heartbeat;

struct ic_heartbeat_status {
	enum ic_state state;
	uint32_t msg_version;
	uint64_t sent;			/* heartbeats sent */
	uint64_t last_sent_seq;
	uint64_t answers;		/* answers received */
	uint64_t last_answer_seq;	/* seq_num in the latest answer */
	int64_t last_answer_age_ms;	/* -1: none yet */
	uint64_t bad_answers;		/* answers not equal to seq + 1 */
};

/*
 * interval_ms: send period (1000 in hvsim); 0 starts no thread, and the
 * caller drives ic_heartbeat_tick itself (tests).
 */
struct ic_heartbeat *ic_heartbeat_create(unsigned int interval_ms);
void ic_heartbeat_destroy(struct ic_heartbeat *hb);
struct vmbus_device *ic_heartbeat_attach(struct ic_heartbeat *hb,
					 struct vmbus_server *srv,
					 const guid_t *instance);
/* Send the next heartbeat if the channel is ready. 0 or -errno. */
int ic_heartbeat_tick(struct ic_heartbeat *hb);
void ic_heartbeat_get_status(struct ic_heartbeat *hb,
			     struct ic_heartbeat_status *st);
struct ic_service *ic_heartbeat_service(struct ic_heartbeat *hb);
/*
 * `hvsim ctl NAME heartbeat` (ctx: the ic_heartbeat). One line:
 *   state=ready version=3.0 sent=N last_sent=S answers=A last_answer=S+1
 *   age_ms=T bad=B
 */
int ic_heartbeat_ctl(void *ctx, int argc, char **argv, FILE *reply);

/* ------------------------------------------------------------------ */
/* Shutdown (shutdown.c)                                               */

struct ic_shutdown;

#define IC_SHUTDOWN_TIMEOUT_MS		5000

struct ic_shutdown *ic_shutdown_create(void);
void ic_shutdown_destroy(struct ic_shutdown *sd);
struct vmbus_device *ic_shutdown_attach(struct ic_shutdown *sd,
					struct vmbus_server *srv,
					const guid_t *instance);
/*
 * Ask the guest to power off, reboot or hibernate and wait for its answer.
 * Returns 0 with *status = the guest's IC status (IC_S_OK: it will),
 * or -errno as ic_shutdown_flags and ic_service_transact.
 */
int ic_shutdown_request(struct ic_shutdown *sd, enum ic_shutdown_kind kind,
			bool force, int timeout_ms, uint32_t *status);
struct ic_service *ic_shutdown_service(struct ic_shutdown *sd);
/*
 * `hvsim ctl NAME shutdown [reboot|hibernate] [--force]` (ctx: the
 * ic_shutdown; argv[0] is the command name). Replies "ok" or
 * "refused status=0x...", or "error: ..."; returns 0 only for "ok".
 */
int ic_shutdown_ctl(void *ctx, int argc, char **argv, FILE *reply);

#endif /* HVSIM_VSP_IC_H */
