/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The kernel spellings the wire headers use, for userspace (host-sim, the
 * daemons, the unit tests). Userspace C11, not kernel code: kernel style
 * checks skip this file.
 */
#ifndef VIRIDIAN_WIRE_USERSPACE_H
#define VIRIDIAN_WIRE_USERSPACE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifndef __packed
#define __packed __attribute__((__packed__))
#endif

#ifndef BIT
#define BIT(n)		(1UL << (n))
#endif
#ifndef BIT_ULL
#define BIT_ULL(n)	(1ULL << (n))
#endif

typedef struct {
	__u8 b[16];
} guid_t;

/* The kernel's GUID_INIT: the first three fields little-endian. */
#define GUID_INIT(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)		\
	((guid_t){{ (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff,	\
		    ((a) >> 24) & 0xff, (b) & 0xff, ((b) >> 8) & 0xff,	\
		    (c) & 0xff, ((c) >> 8) & 0xff,			\
		    (d0), (d1), (d2), (d3), (d4), (d5), (d6), (d7) }})

static inline bool guid_equal(const guid_t *a, const guid_t *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

#endif /* VIRIDIAN_WIRE_USERSPACE_H */
