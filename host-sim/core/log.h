/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * hvsim's diagnostics on stderr ("hvsim: ..."), each line also copied to
 * the trace. Complaints about guest input go through log_ratelimited(): a
 * misbehaving guest must not be able to flood the terminal or slow the
 * loop down with logging.
 */
#ifndef HVSIM_CORE_LOG_H
#define HVSIM_CORE_LOG_H

#include <time.h>

/* One per call site, zero-initialised (static). */
struct log_ratelimit {
	time_t window_start;
	unsigned int printed;
	unsigned int suppressed;
};

/* Lines per call site and window. */
#define LOG_RATELIMIT_BURST	10
#define LOG_RATELIMIT_WINDOW_S	5

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Thread-safe; reports how many lines a window suppressed. */
void log_ratelimited(struct log_ratelimit *rl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* HVSIM_CORE_LOG_H */
