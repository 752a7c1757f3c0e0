// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The QEMU launcher: the command line for the 9p-root guest, for a root
 * disk (--root-disk) and with virtio-blk disks (--virtio-disk), argument
 * validation, and reading a root-disk image's initrd out of its ext4 file
 * system (needs mkfs.ext4 and debugfs from e2fsprogs, as hvsim does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "launcher/qemu.h"

static struct qemu_config base_config(void)
{
	return (struct qemu_config) {
		.binary = "qemu-test",
		.name = "t1",
		.kernel = "/boot/vmlinuz-test",
		.initrd = "/build/initrd.img",
		.modroot = "/build/modroot",
		.share_dir = "/run/t1/guest",
		.ram_path = "/dev/shm/t1-ram",
		.mem_mb = 512,
		.smp = 2,
		.console_log = "/run/t1/console.log",
		.serial1_socket = "/run/t1/serial1.sock",
		.ivshmem_socket = "/run/t1/ivshmem.sock",
		.vectors = 2,
	};
}

/* The argument after the first one equal to opt whose value contains sub. */
static const char *find_arg(char **argv, const char *opt, const char *sub)
{
	for (size_t i = 0; argv[i]; i++) {
		if (strcmp(argv[i], opt) == 0 && argv[i + 1] && strstr(argv[i + 1], sub))
			return argv[i + 1];
	}
	return NULL;
}

static void test_9p_root(void)
{
	struct qemu_config c = base_config();
	char **argv = qemu_build_argv(&c);
	const char *append;

	REQUIRE(argv);
	CHECK(strcmp(argv[0], "qemu-test") == 0);
	append = find_arg(argv, "-append", "console=ttyS0");
	CHECK(append && !strstr(append, "root=") && strstr(append, "viridian.mode=exec"));
	CHECK(find_arg(argv, "-fsdev", "id=modroot"));
	CHECK(find_arg(argv, "-fsdev", "id=hostroot"));
	CHECK(!find_arg(argv, "-drive", "virtio"));
	CHECK(!find_arg(argv, "-device", "virtio-blk-pci"));
	CHECK(!find_arg(argv, "-acpitable", ""));
	qemu_free_argv(argv);
}

/* The SSDT with the ACPI VMBus device goes to QEMU as is; a comma cannot. */
static void test_acpi_table(void)
{
	struct qemu_config c = base_config();
	char **argv;

	c.acpi_table = "/build/acpi/vmbus-ssdt.aml";
	argv = qemu_build_argv(&c);
	REQUIRE(argv);
	CHECK(find_arg(argv, "-acpitable", "file=/build/acpi/vmbus-ssdt.aml"));
	qemu_free_argv(argv);
	c.acpi_table = "/build,x/vmbus-ssdt.aml";
	CHECK(!qemu_build_argv(&c) && errno == EINVAL);
}

static void test_root_disk(void)
{
	struct qemu_config c = base_config();
	char **argv;
	const char *append;

	c.root_disk = true;
	c.modroot = NULL;	/* not needed, not used */
	c.shell = true;
	argv = qemu_build_argv(&c);
	REQUIRE(argv);
	append = find_arg(argv, "-append", "console=ttyS0");
	REQUIRE(append);
	CHECK(strstr(append, "root=/dev/sda rw init=" ROOT_DISK_INIT " "));
	CHECK(strstr(append, "viridian.mode=shell viridian.name=t1"));
	CHECK(!find_arg(argv, "-fsdev", "id=modroot"));
	CHECK(find_arg(argv, "-fsdev", "id=hostroot"));
	CHECK(find_arg(argv, "-fsdev", "id=hvsimrun"));
	CHECK(find_arg(argv, "-initrd", "/build/initrd.img"));
	qemu_free_argv(argv);
}

static void test_virtio_disks(void)
{
	const char *disks[] = { "/img/a.raw", "/img/b.raw" };
	struct qemu_config c = base_config();
	char **argv;

	c.virtio_disks = disks;
	c.nr_virtio_disks = 2;
	c.extra_append = "quiet";
	argv = qemu_build_argv(&c);
	REQUIRE(argv);
	CHECK(find_arg(argv, "-drive",
		       "file=/img/a.raw,format=raw,if=none,id=vd0,cache=writeback,aio=threads"));
	CHECK(find_arg(argv, "-drive", "file=/img/b.raw,format=raw,if=none,id=vd1,"));
	CHECK(find_arg(argv, "-device", "virtio-blk-pci,drive=vd0"));
	CHECK(find_arg(argv, "-device", "virtio-blk-pci,drive=vd1"));
	CHECK(find_arg(argv, "-append", " quiet"));
	qemu_free_argv(argv);
}

static void test_rejects(void)
{
	const char *comma[] = { "/img/a,b.raw" };
	const char *many[QEMU_MAX_VIRTIO_DISKS + 1] = { "/a", "/b", "/c", "/d", "/e" };
	struct qemu_config c;

	c = base_config();
	c.virtio_disks = comma;
	c.nr_virtio_disks = 1;
	errno = 0;
	CHECK(!qemu_build_argv(&c) && errno == EINVAL);

	c = base_config();
	c.virtio_disks = many;
	c.nr_virtio_disks = QEMU_MAX_VIRTIO_DISKS + 1;
	CHECK(!qemu_build_argv(&c) && errno == EINVAL);

	c = base_config();
	c.nr_virtio_disks = 1;	/* and no array */
	CHECK(!qemu_build_argv(&c) && errno == EINVAL);

	/* Without a root disk the module overlay is required. */
	c = base_config();
	c.modroot = NULL;
	CHECK(!qemu_build_argv(&c) && errno == EINVAL);

	c = base_config();
	c.kernel = "/boot/vmlinuz,x";
	CHECK(!qemu_build_argv(&c) && errno == EINVAL);
}

/* ---- the initrd of a root-disk image ---- */

static char scratch[64];

static bool make_image(const char *initrd_bytes, size_t len)
{
	char cmd[512], path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tree/boot", scratch);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
	if (system(cmd) != 0)
		return false;
	if (initrd_bytes) {
		snprintf(path, sizeof(path), "%s/tree/boot/initrd.img-9.9.9-test", scratch);
		f = fopen(path, "wb");
		if (!f || fwrite(initrd_bytes, 1, len, f) != len) {
			if (f)
				fclose(f);
			return false;
		}
		if (fclose(f) != 0)
			return false;
	}
	snprintf(cmd, sizeof(cmd),
		 "PATH=$PATH:/usr/sbin:/sbin; rm -f %s/root.img && truncate -s 8M %s/root.img && "
		 "mkfs.ext4 -q -F -d %s/tree %s/root.img >/dev/null 2>&1",
		 scratch, scratch, scratch, scratch);
	return system(cmd) == 0;
}

static void test_extract_initrd(void)
{
	/* A gzip header and some payload: what an initramfs starts with. */
	static const char initrd[] = "\x1f\x8b\x08\x00 some compressed initramfs bytes";
	char image[128], out[128], buf[sizeof(initrd)];
	FILE *f;

	REQUIRE(make_image(initrd, sizeof(initrd) - 1));
	snprintf(image, sizeof(image), "%s/root.img", scratch);
	snprintf(out, sizeof(out), "%s/initrd.out", scratch);
	unlink(out);
	REQUIRE(launcher_extract_root_initrd(image, "9.9.9-test", out) == 0);
	f = fopen(out, "rb");
	REQUIRE(f);
	CHECK(fread(buf, 1, sizeof(buf), f) == sizeof(initrd) - 1);
	CHECK(memcmp(buf, initrd, sizeof(initrd) - 1) == 0);
	fclose(f);

	/* The output is created exclusively: never over an existing file. */
	CHECK(launcher_extract_root_initrd(image, "9.9.9-test", out) < 0);
	unlink(out);

	/* Another kernel: no such initrd; nothing is left behind. */
	CHECK(launcher_extract_root_initrd(image, "1.2.3-other", out) == -ENOENT);
	CHECK(access(out, F_OK) != 0);

	/* Release names debugfs would split or misread are refused. */
	CHECK(launcher_extract_root_initrd(image, "9.9 dump", out) == -EINVAL);
	CHECK(launcher_extract_root_initrd(image, "../x", out) == -EINVAL);

	/* Not an image at all. */
	CHECK(launcher_extract_root_initrd(scratch, "9.9.9-test", out) < 0);
	CHECK(access(out, F_OK) != 0);
}

static void test_extract_not_an_initrd(void)
{
	char image[128], out[128];

	/* A file that is there but is no initramfs (text, no magic). */
	REQUIRE(make_image("just some text, not an initramfs", 32));
	snprintf(image, sizeof(image), "%s/root.img", scratch);
	snprintf(out, sizeof(out), "%s/initrd.out", scratch);
	unlink(out);
	CHECK(launcher_extract_root_initrd(image, "9.9.9-test", out) == -ENOENT);
	CHECK(access(out, F_OK) != 0);
}

int main(void)
{
	char cmd[128];
	int rc;

	snprintf(scratch, sizeof(scratch), "/tmp/test_launcher.XXXXXX");
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_9p_root);
	RUN_TEST(test_acpi_table);
	RUN_TEST(test_root_disk);
	RUN_TEST(test_virtio_disks);
	RUN_TEST(test_rejects);
	RUN_TEST(test_extract_initrd);
	RUN_TEST(test_extract_not_an_initrd);
	rc = check_finish();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", scratch);
	return rc;
}
