/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A SCSI block device (SBC-3/SPC-4 subset) over a raw, possibly sparse,
 * image file: enough for Linux's sd driver, including discard, FUA, cache
 * flushes, resize with a unit attention, and injected faults for tests.
 *
 * Data moves without a bounce buffer: the caller passes an iovec array
 * that points straight at guest memory and the disk does preadv/pwritev on
 * the image. Only small control payloads (INQUIRY data, UNMAP parameter
 * lists, WRITE SAME patterns) are copied.
 *
 * Thread safety: scsi_disk_execute may run concurrently from several
 * threads (one per VMBus channel); resize, fault injection and close come
 * from a control thread. close must not race with execute.
 */
#ifndef HVSIM_SCSI_DISK_H
#define HVSIM_SCSI_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* SCSI status bytes (SAM-5). */
#define SCSI_STATUS_GOOD		0x00
#define SCSI_STATUS_CHECK_CONDITION	0x02
#define SCSI_STATUS_BUSY		0x08

/* Sense keys. */
#define SCSI_SK_NO_SENSE		0x0
#define SCSI_SK_NOT_READY		0x2
#define SCSI_SK_MEDIUM_ERROR		0x3
#define SCSI_SK_HARDWARE_ERROR		0x4
#define SCSI_SK_ILLEGAL_REQUEST		0x5
#define SCSI_SK_UNIT_ATTENTION		0x6
#define SCSI_SK_DATA_PROTECT		0x7
#define SCSI_SK_ABORTED_COMMAND		0xb

/* Additional sense codes, as (ASC << 8) | ASCQ. */
#define SCSI_ASC_NONE			0x0000
#define SCSI_ASC_WRITE_ERROR		0x0c00
#define SCSI_ASC_UNRECOVERED_READ_ERROR	0x1100
#define SCSI_ASC_PARAM_LIST_LENGTH	0x1a00
#define SCSI_ASC_INVALID_OPCODE		0x2000
#define SCSI_ASC_LBA_OUT_OF_RANGE	0x2100
#define SCSI_ASC_INVALID_FIELD_IN_CDB	0x2400
#define SCSI_ASC_LUN_NOT_SUPPORTED	0x2500
#define SCSI_ASC_INVALID_FIELD_IN_PARAM	0x2600
#define SCSI_ASC_WRITE_PROTECTED	0x2700
#define SCSI_ASC_SPACE_ALLOC_FAILED_WP	0x2707
#define SCSI_ASC_CAPACITY_CHANGED	0x2a09
#define SCSI_ASC_SAVING_PARAMS_UNSUP	0x3900
#define SCSI_ASC_INTERNAL_TARGET_FAILURE 0x4400

/* Operation codes the disk implements. */
#define SCSI_OP_TEST_UNIT_READY		0x00
#define SCSI_OP_REQUEST_SENSE		0x03
#define SCSI_OP_READ_6			0x08
#define SCSI_OP_WRITE_6			0x0a
#define SCSI_OP_INQUIRY			0x12
#define SCSI_OP_MODE_SENSE_6		0x1a
#define SCSI_OP_START_STOP_UNIT		0x1b
#define SCSI_OP_READ_CAPACITY_10	0x25
#define SCSI_OP_READ_10			0x28
#define SCSI_OP_WRITE_10		0x2a
#define SCSI_OP_SYNCHRONIZE_CACHE_10	0x35
#define SCSI_OP_WRITE_SAME_10		0x41
#define SCSI_OP_UNMAP			0x42
#define SCSI_OP_MODE_SENSE_10		0x5a
#define SCSI_OP_READ_16			0x88
#define SCSI_OP_WRITE_16		0x8a
#define SCSI_OP_SYNCHRONIZE_CACHE_16	0x91
#define SCSI_OP_WRITE_SAME_16		0x93
#define SCSI_OP_SERVICE_ACTION_IN_16	0x9e
#define SCSI_SAI_READ_CAPACITY_16	0x10
#define SCSI_OP_REPORT_LUNS		0xa0
#define SCSI_OP_READ_12			0xa8
#define SCSI_OP_WRITE_12		0xaa

/* Fixed-format sense data is 18 bytes; the buffer leaves headroom. */
#define SCSI_SENSE_FIXED_LEN		18
#define SCSI_SENSE_MAX			32

/* Largest single transfer the disk accepts (and advertises in VPD B0). */
#define SCSI_DISK_MAX_TRANSFER_BYTES	(2u * 1024u * 1024u)

struct scsi_result {
	uint8_t status;			/* SCSI_STATUS_* */
	uint8_t sense_len;		/* 0 unless CHECK CONDITION */
	uint8_t sense[SCSI_SENSE_MAX];
	size_t residual;		/* data_len minus bytes moved */
};

struct scsi_disk;

/*
 * Open an image. sector_size is the logical block size (512 or 4096; 0
 * picks 512). ro opens the file read-only and reports write protection.
 * The image must hold at least one block; a tail shorter than a block is
 * ignored. On failure returns NULL with a message in err.
 */
struct scsi_disk *scsi_disk_open(const char *path, unsigned int sector_size,
				 bool ro, char *err, size_t errlen);
void scsi_disk_close(struct scsi_disk *d);

/*
 * Execute one command. iov/iovcnt describe the initiator's buffer (at least
 * data_len bytes); data_in is true when data flows to the initiator. Every
 * SCSI outcome, including CHECK CONDITION, returns 0 with res filled in.
 * Returns -EINVAL only for caller bugs (NULL pointers, iov shorter than
 * data_len).
 */
int scsi_disk_execute(struct scsi_disk *d, const uint8_t *cdb,
		      unsigned int cdb_len, const struct iovec *iov,
		      int iovcnt, size_t data_len, bool data_in,
		      struct scsi_result *res);

/*
 * Change the image size (new_bytes a multiple of the block size, at least
 * one block): truncates or extends the file and queues the CAPACITY DATA
 * HAS CHANGED unit attention. Returns 0 or -errno with err filled in.
 */
int scsi_disk_resize(struct scsi_disk *d, uint64_t new_bytes, char *err,
		     size_t errlen);

/* Geometry and identity. */
uint64_t scsi_disk_blocks(struct scsi_disk *d);
unsigned int scsi_disk_sector_size(const struct scsi_disk *d);
bool scsi_disk_read_only(const struct scsi_disk *d);
const char *scsi_disk_path(const struct scsi_disk *d);
const char *scsi_disk_serial(const struct scsi_disk *d);

/*
 * Fault injection.
 *
 * Medium errors: READ/WRITE commands that touch [lba, lba + count) fail
 * with MEDIUM ERROR, the first bad LBA in the sense information field.
 *
 * Stalls are carried out by whoever schedules commands (the storage VSP
 * holds them without blocking its worker); the disk only keeps the policy.
 * scsi_disk_stall_policy says how to hold a command that arrives now:
 * SCSI_STALL_NONE, SCSI_STALL_TIMED (until *until_ns, CLOCK_MONOTONIC) or
 * SCSI_STALL_UNTIL_RELEASE. Held commands compare the generation they were
 * held under with scsi_disk_stall_generation: a change (release or clear)
 * lets them run.
 */
enum scsi_stall {
	SCSI_STALL_NONE,
	SCSI_STALL_TIMED,
	SCSI_STALL_UNTIL_RELEASE,
};

int scsi_disk_fault_medium(struct scsi_disk *d, uint64_t lba, uint64_t count);
/*
 * ms > 0 delays every command by ms until cleared. ms == 0 holds commands
 * until scsi_disk_fault_release, a bus reset (scsi_disk_fault_reset) or
 * clear: one stuck episode, as a disk that a reset brings back.
 */
void scsi_disk_fault_stall(struct scsi_disk *d, unsigned int ms);
/* Let every held command run; an untimed stall ends, a timed one stays. */
void scsi_disk_fault_release(struct scsi_disk *d);
/* A bus reset: ends an untimed stall (what it held is aborted). */
void scsi_disk_fault_reset(struct scsi_disk *d);
/* Remove every fault and release held commands. */
void scsi_disk_fault_clear(struct scsi_disk *d);
enum scsi_stall scsi_disk_stall_policy(struct scsi_disk *d, uint64_t now_ns,
				       uint64_t *until_ns, uint64_t *generation);
uint64_t scsi_disk_stall_generation(struct scsi_disk *d);

/*
 * Helpers for a target that owns several LUNs and answers some commands
 * itself.
 */

/* Fill res with CHECK CONDITION, fixed-format sense. */
void scsi_set_sense(struct scsi_result *res, uint8_t key, uint16_t asc_ascq);

/*
 * Build REPORT LUNS parameter data for the given single-level LUN numbers
 * into buf; returns the full length the data needs (may exceed buflen).
 */
size_t scsi_report_luns_data(uint8_t *buf, size_t buflen,
			     const unsigned int *luns, size_t nluns);

/* Copy a small response to an iovec list, up to limit bytes; returns bytes. */
size_t scsi_iov_copy_to(const struct iovec *iov, int iovcnt, size_t limit,
			const void *src, size_t len);

#endif /* HVSIM_SCSI_DISK_H */
