/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Finding what the guest boots (kernel, initrd, modroot, run directory) and
 * starting QEMU the way docs/design.md "Guest boot under hvsim" describes.
 */
#ifndef HVSIM_LAUNCHER_QEMU_H
#define HVSIM_LAUNCHER_QEMU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct qemu_config {
	const char *binary;		/* NULL: $HVSIM_QEMU or qemu-system-x86_64 */
	const char *name;		/* run name: viridian.name=, QEMU -name */
	const char *kernel;
	const char *initrd;
	const char *modroot;		/* 9p tag modroot, read-only; unused with root_disk */
	const char *share_dir;		/* 9p tag hvsimrun, read-write */
	const char *ram_path;		/* guest RAM file, already created */
	uint64_t mem_mb;
	unsigned int smp;
	bool shell;			/* console on stdio; else exec mode */
	const char *console_log;	/* exec mode: ttyS0 */
	const char *serial1_socket;	/* exec mode: ttyS1, hvsim listens */
	const char *ivshmem_socket;
	unsigned int vectors;
	/*
	 * Boot from the synthetic SCSI disk (hvsim --root-disk): root=/dev/sda
	 * with the image's own initrd and ROOT_DISK_INIT as init; the host's /
	 * is still exported (tag hostroot), modroot is not.
	 */
	bool root_disk;
	/* virtio-blk disks (raw, for comparison benchmarks); may be NULL */
	const char *const *virtio_disks;
	unsigned int nr_virtio_disks;
	const char *extra_append;	/* appended to -append; may be NULL */
	/* An SSDT (AML) for -acpitable: the ACPI VMBus device; may be NULL */
	const char *acpi_table;
	char *const *extra_args;	/* NULL-terminated hook (--disk...); may be NULL */
};

/* init= of a root-disk image: tests/rootfs/make-rootfs installs it there. */
#define ROOT_DISK_INIT		"/usr/lib/viridian-hvsim/init"
#define QEMU_MAX_VIRTIO_DISKS	4

/* The argv (NULL-terminated, heap) for cfg; NULL on ENOMEM/EINVAL. */
char **qemu_build_argv(const struct qemu_config *cfg);
void qemu_free_argv(char **argv);

/*
 * fork + exec. In exec mode QEMU gets its own process group (a terminal's
 * ^C reaches hvsim only, which then stops QEMU cleanly), /dev/null as stdin
 * and hvsim's stderr as stdout. QEMU dies with hvsim (PR_SET_PDEATHSIG).
 * Block SIGCHLD (and watch it) before calling, so the exit is not missed.
 * Returns the pid, or -errno.
 */
pid_t qemu_spawn(const struct qemu_config *cfg);

/*
 * The kernel to boot. spec NULL: the newest /boot/vmlinuz-* by version
 * sort; "KVER": /boot/vmlinuz-KVER; a path (contains '/'): that file, named
 * vmlinuz-KVER. On success *path and *kver are heap strings. 0 or -errno,
 * with a message on stderr.
 */
int launcher_find_kernel(const char *spec, char **path, char **kver);

/*
 * The build directory: $HVSIM_BUILD_DIR, else the directory holding
 * /proc/self/exe (build/hvsim -> build/). *repo is its parent.
 */
int launcher_build_dir(char **build, char **repo);

/*
 * The SSDT describing Hyper-V's ACPI VMBus device, BUILD/acpi/vmbus-ssdt.aml
 * (built by make with iasl). *path is a heap string. 0 or -errno, with a
 * message on stderr.
 */
int launcher_acpi_table(const char *build, char **path);

/*
 * build/guest/KVER/initrd.img and modroot/; if the initrd is missing, runs
 * REPO/host-sim/guest/make-guest KVER first. 0 or -errno with a message.
 */
int launcher_guest_artifacts(const char *build, const char *repo, const char *kver,
			     char **initrd, char **modroot);

/*
 * The per-run directory for name: $XDG_RUNTIME_DIR/hvsim/NAME, else
 * /tmp/hvsim-UID/NAME. Parents are created (0700, must be ours); the run
 * directory itself is not. 0 or -errno.
 */
int launcher_run_dir(const char *name, char **dir);

/*
 * The initrd of a root-disk image: /boot/initrd.img-KVER read out of the
 * ext2/3/4 file system in image (debugfs, no root or mount needed) into
 * out (created, mode 0600). 0 or -errno with a message on stderr.
 */
int launcher_extract_root_initrd(const char *image, const char *kver, const char *out);

/* Remove dir and everything below it without following symlinks. */
int launcher_remove_tree(const char *dir);

/* Run names: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool launcher_valid_name(const char *name);

#endif /* HVSIM_LAUNCHER_QEMU_H */
