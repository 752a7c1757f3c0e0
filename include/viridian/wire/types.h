/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Types shared by every wire-format header. The same headers are compiled
 * into the guest kernel modules and into host-sim (userspace C11), so this
 * file supplies the few kernel spellings that userspace lacks.
 *
 * Wire structures use only fixed-width __uN types and explicit flag masks
 * (no bitfields), so their layout does not depend on the compiler.
 */
#ifndef VIRIDIAN_WIRE_TYPES_H
#define VIRIDIAN_WIRE_TYPES_H

#include <linux/types.h>

#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/string.h>
#include <linux/uuid.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#ifndef __packed
#define __packed __attribute__((__packed__))
#endif

typedef struct {
	__u8 b[16];
} guid_t;

#define GUID_INIT(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)		\
	((guid_t){{ (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff,	\
		    ((a) >> 24) & 0xff, (b) & 0xff, ((b) >> 8) & 0xff,	\
		    (c) & 0xff, ((c) >> 8) & 0xff,			\
		    (d0), (d1), (d2), (d3), (d4), (d5), (d6), (d7) }})

static inline bool guid_equal(const guid_t *a, const guid_t *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}
#endif

/* Every wire structure states its size; a layout change fails the build. */
#define VIRIDIAN_WIRE_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), #type " has the wrong wire size")

#define VIRIDIAN_PAGE_SHIFT	12
#define VIRIDIAN_PAGE_SIZE	(1u << VIRIDIAN_PAGE_SHIFT)

#endif /* VIRIDIAN_WIRE_TYPES_H */
