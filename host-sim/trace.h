/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The --trace sink: one line per event (every VMBus message, every channel
 * packet, every trap), each with a monotonic timestamp in seconds since the
 * trace was opened. Callable from any thread.
 *
 * Call sites should use TRACE(...): when tracing is off it costs one load
 * and a predictable branch, and the arguments are not evaluated.
 */
#ifndef HVSIM_TRACE_H
#define HVSIM_TRACE_H

#include <stdbool.h>

extern bool trace_on;

/* Open FILE ("-" is stderr) for appending trace lines. 0 or -errno. */
int trace_open(const char *path);
void trace_close(void);

/* Write one event line; a missing trailing newline is added. */
void trace_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TRACE(...)						\
	do {							\
		if (__builtin_expect(trace_on, 0))		\
			trace_printf(__VA_ARGS__);		\
	} while (0)

#endif /* HVSIM_TRACE_H */
