/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hvsim's event loop: one thread runs it; fd callbacks, timerfd timers and
 * deferred calls all run on that thread, so the state they touch needs no
 * locks. Other threads talk to the loop only through loop_defer(),
 * loop_wake() and loop_stop(), which are thread-safe (an eventfd wakes the
 * loop).
 */
#ifndef HVSIM_CORE_LOOP_H
#define HVSIM_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>	/* EPOLL* event bits */

struct loop;
struct loop_timer;

/* events: the EPOLL* bits that fired. */
typedef void (*loop_fd_fn)(void *ctx, int fd, uint32_t events);
typedef void (*loop_timer_fn)(void *ctx);
typedef void (*loop_call_fn)(void *ctx);

struct loop *loop_new(void);
/* Frees the loop, its timers and pending deferred calls (never run). */
void loop_free(struct loop *l);

/*
 * Watch fd for events (EPOLLIN, EPOLLOUT...). The loop does not own fd.
 * One registration per fd. Returns 0 or -errno.
 */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *ctx);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
/* Safe from inside any callback, including fd's own. */
int loop_del_fd(struct loop *l, int fd);

/* A disarmed timer; NULL on failure. */
struct loop_timer *loop_timer_new(struct loop *l, loop_timer_fn fn, void *ctx);
/* First expiry after first_ns, then every interval_ns (0: one shot). */
int loop_timer_arm(struct loop_timer *t, uint64_t first_ns, uint64_t interval_ns);
void loop_timer_disarm(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);
/* Safe from inside the timer's own callback. */
void loop_timer_free(struct loop_timer *t);

/*
 * Run fn(ctx) on the loop thread at its next iteration. Thread-safe; calls
 * run in the order queued. Returns 0 or -ENOMEM.
 */
int loop_defer(struct loop *l, loop_call_fn fn, void *ctx);
/* Make a blocked loop_run() iteration return promptly. Thread-safe. */
void loop_wake(struct loop *l);

/* Dispatch until loop_stop(). Returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
/* One iteration, waiting at most timeout_ms (-1: forever). For tests. */
int loop_run_once(struct loop *l, int timeout_ms);
/* Thread-safe; loop_run() returns after the current iteration. */
void loop_stop(struct loop *l);

#endif /* HVSIM_CORE_LOOP_H */
