// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool trace_on;

static FILE *trace_file;
static bool trace_file_is_stderr;
static struct timespec trace_epoch;
/* Serialises whole lines so that events from worker threads never interleave. */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

int trace_open(const char *path)
{
	FILE *f;

	if (strcmp(path, "-") == 0) {
		f = stderr;
	} else {
		f = fopen(path, "ae");
		if (!f)
			return -errno;
		/* Line buffered: a crash of hvsim still leaves a readable trace. */
		setvbuf(f, NULL, _IOLBF, 0);
	}
	pthread_mutex_lock(&trace_lock);
	clock_gettime(CLOCK_MONOTONIC, &trace_epoch);
	trace_file = f;
	trace_file_is_stderr = (f == stderr);
	__atomic_store_n(&trace_on, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&trace_lock);
	return 0;
}

void trace_close(void)
{
	pthread_mutex_lock(&trace_lock);
	__atomic_store_n(&trace_on, false, __ATOMIC_RELEASE);
	if (trace_file && !trace_file_is_stderr)
		fclose(trace_file);
	else if (trace_file)
		fflush(trace_file);
	trace_file = NULL;
	pthread_mutex_unlock(&trace_lock);
}

void trace_printf(const char *fmt, ...)
{
	struct timespec now;
	long long sec, nsec;
	size_t len = strlen(fmt);
	va_list ap;

	if (!__atomic_load_n(&trace_on, __ATOMIC_ACQUIRE))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	sec = (long long)(now.tv_sec - trace_epoch.tv_sec);
	nsec = (long long)(now.tv_nsec - trace_epoch.tv_nsec);
	if (nsec < 0) {
		sec--;
		nsec += 1000000000LL;
	}

	pthread_mutex_lock(&trace_lock);
	if (trace_file) {
		fprintf(trace_file, "%lld.%06lld ", sec, nsec / 1000);
		va_start(ap, fmt);
		vfprintf(trace_file, fmt, ap);
		va_end(ap);
		if (len == 0 || fmt[len - 1] != '\n')
			fputc('\n', trace_file);
	}
	pthread_mutex_unlock(&trace_lock);
}
