// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of host-sim's SCSI disk emulation (host-sim/scsi/disk.c) on
 * sparse temporary images.
 */
#include "check.h"
#include "scsi/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IMG_BYTES	(64u * 1024u * 1024u)

static char img_path[64];

static const char *make_image(uint64_t bytes)
{
	int fd;

	strcpy(img_path, "/tmp/test_scsi_disk.XXXXXX");
	fd = mkstemp(img_path);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		close(fd);
		unlink(img_path);
		return NULL;
	}
	close(fd);
	return img_path;
}

static struct scsi_disk *open_disk(unsigned int sector, bool ro)
{
	char err[256];
	struct scsi_disk *d;

	if (!make_image(IMG_BYTES))
		return NULL;
	d = scsi_disk_open(img_path, sector, ro, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "open: %s\n", err);
		unlink(img_path);
	}
	return d;
}

static void close_disk(struct scsi_disk *d)
{
	scsi_disk_close(d);
	unlink(img_path);
}

/* Run a command with one flat buffer. */
static int run(struct scsi_disk *d, const uint8_t *cdb, unsigned int cdb_len,
	       void *buf, size_t len, bool data_in, struct scsi_result *res)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return scsi_disk_execute(d, cdb, cdb_len, len ? &v : NULL, len ? 1 : 0,
				 len, data_in, res);
}

static bool sense_is(const struct scsi_result *res, uint8_t key,
		     uint16_t asc)
{
	return res->status == SCSI_STATUS_CHECK_CONDITION &&
	       res->sense_len == SCSI_SENSE_FIXED_LEN &&
	       (res->sense[0] & 0x7f) == 0x70 &&
	       (res->sense[2] & 0x0f) == key &&
	       res->sense[12] == (asc >> 8) && res->sense[13] == (asc & 0xff);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void cdb_rw16(uint8_t *cdb, bool write, uint64_t lba, uint32_t n,
		     bool fua)
{
	memset(cdb, 0, 16);
	cdb[0] = write ? SCSI_OP_WRITE_16 : SCSI_OP_READ_16;
	cdb[1] = fua ? 0x08 : 0;
	put_be64(&cdb[2], lba);
	put_be32(&cdb[10], n);
}

static void cdb_rw10(uint8_t *cdb, bool write, uint32_t lba, uint16_t n)
{
	memset(cdb, 0, 10);
	cdb[0] = write ? SCSI_OP_WRITE_10 : SCSI_OP_READ_10;
	put_be32(&cdb[2], lba);
	cdb[7] = (uint8_t)(n >> 8);
	cdb[8] = (uint8_t)n;
}

static void test_open_errors(void)
{
	char err[256];
	struct scsi_disk *d, *d2;

	CHECK(!scsi_disk_open("/nonexistent/x.img", 512, false, err,
			      sizeof(err)));
	CHECK(strstr(err, "/nonexistent/x.img") != NULL);
	CHECK(!scsi_disk_open("/tmp", 512, false, err, sizeof(err)));
	REQUIRE(make_image(100));
	CHECK(!scsi_disk_open(img_path, 512, false, err, sizeof(err)));
	CHECK(strstr(err, "smaller") != NULL);
	unlink(img_path);

	REQUIRE(make_image(IMG_BYTES));
	CHECK(!scsi_disk_open(img_path, 1024, false, err, sizeof(err)));
	d = scsi_disk_open(img_path, 0, false, err, sizeof(err));
	CHECK(d != NULL);
	if (d) {
		CHECK(scsi_disk_sector_size(d) == 512);
		CHECK(scsi_disk_blocks(d) == IMG_BYTES / 512);
		/* A second writer of the same image is refused. */
		d2 = scsi_disk_open(img_path, 512, false, err, sizeof(err));
		CHECK(!d2);
		CHECK(strstr(err, "in use") != NULL);
		if (d2)
			scsi_disk_close(d2);
		scsi_disk_close(d);
	}
	unlink(img_path);
}

static void test_inquiry(void)
{
	struct scsi_disk *d = open_disk(512, false);
	uint8_t cdb[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 255, 0 };
	struct scsi_result res;
	uint8_t buf[255];

	REQUIRE(d);
	memset(buf, 0xee, sizeof(buf));
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(buf[0] == 0x00);
	CHECK(buf[2] >= 5);
	CHECK((buf[3] & 0x0f) == 2);
	CHECK(buf[4] == 31);
	CHECK(memcmp(&buf[8], "Msft    Virtual Disk    ", 24) == 0);
	CHECK(res.residual == sizeof(buf) - 36);

	/* Allocation length shorter than the data truncates it. */
	cdb[4] = 5;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD && res.residual == 250);

	/* Page code without EVPD is invalid. */
	cdb[2] = 0x80;
	cdb[4] = 255;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));

	/* VPD 0x00: the supported pages. */
	cdb[1] = 1;
	cdb[2] = 0x00;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(buf[1] == 0x00 && buf[3] == 6);
	CHECK(memcmp(&buf[4], "\x00\x80\x83\xb0\xb1\xb2", 6) == 0);

	/* VPD 0x80: the serial number. */
	cdb[2] = 0x80;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(buf[1] == 0x80 && buf[3] == 16);
	CHECK(memcmp(&buf[4], scsi_disk_serial(d), 16) == 0);

	/* VPD 0x83: an NAA designator, then a T10 vendor ID. */
	cdb[2] = 0x83;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(buf[1] == 0x83);
	CHECK((buf[5] & 0x0f) == 3 && buf[7] == 8 && (buf[8] >> 4) == 3);
	CHECK((buf[17] & 0x0f) == 1 && memcmp(&buf[20], "Msft", 4) == 0);
	CHECK(buf[3] == 12 + 28);

	/* VPD 0xB0: block limits. */
	cdb[2] = 0xb0;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(buf[1] == 0xb0 && buf[3] == 0x3c);
	CHECK(get_be32(&buf[8]) == SCSI_DISK_MAX_TRANSFER_BYTES / 512);
	CHECK(get_be32(&buf[20]) > 0 && get_be32(&buf[24]) > 0);
	CHECK(get_be64(&buf[36]) > 0);

	/* VPD 0xB1: non-rotating. */
	cdb[2] = 0xb1;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(buf[1] == 0xb1 && buf[4] == 0 && buf[5] == 1);

	/* VPD 0xB2: LBPU and LBPWS. */
	cdb[2] = 0xb2;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(buf[1] == 0xb2 && (buf[5] & 0xc0) == 0xc0);

	cdb[2] = 0x89;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));
	CHECK(res.residual == sizeof(buf));
	close_disk(d);
}

static void test_read_capacity(void)
{
	for (unsigned int bs = 512; bs <= 4096; bs *= 8) {
		struct scsi_disk *d = open_disk(bs, false);
		uint8_t cdb10[10] = { SCSI_OP_READ_CAPACITY_10 };
		uint8_t cdb16[16] = { SCSI_OP_SERVICE_ACTION_IN_16,
				      SCSI_SAI_READ_CAPACITY_16 };
		struct scsi_result res;
		uint8_t buf[32];

		REQUIRE(d);
		CHECK(run(d, cdb10, 10, buf, 8, true, &res) == 0);
		CHECK(res.status == SCSI_STATUS_GOOD);
		CHECK(get_be32(buf) == IMG_BYTES / bs - 1);
		CHECK(get_be32(&buf[4]) == bs);

		put_be32(&cdb16[10], 32);
		CHECK(run(d, cdb16, 16, buf, 32, true, &res) == 0);
		CHECK(res.status == SCSI_STATUS_GOOD && res.residual == 0);
		CHECK(get_be64(buf) == IMG_BYTES / bs - 1);
		CHECK(get_be32(&buf[8]) == bs);
		CHECK((buf[13] & 0x0f) == (bs == 512 ? 3 : 0));
		CHECK(buf[14] & 0x80);		/* LBPME */

		/* Other service actions of 0x9e are not implemented. */
		cdb16[1] = 0x11;
		CHECK(run(d, cdb16, 16, buf, 32, true, &res) == 0);
		CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_INVALID_FIELD_IN_CDB));
		close_disk(d);
	}
}

/*
 * Write through three odd-sized segments, read back through a different
 * split, check the bytes and where they landed in the image.
 */
static void roundtrip(unsigned int bs)
{
	struct scsi_disk *d = open_disk(bs, false);
	const uint32_t nblk = 8, lba = 5;
	size_t len = (size_t)nblk * bs;
	uint8_t *out = malloc(len), *in = malloc(len), *file = malloc(len);
	struct iovec wv[3], rv[4];
	struct scsi_result res;
	uint8_t cdb[16];
	int fd;

	if (!d || !out || !in || !file) {
		CHECK(!"setup failed");
		goto done;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(i * 7 + i / 251);
	wv[0] = (struct iovec){ out, 1 };
	wv[1] = (struct iovec){ out + 1, 1000 };
	wv[2] = (struct iovec){ out + 1001, len - 1001 };
	cdb_rw16(cdb, true, lba, nblk, true);
	CHECK(scsi_disk_execute(d, cdb, 16, wv, 3, len, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD && res.residual == 0);

	memset(in, 0, len);
	rv[0] = (struct iovec){ in, 3 };
	rv[1] = (struct iovec){ in + 3, 0 };
	rv[2] = (struct iovec){ in + 3, 4093 };
	rv[3] = (struct iovec){ in + 4096, len - 4096 };
	cdb_rw10(cdb, false, lba, (uint16_t)nblk);
	CHECK(scsi_disk_execute(d, cdb, 10, rv, 4, len, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(memcmp(in, out, len) == 0);

	/* READ 12 and READ 6 of the same blocks. */
	memset(in, 0, len);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_READ_12;
	put_be32(&cdb[2], lba);
	put_be32(&cdb[6], nblk);
	CHECK(run(d, cdb, 12, in, len, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD && memcmp(in, out, len) == 0);
	memset(in, 0, len);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_READ_6;
	cdb[3] = (uint8_t)lba;
	cdb[4] = (uint8_t)nblk;
	CHECK(run(d, cdb, 6, in, len, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD && memcmp(in, out, len) == 0);

	/* WRITE 6 and WRITE 12 land where they say. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_WRITE_6;
	cdb[3] = 100;
	cdb[4] = 1;
	CHECK(run(d, cdb, 6, out, bs, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_WRITE_12;
	put_be32(&cdb[2], 200);
	put_be32(&cdb[6], 1);
	CHECK(run(d, cdb, 12, out + bs, bs, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);

	fd = open(img_path, O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(pread(fd, file, len, (off_t)lba * bs) == (ssize_t)len);
		CHECK(memcmp(file, out, len) == 0);
		CHECK(pread(fd, file, bs, 100 * (off_t)bs) == (ssize_t)bs);
		CHECK(memcmp(file, out, bs) == 0);
		CHECK(pread(fd, file, bs, 200 * (off_t)bs) == (ssize_t)bs);
		CHECK(memcmp(file, out + bs, bs) == 0);
		close(fd);
	}

	/* A buffer larger than the transfer leaves a residual. */
	cdb_rw16(cdb, false, lba, 1, false);
	CHECK(run(d, cdb, 16, in, len, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD && res.residual == len - bs);
	/* A buffer smaller than the transfer is refused. */
	cdb_rw16(cdb, false, lba, 2, false);
	CHECK(run(d, cdb, 16, in, bs, true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));
	/* So is a write whose data would flow the wrong way. */
	cdb_rw16(cdb, true, lba, 1, false);
	CHECK(run(d, cdb, 16, in, bs, true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));
	/* Zero blocks is a no-op. */
	cdb_rw16(cdb, false, lba, 0, false);
	CHECK(run(d, cdb, 16, NULL, 0, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	/* iovecs shorter than data_len are a caller bug. */
	wv[0] = (struct iovec){ in, 10 };
	CHECK(scsi_disk_execute(d, cdb, 16, wv, 1, 11, true, &res) ==
	      -EINVAL);
done:
	free(out);
	free(in);
	free(file);
	if (d)
		close_disk(d);
}

static void test_roundtrip_512(void)
{
	roundtrip(512);
}

static void test_roundtrip_4096(void)
{
	roundtrip(4096);
}

static void test_read_only(void)
{
	struct scsi_disk *d = open_disk(512, true);
	uint8_t buf[512] = { 0 }, cdb[16];
	struct scsi_result res;

	REQUIRE(d);
	CHECK(scsi_disk_read_only(d));
	cdb_rw16(cdb, true, 0, 1, false);
	CHECK(run(d, cdb, 16, buf, 512, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED));
	cdb_rw16(cdb, false, 0, 1, false);
	CHECK(run(d, cdb, 16, buf, 512, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_UNMAP;
	cdb[8] = 24;
	CHECK(run(d, cdb, 10, buf, 24, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED));

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_WRITE_SAME_16;
	cdb[13] = 1;
	CHECK(run(d, cdb, 16, buf, 512, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED));

	/* MODE SENSE reports write protection. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_MODE_SENSE_6;
	cdb[2] = 0x3f;
	cdb[4] = 255;
	CHECK(run(d, cdb, 6, buf, 255, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD && (buf[2] & 0x80));

	{
		char err[128];

		CHECK(scsi_disk_resize(d, IMG_BYTES * 2, err, sizeof(err)) ==
		      -EROFS);
	}
	close_disk(d);
}

static void test_out_of_range(void)
{
	struct scsi_disk *d = open_disk(512, false);
	uint64_t blocks = IMG_BYTES / 512;
	uint8_t buf[1024], cdb[16];
	struct scsi_result res;

	REQUIRE(d);
	cdb_rw16(cdb, false, blocks - 1, 1, false);
	CHECK(run(d, cdb, 16, buf, 512, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	cdb_rw16(cdb, false, blocks - 1, 2, false);
	CHECK(run(d, cdb, 16, buf, 1024, true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_LBA_OUT_OF_RANGE));
	cdb_rw16(cdb, true, blocks, 1, false);
	CHECK(run(d, cdb, 16, buf, 512, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_LBA_OUT_OF_RANGE));
	/* lba + n wraps around 2^64. */
	cdb_rw16(cdb, false, UINT64_MAX, 2, false);
	CHECK(run(d, cdb, 16, buf, 1024, true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_LBA_OUT_OF_RANGE));
	/* A transfer over the advertised maximum. */
	cdb_rw16(cdb, false, 0, SCSI_DISK_MAX_TRANSFER_BYTES / 512 + 1, false);
	CHECK(run(d, cdb, 16, buf, 1024, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_CHECK_CONDITION);
	/* SYNCHRONIZE CACHE checks its range too. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_SYNCHRONIZE_CACHE_16;
	put_be64(&cdb[2], blocks + 5);
	CHECK(run(d, cdb, 16, NULL, 0, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_LBA_OUT_OF_RANGE));
	close_disk(d);
}

static uint64_t image_blocks_allocated(void)
{
	struct stat st;

	if (stat(img_path, &st) < 0)
		return UINT64_MAX;
	return (uint64_t)st.st_blocks;
}

static void test_unmap(void)
{
	struct scsi_disk *d = open_disk(512, false);
	const uint32_t nblk = 2048;		/* 1 MiB */
	size_t len = (size_t)nblk * 512;
	uint8_t *data = malloc(len), cdb[16], params[8 + 32];
	uint64_t before, after;
	struct scsi_result res;

	if (!d || !data) {
		CHECK(!"setup failed");
		goto done;
	}
	memset(data, 0x5a, len);
	cdb_rw16(cdb, true, 4096, nblk, false);
	CHECK(run(d, cdb, 16, data, len, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	cdb[0] = SCSI_OP_SYNCHRONIZE_CACHE_10;
	memset(cdb + 1, 0, 9);
	CHECK(run(d, cdb, 10, NULL, 0, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	before = image_blocks_allocated();
	CHECK(before >= len / 512);

	/* Two descriptors: the first and second halves. */
	memset(params, 0, sizeof(params));
	params[1] = 6 + 32;
	params[3] = 32;
	put_be64(&params[8], 4096);
	put_be32(&params[16], nblk / 2);
	put_be64(&params[24], 4096 + nblk / 2);
	put_be32(&params[32], nblk / 2);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_UNMAP;
	cdb[8] = sizeof(params);
	CHECK(run(d, cdb, 10, params, sizeof(params), false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	after = image_blocks_allocated();
	CHECKF(after + len / 512 <= before, "st_blocks %llu -> %llu",
	       (unsigned long long)before, (unsigned long long)after);

	cdb_rw16(cdb, false, 4096, nblk, false);
	CHECK(run(d, cdb, 16, data, len, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	for (size_t i = 0; i < len; i++)
		if (data[i]) {
			CHECKF(0, "byte %zu not zero after UNMAP", i);
			break;
		}

	/* A descriptor past the end fails the whole command. */
	put_be64(&params[24], IMG_BYTES / 512);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_UNMAP;
	cdb[8] = sizeof(params);
	CHECK(run(d, cdb, 10, params, sizeof(params), false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_LBA_OUT_OF_RANGE));
	/* A parameter list shorter than its header. */
	cdb[8] = 4;
	CHECK(run(d, cdb, 10, params, 4, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_PARAM_LIST_LENGTH));
	/* A descriptor count larger than the list is clamped to it. */
	params[3] = 0xf0;
	params[2] = 0xff;
	put_be64(&params[24], 0);
	cdb[8] = sizeof(params);
	CHECK(run(d, cdb, 10, params, sizeof(params), false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
done:
	free(data);
	if (d)
		close_disk(d);
}

static void test_write_same(void)
{
	struct scsi_disk *d = open_disk(4096, false);
	uint8_t *block = malloc(4096), *back = malloc(16 * 4096), cdb[16];
	uint64_t before, after;
	struct scsi_result res;

	if (!d || !block || !back) {
		CHECK(!"setup failed");
		goto done;
	}
	for (int i = 0; i < 4096; i++)
		block[i] = (uint8_t)(i ^ 0xa5);

	/* Without UNMAP: the pattern in every block. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_WRITE_SAME_16;
	put_be64(&cdb[2], 10);
	put_be32(&cdb[10], 16);
	CHECK(run(d, cdb, 16, block, 4096, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	cdb_rw16(cdb, false, 10, 16, false);
	CHECK(run(d, cdb, 16, back, 16 * 4096, true, &res) == 0);
	for (int i = 0; i < 16; i++)
		CHECKF(memcmp(back + i * 4096, block, 4096) == 0,
		       "block %d does not hold the pattern", i);

	/* With UNMAP and a zero pattern: holes. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_WRITE_SAME_16;
	cdb[1] = 0x08;
	put_be64(&cdb[2], 10);
	put_be32(&cdb[10], 16);
	memset(block, 0, 4096);
	before = image_blocks_allocated();
	CHECK(run(d, cdb, 16, block, 4096, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	after = image_blocks_allocated();
	CHECKF(after + 16 * 8 <= before, "st_blocks %llu -> %llu",
	       (unsigned long long)before, (unsigned long long)after);
	cdb_rw16(cdb, false, 10, 16, false);
	CHECK(run(d, cdb, 16, back, 16 * 4096, true, &res) == 0);
	for (int i = 0; i < 16 * 4096; i++)
		if (back[i]) {
			CHECKF(0, "byte %d not zero", i);
			break;
		}

	/* WRITE SAME 10 writes too. */
	memset(block, 0x11, 4096);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_WRITE_SAME_10;
	put_be32(&cdb[2], 40);
	cdb[8] = 2;
	CHECK(run(d, cdb, 10, block, 4096, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	cdb_rw16(cdb, false, 41, 1, false);
	CHECK(run(d, cdb, 16, back, 4096, true, &res) == 0);
	CHECK(back[0] == 0x11 && back[4095] == 0x11);

	/* Zero blocks is refused (WSNZ), as is a range past the end. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_WRITE_SAME_16;
	CHECK(run(d, cdb, 16, block, 4096, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));
	put_be64(&cdb[2], IMG_BYTES / 4096 - 1);
	put_be32(&cdb[10], 2);
	CHECK(run(d, cdb, 16, block, 4096, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_LBA_OUT_OF_RANGE));
	/* A pattern buffer shorter than a block. */
	put_be64(&cdb[2], 0);
	put_be32(&cdb[10], 1);
	CHECK(run(d, cdb, 16, block, 512, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));
done:
	free(block);
	free(back);
	if (d)
		close_disk(d);
}

static void test_medium_error(void)
{
	struct scsi_disk *d = open_disk(512, false);
	uint8_t buf[16 * 512], cdb[16];
	struct scsi_result res;

	REQUIRE(d);
	CHECK(scsi_disk_fault_medium(d, 100, 10) == 0);
	CHECK(scsi_disk_fault_medium(d, 5, 0) == -EINVAL);
	cdb_rw16(cdb, false, 95, 16, false);
	CHECK(run(d, cdb, 16, buf, sizeof(buf), true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_MEDIUM_ERROR,
		       SCSI_ASC_UNRECOVERED_READ_ERROR));
	CHECK(res.sense[0] & 0x80);
	CHECK(get_be32(&res.sense[3]) == 100);
	CHECK(res.residual == sizeof(buf));
	cdb_rw16(cdb, false, 110, 16, false);
	CHECK(run(d, cdb, 16, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	cdb_rw16(cdb, true, 109, 1, false);
	CHECK(run(d, cdb, 16, buf, 512, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR));
	scsi_disk_fault_clear(d);
	cdb_rw16(cdb, false, 95, 16, false);
	CHECK(run(d, cdb, 16, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	close_disk(d);
}

static void test_capacity_change(void)
{
	struct scsi_disk *d = open_disk(512, false);
	uint8_t buf[512], cdb[16];
	struct scsi_result res;
	char err[128];

	REQUIRE(d);
	CHECK(scsi_disk_resize(d, 1000, err, sizeof(err)) == -EINVAL);
	CHECK(scsi_disk_resize(d, 0, err, sizeof(err)) == -EINVAL);
	CHECK(scsi_disk_resize(d, IMG_BYTES * 2, err, sizeof(err)) == 0);
	CHECK(scsi_disk_blocks(d) == IMG_BYTES * 2 / 512);

	/* INQUIRY neither reports nor clears the unit attention. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_INQUIRY;
	cdb[4] = 36;
	CHECK(run(d, cdb, 6, buf, 36, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);

	memset(cdb, 0, sizeof(cdb));
	CHECK(run(d, cdb, 6, NULL, 0, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_UNIT_ATTENTION,
		       SCSI_ASC_CAPACITY_CHANGED));
	/* Reported once. */
	CHECK(run(d, cdb, 6, NULL, 0, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);

	cdb[0] = SCSI_OP_READ_CAPACITY_10;
	CHECK(run(d, cdb, 10, buf, 8, true, &res) == 0);
	CHECK(get_be32(buf) == IMG_BYTES * 2 / 512 - 1);

	/* The new blocks are usable; shrinking puts them out of range. */
	cdb_rw16(cdb, true, IMG_BYTES / 512 + 10, 1, false);
	CHECK(run(d, cdb, 16, buf, 512, false, &res) == 0 &&
	      res.status == SCSI_STATUS_GOOD);
	CHECK(scsi_disk_resize(d, IMG_BYTES, err, sizeof(err)) == 0);
	/* REQUEST SENSE returns the attention as data and clears it. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_REQUEST_SENSE;
	cdb[4] = 18;
	memset(buf, 0, sizeof(buf));
	CHECK(run(d, cdb, 6, buf, 18, true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(buf[0] == 0x70 && (buf[2] & 0x0f) == SCSI_SK_UNIT_ATTENTION);
	CHECK(buf[12] == 0x2a && buf[13] == 0x09);
	CHECK(run(d, cdb, 6, buf, 18, true, &res) == 0);
	CHECK(buf[0] == 0x70 && (buf[2] & 0x0f) == SCSI_SK_NO_SENSE);
	cdb_rw16(cdb, true, IMG_BYTES / 512 + 10, 1, false);
	CHECK(run(d, cdb, 16, buf, 512, false, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_LBA_OUT_OF_RANGE));
	close_disk(d);
}

static void test_mode_sense(void)
{
	struct scsi_disk *d = open_disk(512, false);
	uint8_t buf[255], cdb[10];
	struct scsi_result res;

	REQUIRE(d);
	/* MODE SENSE 6, caching page, with a block descriptor. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_MODE_SENSE_6;
	cdb[2] = 0x08;
	cdb[4] = 255;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(buf[0] == 3 + 8 + 20 && buf[3] == 8);
	CHECK(!(buf[2] & 0x80) && (buf[2] & 0x10));
	CHECK(get_be32(&buf[4]) == IMG_BYTES / 512);
	CHECK(buf[12] == 0x08 && buf[13] == 0x12 && (buf[14] & 0x04));

	/* All pages, no block descriptor. */
	cdb[1] = 0x08;
	cdb[2] = 0x3f;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(buf[0] == 3 + 20 + 12 && buf[3] == 0);
	CHECK(buf[4] == 0x08 && buf[24] == 0x0a && buf[25] == 0x0a);

	/* Saved values are not supported; unknown pages are invalid. */
	cdb[2] = 0xc8;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_SAVING_PARAMS_UNSUP));
	cdb[2] = 0x1c;
	CHECK(run(d, cdb, 6, buf, sizeof(buf), true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));

	/* MODE SENSE 10 with a long LBA descriptor, control page. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_MODE_SENSE_10;
	cdb[1] = 0x10;
	cdb[2] = 0x0a;
	cdb[8] = 255;
	CHECK(run(d, cdb, 10, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(buf[1] == 6 + 16 + 12 && (buf[4] & 1) && buf[7] == 16);
	CHECK(get_be64(&buf[8]) == IMG_BYTES / 512);
	CHECK(get_be32(&buf[20]) == 512);
	CHECK(buf[24] == 0x0a);
	CHECK(res.residual == sizeof(buf) - (8 + 16 + 12));
	close_disk(d);
}

static void test_misc_commands(void)
{
	struct scsi_disk *d = open_disk(512, false);
	uint8_t buf[64], cdb[16];
	struct scsi_result res;

	REQUIRE(d);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_TEST_UNIT_READY;
	CHECK(run(d, cdb, 6, NULL, 0, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD && res.sense_len == 0);

	cdb[0] = SCSI_OP_START_STOP_UNIT;
	cdb[4] = 1;
	CHECK(run(d, cdb, 6, NULL, 0, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_REPORT_LUNS;
	cdb[9] = 64;
	CHECK(run(d, cdb, 12, buf, sizeof(buf), true, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);
	CHECK(get_be32(buf) == 8 && get_be64(&buf[8]) == 0);
	CHECK(res.residual == sizeof(buf) - 16);
	cdb[9] = 8;
	CHECK(run(d, cdb, 12, buf, sizeof(buf), true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_OP_SYNCHRONIZE_CACHE_16;
	CHECK(run(d, cdb, 16, NULL, 0, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_GOOD);

	/* Unknown and unimplemented operation codes. */
	static const uint8_t bad_ops[] = { 0x1e, 0x2f, 0x15, 0xa3, 0xff, 0xc0 };

	for (size_t i = 0; i < sizeof(bad_ops); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = bad_ops[i];
		CHECK(run(d, cdb, 16, NULL, 0, false, &res) == 0);
		CHECKF(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_OPCODE),
		       "opcode 0x%02x", bad_ops[i]);
	}
	/* A CDB shorter than its group code says. */
	cdb_rw16(cdb, false, 0, 1, false);
	CHECK(run(d, cdb, 10, buf, 512 > sizeof(buf) ? sizeof(buf) : 512,
		  true, &res) == 0);
	CHECK(sense_is(&res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB));
	CHECK(run(d, cdb, 0, NULL, 0, false, &res) == 0);
	CHECK(res.status == SCSI_STATUS_CHECK_CONDITION);
	CHECK(scsi_disk_execute(d, NULL, 6, NULL, 0, 0, false, &res) ==
	      -EINVAL);
	close_disk(d);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_stall_policy(void)
{
	struct scsi_disk *d = open_disk(512, false);
	uint64_t until = 0, gen = 0, gen2 = 0, now = mono_ns();

	REQUIRE(d);
	CHECK(scsi_disk_stall_policy(d, now, &until, &gen) == SCSI_STALL_NONE);
	scsi_disk_fault_stall(d, 50);
	CHECK(scsi_disk_stall_policy(d, now, &until, &gen) ==
	      SCSI_STALL_TIMED);
	CHECK(until == now + 50000000ull);
	scsi_disk_fault_stall(d, 0);
	CHECK(scsi_disk_stall_policy(d, now, &until, &gen) ==
	      SCSI_STALL_UNTIL_RELEASE);
	/* Release lets the held commands go and ends an untimed stall. */
	scsi_disk_fault_release(d);
	CHECK(scsi_disk_stall_generation(d) != gen);
	CHECK(scsi_disk_stall_policy(d, now, &until, &gen2) == SCSI_STALL_NONE);
	CHECK(gen2 == gen + 1);
	/* So does a bus reset. */
	scsi_disk_fault_stall(d, 0);
	scsi_disk_fault_reset(d);
	CHECK(scsi_disk_stall_policy(d, now, &until, &gen) == SCSI_STALL_NONE);
	CHECK(gen == gen2 + 1);
	/* A timed stall outlives both; only clear ends it. */
	scsi_disk_fault_stall(d, 50);
	scsi_disk_fault_reset(d);
	CHECK(scsi_disk_stall_generation(d) == gen);
	scsi_disk_fault_release(d);
	CHECK(scsi_disk_stall_policy(d, now, &until, &gen2) ==
	      SCSI_STALL_TIMED);
	CHECK(gen2 == gen + 1);
	scsi_disk_fault_clear(d);
	CHECK(scsi_disk_stall_policy(d, now, &until, &gen) == SCSI_STALL_NONE);
	CHECK(gen == gen2 + 1);
	close_disk(d);
}

static void test_report_luns_helper(void)
{
	const unsigned int luns[] = { 0, 3, 300 };
	uint8_t buf[64];

	CHECK(scsi_report_luns_data(buf, sizeof(buf), luns, 3) == 32);
	CHECK(get_be32(buf) == 24);
	CHECK(buf[9] == 0 && buf[17] == 3);
	CHECK(buf[24] == (0x40 | 1) && buf[25] == 300 - 256);
	/* Short buffers hold what fits and still say the full length. */
	CHECK(scsi_report_luns_data(buf, 12, luns, 3) == 32);
}

int main(void)
{
	RUN_TEST(test_open_errors);
	RUN_TEST(test_inquiry);
	RUN_TEST(test_read_capacity);
	RUN_TEST(test_roundtrip_512);
	RUN_TEST(test_roundtrip_4096);
	RUN_TEST(test_read_only);
	RUN_TEST(test_out_of_range);
	RUN_TEST(test_unmap);
	RUN_TEST(test_write_same);
	RUN_TEST(test_medium_error);
	RUN_TEST(test_capacity_change);
	RUN_TEST(test_mode_sense);
	RUN_TEST(test_misc_commands);
	RUN_TEST(test_stall_policy);
	RUN_TEST(test_report_luns_helper);
	return check_finish();
}
