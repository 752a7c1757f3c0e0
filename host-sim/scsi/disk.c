// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * SCSI disk emulation over a raw image file. See disk.h for the contract.
 *
 * Locking: io_lock is a reader/writer lock. Every command holds it shared
 * for its whole run so that a resize (exclusive) never lands between a
 * command's range check and its I/O. state_lock guards the small mutable
 * state (unit attention, faults) and is never held across I/O.
 */
#include "scsi/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define DISK_VENDOR		"Msft    "
#define DISK_PRODUCT		"Virtual Disk    "
#define DISK_REVISION		"1.0 "

/* Limits advertised in the Block Limits VPD page and enforced here. */
#define DISK_MAX_UNMAP_DESCRIPTORS	256u
#define DISK_MAX_UNMAP_BLOCKS		0x400000u
#define DISK_MAX_WRITE_SAME_BLOCKS	0x400000u
/* Hole punching works in filesystem pages, whatever the block size. */
#define DISK_PHYSICAL_BLOCK		4096u

#define DISK_MAX_MEDIUM_FAULTS		64
#define DISK_IOV_WINDOW			256
/* Pattern buffer for WRITE SAME, refilled from the one-block pattern. */
#define DISK_PATTERN_BYTES		(64u * 1024u)

struct medium_fault {
	uint64_t lba;
	uint64_t count;
};

struct scsi_disk {
	int fd;
	char *path;
	unsigned int block_size;
	bool ro;
	char serial[17];
	uint64_t naa;

	pthread_rwlock_t io_lock;
	uint64_t blocks;		/* changes only under io_lock (write) */

	pthread_mutex_t state_lock;
	bool capacity_changed_ua;
	struct medium_fault medium[DISK_MAX_MEDIUM_FAULTS];
	size_t nmedium;
	bool stall_on;
	unsigned int stall_ms;
	uint64_t stall_generation;
	struct log_ratelimit rl;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A guest that issues failing commands in a loop must not flood the log. */
#define DISK_LOG(d, fmt, ...) \
	log_ratelimited(&(d)->rl, "scsi %s: " fmt, (d)->path, __VA_ARGS__)

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
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

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
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

/* Fixed-format sense; the information field is set when info_valid. */
static void set_sense_info(struct scsi_result *res, uint8_t key,
			   uint16_t asc_ascq, bool info_valid, uint64_t info)
{
	res->status = SCSI_STATUS_CHECK_CONDITION;
	memset(res->sense, 0, sizeof(res->sense));
	res->sense[0] = 0x70 | (info_valid ? 0x80 : 0);
	res->sense[2] = key & 0x0f;
	/* The fixed format carries 32 bits; larger LBAs leave VALID clear. */
	if (info_valid && info <= UINT32_MAX)
		put_be32(&res->sense[3], (uint32_t)info);
	else
		res->sense[0] &= 0x7f;
	res->sense[7] = SCSI_SENSE_FIXED_LEN - 8;
	res->sense[12] = (uint8_t)(asc_ascq >> 8);
	res->sense[13] = (uint8_t)asc_ascq;
	res->sense_len = SCSI_SENSE_FIXED_LEN;
}

void scsi_set_sense(struct scsi_result *res, uint8_t key, uint16_t asc_ascq)
{
	set_sense_info(res, key, asc_ascq, false, 0);
}

static void invalid_field(struct scsi_result *res)
{
	scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
		       SCSI_ASC_INVALID_FIELD_IN_CDB);
}

size_t scsi_iov_copy_to(const struct iovec *iov, int iovcnt, size_t limit,
			const void *src, size_t len)
{
	const uint8_t *from = src;
	size_t done = 0;

	if (len > limit)
		len = limit;
	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (n > len - done)
			n = len - done;
		if (n)
			memcpy(iov[i].iov_base, from + done, n);
		done += n;
	}
	return done;
}

static size_t iov_copy_from(const struct iovec *iov, int iovcnt, void *dst,
			    size_t len)
{
	uint8_t *to = dst;
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (n > len - done)
			n = len - done;
		if (n)
			memcpy(to + done, iov[i].iov_base, n);
		done += n;
	}
	return done;
}

/*
 * preadv/pwritev of len bytes straight between the image and the caller's
 * iovecs, in windows of at most DISK_IOV_WINDOW entries, resuming after
 * short transfers. Returns 0 or -errno; -ENODATA for a read past EOF
 * (the file shrank behind our back).
 */
static int iov_file_io(int fd, bool write, const struct iovec *iov,
		       int iovcnt, size_t len, uint64_t off)
{
	struct iovec win[DISK_IOV_WINDOW];
	size_t done = 0, skip = 0;
	int idx = 0;

	while (done < len) {
		size_t want = 0, s = skip;
		int n = 0;
		ssize_t r;

		for (int i = idx; i < iovcnt && n < DISK_IOV_WINDOW &&
		     want < len - done; i++, s = 0) {
			size_t l = iov[i].iov_len - s;

			if (l > len - done - want)
				l = len - done - want;
			if (!l)
				continue;
			win[n].iov_base = (uint8_t *)iov[i].iov_base + s;
			win[n].iov_len = l;
			n++;
			want += l;
		}
		if (!n)
			return -EINVAL;
		if (off + done > (uint64_t)INT64_MAX)
			return -EOVERFLOW;
		if (write)
			r = pwritev(fd, win, n, (off_t)(off + done));
		else
			r = preadv(fd, win, n, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return write ? -EIO : -ENODATA;
		done += (size_t)r;
		for (size_t adv = (size_t)r; adv;) {
			size_t l = iov[idx].iov_len - skip;

			if (adv < l) {
				skip += adv;
				adv = 0;
			} else {
				adv -= l;
				idx++;
				skip = 0;
			}
		}
	}
	return 0;
}

static void fnv1a(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 0x100000001b3ull;
	}
}

struct scsi_disk *scsi_disk_open(const char *path, unsigned int sector_size,
				 bool ro, char *err, size_t errlen)
{
	struct scsi_disk *d;
	struct stat st;
	uint64_t h = 0xcbf29ce484222325ull;

	if (!path || !*path) {
		set_err(err, errlen, "no image path");
		return NULL;
	}
	if (!sector_size)
		sector_size = 512;
	if (sector_size != 512 && sector_size != 4096) {
		set_err(err, errlen, "%s: sector size %u (512 or 4096)", path,
			sector_size);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	d->fd = -1;
	d->block_size = sector_size;
	d->ro = ro;
	d->path = strdup(path);
	if (!d->path) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	d->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->fd < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(d->fd, &st) < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	/* Two writers of one image would corrupt it silently. */
	if (flock(d->fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		set_err(err, errlen, "%s: image in use (%s)", path,
			strerror(errno));
		goto fail;
	}
	if ((uint64_t)st.st_size < sector_size) {
		set_err(err, errlen, "%s: smaller than one %u-byte sector",
			path, sector_size);
		goto fail;
	}
	d->blocks = (uint64_t)st.st_size / sector_size;

	/* Stable identity per image file, so /dev/disk/by-id survives reboots. */
	fnv1a(&h, &st.st_dev, sizeof(st.st_dev));
	fnv1a(&h, &st.st_ino, sizeof(st.st_ino));
	snprintf(d->serial, sizeof(d->serial), "%016" PRIx64, h);
	/* NAA 3: locally assigned 60-bit identifier. */
	d->naa = (3ull << 60) | (h & 0x0fffffffffffffffull);

	if (pthread_rwlock_init(&d->io_lock, NULL)) {
		set_err(err, errlen, "rwlock init failed");
		goto fail;
	}
	if (pthread_mutex_init(&d->state_lock, NULL)) {
		pthread_rwlock_destroy(&d->io_lock);
		set_err(err, errlen, "mutex init failed");
		goto fail;
	}
	return d;

fail:
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
	return NULL;
}

void scsi_disk_close(struct scsi_disk *d)
{
	if (!d)
		return;
	if (!d->ro && fdatasync(d->fd) < 0)
		log_msg("scsi %s: fdatasync: %s", d->path, strerror(errno));
	close(d->fd);
	pthread_mutex_destroy(&d->state_lock);
	pthread_rwlock_destroy(&d->io_lock);
	free(d->path);
	free(d);
}

uint64_t scsi_disk_blocks(struct scsi_disk *d)
{
	uint64_t blocks;

	pthread_rwlock_rdlock(&d->io_lock);
	blocks = d->blocks;
	pthread_rwlock_unlock(&d->io_lock);
	return blocks;
}

unsigned int scsi_disk_sector_size(const struct scsi_disk *d)
{
	return d->block_size;
}

bool scsi_disk_read_only(const struct scsi_disk *d)
{
	return d->ro;
}

const char *scsi_disk_path(const struct scsi_disk *d)
{
	return d->path;
}

const char *scsi_disk_serial(const struct scsi_disk *d)
{
	return d->serial;
}

int scsi_disk_resize(struct scsi_disk *d, uint64_t new_bytes, char *err,
		     size_t errlen)
{
	uint64_t old;

	if (d->ro) {
		set_err(err, errlen, "%s: read-only", d->path);
		return -EROFS;
	}
	if (new_bytes < d->block_size || new_bytes % d->block_size ||
	    new_bytes > (uint64_t)INT64_MAX) {
		set_err(err, errlen,
			"%s: size %" PRIu64 " is not a positive multiple of %u",
			d->path, new_bytes, d->block_size);
		return -EINVAL;
	}
	pthread_rwlock_wrlock(&d->io_lock);
	if (ftruncate(d->fd, (off_t)new_bytes) < 0) {
		int e = errno;

		pthread_rwlock_unlock(&d->io_lock);
		set_err(err, errlen, "%s: truncate: %s", d->path, strerror(e));
		return -e;
	}
	old = d->blocks;
	d->blocks = new_bytes / d->block_size;
	pthread_rwlock_unlock(&d->io_lock);

	if (old != new_bytes / d->block_size) {
		pthread_mutex_lock(&d->state_lock);
		d->capacity_changed_ua = true;
		pthread_mutex_unlock(&d->state_lock);
	}
	return 0;
}

int scsi_disk_fault_medium(struct scsi_disk *d, uint64_t lba, uint64_t count)
{
	int ret = 0;

	if (!count || lba + count < lba)
		return -EINVAL;
	pthread_mutex_lock(&d->state_lock);
	if (d->nmedium == DISK_MAX_MEDIUM_FAULTS) {
		ret = -ENOSPC;
	} else {
		d->medium[d->nmedium].lba = lba;
		d->medium[d->nmedium].count = count;
		d->nmedium++;
	}
	pthread_mutex_unlock(&d->state_lock);
	return ret;
}

void scsi_disk_fault_stall(struct scsi_disk *d, unsigned int ms)
{
	pthread_mutex_lock(&d->state_lock);
	d->stall_on = true;
	d->stall_ms = ms;
	pthread_mutex_unlock(&d->state_lock);
}

void scsi_disk_fault_release(struct scsi_disk *d)
{
	pthread_mutex_lock(&d->state_lock);
	if (d->stall_on && !d->stall_ms)
		d->stall_on = false;
	d->stall_generation++;
	pthread_mutex_unlock(&d->state_lock);
}

void scsi_disk_fault_reset(struct scsi_disk *d)
{
	pthread_mutex_lock(&d->state_lock);
	if (d->stall_on && !d->stall_ms) {
		d->stall_on = false;
		d->stall_generation++;
	}
	pthread_mutex_unlock(&d->state_lock);
}

void scsi_disk_fault_clear(struct scsi_disk *d)
{
	pthread_mutex_lock(&d->state_lock);
	d->nmedium = 0;
	d->stall_on = false;
	d->stall_ms = 0;
	d->stall_generation++;
	pthread_mutex_unlock(&d->state_lock);
}

enum scsi_stall scsi_disk_stall_policy(struct scsi_disk *d, uint64_t now,
				       uint64_t *until_ns, uint64_t *generation)
{
	enum scsi_stall policy = SCSI_STALL_NONE;

	pthread_mutex_lock(&d->state_lock);
	if (d->stall_on) {
		if (d->stall_ms) {
			policy = SCSI_STALL_TIMED;
			if (until_ns)
				*until_ns = now + d->stall_ms * 1000000ull;
		} else {
			policy = SCSI_STALL_UNTIL_RELEASE;
		}
	}
	if (generation)
		*generation = d->stall_generation;
	pthread_mutex_unlock(&d->state_lock);
	return policy;
}

uint64_t scsi_disk_stall_generation(struct scsi_disk *d)
{
	uint64_t gen;

	pthread_mutex_lock(&d->state_lock);
	gen = d->stall_generation;
	pthread_mutex_unlock(&d->state_lock);
	return gen;
}

/* First injected bad LBA within [lba, lba + n), if any. */
static bool medium_fault_hit(struct scsi_disk *d, uint64_t lba, uint64_t n,
			     uint64_t *bad)
{
	bool hit = false;

	*bad = UINT64_MAX;
	if (!n)
		return false;
	pthread_mutex_lock(&d->state_lock);
	for (size_t i = 0; i < d->nmedium; i++) {
		const struct medium_fault *f = &d->medium[i];
		uint64_t f_end = f->lba + f->count, end = lba + n;

		if (f->lba < end && lba < f_end) {
			uint64_t first = f->lba > lba ? f->lba : lba;

			if (first < *bad)
				*bad = first;
			hit = true;
		}
	}
	pthread_mutex_unlock(&d->state_lock);
	return hit;
}

/* Consume the pending unit attention, if any. */
static bool take_unit_attention(struct scsi_disk *d)
{
	bool ua;

	pthread_mutex_lock(&d->state_lock);
	ua = d->capacity_changed_ua;
	d->capacity_changed_ua = false;
	pthread_mutex_unlock(&d->state_lock);
	return ua;
}

static unsigned int physical_exponent(const struct scsi_disk *d)
{
	unsigned int exp = 0;

	while ((d->block_size << exp) < DISK_PHYSICAL_BLOCK)
		exp++;
	return exp;
}

/* Report an I/O failure of the image the way a disk would. */
static void io_error(struct scsi_disk *d, struct scsi_result *res, int e,
		     bool write, uint64_t lba)
{
	DISK_LOG(d, "%s at LBA %" PRIu64 ": %s", write ? "write" : "read",
		 lba, strerror(-e));
	switch (e) {
	case -ENOSPC:
	case -EDQUOT:
		/* Thin provisioning exhausted: what SBC defines for it. */
		scsi_set_sense(res, SCSI_SK_DATA_PROTECT,
			       SCSI_ASC_SPACE_ALLOC_FAILED_WP);
		break;
	case -EIO:
	case -ENODATA:
		set_sense_info(res, SCSI_SK_MEDIUM_ERROR,
			       write ? SCSI_ASC_WRITE_ERROR :
				       SCSI_ASC_UNRECOVERED_READ_ERROR,
			       true, lba);
		break;
	default:
		scsi_set_sense(res, SCSI_SK_HARDWARE_ERROR,
			       SCSI_ASC_INTERNAL_TARGET_FAILURE);
		break;
	}
}

/* Common checks of a command that writes blocks. */
static bool write_allowed(struct scsi_disk *d, struct scsi_result *res)
{
	if (d->ro) {
		scsi_set_sense(res, SCSI_SK_DATA_PROTECT,
			       SCSI_ASC_WRITE_PROTECTED);
		return false;
	}
	return true;
}

static bool range_ok(struct scsi_disk *d, struct scsi_result *res,
		     uint64_t lba, uint64_t n)
{
	if (lba > d->blocks || n > d->blocks - lba) {
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

static int datasync(struct scsi_disk *d, struct scsi_result *res)
{
	if (fdatasync(d->fd) < 0) {
		int e = errno;

		DISK_LOG(d, "fdatasync: %s", strerror(e));
		set_sense_info(res, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR,
			       false, 0);
		return -e;
	}
	return 0;
}

static void cmd_read_write(struct scsi_disk *d, const uint8_t *cdb,
			   const struct iovec *iov, int iovcnt,
			   size_t data_len, bool data_in,
			   struct scsi_result *res)
{
	bool write, fua = false;
	uint64_t lba, n, bytes, bad = 0;
	int e;

	switch (cdb[0]) {
	case SCSI_OP_READ_6:
	case SCSI_OP_WRITE_6:
		lba = (uint64_t)(cdb[1] & 0x1f) << 16 | get_be16(&cdb[2]);
		n = cdb[4] ? cdb[4] : 256;
		break;
	case SCSI_OP_READ_10:
	case SCSI_OP_WRITE_10:
		lba = get_be32(&cdb[2]);
		n = get_be16(&cdb[7]);
		break;
	case SCSI_OP_READ_12:
	case SCSI_OP_WRITE_12:
		lba = get_be32(&cdb[2]);
		n = get_be32(&cdb[6]);
		break;
	default:
		lba = get_be64(&cdb[2]);
		n = get_be32(&cdb[10]);
		break;
	}
	write = cdb[0] == SCSI_OP_WRITE_6 || cdb[0] == SCSI_OP_WRITE_10 ||
		cdb[0] == SCSI_OP_WRITE_12 || cdb[0] == SCSI_OP_WRITE_16;
	if (cdb[0] != SCSI_OP_READ_6 && cdb[0] != SCSI_OP_WRITE_6) {
		/* No protection information on this disk. */
		if (cdb[1] & 0xe0) {
			invalid_field(res);
			return;
		}
		fua = cdb[1] & 0x08;
	}
	if (write && !write_allowed(d, res))
		return;
	if (!range_ok(d, res, lba, n))
		return;
	bytes = n * d->block_size;
	if (bytes > SCSI_DISK_MAX_TRANSFER_BYTES || bytes > data_len ||
	    (bytes && data_in == write)) {
		invalid_field(res);
		return;
	}
	if (medium_fault_hit(d, lba, n, &bad)) {
		set_sense_info(res, SCSI_SK_MEDIUM_ERROR,
			       write ? SCSI_ASC_WRITE_ERROR :
				       SCSI_ASC_UNRECOVERED_READ_ERROR,
			       true, bad);
		return;
	}
	if (!bytes)
		return;
	e = iov_file_io(d->fd, write, iov, iovcnt, bytes, lba * d->block_size);
	if (e) {
		io_error(d, res, e, write, lba);
		return;
	}
	if (write && fua && datasync(d, res))
		return;
	res->residual = data_len - bytes;
}

static void cmd_inquiry(struct scsi_disk *d, const uint8_t *cdb,
			const struct iovec *iov, int iovcnt, size_t data_len,
			struct scsi_result *res)
{
	uint8_t buf[96];
	uint16_t alloc = get_be16(&cdb[3]);
	size_t len;

	memset(buf, 0, sizeof(buf));
	if (cdb[1] & 0x02) {		/* CmdDt: obsolete */
		invalid_field(res);
		return;
	}
	if (!(cdb[1] & 0x01)) {
		if (cdb[2]) {
			invalid_field(res);
			return;
		}
		buf[0] = 0x00;			/* direct-access block device */
		buf[2] = 0x06;			/* SPC-4 */
		buf[3] = 0x12;			/* HISUP, response format 2 */
		buf[4] = 36 - 5;
		buf[7] = 0x02;			/* CMDQUE */
		memcpy(&buf[8], DISK_VENDOR, 8);
		memcpy(&buf[16], DISK_PRODUCT, 16);
		memcpy(&buf[32], DISK_REVISION, 4);
		len = 36;
	} else {
		bool thin = !d->ro;

		buf[1] = cdb[2];
		switch (cdb[2]) {
		case 0x00: {
			static const uint8_t pages[] = {
				0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2
			};

			memcpy(&buf[4], pages, sizeof(pages));
			len = 4 + sizeof(pages);
			break;
		}
		case 0x80:
			memcpy(&buf[4], d->serial, 16);
			len = 4 + 16;
			break;
		case 0x83: {
			uint8_t *p = &buf[4];

			/* NAA designator, binary, associated with the LU. */
			p[0] = 0x01;
			p[1] = 0x03;
			p[3] = 8;
			put_be64(&p[4], d->naa);
			p += 12;
			/* T10 vendor ID designator, ASCII. */
			p[0] = 0x02;
			p[1] = 0x01;
			p[3] = 8 + 16;
			memcpy(&p[4], DISK_VENDOR, 8);
			memcpy(&p[12], d->serial, 16);
			p += 4 + 8 + 16;
			len = (size_t)(p - buf);
			break;
		}
		case 0xb0: {
			uint32_t granularity = DISK_PHYSICAL_BLOCK / d->block_size;

			buf[4] = 0x01;		/* WSNZ: WRITE SAME of 0 blocks refused */
			put_be16(&buf[6], (uint16_t)granularity);
			put_be32(&buf[8], SCSI_DISK_MAX_TRANSFER_BYTES /
					  d->block_size);
			put_be32(&buf[12], SCSI_DISK_MAX_TRANSFER_BYTES /
					   d->block_size);
			if (thin) {
				put_be32(&buf[20], DISK_MAX_UNMAP_BLOCKS);
				put_be32(&buf[24], DISK_MAX_UNMAP_DESCRIPTORS);
				put_be32(&buf[28], granularity);
				put_be64(&buf[36], DISK_MAX_WRITE_SAME_BLOCKS);
			}
			len = 64;
			break;
		}
		case 0xb1:
			put_be16(&buf[4], 0x0001);	/* non-rotating medium */
			len = 64;
			break;
		case 0xb2:
			if (thin) {
				/* LBPU, LBPWS, LBPWS10, LBPRZ = 1 */
				buf[5] = 0x80 | 0x40 | 0x20 | 0x04;
				buf[6] = 0x02;		/* thin provisioned */
			}
			len = 8;
			break;
		default:
			invalid_field(res);
			return;
		}
		put_be16(&buf[2], (uint16_t)(len - 4));
	}
	len = scsi_iov_copy_to(iov, iovcnt, alloc < data_len ? alloc : data_len,
			       buf, len);
	res->residual = data_len - len;
}

static void cmd_read_capacity(struct scsi_disk *d, const uint8_t *cdb,
			      const struct iovec *iov, int iovcnt,
			      size_t data_len, struct scsi_result *res)
{
	uint8_t buf[32];
	size_t len, alloc;

	memset(buf, 0, sizeof(buf));
	if (cdb[0] == SCSI_OP_READ_CAPACITY_10) {
		uint64_t last = d->blocks - 1;

		put_be32(&buf[0], last > UINT32_MAX ? UINT32_MAX :
						      (uint32_t)last);
		put_be32(&buf[4], d->block_size);
		len = 8;
		alloc = 8;
	} else {
		put_be64(&buf[0], d->blocks - 1);
		put_be32(&buf[8], d->block_size);
		buf[13] = (uint8_t)physical_exponent(d);
		if (!d->ro)
			buf[14] = 0x80 | 0x40;	/* LBPME, LBPRZ */
		len = 32;
		alloc = get_be32(&cdb[10]);
	}
	len = scsi_iov_copy_to(iov, iovcnt, alloc < data_len ? alloc : data_len,
			       buf, len);
	res->residual = data_len - len;
}

static size_t mode_page_caching(uint8_t *p, unsigned int pc)
{
	memset(p, 0, 20);
	p[0] = 0x08;
	p[1] = 0x12;
	/* The page cache holds writes until a flush: a volatile cache. */
	if (pc != 1)
		p[2] = 0x04;		/* WCE */
	return 20;
}

static size_t mode_page_control(uint8_t *p, unsigned int pc)
{
	memset(p, 0, 12);
	p[0] = 0x0a;
	p[1] = 0x0a;
	if (pc != 1)
		p[3] = 0x10;		/* unrestricted reordering */
	return 12;
}

static void cmd_mode_sense(struct scsi_disk *d, const uint8_t *cdb,
			   const struct iovec *iov, int iovcnt,
			   size_t data_len, struct scsi_result *res)
{
	bool ten = cdb[0] == SCSI_OP_MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08, llbaa = ten && (cdb[1] & 0x10);
	unsigned int pc = cdb[2] >> 6, page = cdb[2] & 0x3f;
	unsigned int subpage = cdb[3];
	size_t hdr = ten ? 8 : 4, bdlen = 0, len, alloc;
	uint8_t buf[128];
	uint8_t dsp;

	memset(buf, 0, sizeof(buf));
	if (pc == 3) {
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_SAVING_PARAMS_UNSUP);
		return;
	}
	if (subpage && !(page == 0x3f && subpage == 0xff)) {
		invalid_field(res);
		return;
	}
	if (page != 0x08 && page != 0x0a && page != 0x3f) {
		invalid_field(res);
		return;
	}
	if (!dbd)
		bdlen = llbaa ? 16 : 8;
	len = hdr;
	if (bdlen == 8) {
		uint64_t blocks = d->blocks;

		put_be32(&buf[len], blocks > UINT32_MAX ? UINT32_MAX :
							  (uint32_t)blocks);
		put_be32(&buf[len + 4], d->block_size & 0xffffff);
	} else if (bdlen == 16) {
		put_be64(&buf[len], d->blocks);
		put_be32(&buf[len + 12], d->block_size);
	}
	len += bdlen;
	if (page == 0x08 || page == 0x3f)
		len += mode_page_caching(&buf[len], pc);
	if (page == 0x0a || page == 0x3f)
		len += mode_page_control(&buf[len], pc);

	/* The media are write protected; FUA and DPO are honoured. */
	dsp = (d->ro ? 0x80 : 0) | 0x10;
	if (ten) {
		put_be16(&buf[0], (uint16_t)(len - 2));
		buf[3] = dsp;
		buf[4] = bdlen == 16 ? 0x01 : 0;
		put_be16(&buf[6], (uint16_t)bdlen);
		alloc = get_be16(&cdb[7]);
	} else {
		buf[0] = (uint8_t)(len - 1);
		buf[2] = dsp;
		buf[3] = (uint8_t)bdlen;
		alloc = cdb[4];
	}
	len = scsi_iov_copy_to(iov, iovcnt, alloc < data_len ? alloc : data_len,
			       buf, len);
	res->residual = data_len - len;
}

size_t scsi_report_luns_data(uint8_t *buf, size_t buflen,
			     const unsigned int *luns, size_t nluns)
{
	size_t need = 8 + 8 * nluns;

	if (buflen >= 8) {
		memset(buf, 0, 8);
		put_be32(buf, (uint32_t)(8 * nluns));
	}
	for (size_t i = 0; i < nluns; i++) {
		uint8_t *e = buf + 8 + 8 * i;

		if (8 + 8 * (i + 1) > buflen)
			break;
		memset(e, 0, 8);
		/* Peripheral addressing below 256, flat space above. */
		if (luns[i] < 256) {
			e[1] = (uint8_t)luns[i];
		} else {
			e[0] = (uint8_t)(0x40 | ((luns[i] >> 8) & 0x3f));
			e[1] = (uint8_t)luns[i];
		}
	}
	return need;
}

static void cmd_report_luns(const uint8_t *cdb, const struct iovec *iov,
			    int iovcnt, size_t data_len,
			    struct scsi_result *res)
{
	static const unsigned int lun0;
	uint32_t alloc = get_be32(&cdb[6]);
	uint8_t buf[16];
	size_t len;

	if (alloc < 16) {
		invalid_field(res);
		return;
	}
	len = scsi_report_luns_data(buf, sizeof(buf), &lun0, 1);
	len = scsi_iov_copy_to(iov, iovcnt, alloc < data_len ? alloc : data_len,
			       buf, len);
	res->residual = data_len - len;
}

static void cmd_request_sense(struct scsi_disk *d, const uint8_t *cdb,
			      const struct iovec *iov, int iovcnt,
			      size_t data_len, struct scsi_result *res)
{
	struct scsi_result pending = { 0 };
	size_t len;

	/* Only fixed format is implemented; SPC allows it even if DESC=1. */
	if (take_unit_attention(d))
		scsi_set_sense(&pending, SCSI_SK_UNIT_ATTENTION,
			       SCSI_ASC_CAPACITY_CHANGED);
	else
		scsi_set_sense(&pending, SCSI_SK_NO_SENSE, SCSI_ASC_NONE);
	len = scsi_iov_copy_to(iov, iovcnt,
			       cdb[4] < data_len ? cdb[4] : data_len,
			       pending.sense, SCSI_SENSE_FIXED_LEN);
	res->residual = data_len - len;
}

static void cmd_synchronize_cache(struct scsi_disk *d, const uint8_t *cdb,
				  struct scsi_result *res)
{
	uint64_t lba, n;

	if (cdb[0] == SCSI_OP_SYNCHRONIZE_CACHE_10) {
		lba = get_be32(&cdb[2]);
		n = get_be16(&cdb[7]);
	} else {
		lba = get_be64(&cdb[2]);
		n = get_be32(&cdb[10]);
	}
	if (!range_ok(d, res, lba, n))
		return;
	if (!d->ro)
		datasync(d, res);
}

/* Deallocate blocks; holes read back as zeros (LBPRZ). */
static int punch(struct scsi_disk *d, uint64_t lba, uint64_t n)
{
	static const uint8_t zeros[DISK_PATTERN_BYTES];
	uint64_t off = lba * d->block_size, len = n * d->block_size;

	if (!len)
		return 0;
	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	/* Filesystems without hole punching still read back zeros. */
	while (len) {
		size_t chunk = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t r = pwrite(d->fd, zeros, chunk, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

static void cmd_unmap(struct scsi_disk *d, const uint8_t *cdb,
		      const struct iovec *iov, int iovcnt, size_t data_len,
		      bool data_in, struct scsi_result *res)
{
	uint16_t plen = get_be16(&cdb[7]);
	uint8_t *params;
	size_t ndesc;
	int e;

	if (cdb[1] & 0x01) {		/* ANCHOR: not supported */
		invalid_field(res);
		return;
	}
	if (!write_allowed(d, res))
		return;
	if (!plen)
		return;
	if (data_in || data_len < plen) {
		invalid_field(res);
		return;
	}
	if (plen < 8) {
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_PARAM_LIST_LENGTH);
		return;
	}
	params = malloc(plen);
	if (!params) {
		scsi_set_sense(res, SCSI_SK_HARDWARE_ERROR,
			       SCSI_ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	iov_copy_from(iov, iovcnt, params, plen);
	ndesc = get_be16(&params[2]);
	if (ndesc > (size_t)plen - 8u)
		ndesc = (size_t)plen - 8u;
	ndesc /= 16;
	if (ndesc > DISK_MAX_UNMAP_DESCRIPTORS) {
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_INVALID_FIELD_IN_PARAM);
		goto out;
	}
	/* Validate every descriptor before touching the image. */
	for (size_t i = 0; i < ndesc; i++) {
		const uint8_t *desc = &params[8 + 16 * i];
		uint64_t lba = get_be64(desc);
		uint32_t n = get_be32(&desc[8]);

		if (n > DISK_MAX_UNMAP_BLOCKS) {
			scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
				       SCSI_ASC_INVALID_FIELD_IN_PARAM);
			goto out;
		}
		if (!range_ok(d, res, lba, n))
			goto out;
	}
	for (size_t i = 0; i < ndesc; i++) {
		const uint8_t *desc = &params[8 + 16 * i];
		uint64_t lba = get_be64(desc);

		e = punch(d, lba, get_be32(&desc[8]));
		if (e) {
			io_error(d, res, e, true, lba);
			goto out;
		}
	}
	res->residual = data_len - plen;
out:
	free(params);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void cmd_write_same(struct scsi_disk *d, const uint8_t *cdb,
			   const struct iovec *iov, int iovcnt,
			   size_t data_len, bool data_in,
			   struct scsi_result *res)
{
	bool unmap = cdb[1] & 0x08, ndob = false;
	unsigned int bs = d->block_size;
	uint64_t lba, n, off;
	uint8_t *pattern;
	size_t per_write;
	int e = 0;

	if (cdb[0] == SCSI_OP_WRITE_SAME_10) {
		lba = get_be32(&cdb[2]);
		n = get_be16(&cdb[7]);
	} else {
		lba = get_be64(&cdb[2]);
		n = get_be32(&cdb[10]);
		ndob = cdb[1] & 0x01;
	}
	/* ANCHOR and protection information are not supported. */
	if ((cdb[1] & 0x10) || (cdb[1] & 0xe0) || !n ||
	    n > DISK_MAX_WRITE_SAME_BLOCKS) {
		invalid_field(res);
		return;
	}
	if (!write_allowed(d, res))
		return;
	if (!range_ok(d, res, lba, n))
		return;
	if (!ndob && (data_in || data_len < bs)) {
		invalid_field(res);
		return;
	}
	pattern = calloc(1, DISK_PATTERN_BYTES);
	if (!pattern) {
		scsi_set_sense(res, SCSI_SK_HARDWARE_ERROR,
			       SCSI_ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	if (!ndob)
		iov_copy_from(iov, iovcnt, pattern, bs);
	if (unmap && all_zero(pattern, bs)) {
		e = punch(d, lba, n);
	} else {
		for (size_t o = bs; o < DISK_PATTERN_BYTES; o += bs)
			memcpy(pattern + o, pattern, bs);
		per_write = DISK_PATTERN_BYTES;
		off = lba * bs;
		for (uint64_t left = n * bs; left && !e;) {
			size_t chunk = left < per_write ? (size_t)left :
							  per_write;
			struct iovec v = { .iov_base = pattern,
					   .iov_len = chunk };

			e = iov_file_io(d->fd, true, &v, 1, chunk, off);
			off += chunk;
			left -= chunk;
		}
	}
	free(pattern);
	if (e) {
		io_error(d, res, e, true, lba);
		return;
	}
	res->residual = ndob ? data_len : data_len - bs;
}

/* CDB length implied by the group code of the operation code. */
static unsigned int cdb_length(uint8_t opcode)
{
	switch (opcode >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 0;
	}
}

int scsi_disk_execute(struct scsi_disk *d, const uint8_t *cdb,
		      unsigned int cdb_len, const struct iovec *iov,
		      int iovcnt, size_t data_len, bool data_in,
		      struct scsi_result *res)
{
	size_t iov_total = 0;
	unsigned int need;
	uint8_t op;

	if (!d || !cdb || !res || iovcnt < 0 || (iovcnt && !iov))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -EINVAL;
		iov_total += iov[i].iov_len;
		if (iov_total < iov[i].iov_len)
			return -EINVAL;
	}
	if (iov_total < data_len)
		return -EINVAL;

	memset(res, 0, sizeof(*res));
	res->status = SCSI_STATUS_GOOD;
	res->residual = data_len;
	if (!cdb_len) {
		invalid_field(res);
		return 0;
	}
	op = cdb[0];
	need = cdb_length(op);
	if (!need) {
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_INVALID_OPCODE);
		return 0;
	}
	if (cdb_len < need) {
		invalid_field(res);
		return 0;
	}

	/*
	 * SPC: INQUIRY and REPORT LUNS neither report nor clear a unit
	 * attention; REQUEST SENSE returns it as data.
	 */
	if (op != SCSI_OP_INQUIRY && op != SCSI_OP_REPORT_LUNS &&
	    op != SCSI_OP_REQUEST_SENSE && take_unit_attention(d)) {
		scsi_set_sense(res, SCSI_SK_UNIT_ATTENTION,
			       SCSI_ASC_CAPACITY_CHANGED);
		return 0;
	}

	pthread_rwlock_rdlock(&d->io_lock);
	switch (op) {
	case SCSI_OP_TEST_UNIT_READY:
	case SCSI_OP_START_STOP_UNIT:
		break;
	case SCSI_OP_REQUEST_SENSE:
		cmd_request_sense(d, cdb, iov, iovcnt, data_len, res);
		break;
	case SCSI_OP_INQUIRY:
		cmd_inquiry(d, cdb, iov, iovcnt, data_len, res);
		break;
	case SCSI_OP_READ_CAPACITY_10:
		cmd_read_capacity(d, cdb, iov, iovcnt, data_len, res);
		break;
	case SCSI_OP_SERVICE_ACTION_IN_16:
		if ((cdb[1] & 0x1f) != SCSI_SAI_READ_CAPACITY_16) {
			invalid_field(res);
			break;
		}
		cmd_read_capacity(d, cdb, iov, iovcnt, data_len, res);
		break;
	case SCSI_OP_READ_6:
	case SCSI_OP_WRITE_6:
	case SCSI_OP_READ_10:
	case SCSI_OP_WRITE_10:
	case SCSI_OP_READ_12:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_READ_16:
	case SCSI_OP_WRITE_16:
		cmd_read_write(d, cdb, iov, iovcnt, data_len, data_in, res);
		break;
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
		cmd_synchronize_cache(d, cdb, res);
		break;
	case SCSI_OP_UNMAP:
		cmd_unmap(d, cdb, iov, iovcnt, data_len, data_in, res);
		break;
	case SCSI_OP_WRITE_SAME_10:
	case SCSI_OP_WRITE_SAME_16:
		cmd_write_same(d, cdb, iov, iovcnt, data_len, data_in, res);
		break;
	case SCSI_OP_MODE_SENSE_6:
	case SCSI_OP_MODE_SENSE_10:
		cmd_mode_sense(d, cdb, iov, iovcnt, data_len, res);
		break;
	case SCSI_OP_REPORT_LUNS:
		cmd_report_luns(cdb, iov, iovcnt, data_len, res);
		break;
	default:
		scsi_set_sense(res, SCSI_SK_ILLEGAL_REQUEST,
			       SCSI_ASC_INVALID_OPCODE);
		break;
	}
	pthread_rwlock_unlock(&d->io_lock);
	if (res->status != SCSI_STATUS_GOOD)
		res->residual = data_len;
	return 0;
}
