/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences across the kernels DKMS builds the suite for
 * (Debian bookworm's 6.1 and 6.12 and what lies between), decided on
 * LINUX_VERSION_CODE here and nowhere else, so that driver code reads the
 * same on every kernel.
 *
 * Callback parameter types are macros rather than wrappers because a
 * callback must match the kernel's function-pointer type exactly: kbuild
 * turns a mismatch into an error (-Werror=incompatible-pointer-types),
 * and a cast would hide the next real change of signature.
 *
 * Every entry names the release that made the change, so that it can go
 * once the oldest supported kernel has it.
 */
#ifndef VIRIDIAN_COMPAT_H
#define VIRIDIAN_COMPAT_H

#include <linux/version.h>

/* The kernel being built for is a.b.c or later. */
#define VIRIDIAN_KERNEL_SINCE(a, b, c)	(KERNEL_VERSION(a, b, c) <= LINUX_VERSION_CODE)

/* 6.3: bus_type.uevent() and bus attribute show()/store() became const. */
#if VIRIDIAN_KERNEL_SINCE(6, 3, 0)
#define viridian_uevent_device		const struct device
#define viridian_bus_attr_bus		const struct bus_type
#else
#define viridian_uevent_device		struct device
#define viridian_bus_attr_bus		struct bus_type
#endif

/* 6.11: bus_type.match() gets a const driver. */
#if VIRIDIAN_KERNEL_SINCE(6, 11, 0)
#define viridian_match_driver		const struct device_driver
#else
#define viridian_match_driver		struct device_driver
#endif

#endif /* VIRIDIAN_COMPAT_H */
