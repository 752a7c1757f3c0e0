/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The control socket, RUNDIR/control.sock: one command line in
 * ("CMD ARG...\n", words split on blanks), one reply out, then the server
 * closes. The reply's first line is "ok" or "error"; the rest is the
 * command's text. `hvsim ctl NAME CMD ARG...` is the client: it prints the
 * text (to stderr on error) and exits 0 or 1.
 *
 * Components add commands with ctl_register(); handlers run on the loop
 * thread and write their reply to `reply`. A handler that waits for the
 * guest registers with ctl_register_blocking() instead and runs on a thread
 * of its own, so the loop goes on serving the guest meanwhile; it must be
 * safe to call from any thread. `help` is built in.
 */
#ifndef HVSIM_CTL_CTL_H
#define HVSIM_CTL_CTL_H

#include <stdbool.h>
#include <stdio.h>

struct loop;
struct ctl;

#define CTL_MAX_LINE	4096
#define CTL_MAX_ARGS	64

/* argv[0] is the command. Return 0 for "ok", anything else for "error". */
typedef int (*ctl_fn)(void *ctx, int argc, char **argv, FILE *reply);

/* Listen on socket_path (replaced if present). NULL with errno on failure. */
struct ctl *ctl_new(struct loop *l, const char *socket_path);
/* Closes the socket, unlinks it, drops clients mid-command. */
void ctl_free(struct ctl *c);

/*
 * Add (or replace) command cmd: one word, at most 31 characters. help is the
 * one-line description `help` prints (may be NULL). Returns 0 or -errno.
 */
int ctl_register(struct ctl *c, const char *cmd, ctl_fn fn, void *ctx);
int ctl_register_blocking(struct ctl *c, const char *cmd, ctl_fn fn, void *ctx);
/*
 * Wait for the blocking commands still running and refuse new ones: call
 * before freeing what their handlers use. ctl_free does it too.
 */
void ctl_quiesce(struct ctl *c);
int ctl_register_help(struct ctl *c, const char *cmd, const char *help);

/* Client side. True if a server answers on socket_path. */
bool ctl_socket_alive(const char *socket_path);
/*
 * Send argv joined by spaces; print the reply text to out (ok) or err
 * (error). Returns the exit status for `hvsim ctl`: 0 ok, 1 error, 2 when
 * the server could not be reached or the reply was malformed.
 */
int ctl_client(const char *socket_path, int argc, char **argv, FILE *out, FILE *err);

#endif /* HVSIM_CTL_CTL_H */
