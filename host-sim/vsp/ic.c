// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The IC framework on the host: negotiate when the guest opens the channel,
 * then requests and their in-place answers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vsp/ic.h"
#include "vmbus/channel.h"
#include "vmbus/server.h"

/* Pipe header flags of a plain data message. */
#define IC_PIPE_FLAG_DATA	1u

const uint32_t ic_framework_versions[2] = {
	IC_FRAMEWORK_VERSION_3, IC_FRAMEWORK_VERSION_1,
};

struct ic_service {
	struct vsp_ops vsp;
	struct ic_service_config cfg;
	char name[32];

	/* Serialises readers of the ring; taken before lock. */
	pthread_mutex_t rx_lock;
	pthread_mutex_t lock;
	pthread_cond_t cond;

	struct channel *ch;		/* while open */
	enum ic_state state;
	uint32_t fw_version;
	uint32_t msg_version;
	uint64_t next_trans;
	uint8_t next_ic_tid;
	uint64_t negotiate_trans;

	/* The one synchronous transaction in flight. */
	bool waiting;
	bool wait_done;
	uint64_t wait_trans;
	uint8_t *wait_buf;
	uint32_t wait_cap;
	uint32_t wait_len;
	uint32_t wait_status;

	uint8_t rxbuf[IC_MAX_PACKET_SIZE];
};

/* ------------------------------------------------------------------ */
/* Building and parsing                                                */

static struct ic_version ic_ver(uint32_t v)
{
	struct ic_version r = { .major = (uint16_t)(v >> 16),
				.minor = (uint16_t)(v & 0xffff) };

	return r;
}

static uint32_t ic_ver_value(struct ic_version v)
{
	return IC_VERSION(v.major, v.minor);
}

int ic_build_request(void *buf, size_t cap, uint16_t msgtype,
		     uint32_t fw_version, uint32_t msg_version,
		     uint8_t ic_trans_id, const void *body, uint16_t body_len)
{
	struct vmbus_pipe_header pipe;
	struct icmsg_hdr hdr;
	size_t total = IC_HEADER_SIZE + (size_t)body_len;
	uint8_t *p = buf;

	if (total > cap || total > IC_MAX_PACKET_SIZE)
		return -EMSGSIZE;
	memset(&pipe, 0, sizeof(pipe));
	pipe.flags = IC_PIPE_FLAG_DATA;
	pipe.msgsize = (uint32_t)(total - sizeof(pipe));
	memset(&hdr, 0, sizeof(hdr));
	hdr.icverframe = ic_ver(fw_version);
	hdr.icmsgtype = msgtype;
	hdr.icvermsg = ic_ver(msg_version);
	hdr.icmsgsize = body_len;
	hdr.status = IC_S_OK;
	hdr.ictransaction_id = ic_trans_id;
	hdr.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
	memcpy(p, &pipe, sizeof(pipe));
	memcpy(p + sizeof(pipe), &hdr, sizeof(hdr));
	if (body_len)
		memcpy(p + IC_HEADER_SIZE, body, body_len);
	return (int)total;
}

int ic_build_negotiate(void *buf, size_t cap, const uint32_t *fw, size_t nfw,
		       const uint32_t *msg, size_t nmsg, uint8_t ic_trans_id)
{
	uint8_t body[sizeof(struct icmsg_negotiate) +
		     IC_NEGOTIATE_MAX_VERSIONS * sizeof(struct ic_version)];
	struct icmsg_negotiate neg;
	struct ic_version v;
	size_t i, len;

	if (nfw == 0 || nmsg == 0 || nfw + nmsg > IC_NEGOTIATE_MAX_VERSIONS)
		return -EINVAL;
	memset(&neg, 0, sizeof(neg));
	neg.icframe_vercnt = (uint16_t)nfw;
	neg.icmsg_vercnt = (uint16_t)nmsg;
	memcpy(body, &neg, sizeof(neg));
	len = sizeof(neg);
	for (i = 0; i < nfw + nmsg; i++) {
		v = ic_ver(i < nfw ? fw[i] : msg[i - nfw]);
		memcpy(body + len, &v, sizeof(v));
		len += sizeof(v);
	}
	/*
	 * The header of a NEGOTIATE speaks framework and message version 1.0:
	 * nothing has been agreed yet, and every guest understands 1.0.
	 */
	return ic_build_request(buf, cap, ICMSGTYPE_NEGOTIATE,
				IC_FRAMEWORK_VERSION_1, IC_VERSION(1, 0),
				ic_trans_id, body, (uint16_t)len);
}

int ic_parse_response(const void *pkt, uint32_t len, struct icmsg_hdr *hdr,
		      const uint8_t **body, uint32_t *body_len)
{
	const uint8_t *p = pkt;

	if (len < IC_HEADER_SIZE)
		return -EBADMSG;
	memcpy(hdr, p + sizeof(struct vmbus_pipe_header), sizeof(*hdr));
	if (!(hdr->icflags & ICMSGHDRFLAG_RESPONSE))
		return -EBADMSG;
	*body = p + IC_HEADER_SIZE;
	*body_len = len - (uint32_t)IC_HEADER_SIZE;
	return 0;
}

static bool version_in(uint32_t v, const uint32_t *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}

int ic_parse_negotiate_response(const void *pkt, uint32_t len,
				const uint32_t *fw, size_t nfw,
				const uint32_t *msg, size_t nmsg,
				uint32_t *fw_chosen, uint32_t *msg_chosen)
{
	struct icmsg_negotiate neg;
	struct ic_version v[2];
	struct icmsg_hdr hdr;
	const uint8_t *body;
	uint32_t body_len;

	if (ic_parse_response(pkt, len, &hdr, &body, &body_len))
		return -EBADMSG;
	if (hdr.icmsgtype != ICMSGTYPE_NEGOTIATE ||
	    body_len < sizeof(neg))
		return -EBADMSG;
	memcpy(&neg, body, sizeof(neg));
	if (hdr.status != IC_S_OK || neg.icframe_vercnt == 0 ||
	    neg.icmsg_vercnt == 0)
		return -EPROTO;
	if (neg.icframe_vercnt != 1 || neg.icmsg_vercnt != 1 ||
	    body_len < sizeof(neg) + sizeof(v))
		return -EBADMSG;
	memcpy(v, body + sizeof(neg), sizeof(v));
	if (!version_in(ic_ver_value(v[0]), fw, nfw) ||
	    !version_in(ic_ver_value(v[1]), msg, nmsg))
		return -EBADMSG;
	*fw_chosen = ic_ver_value(v[0]);
	*msg_chosen = ic_ver_value(v[1]);
	return 0;
}

int ic_build_heartbeat(void *buf, size_t cap, uint32_t fw_version,
		       uint32_t msg_version, uint8_t ic_trans_id, uint64_t seq)
{
	struct ic_heartbeat_msg m;

	memset(&m, 0, sizeof(m));
	m.seq_num = seq;
	return ic_build_request(buf, cap, ICMSGTYPE_HEARTBEAT, fw_version,
				msg_version, ic_trans_id, &m, sizeof(m));
}

int ic_shutdown_flags(enum ic_shutdown_kind kind, bool force,
		      uint32_t msg_version, uint32_t *flags)
{
	switch (kind) {
	case IC_SHUTDOWN_POWEROFF:
		*flags = 0;
		break;
	case IC_SHUTDOWN_REBOOT:
		if (msg_version < IC_SHUTDOWN_VERSION_3_1)
			return -ENOTSUP;
		*flags = IC_SHUTDOWN_FLAG_REBOOT;
		break;
	case IC_SHUTDOWN_HIBERNATE:
		if (force)
			return -EINVAL;
		if (msg_version < IC_SHUTDOWN_VERSION_3_2)
			return -ENOTSUP;
		*flags = IC_SHUTDOWN_FLAG_HIBERNATE;
		break;
	default:
		return -EINVAL;
	}
	if (force)
		*flags |= IC_SHUTDOWN_FLAG_FORCE;
	return 0;
}

int ic_build_shutdown(void *buf, size_t cap, uint32_t fw_version,
		      uint32_t msg_version, uint8_t ic_trans_id,
		      uint32_t flags, const char *message)
{
	struct ic_shutdown_msg m;

	memset(&m, 0, sizeof(m));
	m.flags = flags;
	if (message) {
		size_t n = strlen(message);

		if (n >= sizeof(m.display_message))
			n = sizeof(m.display_message) - 1;
		memcpy(m.display_message, message, n);
	}
	return ic_build_request(buf, cap, ICMSGTYPE_SHUTDOWN, fw_version,
				msg_version, ic_trans_id, &m, sizeof(m));
}

/* ------------------------------------------------------------------ */
/* The service                                                         */

const char *ic_state_name(enum ic_state state)
{
	switch (state) {
	case IC_STATE_CLOSED:
		return "closed";
	case IC_STATE_NEGOTIATING:
		return "negotiating";
	case IC_STATE_READY:
		return "ready";
	case IC_STATE_FAILED:
		return "failed";
	}
	return "?";
}

/*
 * Errors go through the channel's rate-limited log when there is one; the
 * guest can cause these at will.
 */
static void ic_log(struct ic_service *ic, struct channel *ch, const char *what,
		   int value)
{
	static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t window;
	static unsigned int count;
	struct timespec ts;
	bool ok;

	if (ch) {
		channel_log(ch, "%s (%d)", what, value);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&rate_lock);
	if ((uint64_t)ts.tv_sec / 5 != window) {
		window = (uint64_t)ts.tv_sec / 5;
		count = 0;
	}
	ok = ++count <= 10;
	pthread_mutex_unlock(&rate_lock);
	if (ok)
		fprintf(stderr, "hvsim: ic %s: %s (%d)\n", ic->name, what, value);
}

/* Caller holds ic->lock. */
static int send_locked(struct ic_service *ic, uint16_t msgtype,
		       const void *body, uint16_t body_len, uint64_t *trans)
{
	uint8_t pkt[IC_MAX_PACKET_SIZE];
	int len, rc;

	if (!ic->ch || ic->state != IC_STATE_READY)
		return -ENOTCONN;
	len = ic_build_request(pkt, sizeof(pkt), msgtype, ic->fw_version,
			       ic->msg_version, ic->next_ic_tid++, body,
			       body_len);
	if (len < 0)
		return len;
	*trans = ++ic->next_trans;
	rc = channel_send(ic->ch, VM_PKT_DATA_INBAND, 0, *trans, pkt,
			  (uint32_t)len);
	return rc;
}

static int ic_open(struct channel *ch, void *ctx)
{
	struct ic_service *ic = ctx;
	uint8_t pkt[256];
	uint64_t trans;
	int len, rc;

	if (channel_out_ring_size(ch) + VMBUS_RING_CONTROL_SIZE != IC_RING_SIZE ||
	    channel_in_ring_size(ch) + VMBUS_RING_CONTROL_SIZE != IC_RING_SIZE)
		ic_log(ic, ch, "guest rings differ from IC_RING_SIZE; using them",
		       (int)channel_out_ring_size(ch));

	len = ic_build_negotiate(pkt, sizeof(pkt), ic_framework_versions, 2,
				 ic->cfg.versions, ic->cfg.nversions,
				 0);
	if (len < 0)
		return len;

	pthread_mutex_lock(&ic->rx_lock);
	pthread_mutex_lock(&ic->lock);
	ic->ch = ch;
	ic->state = IC_STATE_NEGOTIATING;
	ic->fw_version = 0;
	ic->msg_version = 0;
	ic->next_ic_tid = 1;
	trans = ++ic->next_trans;
	ic->negotiate_trans = trans;
	rc = channel_send(ch, VM_PKT_DATA_INBAND, 0, trans, pkt, (uint32_t)len);
	if (rc) {
		ic->ch = NULL;
		ic->state = IC_STATE_CLOSED;
	}
	pthread_mutex_unlock(&ic->lock);
	pthread_mutex_unlock(&ic->rx_lock);
	return rc;
}

static void ic_close(struct channel *ch, void *ctx)
{
	struct ic_service *ic = ctx;

	(void)ch;
	/* rx_lock first: a waiter may be reading the ring right now. */
	pthread_mutex_lock(&ic->rx_lock);
	pthread_mutex_lock(&ic->lock);
	ic->ch = NULL;
	ic->state = IC_STATE_CLOSED;
	pthread_cond_broadcast(&ic->cond);
	pthread_mutex_unlock(&ic->lock);
	pthread_mutex_unlock(&ic->rx_lock);
}

/* Caller holds rx_lock (not lock). */
static void handle_packet(struct ic_service *ic,
			  const struct vmpacket_descriptor *desc,
			  const uint8_t *payload, uint32_t len)
{
	uint32_t fw, msg, body_len;
	struct icmsg_hdr hdr;
	const uint8_t *body;
	bool ready = false, deliver = false;
	int rc;

	if (desc->type != VM_PKT_DATA_INBAND) {
		ic_log(ic, ic->ch, "ignoring packet of unexpected type",
		       desc->type);
		return;
	}
	if (ic_parse_response(payload, len, &hdr, &body, &body_len)) {
		ic_log(ic, ic->ch, "ignoring packet that is not an IC response",
		       (int)len);
		return;
	}

	pthread_mutex_lock(&ic->lock);
	if (ic->state == IC_STATE_NEGOTIATING &&
	    desc->trans_id == ic->negotiate_trans) {
		rc = ic_parse_negotiate_response(payload, len,
						 ic_framework_versions, 2,
						 ic->cfg.versions,
						 ic->cfg.nversions, &fw, &msg);
		if (rc) {
			ic->state = IC_STATE_FAILED;
			ic_log(ic, ic->ch, rc == -EPROTO ?
			       "guest accepts none of our versions" :
			       "malformed NEGOTIATE answer", rc);
		} else {
			ic->fw_version = fw;
			ic->msg_version = msg;
			ic->state = IC_STATE_READY;
			ready = true;
		}
	} else if (ic->waiting && !ic->wait_done &&
		   desc->trans_id == ic->wait_trans) {
		ic->wait_len = body_len < ic->wait_cap ? body_len : ic->wait_cap;
		if (ic->wait_len)
			memcpy(ic->wait_buf, body, ic->wait_len);
		ic->wait_status = hdr.status;
		ic->wait_done = true;
		pthread_cond_broadcast(&ic->cond);
	} else if (ic->state == IC_STATE_READY) {
		deliver = true;
	} else {
		ic_log(ic, ic->ch, "ignoring answer in state",
		       (int)ic->state);
	}
	pthread_mutex_unlock(&ic->lock);

	if (ready && ic->cfg.on_ready)
		ic->cfg.on_ready(ic, ic->cfg.ctx);
	if (deliver && ic->cfg.on_response)
		ic->cfg.on_response(ic, ic->cfg.ctx, &hdr, body, body_len);
}

void ic_service_poll(struct ic_service *ic)
{
	struct vmpacket_descriptor desc;
	const void *pkt;
	struct channel *ch;
	uint32_t len, off;

	pthread_mutex_lock(&ic->rx_lock);
	pthread_mutex_lock(&ic->lock);
	ch = ic->ch;
	pthread_mutex_unlock(&ic->lock);
	/* Holding rx_lock keeps ch open: close waits for it. */
	while (ch && channel_peek(ch, &desc, &pkt, &len) == 0) {
		off = (uint32_t)desc.offset8 * 8u;
		if (len - off > sizeof(ic->rxbuf)) {
			ic_log(ic, ch, "dropping oversized packet", (int)len);
			channel_advance(ch);
			continue;
		}
		memcpy(ic->rxbuf, (const uint8_t *)pkt + off, len - off);
		channel_advance(ch);
		handle_packet(ic, &desc, ic->rxbuf, len - off);
	}
	pthread_mutex_unlock(&ic->rx_lock);
}

static void ic_on_signal(struct channel *ch, void *ctx)
{
	(void)ch;
	ic_service_poll(ctx);
}

struct ic_service *ic_service_create(const struct ic_service_config *cfg)
{
	struct ic_service *ic;

	if (!cfg || !cfg->versions || cfg->nversions == 0 ||
	    cfg->nversions > IC_NEGOTIATE_MAX_VERSIONS - 2)
		return NULL;
	ic = calloc(1, sizeof(*ic));
	if (!ic)
		return NULL;
	ic->cfg = *cfg;
	snprintf(ic->name, sizeof(ic->name), "%s", cfg->name ? cfg->name : "ic");
	ic->vsp.name = ic->name;
	ic->vsp.class = cfg->class;
	ic->vsp.use_monitor = false;
	ic->vsp.open = ic_open;
	ic->vsp.on_signal = ic_on_signal;
	ic->vsp.close = ic_close;
	if (pthread_mutex_init(&ic->rx_lock, NULL))
		goto err_free;
	if (pthread_mutex_init(&ic->lock, NULL))
		goto err_rx;
	if (pthread_cond_init(&ic->cond, NULL))
		goto err_lock;
	return ic;

err_lock:
	pthread_mutex_destroy(&ic->lock);
err_rx:
	pthread_mutex_destroy(&ic->rx_lock);
err_free:
	free(ic);
	return NULL;
}

void ic_service_destroy(struct ic_service *ic)
{
	if (!ic)
		return;
	pthread_cond_destroy(&ic->cond);
	pthread_mutex_destroy(&ic->lock);
	pthread_mutex_destroy(&ic->rx_lock);
	free(ic);
}

void ic_service_set_monitor(struct ic_service *ic, bool use_monitor)
{
	ic->vsp.use_monitor = use_monitor;
}

struct vmbus_device *ic_service_attach(struct ic_service *ic,
				       struct vmbus_server *srv,
				       const guid_t *instance)
{
	return vmbus_server_add_device(srv, &ic->vsp, instance, ic);
}

enum ic_state ic_service_state(struct ic_service *ic, uint32_t *fw_version,
			       uint32_t *msg_version)
{
	enum ic_state state;

	pthread_mutex_lock(&ic->lock);
	state = ic->state;
	if (fw_version)
		*fw_version = ic->fw_version;
	if (msg_version)
		*msg_version = ic->msg_version;
	pthread_mutex_unlock(&ic->lock);
	return state;
}

int ic_service_send(struct ic_service *ic, const void *body,
		    uint16_t body_len, uint64_t *trans_id)
{
	uint64_t trans = 0;
	int rc;

	pthread_mutex_lock(&ic->lock);
	rc = send_locked(ic, ic->cfg.msg_type, body, body_len, &trans);
	pthread_mutex_unlock(&ic->lock);
	if (trans_id)
		*trans_id = trans;
	return rc;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int ic_service_transact(struct ic_service *ic, const void *body,
			uint16_t body_len, void *resp, uint32_t resp_cap,
			uint32_t *resp_len, uint32_t *status, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct timespec until;
	int rc;

	pthread_mutex_lock(&ic->lock);
	if (ic->waiting) {
		pthread_mutex_unlock(&ic->lock);
		return -EBUSY;
	}
	ic->waiting = true;
	ic->wait_done = false;
	ic->wait_buf = resp;
	ic->wait_cap = resp ? resp_cap : 0;
	ic->wait_len = 0;
	rc = send_locked(ic, ic->cfg.msg_type, body, body_len, &ic->wait_trans);
	while (!rc && !ic->wait_done) {
		if (ic->state != IC_STATE_READY) {
			rc = -ENOTCONN;
			break;
		}
		/*
		 * Read the ring ourselves: on the event-loop thread nobody
		 * else would while we wait.
		 */
		pthread_mutex_unlock(&ic->lock);
		ic_service_poll(ic);
		pthread_mutex_lock(&ic->lock);
		if (ic->wait_done)
			break;
		if (mono_ms() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 10 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ic->cond, &ic->lock, &until);
	}
	if (!rc) {
		if (resp_len)
			*resp_len = ic->wait_len;
		if (status)
			*status = ic->wait_status;
	}
	ic->waiting = false;
	ic->wait_buf = NULL;
	pthread_mutex_unlock(&ic->lock);
	return rc;
}

struct ic_ticker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool stop;
	unsigned int interval_ms;
	void (*fn)(void *ctx);
	void *ctx;
};

static void *ticker_main(void *arg)
{
	struct ic_ticker *t = arg;
	struct timespec until;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += t->interval_ms / 1000;
		until.tv_nsec += (long)(t->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!t->stop &&
		       pthread_cond_timedwait(&t->cond, &t->lock, &until) == 0)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		t->fn(t->ctx);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

struct ic_ticker *ic_ticker_start(unsigned int interval_ms,
				  void (*fn)(void *ctx), void *ctx)
{
	struct ic_ticker *t;

	if (!interval_ms || !fn)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->interval_ms = interval_ms;
	t->fn = fn;
	t->ctx = ctx;
	if (pthread_mutex_init(&t->lock, NULL))
		goto err_free;
	if (pthread_cond_init(&t->cond, NULL))
		goto err_lock;
	if (pthread_create(&t->thread, NULL, ticker_main, t))
		goto err_cond;
	return t;

err_cond:
	pthread_cond_destroy(&t->cond);
err_lock:
	pthread_mutex_destroy(&t->lock);
err_free:
	free(t);
	return NULL;
}

void ic_ticker_stop(struct ic_ticker *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
