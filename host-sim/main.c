// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * hvsim: a simulated Hyper-V host for a real Linux guest under QEMU TCG.
 *
 *   hvsim run [options]     boot the guest; with --exec, run one command
 *   hvsim ctl NAME CMD...   talk to a running hvsim's control socket
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "viridian/wire/sim.h"
#include "core/guest_mem.h"
#include "core/log.h"
#include "core/loop.h"
#include "ctl/ctl.h"
#include "hypervisor/hypervisor.h"
#include "ivshmem/server.h"
#include "launcher/qemu.h"
#include "trace.h"
#include "vmbus/glue.h"
#include "vmbus/server.h"
#include "vsp/ic.h"
#include "vsp/ic_hotplug.h"
#include "vsp/storvsp.h"
#include "vsp/timesync.h"

#define HVSIM_VERSION		"0.1.0"

#define MEM_MB_MIN		128
#define MEM_MB_MAX		3072	/* all of it below 4 GiB: GPA == file offset */
#define MEM_MB_DEFAULT		512
#define SMP_DEFAULT		2
#define MAX_DISKS		16

/* Exit status when the guest command's status is unknown. */
#define EXIT_NO_STATUS		125
#define CONSOLE_TAIL_LINES	50
#define QEMU_KILL_GRACE_NS	10000000000ull

struct run_options {
	const char *kernel;
	unsigned int smp;
	unsigned int mem_mb;
	const char *name;
	const char *exec;
	const char *trace;
	const char *append;
	bool no_acpi_vmbus;
	const char *disks[MAX_DISKS];
	unsigned int nr_disks;
	const char *root_disk;
	const char *virtio_disks[QEMU_MAX_VIRTIO_DISKS];
	unsigned int nr_virtio_disks;
};

struct run {
	struct run_options opt;
	char default_name[32];
	const char *name;
	bool shell;

	char *kernel, *kver, *build, *repo, *initrd, *modroot, *acpi_table;
	char *run_dir, *share_dir, *lock_path, *ram_path;
	char *console_log, *serial1_sock, *ivshmem_sock, *control_sock;
	int lock_fd;
	bool run_dir_created;

	struct loop *loop;
	struct guest_mem mem;
	struct ivshmem_server *ivshmem;
	struct hypervisor *hv;
	struct ctl *ctl;
	struct vmbus_glue glue;		/* the VMBus server's host_ops context */
	struct vmbus_server *vmbus;
	struct ic_heartbeat *heartbeat;
	struct ic_shutdown *shutdown;
	struct ic_timesync *timesync;
	struct ic_hotplug *ic_hotplug;	/* `ic add`: ICs added while running */
	struct storvsp *storvsp;

	int sig_fd;
	int serial_listen_fd;
	int serial_fd;

	pid_t qemu_pid;
	int qemu_status;
	bool qemu_done;
	int stop_signal;
	struct loop_timer *kill_timer;
	struct timespec started;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hvsim run [options]\n"
		"       hvsim ctl NAME COMMAND [ARG...]\n"
		"       hvsim --help | --version\n"
		"\n"
		"run options:\n"
		"  --kernel PATH|KVER  kernel to boot (default: newest /boot/vmlinuz-*)\n"
		"  --smp N             virtual processors, 1..%d (default %d)\n"
		"  --mem MB            guest RAM, %d..%d (default %d)\n"
		"  --name NAME         run name for `hvsim ctl` (default run-PID)\n"
		"  --exec CMD          run CMD (bash) in the guest, print its output,\n"
		"                      exit with its status; without it: a shell on\n"
		"                      this terminal (^A x quits QEMU)\n"
		"  --trace FILE        log every trap, VMBus message and packet to FILE\n"
		"  --append ARGS       extra guest kernel command-line arguments\n"
		"  --no-acpi-vmbus     leave out the ACPI VMBus device Hyper-V describes\n"
		"                      (the guest's VMBus then starts on the host-sim\n"
		"                      PCI device alone)\n"
		"  --disk SPEC         attach a disk (repeatable). SPEC is\n"
		"                      FILE[,sector=4096][,ro][,ctl=C][,lun=L][,ide|,fc]:\n"
		"                      a raw image on controller C (default 0), a\n"
		"                      SCSI controller unless ide (one disk per IDE\n"
		"                      controller) or fc (a synthetic FC HBA)\n"
		"  --root-disk IMAGE   boot from IMAGE on synthetic SCSI (LUN 0 of\n"
		"                      controller 0, /dev/sda) with the image's own\n"
		"                      /boot/initrd.img-KVER: an image made by\n"
		"                      tests/rootfs/make-rootfs (its init runs --exec)\n"
		"  --virtio-disk FILE  attach raw FILE as a virtio-blk disk, for\n"
		"                      comparison benchmarks (cache=writeback,\n"
		"                      aio=threads: buffered, as storvsp's disks are)\n"
		"\n"
		"ctl commands: help, status, and what the devices register\n"
		"(devices, rescind, offer, ic, heartbeat, shutdown, timesync, disk...).\n",
		HVSIM_MAX_VPS, SMP_DEFAULT, MEM_MB_MIN, MEM_MB_MAX, MEM_MB_DEFAULT);
}

static bool parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (unsigned int)v;
	return true;
}

static int parse_run_options(int argc, char **argv, struct run_options *o)
{
	enum { OPT_KERNEL = 256, OPT_SMP, OPT_MEM, OPT_NAME, OPT_EXEC, OPT_TRACE,
	       OPT_APPEND, OPT_NO_ACPI_VMBUS, OPT_DISK, OPT_ROOT_DISK, OPT_VIRTIO_DISK,
	       OPT_HELP };
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "smp", required_argument, NULL, OPT_SMP },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "exec", required_argument, NULL, OPT_EXEC },
		{ "trace", required_argument, NULL, OPT_TRACE },
		{ "append", required_argument, NULL, OPT_APPEND },
		{ "no-acpi-vmbus", no_argument, NULL, OPT_NO_ACPI_VMBUS },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "root-disk", required_argument, NULL, OPT_ROOT_DISK },
		{ "virtio-disk", required_argument, NULL, OPT_VIRTIO_DISK },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->smp = SMP_DEFAULT;
	o->mem_mb = MEM_MB_DEFAULT;
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case OPT_SMP:
			if (!parse_uint(optarg, 1, HVSIM_MAX_VPS, &o->smp)) {
				fprintf(stderr, "hvsim: --smp %s: must be 1..%d\n", optarg,
					HVSIM_MAX_VPS);
				return -1;
			}
			break;
		case OPT_MEM:
			if (!parse_uint(optarg, MEM_MB_MIN, MEM_MB_MAX, &o->mem_mb)) {
				fprintf(stderr, "hvsim: --mem %s: must be %d..%d (MB); guest RAM "
					"must lie below 4 GiB so that GPA == file offset\n",
					optarg, MEM_MB_MIN, MEM_MB_MAX);
				return -1;
			}
			break;
		case OPT_NAME:
			if (!launcher_valid_name(optarg)) {
				fprintf(stderr, "hvsim: --name %s: use 1-64 of A-Z a-z 0-9 . _ - "
					"(not starting with . or -)\n", optarg);
				return -1;
			}
			o->name = optarg;
			break;
		case OPT_EXEC:
			o->exec = optarg;
			break;
		case OPT_TRACE:
			o->trace = optarg;
			break;
		case OPT_APPEND:
			o->append = optarg;
			break;
		case OPT_NO_ACPI_VMBUS:
			o->no_acpi_vmbus = true;
			break;
		case OPT_DISK:
			if (o->nr_disks == MAX_DISKS) {
				fprintf(stderr, "hvsim: at most %d --disk options\n", MAX_DISKS);
				return -1;
			}
			o->disks[o->nr_disks++] = optarg;
			break;
		case OPT_ROOT_DISK:
			if (o->root_disk) {
				fprintf(stderr, "hvsim: only one --root-disk\n");
				return -1;
			}
			if (!*optarg || strlen(optarg) >= STORVSP_PATH_MAX) {
				fprintf(stderr, "hvsim: --root-disk: give an image file "
					"(shorter than %d bytes)\n", STORVSP_PATH_MAX);
				return -1;
			}
			o->root_disk = optarg;
			break;
		case OPT_VIRTIO_DISK:
			if (o->nr_virtio_disks == QEMU_MAX_VIRTIO_DISKS) {
				fprintf(stderr, "hvsim: at most %d --virtio-disk options\n",
					QEMU_MAX_VIRTIO_DISKS);
				return -1;
			}
			/* QEMU's option syntax: a ',' would start another option. */
			if (!*optarg || strchr(optarg, ',')) {
				fprintf(stderr, "hvsim: --virtio-disk '%s': give a file name "
					"without ','\n", optarg);
				return -1;
			}
			o->virtio_disks[o->nr_virtio_disks++] = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hvsim run: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* ---- hooks for the devices ---- */

/*
 * The VMBus server, wired to the SynIC, guest RAM and the trace through
 * vmbus/glue.c. Its VSPs (heartbeat, shutdown, time sync, storage...)
 * attach to r->vmbus here and register their ctl commands (`heartbeat`,
 * `shutdown`, `timesync`).
 */
static int attach_vmbus(struct run *r)
{
	/* Fixed instance IDs, so a guest sees the same devices on every boot. */
	static const guid_t heartbeat_instance =
		GUID_INIT(0x8a8c2b8e, 0x5e1d, 0x4b0a, 0x9c, 0x11, 0x6e, 0x3b, 0x7a, 0x01, 0x00, 0x01);
	static const guid_t shutdown_instance =
		GUID_INIT(0x8a8c2b8e, 0x5e1d, 0x4b0a, 0x9c, 0x11, 0x6e, 0x3b, 0x7a, 0x01, 0x00, 0x02);
	static const guid_t timesync_instance =
		GUID_INIT(0x8a8c2b8e, 0x5e1d, 0x4b0a, 0x9c, 0x11, 0x6e, 0x3b, 0x7a, 0x01, 0x00, 0x03);
	struct vmbus_server_host_ops ops;
	int err;

	r->glue.mem = &r->mem;
	r->glue.synic = hypervisor_synic(r->hv);
	vmbus_glue_host_ops(&ops);
	r->vmbus = vmbus_server_create(&ops, &r->glue, r->opt.smp);
	if (!r->vmbus) {
		fprintf(stderr, "hvsim: cannot create the VMBus server\n");
		return -ENOMEM;
	}
	hypervisor_set_vmbus(r->hv, r->vmbus);
	err = ctl_register(r->ctl, "devices", vmbus_server_ctl_devices, r->vmbus);
	if (!err)
		err = ctl_register_help(r->ctl, "devices",
					"[-v]: VMBus channels: relid class instance state sub-index vp "
					"[counters]");
	if (!err)
		err = ctl_register(r->ctl, "rescind", vmbus_server_ctl_rescind, r->vmbus);
	if (!err)
		err = ctl_register_help(r->ctl, "rescind",
					"RELID|INSTANCE: hot-remove a VMBus device (re-offer: offer)");
	if (!err)
		err = ctl_register(r->ctl, "offer", vmbus_server_ctl_offer, r->vmbus);
	if (!err)
		err = ctl_register_help(r->ctl, "offer",
					"INSTANCE: offer a rescinded VMBus device again");
	if (err)
		return err;

	r->heartbeat = ic_heartbeat_create(1000);
	r->shutdown = ic_shutdown_create();
	/* The reference time it sends is the one the guest reads from r->hv. */
	r->timesync = ic_timesync_create(r->hv, IC_TIMESYNC_SAMPLE_INTERVAL_MS);
	if (!r->heartbeat || !r->shutdown || !r->timesync) {
		fprintf(stderr, "hvsim: cannot create the integration components\n");
		return -ENOMEM;
	}
	if (!ic_heartbeat_attach(r->heartbeat, r->vmbus, &heartbeat_instance) ||
	    !ic_shutdown_attach(r->shutdown, r->vmbus, &shutdown_instance) ||
	    !ic_timesync_attach(r->timesync, r->vmbus, &timesync_instance)) {
		fprintf(stderr, "hvsim: cannot offer the integration components\n");
		return -ENOMEM;
	}
	r->ic_hotplug = ic_hotplug_create(r->vmbus, r->hv);
	if (!r->ic_hotplug)
		return -ENOMEM;
	err = ctl_register(r->ctl, "ic", ic_hotplug_ctl, r->ic_hotplug);
	if (!err)
		err = ctl_register_help(r->ctl, "ic",
					"add heartbeat|shutdown|timesync [monitor] [INSTANCE] | list | "
					"status INSTANCE: integration components added at run time");
	if (!err)
		err = ctl_register(r->ctl, "heartbeat", ic_heartbeat_ctl, r->heartbeat);
	if (!err)
		err = ctl_register_help(r->ctl, "heartbeat",
					"the heartbeat IC: last sequence number the guest answered");
	if (!err)
		/* It waits for the guest's answer: off the loop thread. */
		err = ctl_register_blocking(r->ctl, "shutdown", ic_shutdown_ctl,
					    r->shutdown);
	if (!err)
		err = ctl_register_help(r->ctl, "shutdown",
					"[reboot|hibernate] [--force]: ask the guest to shut down");
	if (!err)
		err = ctl_register(r->ctl, "timesync", ic_timesync_ctl, r->timesync);
	if (!err)
		err = ctl_register_help(r->ctl, "timesync",
					"[sync | offset MS]: the time-sync IC's state and counters; "
					"send a SYNC now; shift the host time sent by MS ms");
	return err;
}

/*
 * --disk SPEC: one storage controller per ctl= group, offered by storvsp.
 * --root-disk goes first, as LUN 0 of controller 0.
 */
static int attach_disks(struct run *r)
{
	struct storvsp_disk_spec specs[MAX_DISKS + 1];
	struct storvsp_config cfg = {
		.srv = r->vmbus,
		.loop = r->loop,
		.mem = &r->mem,
		.ctl = r->ctl,
		.nr_vps = r->opt.smp,
	};
	char err_text[256];
	unsigned int i, n = 0;
	int err;

	if (r->opt.root_disk) {
		/* No option syntax here: the whole argument is the file name. */
		memset(&specs[0], 0, sizeof(specs[0]));
		snprintf(specs[0].path, sizeof(specs[0].path), "%s", r->opt.root_disk);
		specs[0].sector_size = 512;
		specs[0].controller = 0;
		specs[0].lun = 0;
		n++;
	}
	for (i = 0; i < r->opt.nr_disks; i++, n++) {
		err = storvsp_parse_disk_option(r->opt.disks[i], &specs[n], err_text,
						sizeof(err_text));
		if (err) {
			fprintf(stderr, "hvsim: --disk %s: %s\n", r->opt.disks[i], err_text);
			return err;
		}
	}
	/* Set up even without disks, so `hvsim ctl NAME disk add` works. */
	err = storvsp_setup(&cfg, specs, n, &r->storvsp, err_text, sizeof(err_text));
	if (err) {
		fprintf(stderr, "hvsim: storage: %s\n", err_text);
		return err;
	}
	return 0;
}

/*
 * The server goes first: it closes every channel through the VSPs' close
 * callbacks, which stops their workers; then the VSPs are freed.
 */
static void detach_devices(struct run *r)
{
	if (r->vmbus) {
		if (r->hv)
			hypervisor_set_vmbus(r->hv, NULL);
		vmbus_server_destroy(r->vmbus);
		r->vmbus = NULL;
	}
	if (r->storvsp) {
		storvsp_destroy(r->storvsp);
		r->storvsp = NULL;
	}
	if (r->heartbeat) {
		ic_heartbeat_destroy(r->heartbeat);
		r->heartbeat = NULL;
	}
	if (r->shutdown) {
		ic_shutdown_destroy(r->shutdown);
		r->shutdown = NULL;
	}
	/* Before hypervisor_free: its sample thread reads the reference time. */
	if (r->timesync) {
		ic_timesync_destroy(r->timesync);
		r->timesync = NULL;
	}
	ic_hotplug_destroy(r->ic_hotplug);
	r->ic_hotplug = NULL;
}

/* ---- ctl: status ---- */

static int ctl_status(void *ctx, int argc, char **argv, FILE *reply)
{
	struct run *r = ctx;
	struct timespec now;

	(void)argc;
	(void)argv;
	clock_gettime(CLOCK_MONOTONIC, &now);
	fprintf(reply,
		"name %s\npid %d\nqemu-pid %d\nmode %s\nkernel %s\nsmp %u\nmem-mb %u\n"
		"uptime-s %lld\nrun-dir %s\nguest-connected %s\nroot %s\n",
		r->name, (int)getpid(), (int)r->qemu_pid, r->shell ? "shell" : "exec",
		r->kernel, r->opt.smp, r->opt.mem_mb,
		(long long)(now.tv_sec - r->started.tv_sec), r->run_dir,
		ivshmem_server_connected(r->ivshmem) ? "yes" : "no",
		r->opt.root_disk ? r->opt.root_disk : "9p-overlay");
	hypervisor_describe(r->hv, reply);
	return 0;
}

/* ---- ivshmem ---- */

static void on_host_vector(void *ctx, unsigned int vector)
{
	struct run *r = ctx;

	hypervisor_doorbell(r->hv, vector);
}

static void on_guest_connected(void *ctx)
{
	(void)ctx;
	TRACE("main: QEMU connected to the ivshmem server");
}

static void on_guest_gone(void *ctx)
{
	(void)ctx;
	TRACE("main: QEMU left the ivshmem server");
}

/* ---- ttyS1: the --exec command's output ---- */

static void write_stdout(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* stdout gone (EPIPE): the output has no reader */
		buf += n;
		len -= (size_t)n;
	}
}

static void close_serial(struct run *r)
{
	if (r->serial_fd < 0)
		return;
	loop_del_fd(r->loop, r->serial_fd);
	close(r->serial_fd);
	r->serial_fd = -1;
}

/* Copy what is there; false at EOF or error. */
static bool pump_serial(struct run *r)
{
	char buf[16384];

	for (;;) {
		ssize_t n = recv(r->serial_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			write_stdout(buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void on_serial(void *ctx, int fd, uint32_t events)
{
	struct run *r = ctx;

	(void)fd;
	(void)events;
	if (!pump_serial(r))
		close_serial(r);
}

static void on_serial_accept(void *ctx, int fd, uint32_t events)
{
	struct run *r = ctx;
	int sock;

	(void)events;
	sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0)
		return;
	if (r->serial_fd >= 0) {
		close(sock);	/* only QEMU, once */
		return;
	}
	r->serial_fd = sock;
	if (loop_add_fd(r->loop, sock, EPOLLIN | EPOLLRDHUP, on_serial, r) < 0) {
		close(sock);
		r->serial_fd = -1;
	}
}

static int listen_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* ---- signals and QEMU's life ---- */

static void on_kill_timer(void *ctx)
{
	struct run *r = ctx;

	if (!r->qemu_done && r->qemu_pid > 0) {
		log_msg("QEMU did not stop within %llu s: killing it",
			QEMU_KILL_GRACE_NS / 1000000000ull);
		kill(r->qemu_pid, SIGKILL);
	}
}

static void stop_qemu(struct run *r, int signo)
{
	if (r->qemu_done || r->qemu_pid <= 0) {
		loop_stop(r->loop);
		return;
	}
	if (!r->stop_signal) {
		r->stop_signal = signo;
		log_msg("%s: stopping QEMU", strsignal(signo));
		kill(r->qemu_pid, SIGTERM);
		if (r->kill_timer)
			loop_timer_arm(r->kill_timer, QEMU_KILL_GRACE_NS, 0);
	} else {
		kill(r->qemu_pid, SIGKILL);
	}
}

static void reap_children(struct run *r)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != r->qemu_pid)
			continue;
		r->qemu_done = true;
		r->qemu_status = status;
		TRACE("main: QEMU exited (wait status %#x)", status);
		loop_stop(r->loop);
	}
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
	struct run *r = ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap_children(r);
		else
			stop_qemu(r, (int)si.ssi_signo);
	}
}

static int setup_signals(struct run *r)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	r->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r->sig_fd < 0)
		return -errno;
	return loop_add_fd(r->loop, r->sig_fd, EPOLLIN, on_signal, r);
}

/* ---- the run directory ---- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	size_t len = strlen(text);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

static int make_paths(struct run *r)
{
	if (asprintf(&r->share_dir, "%s/guest", r->run_dir) < 0 ||
	    asprintf(&r->lock_path, "%s.lock", r->run_dir) < 0 ||
	    asprintf(&r->ram_path, "/dev/shm/hvsim-%s-ram", r->name) < 0 ||
	    asprintf(&r->console_log, "%s/console.log", r->run_dir) < 0 ||
	    asprintf(&r->serial1_sock, "%s/serial1.sock", r->run_dir) < 0 ||
	    asprintf(&r->ivshmem_sock, "%s/ivshmem.sock", r->run_dir) < 0 ||
	    asprintf(&r->control_sock, "%s/control.sock", r->run_dir) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * Claim NAME: a lock file held for the whole run makes the claim race-free;
 * a control socket that answers means another hvsim (one that predates the
 * lock, or lost it) runs under that name.
 */
static int claim_run_dir(struct run *r)
{
	char cwd[4096], *cmd = NULL;
	int err;

	r->lock_fd = open(r->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->lock_fd < 0) {
		err = -errno;
		fprintf(stderr, "hvsim: %s: %s\n", r->lock_path, strerror(errno));
		return err;
	}
	if (flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0 || ctl_socket_alive(r->control_sock)) {
		fprintf(stderr, "hvsim: a run named '%s' is already running (%s)\n", r->name,
			r->run_dir);
		close(r->lock_fd);
		r->lock_fd = -1;
		return -EBUSY;
	}
	/* Left over from a run that died: nobody holds it any more. */
	err = launcher_remove_tree(r->run_dir);
	if (!err && unlink(r->ram_path) < 0 && errno != ENOENT)
		err = -errno;
	if (err) {
		fprintf(stderr, "hvsim: cannot clear the stale %s: %s\n", r->run_dir,
			strerror(-err));
		return err;
	}
	if (mkdir(r->run_dir, 0700) < 0 || mkdir(r->share_dir, 0700) < 0) {
		err = -errno;
		fprintf(stderr, "hvsim: mkdir %s: %s\n", r->run_dir, strerror(errno));
		return err;
	}
	r->run_dir_created = true;

	/* The guest runs the command in the same directory, in the host's tree. */
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/");
	if (r->opt.exec) {
		char *text = NULL;

		if (asprintf(&cmd, "%s/cmd", r->share_dir) < 0 ||
		    asprintf(&text, "%s\n", r->opt.exec) < 0) {
			free(cmd);
			return -ENOMEM;
		}
		err = write_file(cmd, text);
		free(text);
		free(cmd);
		cmd = NULL;
	}
	if (!err) {
		if (asprintf(&cmd, "%s/cwd", r->share_dir) < 0)
			return -ENOMEM;
		err = write_file(cmd, cwd);
		free(cmd);
	}
	if (err)
		fprintf(stderr, "hvsim: writing into %s: %s\n", r->share_dir, strerror(-err));
	return err;
}

/* The guest command's exit status from RUNDIR/guest/status, or -1. */
static int read_guest_status(struct run *r)
{
	char *path = NULL, buf[32], *end;
	struct stat st;
	ssize_t n;
	long v;
	int fd;

	if (asprintf(&path, "%s/status", r->share_dir) < 0)
		return -1;
	/* The guest wrote this file: no symlinks, no FIFOs, no huge reads. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(path);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v < 0 || v > 255)
		return -1;
	return (int)v;
}

/* The last lines of console.log on stderr, control characters defused. */
static void print_console_tail(struct run *r)
{
	size_t cap = 65536, len, i, start, lines = 0;
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	fd = open(r->console_log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return;
	}
	n = pread(fd, buf, cap, st.st_size > (off_t)cap ? st.st_size - (off_t)cap : 0);
	close(fd);
	if (n <= 0) {
		free(buf);
		return;
	}
	len = (size_t)n;
	if (buf[len - 1] == '\n')
		len--;
	for (start = len; start > 0; start--) {
		if (buf[start - 1] == '\n' && ++lines == CONSOLE_TAIL_LINES)
			break;
	}
	fprintf(stderr, "hvsim: last lines of %s:\n", r->console_log);
	for (i = start; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\r')
			continue;
		if (ch != '\n' && ch != '\t' && (ch < 0x20 || ch == 0x7f))
			ch = '?';
		fputc(ch, stderr);
	}
	fputc('\n', stderr);
	free(buf);
}

static int run_exit_status(struct run *r)
{
	int status = read_guest_status(r);

	if (r->stop_signal)
		return 128 + r->stop_signal;
	if (status >= 0)
		return status;
	if (r->qemu_done && WIFEXITED(r->qemu_status))
		log_msg("QEMU exited with status %d before the guest reported one",
			WEXITSTATUS(r->qemu_status));
	else if (r->qemu_done && WIFSIGNALED(r->qemu_status))
		log_msg("QEMU was killed by %s", strsignal(WTERMSIG(r->qemu_status)));
	if (r->shell)
		return r->qemu_done && WIFEXITED(r->qemu_status) ?
		       WEXITSTATUS(r->qemu_status) : EXIT_NO_STATUS;
	log_msg("the guest wrote no exit status (%s/status): exit %d", r->share_dir,
		EXIT_NO_STATUS);
	print_console_tail(r);
	return EXIT_NO_STATUS;
}

static int start_components(struct run *r)
{
	static const struct ivshmem_server_ops ivshmem_ops = {
		.host_vector = on_host_vector,
		.client_connected = on_guest_connected,
		.client_gone = on_guest_gone,
	};
	struct hypervisor_config hc;
	int err;

	err = guest_mem_create(&r->mem, r->ram_path, (uint64_t)r->opt.mem_mb << 20);
	if (err) {
		fprintf(stderr, "hvsim: guest RAM %s: %s\n", r->ram_path, strerror(-err));
		return err;
	}
	r->ivshmem = ivshmem_server_new(r->loop, r->ivshmem_sock, r->opt.smp, &ivshmem_ops, r);
	if (!r->ivshmem) {
		err = -errno;
		fprintf(stderr, "hvsim: ivshmem server on %s: %s\n", r->ivshmem_sock,
			strerror(errno));
		return err;
	}
	hc = (struct hypervisor_config) {
		.loop = r->loop,
		.mem = &r->mem,
		.shm = ivshmem_server_shm(r->ivshmem),
		.nr_vps = r->opt.smp,
		.vp_irq_fds = ivshmem_server_guest_fds(r->ivshmem),
	};
	r->hv = hypervisor_new(&hc);
	if (!r->hv) {
		err = -errno;
		fprintf(stderr, "hvsim: hypervisor: %s\n", strerror(errno));
		return err;
	}
	r->ctl = ctl_new(r->loop, r->control_sock);
	if (!r->ctl) {
		err = -errno;
		fprintf(stderr, "hvsim: control socket %s: %s\n", r->control_sock,
			strerror(errno));
		return err;
	}
	err = ctl_register(r->ctl, "status", ctl_status, r);
	if (!err)
		err = ctl_register_help(r->ctl, "status", "hvsim, QEMU and hypervisor state");
	if (err)
		return err;
	if (!r->shell) {
		r->serial_listen_fd = listen_unix(r->serial1_sock);
		if (r->serial_listen_fd < 0) {
			fprintf(stderr, "hvsim: %s: %s\n", r->serial1_sock,
				strerror(-r->serial_listen_fd));
			return r->serial_listen_fd;
		}
		err = loop_add_fd(r->loop, r->serial_listen_fd, EPOLLIN, on_serial_accept, r);
		if (err)
			return err;
	}
	r->kill_timer = loop_timer_new(r->loop, on_kill_timer, r);
	if (!r->kill_timer)
		return -ENOMEM;
	err = attach_vmbus(r);
	if (!err)
		err = attach_disks(r);
	return err;
}

static int start_qemu(struct run *r)
{
	struct qemu_config qc = {
		.name = r->name,
		.kernel = r->kernel,
		.initrd = r->initrd,
		.modroot = r->modroot,
		.share_dir = r->share_dir,
		.ram_path = r->ram_path,
		.mem_mb = r->opt.mem_mb,
		.smp = r->opt.smp,
		.shell = r->shell,
		.console_log = r->console_log,
		.serial1_socket = r->serial1_sock,
		.ivshmem_socket = r->ivshmem_sock,
		.vectors = ivshmem_server_vectors(r->ivshmem),
		.root_disk = r->opt.root_disk != NULL,
		.virtio_disks = r->opt.virtio_disks,
		.nr_virtio_disks = r->opt.nr_virtio_disks,
		.extra_append = r->opt.append,
		.acpi_table = r->acpi_table,
		.extra_args = NULL,
	};
	pid_t pid = qemu_spawn(&qc);

	if (pid < 0) {
		fprintf(stderr, "hvsim: starting QEMU: %s\n", strerror((int)-pid));
		return (int)pid;
	}
	r->qemu_pid = pid;
	return 0;
}

static void teardown(struct run *r)
{
	/* Blocking ctl commands use the devices: let them finish first. */
	ctl_quiesce(r->ctl);
	detach_devices(r);
	ctl_free(r->ctl);
	hypervisor_free(r->hv);
	ivshmem_server_free(r->ivshmem);
	guest_mem_close(&r->mem);
	close_serial(r);
	if (r->serial_listen_fd >= 0) {
		loop_del_fd(r->loop, r->serial_listen_fd);
		close(r->serial_listen_fd);
	}
	if (r->kill_timer)
		loop_timer_free(r->kill_timer);
	if (r->sig_fd >= 0) {
		loop_del_fd(r->loop, r->sig_fd);
		close(r->sig_fd);
	}
	if (r->run_dir_created && launcher_remove_tree(r->run_dir) < 0)
		fprintf(stderr, "hvsim: could not remove %s\n", r->run_dir);
	if (r->lock_fd >= 0) {
		unlink(r->lock_path);
		close(r->lock_fd);
	}
	trace_close();
	loop_free(r->loop);
	free(r->kernel);
	free(r->kver);
	free(r->build);
	free(r->acpi_table);
	free(r->repo);
	free(r->initrd);
	free(r->modroot);
	free(r->run_dir);
	free(r->share_dir);
	free(r->lock_path);
	free(r->ram_path);
	free(r->console_log);
	free(r->serial1_sock);
	free(r->ivshmem_sock);
	free(r->control_sock);
}

static int cmd_run(int argc, char **argv)
{
	struct run r = {
		.lock_fd = -1,
		.sig_fd = -1,
		.serial_listen_fd = -1,
		.serial_fd = -1,
		.mem = { .fd = -1 },
	};
	int err, rc = EXIT_NO_STATUS;

	err = parse_run_options(argc, argv, &r.opt);
	if (err)
		return err > 0 ? 0 : 2;
	r.shell = !r.opt.exec;
	if (r.opt.name) {
		r.name = r.opt.name;
	} else {
		snprintf(r.default_name, sizeof(r.default_name), "run-%d", (int)getpid());
		r.name = r.default_name;
	}
	clock_gettime(CLOCK_MONOTONIC, &r.started);

	if (launcher_find_kernel(r.opt.kernel, &r.kernel, &r.kver) < 0)
		goto out;
	err = launcher_build_dir(&r.build, &r.repo);
	if (err) {
		fprintf(stderr, "hvsim: cannot locate the build directory: %s\n", strerror(-err));
		goto out;
	}
	/* A root disk brings its own initrd (read out below) and modules. */
	if (!r.opt.root_disk &&
	    launcher_guest_artifacts(r.build, r.repo, r.kver, &r.initrd, &r.modroot) < 0)
		goto out;
	if (!r.opt.no_acpi_vmbus && launcher_acpi_table(r.build, &r.acpi_table) < 0)
		goto out;
	err = launcher_run_dir(r.name, &r.run_dir);
	if (!err)
		err = make_paths(&r);
	if (err) {
		fprintf(stderr, "hvsim: run directory: %s\n", strerror(-err));
		goto out;
	}
	r.loop = loop_new();
	if (!r.loop) {
		fprintf(stderr, "hvsim: event loop: %s\n", strerror(errno));
		goto out;
	}
	if (setup_signals(&r) < 0) {
		fprintf(stderr, "hvsim: signals: %s\n", strerror(errno));
		goto out;
	}
	if (claim_run_dir(&r) < 0)
		goto out;
	if (r.opt.root_disk) {
		/* In the run directory, not the guest's share: hvsim's own file. */
		if (asprintf(&r.initrd, "%s/root-initrd.img", r.run_dir) < 0) {
			r.initrd = NULL;
			goto out;
		}
		if (launcher_extract_root_initrd(r.opt.root_disk, r.kver, r.initrd) < 0)
			goto out;
	}
	if (r.opt.trace) {
		err = trace_open(r.opt.trace);
		if (err) {
			fprintf(stderr, "hvsim: --trace %s: %s\n", r.opt.trace, strerror(-err));
			goto out;
		}
		TRACE("main: hvsim %s run %s, kernel %s, smp %u, mem %u MB, %s mode",
		      HVSIM_VERSION, r.name, r.kernel, r.opt.smp, r.opt.mem_mb,
		      r.shell ? "shell" : "exec");
	}
	if (start_components(&r) < 0 || start_qemu(&r) < 0)
		goto out;

	err = loop_run(r.loop);
	if (err)
		fprintf(stderr, "hvsim: event loop failed: %s\n", strerror(-err));
	if (!r.qemu_done) {
		/* Only a loop failure gets here: do not leave QEMU behind. */
		kill(r.qemu_pid, SIGKILL);
		while (waitpid(r.qemu_pid, &r.qemu_status, 0) < 0 && errno == EINTR)
			;
		r.qemu_done = true;
	}
	if (r.serial_fd >= 0)
		pump_serial(&r);	/* what QEMU wrote before it exited */
	rc = run_exit_status(&r);
out:
	teardown(&r);
	return rc;
}

static int cmd_ctl(int argc, char **argv)
{
	char *dir = NULL, *sock = NULL;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: hvsim ctl NAME COMMAND [ARG...]\n");
		return 2;
	}
	if (!launcher_valid_name(argv[1])) {
		fprintf(stderr, "hvsim ctl: bad run name '%s'\n", argv[1]);
		return 2;
	}
	if (launcher_run_dir(argv[1], &dir) < 0 || asprintf(&sock, "%s/control.sock", dir) < 0) {
		free(dir);
		return 2;
	}
	rc = ctl_client(sock, argc - 2, argv + 2, stdout, stderr);
	free(sock);
	free(dir);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("hvsim %s (ABI %d)\n", HVSIM_VERSION, HVSIM_ABI_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "ctl") == 0)
		return cmd_ctl(argc - 1, argv + 1);
	fprintf(stderr, "hvsim: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
