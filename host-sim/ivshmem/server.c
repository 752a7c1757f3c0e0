// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "ivshmem/server.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "viridian/wire/sim.h"
#include "core/log.h"
#include "core/loop.h"
#include "trace.h"

#define IVSHMEM_PROTOCOL_VERSION	0

struct host_vector_watch {
	struct ivshmem_server *server;
	unsigned int vector;
};

struct ivshmem_server {
	struct loop *loop;
	struct ivshmem_server_ops ops;
	void *ctx;
	char *socket_path;
	int listen_fd;
	int client_fd;
	int shm_fd;
	void *shm;
	uint32_t vectors;
	int *host_fds;		/* the guest rings these (peer 0) */
	int *guest_fds;		/* we ring these (the guest's own ID) */
	struct host_vector_watch *watches;
};

static struct log_ratelimit rl_clients;

static void init_shm_header(void *shm, uint32_t nr_vps)
{
	struct hvsim_shm_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, HVSIM_MAGIC, sizeof(HVSIM_MAGIC));
	h.abi_version = HVSIM_ABI_VERSION;
	h.host_peer_id = IVSHMEM_HOST_PEER_ID;
	h.nr_vps = nr_vps;
	h.mailbox_offset = HVSIM_MAILBOX_OFFSET;
	h.mailbox_stride = HVSIM_MAILBOX_STRIDE;
	h.signal_offset = HVSIM_SIGNAL_OFFSET;
	h.signal_bits = HVSIM_SIGNAL_CONNECTIONS;
	memcpy(shm, &h, sizeof(h));
}

_Static_assert(HVSIM_SIGNAL_OFFSET + HVSIM_SIGNAL_CONNECTIONS / 8 <= HVSIM_SHM_SIZE,
	       "the signal bitmap must fit in the shared memory");
_Static_assert(sizeof(struct hvsim_mailbox) <= HVSIM_MAILBOX_STRIDE,
	       "a mailbox must fit in its stride");

static int send_msg(int sock, int64_t value, int fd)
{
	int64_t wire = (int64_t)htole64((uint64_t)value);
	struct iovec iov = { .iov_base = &wire, .iov_len = sizeof(wire) };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(wire) ? 0 : -EIO;
}

static int send_setup(struct ivshmem_server *s, int sock)
{
	uint32_t v;
	int err;

	err = send_msg(sock, IVSHMEM_PROTOCOL_VERSION, -1);
	if (!err)
		err = send_msg(sock, IVSHMEM_GUEST_PEER_ID, -1);
	if (!err)
		err = send_msg(sock, -1, s->shm_fd);
	for (v = 0; !err && v < s->vectors; v++)
		err = send_msg(sock, IVSHMEM_HOST_PEER_ID, s->host_fds[v]);
	for (v = 0; !err && v < s->vectors; v++)
		err = send_msg(sock, IVSHMEM_GUEST_PEER_ID, s->guest_fds[v]);
	return err;
}

static void drop_client(struct ivshmem_server *s)
{
	if (s->client_fd < 0)
		return;
	loop_del_fd(s->loop, s->client_fd);
	close(s->client_fd);
	s->client_fd = -1;
	TRACE("ivshmem: client disconnected");
	if (s->ops.client_gone)
		s->ops.client_gone(s->ctx);
}

static void on_client(void *ctx, int fd, uint32_t events)
{
	struct ivshmem_server *s = ctx;
	char buf[64];
	ssize_t n;

	/* The protocol is one-way; anything QEMU sends is discarded. */
	if (events & EPOLLIN) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			return;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	drop_client(s);
}

static void on_listen(void *ctx, int fd, uint32_t events)
{
	struct ivshmem_server *s = ctx;
	int sock, err;

	(void)events;
	sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (sock < 0)
		return;
	if (s->client_fd >= 0) {
		log_ratelimited(&rl_clients, "ivshmem: refusing a second client");
		close(sock);
		return;
	}
	err = send_setup(s, sock);
	if (!err)
		err = loop_add_fd(s->loop, sock, EPOLLIN | EPOLLRDHUP, on_client, s);
	if (err) {
		log_ratelimited(&rl_clients, "ivshmem: set-up of the client failed: %s",
				strerror(-err));
		close(sock);
		return;
	}
	s->client_fd = sock;
	TRACE("ivshmem: client connected, peer %d, %u vectors",
	      IVSHMEM_GUEST_PEER_ID, s->vectors);
	if (s->ops.client_connected)
		s->ops.client_connected(s->ctx);
}

static void on_host_vector(void *ctx, int fd, uint32_t events)
{
	struct host_vector_watch *w = ctx;
	uint64_t count;

	(void)events;
	/* Drain before handling: a doorbell rung during handling fires again. */
	if (read(fd, &count, sizeof(count)) != sizeof(count))
		return;
	if (w->server->ops.host_vector)
		w->server->ops.host_vector(w->server->ctx, w->vector);
}

static int create_shm(struct ivshmem_server *s, uint32_t nr_vps)
{
	s->shm_fd = memfd_create("hvsim-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->shm_fd < 0)
		return -errno;
	if (ftruncate(s->shm_fd, HVSIM_SHM_SIZE) < 0)
		return -errno;
	/* A size change by anyone would turn our accesses into SIGBUS. */
	if (fcntl(s->shm_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	s->shm = mmap(NULL, HVSIM_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->shm_fd, 0);
	if (s->shm == MAP_FAILED) {
		s->shm = NULL;
		return -errno;
	}
	init_shm_header(s->shm, nr_vps);
	return 0;
}

static int create_listener(struct ivshmem_server *s, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0)
		return -errno;
	unlink(path);
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	s->socket_path = strdup(path);
	if (!s->socket_path)
		return -ENOMEM;
	if (listen(s->listen_fd, 2) < 0)
		return -errno;
	return loop_add_fd(s->loop, s->listen_fd, EPOLLIN, on_listen, s);
}

struct ivshmem_server *ivshmem_server_new(struct loop *l, const char *socket_path,
					  uint32_t nr_vps,
					  const struct ivshmem_server_ops *ops,
					  void *ctx)
{
	struct ivshmem_server *s;
	uint32_t v;
	int err = -ENOMEM;

	if (nr_vps == 0 || nr_vps > HVSIM_MAX_VPS) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = l;
	if (ops)
		s->ops = *ops;
	s->ctx = ctx;
	s->listen_fd = -1;
	s->client_fd = -1;
	s->shm_fd = -1;
	s->vectors = nr_vps > HVSIM_HOST_VECTORS ? nr_vps : HVSIM_HOST_VECTORS;
	s->host_fds = malloc(s->vectors * sizeof(int));
	s->guest_fds = malloc(s->vectors * sizeof(int));
	s->watches = calloc(s->vectors, sizeof(*s->watches));
	if (!s->host_fds || !s->guest_fds || !s->watches)
		goto fail;
	for (v = 0; v < s->vectors; v++)
		s->host_fds[v] = s->guest_fds[v] = -1;
	for (v = 0; v < s->vectors; v++) {
		s->host_fds[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		s->guest_fds[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->host_fds[v] < 0 || s->guest_fds[v] < 0) {
			err = -errno;
			goto fail;
		}
		s->watches[v].server = s;
		s->watches[v].vector = v;
		err = loop_add_fd(l, s->host_fds[v], EPOLLIN, on_host_vector,
				  &s->watches[v]);
		if (err)
			goto fail;
	}
	err = create_shm(s, nr_vps);
	if (err)
		goto fail;
	err = create_listener(s, socket_path);
	if (err)
		goto fail;
	return s;
fail:
	ivshmem_server_free(s);
	errno = -err;
	return NULL;
}

void ivshmem_server_free(struct ivshmem_server *s)
{
	uint32_t v;

	if (!s)
		return;
	if (s->client_fd >= 0) {
		loop_del_fd(s->loop, s->client_fd);
		close(s->client_fd);
	}
	if (s->listen_fd >= 0) {
		loop_del_fd(s->loop, s->listen_fd);
		close(s->listen_fd);
	}
	if (s->socket_path) {
		unlink(s->socket_path);
		free(s->socket_path);
	}
	for (v = 0; s->host_fds && s->guest_fds && v < s->vectors; v++) {
		if (s->host_fds[v] >= 0) {
			loop_del_fd(s->loop, s->host_fds[v]);
			close(s->host_fds[v]);
		}
		if (s->guest_fds[v] >= 0)
			close(s->guest_fds[v]);
	}
	if (s->shm)
		munmap(s->shm, HVSIM_SHM_SIZE);
	if (s->shm_fd >= 0)
		close(s->shm_fd);
	free(s->host_fds);
	free(s->guest_fds);
	free(s->watches);
	free(s);
}

void *ivshmem_server_shm(struct ivshmem_server *s)
{
	return s->shm;
}

size_t ivshmem_server_shm_size(struct ivshmem_server *s)
{
	(void)s;
	return HVSIM_SHM_SIZE;
}

uint32_t ivshmem_server_vectors(struct ivshmem_server *s)
{
	return s->vectors;
}

const int *ivshmem_server_guest_fds(struct ivshmem_server *s)
{
	return s->guest_fds;
}

int ivshmem_server_interrupt(struct ivshmem_server *s, unsigned int vector)
{
	uint64_t one = 1;

	if (vector >= s->vectors)
		return -EINVAL;
	if (write(s->guest_fds[vector], &one, sizeof(one)) < 0)
		return errno == EAGAIN ? 0 : -errno;
	return 0;
}

bool ivshmem_server_connected(struct ivshmem_server *s)
{
	return s->client_fd >= 0;
}
