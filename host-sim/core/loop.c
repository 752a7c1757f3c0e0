// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "core/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum source_kind { SOURCE_FD, SOURCE_TIMER, SOURCE_WAKE };

struct loop_source {
	enum source_kind kind;
	int fd;
	loop_fd_fn fn;
	void *ctx;
	/*
	 * Removed sources stay allocated until the current epoll batch is
	 * done, because later events of the batch may still point at them.
	 */
	bool dead;
	struct loop_source *next;
};

struct loop_timer {
	struct loop_source src;		/* first: events carry &src */
	struct loop *loop;
	loop_timer_fn fn;
	void *ctx;
	bool armed;
};

struct deferred_call {
	loop_call_fn fn;
	void *ctx;
	struct deferred_call *next;
};

struct loop {
	int epfd;
	int wakefd;
	struct loop_source wake_src;
	struct loop_source *sources;	/* live fd sources */
	struct loop_source *zombies;	/* removed during this batch */
	bool stopping;

	pthread_mutex_t defer_lock;
	struct deferred_call *defer_head;
	struct deferred_call **defer_tail;
};

struct loop *loop_new(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wakefd < 0)
		goto fail;
	l->wake_src.kind = SOURCE_WAKE;
	l->wake_src.fd = l->wakefd;
	ev.data.ptr = &l->wake_src;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
		goto fail;
	if (pthread_mutex_init(&l->defer_lock, NULL) != 0)
		goto fail;
	l->defer_tail = &l->defer_head;
	return l;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return NULL;
}

static void free_source(struct loop_source *s)
{
	if (s->kind == SOURCE_TIMER) {
		struct loop_timer *t = (struct loop_timer *)s;

		close(s->fd);
		free(t);
	} else {
		free(s);
	}
}

static void reap_zombies(struct loop *l)
{
	while (l->zombies) {
		struct loop_source *s = l->zombies;

		l->zombies = s->next;
		free_source(s);
	}
}

void loop_free(struct loop *l)
{
	struct deferred_call *c;

	if (!l)
		return;
	reap_zombies(l);
	while (l->sources) {
		struct loop_source *s = l->sources;

		l->sources = s->next;
		free_source(s);
	}
	while ((c = l->defer_head)) {
		l->defer_head = c->next;
		free(c);
	}
	pthread_mutex_destroy(&l->defer_lock);
	close(l->wakefd);
	close(l->epfd);
	free(l);
}

static struct loop_source *find_fd_source(struct loop *l, int fd)
{
	struct loop_source *s;

	for (s = l->sources; s; s = s->next)
		if (s->kind == SOURCE_FD && s->fd == fd)
			return s;
	return NULL;
}

static void unlink_source(struct loop *l, struct loop_source *victim)
{
	struct loop_source **pp;

	for (pp = &l->sources; *pp; pp = &(*pp)->next) {
		if (*pp == victim) {
			*pp = victim->next;
			break;
		}
	}
	victim->dead = true;
	victim->next = l->zombies;
	l->zombies = victim;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = events };
	struct loop_source *s;

	if (fd < 0 || !fn)
		return -EINVAL;
	if (find_fd_source(l, fd))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->kind = SOURCE_FD;
	s->fd = fd;
	s->fn = fn;
	s->ctx = ctx;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(s);
		return err;
	}
	s->next = l->sources;
	l->sources = s;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct loop_source *s = find_fd_source(l, fd);
	struct epoll_event ev = { .events = events };

	if (!s)
		return -ENOENT;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int loop_del_fd(struct loop *l, int fd)
{
	struct loop_source *s = find_fd_source(l, fd);

	if (!s)
		return -ENOENT;
	/* The fd may already be closed by its owner; the source goes anyway. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	unlink_source(l, s);
	return 0;
}

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct loop_timer *t;

	if (!fn)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->src.kind = SOURCE_TIMER;
	t->src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->src.fd < 0) {
		free(t);
		return NULL;
	}
	t->loop = l;
	t->fn = fn;
	t->ctx = ctx;
	ev.data.ptr = &t->src;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, t->src.fd, &ev) < 0) {
		close(t->src.fd);
		free(t);
		return NULL;
	}
	t->src.next = l->sources;
	l->sources = &t->src;
	return t;
}

static struct timespec ns_to_timespec(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};
	return ts;
}

int loop_timer_arm(struct loop_timer *t, uint64_t first_ns, uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_value = ns_to_timespec(first_ns ? first_ns : 1),
		.it_interval = ns_to_timespec(interval_ns),
	};

	if (timerfd_settime(t->src.fd, 0, &its, NULL) < 0)
		return -errno;
	t->armed = true;
	return 0;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct itimerspec its = { 0 };
	uint64_t expirations;

	timerfd_settime(t->src.fd, 0, &its, NULL);
	/* Drop an expiry that fired but was not dispatched yet. */
	if (read(t->src.fd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: nothing pending, the usual case. */
	}
	t->armed = false;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->armed;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	epoll_ctl(t->loop->epfd, EPOLL_CTL_DEL, t->src.fd, NULL);
	unlink_source(t->loop, &t->src);
}

int loop_defer(struct loop *l, loop_call_fn fn, void *ctx)
{
	struct deferred_call *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	c->next = NULL;
	pthread_mutex_lock(&l->defer_lock);
	*l->defer_tail = c;
	l->defer_tail = &c->next;
	pthread_mutex_unlock(&l->defer_lock);
	loop_wake(l);
	return 0;
}

void loop_wake(struct loop *l)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: the loop is awake anyway. */
	if (write(l->wakefd, &one, sizeof(one)) < 0) {
		/* nothing else to do */
	}
}

void loop_stop(struct loop *l)
{
	__atomic_store_n(&l->stopping, true, __ATOMIC_RELEASE);
	loop_wake(l);
}

static void run_deferred(struct loop *l)
{
	struct deferred_call *batch;

	pthread_mutex_lock(&l->defer_lock);
	batch = l->defer_head;
	l->defer_head = NULL;
	l->defer_tail = &l->defer_head;
	pthread_mutex_unlock(&l->defer_lock);

	while (batch) {
		struct deferred_call *c = batch;

		batch = c->next;
		c->fn(c->ctx);
		free(c);
	}
}

static void dispatch(struct loop_source *s, uint32_t events)
{
	uint64_t count;

	switch (s->kind) {
	case SOURCE_WAKE:
		if (read(s->fd, &count, sizeof(count)) < 0) {
			/* EAGAIN: another wake already drained it */
		}
		break;
	case SOURCE_TIMER: {
		struct loop_timer *t = (struct loop_timer *)s;
		struct itimerspec cur;

		if (read(s->fd, &count, sizeof(count)) != sizeof(count))
			break;	/* disarmed or re-armed since the event */
		if (timerfd_gettime(s->fd, &cur) == 0 &&
		    cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0)
			t->armed = false;
		t->fn(t->ctx);
		break;
	}
	case SOURCE_FD:
		s->fn(s->ctx, s->fd, events);
		break;
	}
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event events[32];
	bool have_deferred;
	int n, i;

	pthread_mutex_lock(&l->defer_lock);
	have_deferred = l->defer_head != NULL;
	pthread_mutex_unlock(&l->defer_lock);

	n = epoll_wait(l->epfd, events, 32, have_deferred ? 0 : timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (i = 0; i < n; i++) {
		struct loop_source *s = events[i].data.ptr;

		if (!s->dead)
			dispatch(s, events[i].events);
	}
	run_deferred(l);
	reap_zombies(l);
	return 0;
}

int loop_run(struct loop *l)
{
	int err = 0;

	while (!__atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE)) {
		err = loop_run_once(l, -1);
		if (err)
			break;
	}
	__atomic_store_n(&l->stopping, false, __ATOMIC_RELEASE);
	return err;
}
