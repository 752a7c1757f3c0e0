/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The storage VSP: synthetic SCSI controllers (class VMBUS_CLASS_SCSI),
 * each with up to STORVSP_MAX_LUNS disks on target 0, backed by raw image
 * files (host-sim/scsi/disk.h).
 *
 * Command line: every `--disk FILE[,sector=512|4096][,ro][,ctl=C][,lun=L]`
 * adds one disk. Disks with the same ctl number (default 0) form one
 * controller offer; controllers are numbered as the user likes (at most
 * STORVSP_MAX_CONTROLLERS). lun defaults to the lowest free one. Every disk
 * gets a host-wide number N, in order of addition, that the control
 * commands use:
 *
 *   disk list
 *   disk add FILE[,sector=..][,ro][,ctl=C][,lun=L]   hot add (ENUMERATE_BUS)
 *   disk remove N                                    hot remove
 *   disk resize N SIZE          SIZE in bytes, or with a K/M/G/T suffix
 *   disk fault N medium LBA COUNT   MEDIUM ERROR on those blocks
 *   disk fault N stall MS       hold each command MS ms (0: until release)
 *   disk fault N release        let the held commands run
 *   disk fault N hang           the whole controller stops completing
 *   disk fault N clear          remove N's faults and its controller's hang
 *
 * Threading: set-up, control commands and the VMBus callbacks run on the
 * event-loop thread. Each open channel has one worker thread that reads its
 * ring, runs the commands (disk I/O) and is the only thread sending on it;
 * on_signal merely wakes it.
 */
#ifndef HVSIM_VSP_STORVSP_H
#define HVSIM_VSP_STORVSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vsp/storvsp_proto.h"

struct ctl;
struct guest_mem;
struct loop;
struct storvsp;
struct vmbus_server;

#define STORVSP_MAX_CONTROLLERS		16
#define STORVSP_PATH_MAX		1024

/* One --disk option. */
struct storvsp_disk_spec {
	char path[STORVSP_PATH_MAX];
	unsigned int sector_size;	/* 512 (default) or 4096 */
	bool ro;
	unsigned int controller;	/* ctl=C, default 0 */
	int lun;			/* lun=L, -1: lowest free */
	enum storvsp_kind kind;		/* ide, fc: the controller's kind */
	bool kind_given;		/* else any existing controller's */
};

/*
 * Parse "FILE[,sector=N][,ro][,ctl=C][,lun=L][,ide|,fc]". 0 or -EINVAL
 * with err set.
 */
int storvsp_parse_disk_option(const char *spec, struct storvsp_disk_spec *out,
			      char *err, size_t errlen);

/* Parse "SIZE[K|M|G|T]" (binary multiples). 0 or -EINVAL. */
int storvsp_parse_size(const char *text, uint64_t *bytes);
/* Parse a decimal (or 0x hex) number up to max. 0 or -EINVAL. */
int storvsp_parse_uint(const char *s, unsigned long long max,
		       unsigned long long *v);

struct storvsp_config {
	struct vmbus_server *srv;
	struct loop *loop;	/* where sub-channel offers are made */
	struct guest_mem *mem;	/* GPA-direct buffers; NULL: via the channel */
	struct ctl *ctl;	/* registers the `disk` command; may be NULL */
	uint32_t nr_vps;	/* sub-channels offered: min(nr_vps, 8) */
};

/*
 * Create the VSP, open every disk, register the `disk` command and one
 * device per controller with the server (offered when the guest asks for
 * offers, or at once if it already has). Returns 0 and *out, or -errno
 * with err set. A failure before anything was registered leaves *out
 * NULL; after that *out is set even on failure and must be destroyed like
 * a working one.
 */
int storvsp_setup(const struct storvsp_config *cfg,
		  const struct storvsp_disk_spec *disks, size_t n,
		  struct storvsp **out, char *err, size_t errlen);

/*
 * Free everything. Call after vmbus_server_destroy (which closes every
 * channel through the VSP's close, stopping the workers) and once the loop
 * no longer runs.
 */
void storvsp_destroy(struct storvsp *sv);

/* Add one disk (hot if the guest is connected). Returns its number N. */
int storvsp_add_disk(struct storvsp *sv, const struct storvsp_disk_spec *spec,
		     char *err, size_t errlen);

/* The `disk` control command (ctx is the storvsp); see the top comment. */
int storvsp_ctl_disk(void *ctx, int argc, char **argv, FILE *reply);

#endif /* HVSIM_VSP_STORVSP_H */
