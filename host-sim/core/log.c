// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "trace.h"

static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

static void vlog(const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "hvsim: %s\n", line);
	TRACE("log: %s", line);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void log_ratelimited(struct log_ratelimit *rl, const char *fmt, ...)
{
	struct timespec now;
	unsigned int suppressed = 0;
	bool print;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&ratelimit_lock);
	if (now.tv_sec - rl->window_start >= LOG_RATELIMIT_WINDOW_S) {
		suppressed = rl->suppressed;
		rl->window_start = now.tv_sec;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	print = rl->printed < LOG_RATELIMIT_BURST;
	if (print)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&ratelimit_lock);

	if (suppressed)
		log_msg("(%u similar messages suppressed)", suppressed);
	if (print) {
		va_start(ap, fmt);
		vlog(fmt, ap);
		va_end(ap);
	}
}
