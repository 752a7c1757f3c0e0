// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The storage VSP's glue: controllers as VMBus devices, one worker thread
 * per open channel, control commands. The protocol itself lives in
 * storvsp_proto.c.
 *
 * A worker owns its channel's ring: it alone receives and sends on it. It
 * sleeps on an eventfd that on_signal, the control commands and other
 * workers (resets) write. Commands a stall fault holds wait in the
 * worker's held list without blocking it, so resets and other LUNs go on.
 */
#include "vsp/storvsp.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "core/log.h"
#include "core/loop.h"
#include "ctl/ctl.h"
#include "scsi/disk.h"
#include "trace.h"
#include "viridian/wire/storage.h"
#include "viridian/wire/vmbus.h"
#include "vmbus/channel.h"
#include "vmbus/server.h"
#include "vsp/storvsp_proto.h"

/* Packets a worker keeps held (stalls, hang) before it stops reading. */
#define STORVSP_MAX_HELD	1024
/* Re-check interval while completions wait for ring space. */
#define STORVSP_SEND_RETRY_MS	50

#define NOTIFY_ENUMERATE	0x1u

struct held {
	struct held *next;
	bool hung;			/* not run yet: the controller hung */
	struct storvsp_reply hold;	/* stall: when to run again */
	struct vmpacket_descriptor desc;
	uint32_t len;
	uint8_t body[];
};

struct pending {
	struct pending *next;
	uint16_t type;			/* VM_PKT_COMP or VM_PKT_DATA_INBAND */
	uint64_t trans_id;
	uint32_t len;
	uint8_t data[VSTOR_PACKET_SIZE];
};

struct sp_ctrl;

struct sp_chan {
	struct sp_ctrl *ctrl;
	struct channel *ch;
	bool primary;
	int efd;
	pthread_t thread;
	bool stop;			/* __atomic */
	uint64_t seen_reset_gen;
	struct held *held, *held_tail;
	unsigned int nheld;
	struct pending *pend, *pend_tail;
	uint8_t *buf;			/* one packet, VMBUS_MAX_PACKET_SIZE */
	struct sp_chan *next;		/* in ctrl->chans */
	struct storvsp_io io;
};

struct sp_ctrl {
	struct storvsp *sv;
	struct storvsp_ctrl engine;
	struct vsp_ops ops;		/* sv's, with this controller's class */
	struct vmbus_device *dev;	/* NULL once released */
	guid_t instance;

	pthread_mutex_t lock;		/* the fields below */
	struct sp_chan *chans;
	unsigned int notify;		/* NOTIFY_* for the primary worker */
	bool hung;
	uint64_t reset_gen;
	unsigned int offer_want;	/* sub-channels asked for */
	bool offer_queued;
};

struct storvsp {
	struct storvsp_config cfg;
	struct vsp_ops ops;
	struct sp_ctrl *ctrls[STORVSP_MAX_CONTROLLERS];
	unsigned int next_disk_id;
	struct log_ratelimit rl;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- workers ----------------------------------------------------------- */

static void wake(struct sp_chan *sc)
{
	uint64_t one = 1;

	/* A full counter already means "wake up". */
	if (write(sc->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(&sc->ctrl->sv->rl, "storvsp: eventfd: %s",
				strerror(errno));
}

static void wake_all(struct sp_ctrl *c)
{
	pthread_mutex_lock(&c->lock);
	for (struct sp_chan *sc = c->chans; sc; sc = sc->next)
		wake(sc);
	pthread_mutex_unlock(&c->lock);
}

static void *gpa_from_mem(void *ctx, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(ctx, gpa, len);
}

static void *gpa_from_channel(void *ctx, uint64_t gpa, uint64_t len)
{
	return channel_gpa_ptr(ctx, gpa, len);
}

/* Send now, or queue behind earlier sends that are waiting for room. */
static void send_packet(struct sp_chan *sc, uint16_t type, uint64_t trans_id,
			const void *data, uint32_t len)
{
	struct pending *p;
	int r = -EAGAIN;

	if (!sc->pend) {
		if (type == VM_PKT_COMP)
			r = channel_send_completion(sc->ch, trans_id, data, len);
		else
			r = channel_send(sc->ch, type, 0, trans_id, data, len);
		if (r != -EAGAIN)
			return;		/* sent, or the channel is dead */
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		log_ratelimited(&sc->ctrl->sv->rl,
				"storvsp: completion dropped: out of memory");
		return;
	}
	p->type = type;
	p->trans_id = trans_id;
	p->len = len;
	memcpy(p->data, data, len);
	if (sc->pend_tail)
		sc->pend_tail->next = p;
	else
		sc->pend = p;
	sc->pend_tail = p;
}

/* Retry queued sends; true when none is left waiting. */
static bool flush_pending(struct sp_chan *sc)
{
	while (sc->pend) {
		struct pending *p = sc->pend;
		int r;

		if (p->type == VM_PKT_COMP)
			r = channel_send_completion(sc->ch, p->trans_id,
						    p->data, p->len);
		else
			r = channel_send(sc->ch, p->type, 0, p->trans_id,
					 p->data, p->len);
		if (r == -EAGAIN)
			return false;
		sc->pend = p->next;
		if (!sc->pend)
			sc->pend_tail = NULL;
		free(p);
	}
	return true;
}

static void send_reply(struct sp_chan *sc, const struct storvsp_reply *r)
{
	send_packet(sc, VM_PKT_COMP, r->trans_id, r->data, r->len);
}

static void held_append(struct sp_chan *sc, struct held *h)
{
	h->next = NULL;
	if (sc->held_tail)
		sc->held_tail->next = h;
	else
		sc->held = h;
	sc->held_tail = h;
	sc->nheld++;
}

static void hold_packet(struct sp_chan *sc, const struct vmpacket_descriptor *desc,
			const uint8_t *body, uint32_t len, bool hung,
			const struct storvsp_reply *hold)
{
	struct held *h = malloc(sizeof(*h) + len);

	if (!h) {
		log_ratelimited(&sc->ctrl->sv->rl,
				"storvsp: packet dropped: out of memory");
		return;
	}
	memset(h, 0, sizeof(*h));
	h->hung = hung;
	if (hold)
		h->hold = *hold;
	h->desc = *desc;
	h->len = len;
	memcpy(h->body, body, len);
	held_append(sc, h);
}

/* A reset: every held command completes as aborted, in order. */
static void abort_held(struct sp_chan *sc)
{
	struct held *h = sc->held;

	sc->held = sc->held_tail = NULL;
	sc->nheld = 0;
	while (h) {
		struct held *next = h->next;
		struct storvsp_reply r;

		if (storvsp_abort_packet(&sc->ctrl->engine, &h->desc, h->body,
					 h->len, &r) == STORVSP_ACT_REPLY)
			send_reply(sc, &r);
		free(h);
		h = next;
	}
}

static void offer_on_loop(void *arg)
{
	struct sp_ctrl *c = arg;
	unsigned int want, have;
	struct vmbus_device *dev;

	pthread_mutex_lock(&c->lock);
	want = c->offer_want;
	c->offer_queued = false;
	dev = c->dev;
	pthread_mutex_unlock(&c->lock);
	if (!dev)
		return;
	/* A reloaded guest driver asks again for what it already has. */
	have = vmbus_server_device_channels(dev);
	have = have ? have - 1 : 0;
	if (want > have) {
		int r = vmbus_server_offer_subchannels(dev, want - have);

		if (r)
			log_msg("storvsp%u: offering %u sub-channels: %s",
				c->engine.index, want - have, strerror(-r));
	}
}

static void request_subchannels(struct sp_chan *sc, unsigned int n)
{
	struct sp_ctrl *c = sc->ctrl;
	bool queue;

	pthread_mutex_lock(&c->lock);
	if (n > c->offer_want)
		c->offer_want = n;
	queue = !c->offer_queued;
	c->offer_queued = true;
	pthread_mutex_unlock(&c->lock);
	/* Workers never call the server: the loop thread makes the offer. */
	if (queue && loop_defer(c->sv->cfg.loop, offer_on_loop, c)) {
		pthread_mutex_lock(&c->lock);
		c->offer_queued = false;
		pthread_mutex_unlock(&c->lock);
		log_msg("storvsp%u: cannot queue the sub-channel offer",
			c->engine.index);
	}
}

static void process(struct sp_chan *sc, const struct vmpacket_descriptor *desc,
		    const uint8_t *body, uint32_t len, unsigned int flags)
{
	struct sp_ctrl *c = sc->ctrl;
	enum storvsp_action act;
	struct storvsp_reply r;
	bool hung;

	pthread_mutex_lock(&c->lock);
	hung = c->hung;
	pthread_mutex_unlock(&c->lock);
	if (hung) {
		hold_packet(sc, desc, body, len, true, NULL);
		return;
	}
	if (desc->type == VM_PKT_COMP)
		return;		/* we never ask the guest for completions */

	act = storvsp_handle_packet(&c->engine, sc->primary, desc, body, len,
				    flags, mono_ns(), &sc->io, &r);
	if (act == STORVSP_ACT_HOLD) {
		hold_packet(sc, desc, body, len, false, &r);
		return;
	}
	if (r.reset) {
		uint64_t gen;

		pthread_mutex_lock(&c->lock);
		gen = ++c->reset_gen;
		pthread_mutex_unlock(&c->lock);
		sc->seen_reset_gen = gen;
		abort_held(sc);
		wake_all(c);
	}
	if (r.offer_subchannels)
		request_subchannels(sc, r.offer_subchannels);
	if (act == STORVSP_ACT_REPLY)
		send_reply(sc, &r);
}

/* Run held packets whose time has come, keeping the others in order. */
static void run_held(struct sp_chan *sc)
{
	struct held *h = sc->held;
	uint64_t now = mono_ns();

	sc->held = sc->held_tail = NULL;
	sc->nheld = 0;
	while (h) {
		struct held *next = h->next;
		bool hung;

		pthread_mutex_lock(&sc->ctrl->lock);
		hung = sc->ctrl->hung;
		pthread_mutex_unlock(&sc->ctrl->lock);
		if (hung || (!h->hung &&
			     !storvsp_hold_expired(&sc->ctrl->engine, &h->hold,
						   now))) {
			held_append(sc, h);
		} else {
			process(sc, &h->desc, h->body, h->len,
				h->hung ? 0 : STORVSP_NO_STALL);
			free(h);
		}
		h = next;
	}
}

static void send_notifications(struct sp_chan *sc)
{
	struct sp_ctrl *c = sc->ctrl;
	uint8_t buf[VSTOR_PACKET_SIZE];
	unsigned int notify;
	uint32_t len;

	pthread_mutex_lock(&c->lock);
	notify = c->notify;
	c->notify = 0;
	pthread_mutex_unlock(&c->lock);
	if (!(notify & NOTIFY_ENUMERATE))
		return;
	/* Not initialised yet: the guest scans the bus when it is. */
	len = storvsp_build_notification(&c->engine,
					 VSTOR_OPERATION_ENUMERATE_BUS, buf);
	if (len) {
		TRACE("storvsp%u: ENUMERATE_BUS", c->engine.index);
		send_packet(sc, VM_PKT_DATA_INBAND, 0, buf, len);
	}
}

/* One pass: everything the worker can do without waiting. */
static void work(struct sp_chan *sc)
{
	struct sp_ctrl *c = sc->ctrl;
	uint64_t gen;

	if (!flush_pending(sc))
		return;
	pthread_mutex_lock(&c->lock);
	gen = c->reset_gen;
	pthread_mutex_unlock(&c->lock);
	if (gen != sc->seen_reset_gen) {
		sc->seen_reset_gen = gen;
		abort_held(sc);
	}
	if (sc->primary)
		send_notifications(sc);
	if (sc->held)
		run_held(sc);

	while (!__atomic_load_n(&sc->stop, __ATOMIC_ACQUIRE) && !sc->pend &&
	       sc->nheld < STORVSP_MAX_HELD) {
		struct vmpacket_descriptor desc;
		uint32_t len = 0;
		int r;

		r = channel_recv(sc->ch, &desc, sc->buf, VMBUS_MAX_PACKET_SIZE,
				 &len);
		if (r == -EAGAIN || r == -EPIPE)
			break;
		if (r == -ENOBUFS) {
			/* Larger than any ring packet can be: a broken guest. */
			channel_mark_broken(sc->ch, "storvsp: oversized packet");
			break;
		}
		if (r) {
			log_ratelimited(&c->sv->rl, "storvsp%u: receive: %s",
					c->engine.index, strerror(-r));
			break;
		}
		process(sc, &desc, sc->buf, len, 0);
	}
}

/* Milliseconds until the first timed hold ends; -1 if none. */
static int next_timeout_ms(struct sp_chan *sc)
{
	uint64_t now = mono_ns(), first = UINT64_MAX;
	int ms;

	if (sc->pend)
		return STORVSP_SEND_RETRY_MS;
	for (struct held *h = sc->held; h; h = h->next)
		if (!h->hung && h->hold.hold_until_ns < first)
			first = h->hold.hold_until_ns;
	if (first == UINT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	ms = (int)((first - now + 999999) / 1000000);
	return ms > 0 ? ms : 1;
}

static void *worker_main(void *arg)
{
	struct sp_chan *sc = arg;

	while (!__atomic_load_n(&sc->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = { .fd = sc->efd, .events = POLLIN };
		uint64_t count;

		work(sc);
		if (__atomic_load_n(&sc->stop, __ATOMIC_ACQUIRE))
			break;
		if (poll(&pfd, 1, next_timeout_ms(sc)) < 0 && errno != EINTR) {
			log_msg("storvsp: poll: %s", strerror(errno));
			break;
		}
		if (read(sc->efd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN)
			log_msg("storvsp: eventfd read: %s", strerror(errno));
	}
	return NULL;
}

static void chan_free(struct sp_chan *sc)
{
	while (sc->held) {
		struct held *h = sc->held;

		sc->held = h->next;
		free(h);
	}
	while (sc->pend) {
		struct pending *p = sc->pend;

		sc->pend = p->next;
		free(p);
	}
	if (sc->efd >= 0)
		close(sc->efd);
	free(sc->buf);
	free(sc);
}

/* --- VMBus callbacks (loop thread, server lock held) ------------------- */

static int sp_open(struct channel *ch, void *ctx)
{
	struct sp_ctrl *c = ctx;
	struct sp_chan *sc;
	int r;

	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->ctrl = c;
	sc->ch = ch;
	sc->primary = channel_subchannel_index(ch) == 0;
	sc->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sc->buf = malloc(VMBUS_MAX_PACKET_SIZE);
	if (sc->efd < 0 || !sc->buf) {
		r = sc->efd < 0 ? -errno : -ENOMEM;
		chan_free(sc);
		return r;
	}
	if (c->sv->cfg.mem) {
		sc->io.gpa = gpa_from_mem;
		sc->io.gpa_ctx = c->sv->cfg.mem;
	} else {
		sc->io.gpa = gpa_from_channel;
		sc->io.gpa_ctx = ch;
	}
	if (sc->primary)
		storvsp_ctrl_reset_state(&c->engine);

	pthread_mutex_lock(&c->lock);
	sc->seen_reset_gen = c->reset_gen;
	pthread_mutex_unlock(&c->lock);
	channel_set_priv(ch, sc);
	r = -pthread_create(&sc->thread, NULL, worker_main, sc);
	if (r) {
		log_msg("storvsp%u: worker thread: %s", c->engine.index,
			strerror(-r));
		channel_set_priv(ch, NULL);
		chan_free(sc);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	sc->next = c->chans;
	c->chans = sc;
	pthread_mutex_unlock(&c->lock);
	TRACE("storvsp%u: channel %u open (%s)", c->engine.index,
	      channel_relid(ch), sc->primary ? "primary" : "sub-channel");
	return 0;
}

static void sp_on_signal(struct channel *ch, void *ctx)
{
	struct sp_chan *sc = channel_get_priv(ch);

	(void)ctx;
	if (sc)
		wake(sc);
}

static void sp_close(struct channel *ch, void *ctx)
{
	struct sp_ctrl *c = ctx;
	struct sp_chan *sc = channel_get_priv(ch), **pp;

	if (!sc)
		return;
	pthread_mutex_lock(&c->lock);
	for (pp = &c->chans; *pp; pp = &(*pp)->next) {
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	__atomic_store_n(&sc->stop, true, __ATOMIC_RELEASE);
	wake(sc);
	pthread_join(sc->thread, NULL);
	channel_set_priv(ch, NULL);
	if (sc->primary)
		storvsp_ctrl_reset_state(&c->engine);
	TRACE("storvsp%u: channel %u closed (%u held dropped)",
	      c->engine.index, channel_relid(ch), sc->nheld);
	chan_free(sc);
}

static void sp_release(void *ctx)
{
	struct sp_ctrl *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->dev = NULL;
	pthread_mutex_unlock(&c->lock);
}

/* --- controllers and disks --------------------------------------------- */

static const char *kind_name(enum storvsp_kind kind)
{
	switch (kind) {
	case STORVSP_KIND_IDE:
		return "IDE";
	case STORVSP_KIND_FC:
		return "FC";
	default:
		return "SCSI";
	}
}

static struct sp_ctrl *ctrl_new(struct storvsp *sv, unsigned int index,
				enum storvsp_kind kind)
{
	uint16_t subs = sv->cfg.nr_vps > STORVSP_MAX_SUBCHANNELS ?
			STORVSP_MAX_SUBCHANNELS : (uint16_t)sv->cfg.nr_vps;
	struct sp_ctrl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sv = sv;
	if (storvsp_ctrl_init(&c->engine, index, subs)) {
		free(c);
		return NULL;
	}
	if (pthread_mutex_init(&c->lock, NULL)) {
		storvsp_ctrl_fini(&c->engine);
		free(c);
		return NULL;
	}
	storvsp_ctrl_set_kind(&c->engine, kind, (uint16_t)(index % 2));
	c->ops = sv->ops;
	switch (kind) {
	case STORVSP_KIND_IDE:
		/*
		 * As Hyper-V names IDE disks: the path in the first field,
		 * the target in the second (channel index / 2, index % 2).
		 */
		c->ops.class = VMBUS_CLASS_IDE;
		c->instance = GUID_INIT(index / 2, (uint16_t)(index % 2), 0x8899,
					0, 0, 0, 0, 0, 0, 0, 0);
		break;
	case STORVSP_KIND_FC:
		c->ops.class = VMBUS_CLASS_FC;
		c->instance = GUID_INIT(0x2f9bcc4au + index, 0x0069, 0x4af3,
					0xb7, 0x6b, 0x6f, 0xd0, 0xbe, 0x52,
					0x8c, 0xda);
		break;
	default:
		/* Hyper-V's SCSI controllers are f8b3781a-..., f8b3781b-... */
		c->instance = GUID_INIT(0xf8b3781au + index, 0x1e82, 0x4818,
					0xa1, 0xc3, 0x63, 0xd8, 0x06, 0xec,
					0x15, 0xbb);
		break;
	}
	return c;
}

static void ctrl_free(struct sp_ctrl *c)
{
	storvsp_ctrl_fini(&c->engine);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Register the controller's device with the server (offered when due). */
static int ctrl_register(struct storvsp *sv, struct sp_ctrl *c)
{
	struct vmbus_device *dev;

	dev = vmbus_server_add_device(sv->cfg.srv, &c->ops, &c->instance, c);
	if (!dev)
		return -ENOSPC;
	pthread_mutex_lock(&c->lock);
	c->dev = dev;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void ctrl_notify(struct sp_ctrl *c)
{
	pthread_mutex_lock(&c->lock);
	c->notify |= NOTIFY_ENUMERATE;
	for (struct sp_chan *sc = c->chans; sc; sc = sc->next)
		if (sc->primary)
			wake(sc);
	pthread_mutex_unlock(&c->lock);
}

static int attach_disk(struct storvsp *sv, struct sp_ctrl *c,
		       const struct storvsp_disk_spec *spec, char *err,
		       size_t errlen)
{
	struct scsi_disk *d;
	int lun = spec->lun, r;

	if (spec->kind_given && spec->kind != c->engine.kind) {
		set_err(err, errlen, "controller %u is %s, not %s",
			c->engine.index, kind_name(c->engine.kind),
			kind_name(spec->kind));
		return -EINVAL;
	}
	if (c->engine.kind == STORVSP_KIND_IDE) {
		/* An IDE channel's disk: one, at LUN 0. */
		if (lun > 0 || storvsp_ctrl_free_lun(&c->engine) != 0) {
			set_err(err, errlen,
				"IDE controller %u holds one disk, at LUN 0",
				c->engine.index);
			return -ENOSPC;
		}
	}
	if (lun < 0)
		lun = storvsp_ctrl_free_lun(&c->engine);
	if (lun < 0) {
		set_err(err, errlen, "controller %u has no free LUN",
			c->engine.index);
		return -ENOSPC;
	}
	d = scsi_disk_open(spec->path, spec->sector_size, spec->ro, err,
			   errlen);
	if (!d)
		return -EINVAL;
	r = storvsp_ctrl_attach(&c->engine, (unsigned int)lun,
				sv->next_disk_id, d);
	if (r) {
		scsi_disk_close(d);
		set_err(err, errlen, "controller %u LUN %d: %s",
			c->engine.index, lun,
			r == -EEXIST ? "already in use" : strerror(-r));
		return r;
	}
	return (int)sv->next_disk_id++;
}

int storvsp_add_disk(struct storvsp *sv, const struct storvsp_disk_spec *spec,
		     char *err, size_t errlen)
{
	struct sp_ctrl *c;
	bool created = false;
	int id, r;

	if (spec->controller >= STORVSP_MAX_CONTROLLERS) {
		set_err(err, errlen, "no controller %u", spec->controller);
		return -EINVAL;
	}
	c = sv->ctrls[spec->controller];
	if (!c) {
		c = ctrl_new(sv, spec->controller, spec->kind);
		if (!c) {
			set_err(err, errlen, "out of memory");
			return -ENOMEM;
		}
		created = true;
	}
	id = attach_disk(sv, c, spec, err, errlen);
	if (id < 0) {
		if (created)
			ctrl_free(c);
		return id;
	}
	if (created) {
		/* A new controller is a hot-added device: the offer says it all. */
		r = ctrl_register(sv, c);
		if (r) {
			set_err(err, errlen, "cannot offer controller %u",
				spec->controller);
			ctrl_free(c);
			return r;
		}
		sv->ctrls[spec->controller] = c;
	} else {
		ctrl_notify(c);
	}
	return id;
}

/* Find disk number id: its controller and a reference to its LUN. */
static struct storvsp_lun *find_disk(struct storvsp *sv, unsigned long long id,
				     struct sp_ctrl **ctrl)
{
	for (unsigned int i = 0; i < STORVSP_MAX_CONTROLLERS; i++) {
		struct sp_ctrl *c = sv->ctrls[i];

		if (!c)
			continue;
		for (unsigned int lun = 0; lun < STORVSP_MAX_LUNS; lun++) {
			struct storvsp_lun *l = storvsp_ctrl_get(&c->engine, lun);

			if (l && l->id == id) {
				*ctrl = c;
				return l;
			}
			storvsp_ctrl_put(&c->engine, l);
		}
	}
	return NULL;
}

int storvsp_setup(const struct storvsp_config *cfg,
		  const struct storvsp_disk_spec *disks, size_t n,
		  struct storvsp **out, char *err, size_t errlen)
{
	struct storvsp *sv;
	int r;

	*out = NULL;
	if (!cfg || !cfg->srv || !cfg->loop || (n && !disks)) {
		set_err(err, errlen, "storvsp: no VMBus server or loop");
		return -EINVAL;
	}
	sv = calloc(1, sizeof(*sv));
	if (!sv) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sv->cfg = *cfg;
	sv->ops.name = "storvsp";
	sv->ops.class = VMBUS_CLASS_SCSI;
	/* Plain event signalling: the monitor page would add up to 1 ms. */
	sv->ops.use_monitor = false;
	sv->ops.open = sp_open;
	sv->ops.on_signal = sp_on_signal;
	sv->ops.close = sp_close;
	sv->ops.release = sp_release;

	/* Open every disk first, so a bad one registers nothing. */
	for (size_t i = 0; i < n; i++) {
		unsigned int idx = disks[i].controller;

		if (idx >= STORVSP_MAX_CONTROLLERS) {
			set_err(err, errlen, "no controller %u", idx);
			storvsp_destroy(sv);
			return -EINVAL;
		}
		if (!sv->ctrls[idx]) {
			sv->ctrls[idx] = ctrl_new(sv, idx, disks[i].kind);
			if (!sv->ctrls[idx]) {
				set_err(err, errlen, "out of memory");
				storvsp_destroy(sv);
				return -ENOMEM;
			}
		}
		r = attach_disk(sv, sv->ctrls[idx], &disks[i], err, errlen);
		if (r < 0) {
			storvsp_destroy(sv);
			return r;
		}
	}
	if (cfg->ctl) {
		r = ctl_register(cfg->ctl, "disk", storvsp_ctl_disk, sv);
		if (!r)
			r = ctl_register_help(cfg->ctl, "disk",
					      "disk list|add SPEC|remove N|resize N SIZE|fault N medium LBA COUNT|stall MS|release|hang|clear");
		if (r) {
			/* The command may be registered: sv must outlive ctl. */
			set_err(err, errlen, "cannot register ctl command: %s",
				strerror(-r));
			*out = sv;
			return r;
		}
	}
	/*
	 * From the first registration on, the server and ctl hold pointers
	 * into sv: on failure the caller still gets it, to destroy after
	 * the server.
	 */
	*out = sv;
	for (unsigned int i = 0; i < STORVSP_MAX_CONTROLLERS; i++) {
		if (!sv->ctrls[i])
			continue;
		r = ctrl_register(sv, sv->ctrls[i]);
		if (r) {
			set_err(err, errlen, "cannot offer controller %u", i);
			return r;
		}
	}
	return 0;
}

void storvsp_destroy(struct storvsp *sv)
{
	if (!sv)
		return;
	for (unsigned int i = 0; i < STORVSP_MAX_CONTROLLERS; i++)
		if (sv->ctrls[i])
			ctrl_free(sv->ctrls[i]);
	free(sv);
}

/* --- the `disk` control command (loop thread) -------------------------- */

static int ctl_list(struct storvsp *sv, FILE *reply)
{
	fprintf(reply, "# N ctl lun sector ro blocks path\n");
	for (unsigned int i = 0; i < STORVSP_MAX_CONTROLLERS; i++) {
		struct sp_ctrl *c = sv->ctrls[i];

		if (!c)
			continue;
		for (unsigned int lun = 0; lun < STORVSP_MAX_LUNS; lun++) {
			struct storvsp_lun *l = storvsp_ctrl_get(&c->engine, lun);

			if (!l)
				continue;
			fprintf(reply, "%u %u %u %u %s %" PRIu64 " %s\n", l->id,
				i, lun, scsi_disk_sector_size(l->disk),
				scsi_disk_read_only(l->disk) ? "ro" : "rw",
				scsi_disk_blocks(l->disk),
				scsi_disk_path(l->disk));
			storvsp_ctrl_put(&c->engine, l);
		}
	}
	return 0;
}

static int ctl_fault(struct storvsp *sv, struct sp_ctrl *c,
		     struct storvsp_lun *l, int argc, char **argv, FILE *reply)
{
	const char *what = argv[3];
	unsigned long long a, b;

	if (strcmp(what, "medium") == 0 && argc == 6) {
		if (storvsp_parse_uint(argv[4], UINT64_MAX, &a) ||
		    storvsp_parse_uint(argv[5], UINT64_MAX, &b) || !b) {
			fprintf(reply, "bad LBA or count\n");
			return -1;
		}
		if (scsi_disk_fault_medium(l->disk, a, b)) {
			fprintf(reply, "cannot add the medium error\n");
			return -1;
		}
	} else if (strcmp(what, "stall") == 0 && argc == 5) {
		if (storvsp_parse_uint(argv[4], 24u * 3600u * 1000u, &a)) {
			fprintf(reply, "bad milliseconds\n");
			return -1;
		}
		scsi_disk_fault_stall(l->disk, (unsigned int)a);
	} else if (strcmp(what, "release") == 0 && argc == 4) {
		scsi_disk_fault_release(l->disk);
		wake_all(c);
	} else if (strcmp(what, "hang") == 0 && argc == 4) {
		pthread_mutex_lock(&c->lock);
		c->hung = true;
		pthread_mutex_unlock(&c->lock);
	} else if (strcmp(what, "clear") == 0 && argc == 4) {
		scsi_disk_fault_clear(l->disk);
		pthread_mutex_lock(&c->lock);
		c->hung = false;
		pthread_mutex_unlock(&c->lock);
		wake_all(c);
	} else {
		fprintf(reply, "usage: disk fault N medium LBA COUNT|stall MS|release|hang|clear\n");
		return -1;
	}
	(void)sv;
	return 0;
}

int storvsp_ctl_disk(void *ctx, int argc, char **argv, FILE *reply)
{
	struct storvsp *sv = ctx;
	struct sp_ctrl *c = NULL;
	struct storvsp_lun *l;
	unsigned long long id;
	char err[256];
	int r = -1;

	if (argc >= 2 && strcmp(argv[1], "list") == 0 && argc == 2)
		return ctl_list(sv, reply);
	if (argc == 3 && strcmp(argv[1], "add") == 0) {
		struct storvsp_disk_spec spec;

		if (storvsp_parse_disk_option(argv[2], &spec, err, sizeof(err))) {
			fprintf(reply, "%s\n", err);
			return -1;
		}
		r = storvsp_add_disk(sv, &spec, err, sizeof(err));
		if (r < 0) {
			fprintf(reply, "%s\n", err);
			return -1;
		}
		fprintf(reply, "%d\n", r);
		return 0;
	}
	if (argc < 3 || storvsp_parse_uint(argv[2], UINT_MAX, &id)) {
		fprintf(reply, "usage: disk list|add SPEC|remove N|resize N SIZE|fault N ...\n");
		return -1;
	}
	l = find_disk(sv, id, &c);
	if (!l) {
		fprintf(reply, "no disk %llu\n", id);
		return -1;
	}
	if (strcmp(argv[1], "remove") == 0 && argc == 3) {
		unsigned int lun = l->lun;

		storvsp_ctrl_put(&c->engine, l);
		l = NULL;
		r = storvsp_ctrl_detach(&c->engine, lun);
		if (!r)
			ctrl_notify(c);
	} else if (strcmp(argv[1], "resize") == 0 && argc == 4) {
		uint64_t bytes;

		if (storvsp_parse_size(argv[3], &bytes)) {
			fprintf(reply, "bad size '%s'\n", argv[3]);
		} else if (scsi_disk_resize(l->disk, bytes, err, sizeof(err))) {
			fprintf(reply, "%s\n", err);
		} else {
			r = 0;
			/* The rescan's commands meet the unit attention. */
			ctrl_notify(c);
		}
	} else if (strcmp(argv[1], "fault") == 0 && argc >= 4) {
		r = ctl_fault(sv, c, l, argc, argv, reply);
	} else {
		fprintf(reply, "usage: disk list|add SPEC|remove N|resize N SIZE|fault N ...\n");
	}
	storvsp_ctrl_put(&c->engine, l);
	return r ? -1 : 0;
}
