/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The ivshmem-doorbell server (QEMU docs/specs/ivshmem-spec.rst). hvsim is
 * both the server and peer 0, the "host peer": the guest rings host-peer
 * vectors (HVSIM_VECTOR_TRAP, HVSIM_VECTOR_SIGNAL) and hvsim interrupts the
 * guest by writing the guest's own eventfd n, which QEMU turns into MSI-X
 * vector n. Exactly one client (QEMU) is served; another is refused.
 *
 * The shared memory (HVSIM_SHM_SIZE, a memfd) is created and its
 * struct hvsim_shm_header initialised before any client can connect.
 */
#ifndef HVSIM_IVSHMEM_SERVER_H
#define HVSIM_IVSHMEM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct ivshmem_server;

#define IVSHMEM_HOST_PEER_ID	0
#define IVSHMEM_GUEST_PEER_ID	1

struct ivshmem_server_ops {
	/* The guest rang host-peer vector (loop thread). */
	void (*host_vector)(void *ctx, unsigned int vector);
	/* QEMU connected and got its set-up messages; may be NULL. */
	void (*client_connected)(void *ctx);
	/* QEMU's connection closed; may be NULL. */
	void (*client_gone)(void *ctx);
};

/*
 * Listen on socket_path (created; an existing socket there is replaced).
 * vectors = max(nr_vps, HVSIM_HOST_VECTORS). NULL with errno on failure.
 */
struct ivshmem_server *ivshmem_server_new(struct loop *l, const char *socket_path,
					  uint32_t nr_vps,
					  const struct ivshmem_server_ops *ops,
					  void *ctx);
/* Closes every fd, unmaps the shared memory, unlinks the socket. */
void ivshmem_server_free(struct ivshmem_server *s);

void *ivshmem_server_shm(struct ivshmem_server *s);
size_t ivshmem_server_shm_size(struct ivshmem_server *s);
uint32_t ivshmem_server_vectors(struct ivshmem_server *s);
/* The guest's own eventfds, one per vector: writing fd n raises MSI-X n. */
const int *ivshmem_server_guest_fds(struct ivshmem_server *s);
/* Raise MSI-X vector in the guest. Thread-safe. 0 or -errno. */
int ivshmem_server_interrupt(struct ivshmem_server *s, unsigned int vector);
bool ivshmem_server_connected(struct ivshmem_server *s);

#endif /* HVSIM_IVSHMEM_SERVER_H */
