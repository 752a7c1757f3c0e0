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
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/string.h>
#include <linux/uuid.h>
#else
#include "userspace.h"
#endif

/* Every wire structure states its size; a layout change fails the build. */
#define VIRIDIAN_WIRE_SIZE(type, size) \
	static_assert(sizeof(type) == (size), #type " has the wrong wire size")

#define VIRIDIAN_PAGE_SHIFT	12
#define VIRIDIAN_PAGE_SIZE	BIT(VIRIDIAN_PAGE_SHIFT)

#endif /* VIRIDIAN_WIRE_TYPES_H */
