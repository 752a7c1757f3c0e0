// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "launcher/qemu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace.h"

#define QEMU_DEFAULT_BINARY	"qemu-system-x86_64"

struct strv {
	char **v;
	size_t n, cap;
	bool failed;
};

static void strv_add(struct strv *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void strv_add(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;

	if (s->failed)
		return;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			s->failed = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&str, fmt, ap) < 0) {
		s->failed = true;
		str = NULL;
	}
	va_end(ap);
	if (!str)
		return;
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void qemu_free_argv(char **argv)
{
	char **p;

	if (!argv)
		return;
	for (p = argv; *p; p++)
		free(*p);
	free(argv);
}

/* QEMU's option parser splits on ','; a path with one would be misread. */
static bool qemu_safe(const char *s)
{
	return s && !strchr(s, ',');
}

char **qemu_build_argv(const struct qemu_config *c)
{
	const char *binary = c->binary ? c->binary : getenv("HVSIM_QEMU");
	struct strv a = { 0 };
	char *const *extra;

	unsigned int i;

	if (!qemu_safe(c->kernel) || !qemu_safe(c->initrd) ||
	    (!c->root_disk && !qemu_safe(c->modroot)) ||
	    !qemu_safe(c->share_dir) || !qemu_safe(c->ram_path) ||
	    !qemu_safe(c->ivshmem_socket) || !c->name || c->smp == 0 || c->vectors == 0 ||
	    (!c->shell && (!qemu_safe(c->console_log) || !qemu_safe(c->serial1_socket))) ||
	    (c->acpi_table && !qemu_safe(c->acpi_table)) ||
	    c->nr_virtio_disks > QEMU_MAX_VIRTIO_DISKS ||
	    (c->nr_virtio_disks && !c->virtio_disks)) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < c->nr_virtio_disks; i++) {
		if (!qemu_safe(c->virtio_disks[i])) {
			errno = EINVAL;
			return NULL;
		}
	}
	strv_add(&a, "%s", binary && *binary ? binary : QEMU_DEFAULT_BINARY);
	strv_add(&a, "-name");
	strv_add(&a, "hvsim-%s", c->name);
	/*
	 * "-machine accel=tcg" and "-accel" are mutually exclusive in QEMU;
	 * -accel is the one that takes thread=multi.
	 */
	strv_add(&a, "-machine");
	strv_add(&a, "pc,memory-backend=ram");
	strv_add(&a, "-accel");
	strv_add(&a, "tcg,thread=multi");
	strv_add(&a, "-object");
	strv_add(&a, "memory-backend-file,id=ram,size=%lluM,mem-path=%s,share=on",
		 (unsigned long long)c->mem_mb, c->ram_path);
	strv_add(&a, "-m");
	strv_add(&a, "%lluM", (unsigned long long)c->mem_mb);
	strv_add(&a, "-cpu");
	strv_add(&a, "max");
	strv_add(&a, "-smp");
	strv_add(&a, "%u", c->smp);
	strv_add(&a, "-nodefaults");
	strv_add(&a, "-nographic");
	strv_add(&a, "-no-reboot");
	strv_add(&a, "-kernel");
	strv_add(&a, "%s", c->kernel);
	strv_add(&a, "-initrd");
	strv_add(&a, "%s", c->initrd);
	strv_add(&a, "-append");
	/*
	 * panic=-1: a guest panic reboots, which -no-reboot turns into an exit.
	 * A root disk is the first LUN of the first controller, the only SCSI
	 * disk the guest has at boot (-nodefaults): /dev/sda.
	 */
	strv_add(&a, "console=ttyS0 panic=-1 %s%sviridian.mode=%s viridian.name=%s%s%s",
		 c->root_disk ? "root=/dev/sda rw init=" ROOT_DISK_INIT : "",
		 c->root_disk ? " " : "", c->shell ? "shell" : "exec", c->name,
		 c->extra_append ? " " : "", c->extra_append ? c->extra_append : "");

	strv_add(&a, "-fsdev");
	strv_add(&a, "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap");
	strv_add(&a, "-device");
	strv_add(&a, "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot");
	if (!c->root_disk) {
		strv_add(&a, "-fsdev");
		strv_add(&a, "local,id=modroot,path=%s,security_model=none,readonly=on",
			 c->modroot);
		strv_add(&a, "-device");
		strv_add(&a, "virtio-9p-pci,fsdev=modroot,mount_tag=modroot");
	}
	strv_add(&a, "-fsdev");
	strv_add(&a, "local,id=hvsimrun,path=%s,security_model=none", c->share_dir);
	strv_add(&a, "-device");
	strv_add(&a, "virtio-9p-pci,fsdev=hvsimrun,mount_tag=hvsimrun");

	strv_add(&a, "-chardev");
	if (c->shell)
		/* mux: ^A x still quits QEMU; signal=off: ^C goes to the guest. */
		strv_add(&a, "stdio,id=ttyS0,mux=on,signal=off");
	else
		strv_add(&a, "file,id=ttyS0,path=%s", c->console_log);
	strv_add(&a, "-serial");
	strv_add(&a, "chardev:ttyS0");
	strv_add(&a, "-chardev");
	if (c->shell)
		strv_add(&a, "null,id=ttyS1");
	else
		strv_add(&a, "socket,id=ttyS1,path=%s", c->serial1_socket);
	strv_add(&a, "-serial");
	strv_add(&a, "chardev:ttyS1");

	strv_add(&a, "-chardev");
	strv_add(&a, "socket,id=ivshmem,path=%s", c->ivshmem_socket);
	strv_add(&a, "-device");
	strv_add(&a, "ivshmem-doorbell,chardev=ivshmem,vectors=%u", c->vectors);

	/*
	 * The storage VSP does buffered preadv/pwritev on its image and flushes
	 * with fdatasync (a volatile write cache): cache=writeback (QEMU's
	 * default, also buffered, WCE on, flush = fdatasync) with thread-pool
	 * I/O is the like-for-like virtio-blk set-up.
	 */
	for (i = 0; i < c->nr_virtio_disks; i++) {
		strv_add(&a, "-drive");
		strv_add(&a, "file=%s,format=raw,if=none,id=vd%u,cache=writeback,aio=threads",
			 c->virtio_disks[i], i);
		strv_add(&a, "-device");
		strv_add(&a, "virtio-blk-pci,drive=vd%u", i);
	}

	if (c->acpi_table) {
		strv_add(&a, "-acpitable");
		strv_add(&a, "file=%s", c->acpi_table);
	}

	for (extra = c->extra_args; extra && *extra; extra++)
		strv_add(&a, "%s", *extra);

	if (a.failed || !a.v) {
		qemu_free_argv(a.v);
		errno = ENOMEM;
		return NULL;
	}
	return a.v;
}

pid_t qemu_spawn(const struct qemu_config *cfg)
{
	char **argv = qemu_build_argv(cfg);
	pid_t parent = getpid(), pid;
	sigset_t none;
	size_t i;
	int err;

	if (!argv)
		return -errno;
	if (trace_on) {
		char *line = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&line, &len);

		if (f) {
			for (i = 0; argv[i]; i++)
				fprintf(f, "%s%s", i ? " " : "", argv[i]);
			if (fclose(f) == 0)
				TRACE("launcher: %s", line);
			free(line);
		}
	}
	sigemptyset(&none);

	pid = fork();
	if (pid < 0) {
		err = -errno;
		qemu_free_argv(argv);
		return err;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		if (!cfg->shell) {
			int devnull = open("/dev/null", O_RDONLY);

			setpgid(0, 0);
			if (devnull >= 0) {
				dup2(devnull, STDIN_FILENO);
				if (devnull != STDIN_FILENO)
					close(devnull);
			}
			/* hvsim's stdout carries the guest command's output only. */
			dup2(STDERR_FILENO, STDOUT_FILENO);
		}
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		{
			static const char msg[] = "hvsim: cannot execute QEMU\n";

			if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
				_exit(127);
		}
		_exit(127);
	}
	qemu_free_argv(argv);
	return pid;
}

/* ---- kernel, build directory, guest artefacts ---- */

static int version_cmp(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

static int newest_kernel(char **kver)
{
	char **names = NULL, **bigger;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d = opendir("/boot");
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vmlinuz-", 8) != 0 || !de->d_name[8])
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			bigger = realloc(names, cap * sizeof(*names));
			if (!bigger) {
				err = -ENOMEM;
				break;
			}
			names = bigger;
		}
		names[n] = strdup(de->d_name + 8);
		if (!names[n]) {
			err = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!err && n == 0)
		err = -ENOENT;
	if (!err) {
		qsort(names, n, sizeof(*names), version_cmp);
		*kver = names[n - 1];
		names[n - 1] = NULL;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

int launcher_find_kernel(const char *spec, char **path, char **kver)
{
	char *k = NULL, *p = NULL;
	int err;

	*path = *kver = NULL;
	if (!spec) {
		err = newest_kernel(&k);
		if (err) {
			fprintf(stderr, "hvsim: no /boot/vmlinuz-* kernel found (%s); use --kernel\n",
				strerror(-err));
			return err;
		}
	} else if (strchr(spec, '/')) {
		const char *base = strrchr(spec, '/') + 1;

		if (strncmp(base, "vmlinuz-", 8) != 0 || !base[8]) {
			fprintf(stderr, "hvsim: --kernel %s: the file must be named vmlinuz-KVER "
				"so that its modules and initrd can be found\n", spec);
			return -EINVAL;
		}
		k = strdup(base + 8);
		p = strdup(spec);
	} else {
		k = strdup(strncmp(spec, "vmlinuz-", 8) == 0 ? spec + 8 : spec);
	}
	if (!k || (!p && asprintf(&p, "/boot/vmlinuz-%s", k) < 0)) {
		free(k);
		return -ENOMEM;
	}
	err = 0;
	if (strchr(k, '/') || strchr(k, ','))
		err = -EINVAL;
	else if (access(p, R_OK) != 0)
		err = -errno;
	if (err) {
		fprintf(stderr, "hvsim: kernel %s: %s\n", p, strerror(-err));
		free(k);
		free(p);
		return err;
	}
	*path = p;
	*kver = k;
	return 0;
}

static char *dir_of(const char *path)
{
	char *copy = strdup(path), *slash;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash) {
		free(copy);
		return strdup(".");
	}
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	return copy;
}

int launcher_build_dir(char **build, char **repo)
{
	const char *env = getenv("HVSIM_BUILD_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	*build = *repo = NULL;
	if (env && *env) {
		*build = realpath(env, NULL);
		if (!*build)
			return -errno;
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -errno;
		exe[n] = '\0';
		*build = dir_of(exe);
		if (!*build)
			return -ENOMEM;
	}
	*repo = dir_of(*build);
	if (!*repo) {
		free(*build);
		*build = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int run_make_guest(const char *script, const char *kver)
{
	pid_t pid;
	int status;

	fprintf(stderr, "hvsim: building the guest initrd: %s %s\n", script, kver);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Its progress goes to stderr: stdout is the guest command's. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execl(script, script, kver, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int launcher_acpi_table(const char *build, char **path)
{
	*path = NULL;
	if (asprintf(path, "%s/acpi/vmbus-ssdt.aml", build) < 0) {
		*path = NULL;
		return -ENOMEM;
	}
	/* QEMU's option syntax would split the path at a comma. */
	if (strchr(*path, ',')) {
		fprintf(stderr, "hvsim: %s: QEMU cannot take a path with a comma\n", *path);
		goto fail;
	}
	if (access(*path, R_OK) != 0) {
		fprintf(stderr, "hvsim: %s: %s (run `make`; it needs iasl from acpica-tools)\n",
			*path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	free(*path);
	*path = NULL;
	return -ENOENT;
}

int launcher_guest_artifacts(const char *build, const char *repo, const char *kver,
			     char **initrd, char **modroot)
{
	char *script = NULL;
	int err = 0;

	*initrd = *modroot = NULL;
	if (asprintf(initrd, "%s/guest/%s/initrd.img", build, kver) < 0 ||
	    asprintf(modroot, "%s/guest/%s/modroot", build, kver) < 0 ||
	    asprintf(&script, "%s/host-sim/guest/make-guest", repo) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (access(*initrd, R_OK) != 0 || access(*modroot, R_OK | X_OK) != 0) {
		if (access(script, X_OK) != 0) {
			fprintf(stderr, "hvsim: %s is missing and %s, which builds it, "
				"is not there: run `make` (or make-guest %s) first\n",
				*initrd, script, kver);
			err = -ENOENT;
			goto out;
		}
		err = run_make_guest(script, kver);
		if (err || access(*initrd, R_OK) != 0 || access(*modroot, R_OK | X_OK) != 0) {
			fprintf(stderr, "hvsim: %s %s did not produce %s and %s\n",
				script, kver, *initrd, *modroot);
			err = err ? err : -ENOENT;
		}
	}
out:
	free(script);
	if (err) {
		free(*initrd);
		free(*modroot);
		*initrd = *modroot = NULL;
	}
	return err;
}

/* Compression or cpio magic at the start of an initramfs. */
static bool initrd_magic(const unsigned char *b, size_t n)
{
	static const struct { unsigned char m[4]; size_t len; } magic[] = {
		{ { '0', '7', '0', '7' }, 4 },		/* newc/odc cpio */
		{ { 0x1f, 0x8b }, 2 },			/* gzip */
		{ { 0x28, 0xb5, 0x2f, 0xfd }, 4 },	/* zstd */
		{ { 0xfd, '7', 'z', 'X' }, 4 },		/* xz */
		{ { 0x02, 0x21, 0x4c, 0x18 }, 4 },	/* lz4 legacy */
		{ { 'B', 'Z', 'h' }, 3 },		/* bzip2 */
		{ { 0x5d, 0x00, 0x00 }, 3 },		/* lzma */
		{ { 0x89, 'L', 'Z', 'O' }, 4 },		/* lzop */
	};
	size_t i;

	for (i = 0; i < sizeof(magic) / sizeof(magic[0]); i++) {
		if (n >= magic[i].len && memcmp(b, magic[i].m, magic[i].len) == 0)
			return true;
	}
	return false;
}

/* debugfs lives in /sbin, which an unprivileged PATH often lacks. */
static void exec_debugfs(char *const argv[])
{
	execvp("debugfs", argv);
	execv("/usr/sbin/debugfs", argv);
	execv("/sbin/debugfs", argv);
}

/* Kernel releases as Debian names them; nothing debugfs would split. */
static bool plain_kver(const char *kver)
{
	const char *p;

	if (!*kver)
		return false;
	for (p = kver; *p; p++) {
		char ch = *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' ||
		      ch == '+' || ch == '~'))
			return false;
	}
	return true;
}

int launcher_extract_root_initrd(const char *image, const char *kver, const char *out)
{
	char *request = NULL, *image_arg = NULL, msg[1024];
	unsigned char head[8];
	size_t msg_len = 0;
	int out_fd = -1, pipe_fd[2] = { -1, -1 }, status, err = 0;
	struct stat st;
	ssize_t n;
	pid_t pid;

	if (!plain_kver(kver)) {
		fprintf(stderr, "hvsim: --root-disk: kernel release '%s' has unusual characters\n",
			kver);
		return -EINVAL;
	}
	if (stat(image, &st) < 0) {
		err = -errno;
		fprintf(stderr, "hvsim: --root-disk %s: %s\n", image, strerror(errno));
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "hvsim: --root-disk %s: not a regular file\n", image);
		return -EINVAL;
	}
	/* debugfs would take a name starting with '-' for an option. */
	if (asprintf(&request, "cat /boot/initrd.img-%s", kver) < 0 ||
	    asprintf(&image_arg, "%s%s", image[0] == '-' ? "./" : "", image) < 0) {
		err = -ENOMEM;
		goto out;
	}
	out_fd = open(out, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out_fd < 0 || pipe2(pipe_fd, O_CLOEXEC) < 0) {
		err = -errno;
		fprintf(stderr, "hvsim: %s: %s\n", out, strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		char *argv[] = { "debugfs", "-R", request, image_arg, NULL };
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(out_fd, STDOUT_FILENO);
		dup2(pipe_fd[1], STDERR_FILENO);
		exec_debugfs(argv);
		{
			static const char text[] = "cannot execute debugfs (install e2fsprogs)\n";

			if (write(STDERR_FILENO, text, sizeof(text) - 1) < 0)
				_exit(127);
		}
		_exit(127);
	}
	close(pipe_fd[1]);
	pipe_fd[1] = -1;
	/* Its messages, for the error; read to EOF so it never blocks on us. */
	for (;;) {
		char buf[512];

		n = read(pipe_fd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (msg_len < sizeof(msg) - 1) {
			size_t take = (size_t)n < sizeof(msg) - 1 - msg_len ?
				      (size_t)n : sizeof(msg) - 1 - msg_len;

			memcpy(msg + msg_len, buf, take);
			msg_len += take;
		}
	}
	msg[msg_len] = '\0';
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err = -errno;
			goto out;
		}
	}
	if (fstat(out_fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	n = st.st_size >= (off_t)sizeof(head) ? pread(out_fd, head, sizeof(head), 0) : 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n != (ssize_t)sizeof(head) ||
	    !initrd_magic(head, sizeof(head))) {
		char *line, *save = NULL;

		fprintf(stderr, "hvsim: --root-disk %s: no usable /boot/initrd.img-%s in the "
			"image (build it with tests/rootfs/make-rootfs IMAGE %s)\n",
			image, kver, kver);
		/* debugfs's own words, minus its version banner. */
		for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "debugfs ", 8) != 0)
				fprintf(stderr, "hvsim:   debugfs: %s\n", line);
		}
		err = -ENOENT;
	}
out:
	if (pipe_fd[0] >= 0)
		close(pipe_fd[0]);
	if (pipe_fd[1] >= 0)
		close(pipe_fd[1]);
	if (out_fd >= 0)
		close(out_fd);
	if (err && out_fd >= 0)
		unlink(out);
	free(request);
	free(image_arg);
	return err;
}

/* mkdir that accepts an existing directory only if it is ours and private. */
static int private_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 022)) {
		fprintf(stderr, "hvsim: %s is not a private directory of this user\n", path);
		return -EPERM;
	}
	return 0;
}

int launcher_run_dir(const char *name, char **dir)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *base = NULL;
	int err;

	*dir = NULL;
	if (xdg && xdg[0] == '/') {
		if (asprintf(&base, "%s/hvsim", xdg) < 0)
			return -ENOMEM;
	} else if (asprintf(&base, "/tmp/hvsim-%u", (unsigned int)getuid()) < 0) {
		return -ENOMEM;
	}
	err = private_dir(base);
	if (!err && asprintf(dir, "%s/%s", base, name) < 0)
		err = -ENOMEM;
	free(base);
	return err;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int launcher_remove_tree(const char *dir)
{
	if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

bool launcher_valid_name(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}
