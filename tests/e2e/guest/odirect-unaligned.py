#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""One O_DIRECT transfer whose buffer does not start on a page boundary.

usage: odirect-unaligned.py write DEV OFF SRCFILE BUF_OFFSET
       odirect-unaligned.py read DEV OFF LEN BUF_OFFSET

The buffer starts BUF_OFFSET bytes (a multiple of the logical block size)
into a page, so the request's data begins inside its first page and the
GPA range carries a byte offset. "read" prints the SHA-256 of what it read.
dd cannot do this: it always uses page-aligned buffers.
"""
import hashlib
import mmap
import os
import sys

PAGE = mmap.PAGESIZE


def transfer(write, dev, off, length, buf_offset, data=None):
    if buf_offset % 512 or buf_offset % PAGE == 0:
        raise SystemExit("BUF_OFFSET must be sector aligned and not page aligned")
    area = mmap.mmap(-1, length + buf_offset + PAGE)
    view = memoryview(area)[buf_offset:buf_offset + length]
    fd = os.open(dev, (os.O_WRONLY if write else os.O_RDONLY) | os.O_DIRECT)
    try:
        if write:
            view[:] = data
            done = os.pwritev(fd, [view], off)
        else:
            done = os.preadv(fd, [view], off)
    finally:
        os.close(fd)
    if done != length:
        raise SystemExit(f"short transfer: {done} of {length} bytes")
    result = hashlib.sha256(view).hexdigest()
    view.release()
    area.close()
    return result


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("read", "write"):
        raise SystemExit(__doc__)
    dev, off, buf_offset = sys.argv[2], int(sys.argv[3]), int(sys.argv[5])
    if sys.argv[1] == "write":
        with open(sys.argv[4], "rb") as f:
            data = f.read()
        transfer(True, dev, off, len(data), buf_offset, data)
    else:
        print(transfer(False, dev, off, int(sys.argv[4]), buf_offset))


if __name__ == "__main__":
    main()
