// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The ivshmem-doorbell server's side of QEMU's protocol (version, peer ID,
 * shared memory, host-peer and own eventfds), the one-client rule, client
 * disconnect, doorbells in both directions, and the event loop underneath
 * (timers, deferred calls from another thread, removal inside callbacks).
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "viridian/wire/sim.h"
#include "core/loop.h"
#include "ivshmem/server.h"

/* ---- the loop ---- */

static unsigned int ticks, oneshots;
static struct loop_timer *self_freeing;

static void on_tick(void *ctx)
{
	struct loop *l = ctx;

	if (++ticks == 3)
		loop_stop(l);
}

static void on_oneshot(void *ctx)
{
	(void)ctx;
	oneshots++;
	loop_timer_free(self_freeing);	/* freeing itself from its callback */
}

static void *defer_from_thread(void *arg)
{
	struct loop *l = arg;

	usleep(10000);
	loop_defer(l, (loop_call_fn)loop_stop, l);
	return NULL;
}

static unsigned int fd_calls;

static void on_readable(void *ctx, int fd, uint32_t events)
{
	struct loop *l = ctx;
	uint64_t v;

	(void)events;
	fd_calls++;
	if (read(fd, &v, sizeof(v)) < 0)
		return;
	loop_del_fd(l, fd);	/* removal inside its own callback */
}

static void test_loop(void)
{
	struct loop *l = loop_new();
	struct loop_timer *periodic;
	pthread_t thread;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	REQUIRE(l && efd >= 0);
	periodic = loop_timer_new(l, on_tick, l);
	self_freeing = loop_timer_new(l, on_oneshot, NULL);
	REQUIRE(periodic && self_freeing);
	CHECK(!loop_timer_armed(periodic));
	CHECK(loop_timer_arm(periodic, 1000000, 1000000) == 0);
	CHECK(loop_timer_armed(periodic));
	CHECK(loop_timer_arm(self_freeing, 500000, 0) == 0);
	CHECK(loop_add_fd(l, efd, EPOLLIN, on_readable, l) == 0);
	CHECK(loop_add_fd(l, efd, EPOLLIN, on_readable, l) == -EEXIST);
	CHECK(write(efd, &one, sizeof(one)) == sizeof(one));
	CHECK(loop_run(l) == 0);
	CHECK(ticks == 3);
	CHECK(oneshots == 1);
	CHECK(fd_calls == 1);
	CHECK(loop_del_fd(l, efd) == -ENOENT);
	loop_timer_disarm(periodic);
	CHECK(!loop_timer_armed(periodic));

	/* Another thread stops the loop through a deferred call. */
	REQUIRE(pthread_create(&thread, NULL, defer_from_thread, l) == 0);
	CHECK(loop_run(l) == 0);
	pthread_join(thread, NULL);
	CHECK(ticks == 3);	/* disarmed: never ran again */

	loop_free(l);	/* frees the periodic timer too */
	close(efd);
}

/* ---- ivshmem ---- */

struct server_events {
	unsigned int connected, gone, vectors[4];
};

static void ev_vector(void *ctx, unsigned int vector)
{
	struct server_events *ev = ctx;

	if (vector < 4)
		ev->vectors[vector]++;
}

static void ev_connected(void *ctx)
{
	((struct server_events *)ctx)->connected++;
}

static void ev_gone(void *ctx)
{
	((struct server_events *)ctx)->gone++;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(addr.sun_path, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One protocol message: the value, and its fd or -1. 0 on EOF/error. */
static int recv_msg(int sock, int64_t *value, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = value, .iov_len = sizeof(*value) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);

	*fd = -1;
	if (n != sizeof(*value))
		return 0;
	*value = (int64_t)le64toh((uint64_t)*value);
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cmsg), sizeof(int));
	return 1;
}

static void test_ivshmem_protocol(void)
{
	static const struct ivshmem_server_ops ops = {
		.host_vector = ev_vector,
		.client_connected = ev_connected,
		.client_gone = ev_gone,
	};
	struct server_events ev = { 0 };
	char path[64];
	struct loop *l = loop_new();
	struct ivshmem_server *s;
	int host_fds[3], own_fds[3], shm_fd = -1, sock, second, fd, i;
	const uint32_t nr_vps = 3;
	struct hvsim_shm_header *h;
	uint64_t one = 1, v;
	int64_t value;
	struct stat st;
	void *shm;

	REQUIRE(l);
	snprintf(path, sizeof(path), "/tmp/hvsim-test-ivshmem-%d.sock", (int)getpid());
	s = ivshmem_server_new(l, path, nr_vps, &ops, &ev);
	REQUIRE(s);
	CHECK(ivshmem_server_vectors(s) == nr_vps);
	CHECK(!ivshmem_server_connected(s));

	/* The header is there before any client. */
	h = ivshmem_server_shm(s);
	CHECK(memcmp(h->magic, HVSIM_MAGIC, sizeof(HVSIM_MAGIC)) == 0);
	CHECK(h->abi_version == HVSIM_ABI_VERSION && h->nr_vps == nr_vps);
	CHECK(h->host_peer_id == IVSHMEM_HOST_PEER_ID);
	CHECK(h->mailbox_offset == HVSIM_MAILBOX_OFFSET &&
	      h->mailbox_stride == HVSIM_MAILBOX_STRIDE);
	CHECK(h->signal_offset == HVSIM_SIGNAL_OFFSET &&
	      h->signal_bits == HVSIM_SIGNAL_CONNECTIONS);

	sock = connect_unix(path);
	REQUIRE(sock >= 0);
	loop_run_once(l, 1000);
	CHECK(ev.connected == 1 && ivshmem_server_connected(s));

	CHECK(recv_msg(sock, &value, &fd) && value == 0 && fd < 0);		/* version */
	CHECK(recv_msg(sock, &value, &fd) && value == IVSHMEM_GUEST_PEER_ID && fd < 0);
	CHECK(recv_msg(sock, &value, &shm_fd) && value == -1 && shm_fd >= 0);
	for (i = 0; i < 3; i++)
		CHECK(recv_msg(sock, &value, &host_fds[i]) && value == IVSHMEM_HOST_PEER_ID &&
		      host_fds[i] >= 0);
	for (i = 0; i < 3; i++)
		CHECK(recv_msg(sock, &value, &own_fds[i]) && value == IVSHMEM_GUEST_PEER_ID &&
		      own_fds[i] >= 0);
	REQUIRE(!check_state.failed);

	/* The client's view of the shared memory is the server's. */
	CHECK(fstat(shm_fd, &st) == 0 && st.st_size == HVSIM_SHM_SIZE);
	shm = mmap(NULL, HVSIM_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
	REQUIRE(shm != MAP_FAILED);
	CHECK(memcmp(shm, HVSIM_MAGIC, sizeof(HVSIM_MAGIC)) == 0);
	((uint8_t *)shm)[HVSIM_SIGNAL_OFFSET] = 0x42;
	CHECK(((uint8_t *)ivshmem_server_shm(s))[HVSIM_SIGNAL_OFFSET] == 0x42);
	munmap(shm, HVSIM_SHM_SIZE);
	/* Sealed: nobody can shrink it under us. */
	CHECK(ftruncate(shm_fd, 4096) < 0);

	/* The guest rings host vectors 1 and 0. */
	CHECK(write(host_fds[1], &one, sizeof(one)) == sizeof(one));
	loop_run_once(l, 1000);
	CHECK(write(host_fds[0], &one, sizeof(one)) == sizeof(one));
	loop_run_once(l, 1000);
	CHECK(ev.vectors[0] == 1 && ev.vectors[1] == 1 && ev.vectors[2] == 0);

	/* hvsim interrupts vector 2: the client's own eventfd 2 fires. */
	CHECK(ivshmem_server_interrupt(s, 2) == 0);
	CHECK(read(own_fds[2], &v, sizeof(v)) == sizeof(v) && v == 1);
	CHECK(ivshmem_server_interrupt(s, 3) == -EINVAL);

	/* A second client is refused: it sees EOF and nothing else. */
	second = connect_unix(path);
	REQUIRE(second >= 0);
	loop_run_once(l, 1000);
	CHECK(recv_msg(second, &value, &fd) == 0);
	close(second);
	CHECK(ev.connected == 1);

	/* Disconnect is noticed; a new client may then connect. */
	close(sock);
	loop_run_once(l, 1000);
	CHECK(ev.gone == 1 && !ivshmem_server_connected(s));
	sock = connect_unix(path);
	REQUIRE(sock >= 0);
	loop_run_once(l, 1000);
	CHECK(ev.connected == 2);
	CHECK(recv_msg(sock, &value, &fd) && value == 0);
	close(sock);

	for (i = 0; i < 3; i++) {
		close(host_fds[i]);
		close(own_fds[i]);
	}
	close(shm_fd);
	ivshmem_server_free(s);
	CHECK(access(path, F_OK) != 0);
	loop_free(l);
}

int main(void)
{
	RUN_TEST(test_loop);
	RUN_TEST(test_ivshmem_protocol);
	return check_finish();
}
