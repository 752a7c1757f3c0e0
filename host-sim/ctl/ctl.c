// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "ctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "trace.h"

#define CTL_CMD_MAX		32
/* A client that sends no complete line within this time is dropped. */
#define CTL_CLIENT_TIMEOUT_NS	5000000000ull
#define CTL_REPLY_TIMEOUT_S	5
#define CTL_MAX_CLIENTS		16

_Static_assert(CTL_MAX_ARGS == 64, "the too-many-arguments message says 63");

struct ctl_command {
	char name[CTL_CMD_MAX];
	ctl_fn fn;
	void *ctx;
	bool blocking;			/* runs on a thread of its own */
	char *help;
	struct ctl_command *next;
};

struct ctl_client {
	struct ctl *ctl;
	int fd;
	struct loop_timer *timeout;
	size_t len;
	char line[CTL_MAX_LINE + 1];
	struct ctl_client *next;
};

struct ctl {
	struct loop *loop;
	int listen_fd;
	char *socket_path;
	struct ctl_command *commands;	/* sorted by name */
	struct ctl_client *clients;
	unsigned int nr_clients;

	/* Blocking commands in flight, each with its client. */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned int running;
	bool quiesced;
	bool lock_ready;
};

/* A blocking command: its client's connection and words, off the loop. */
struct ctl_job {
	struct ctl *ctl;
	struct ctl_command *cmd;
	int fd;
	int argc;
	char *argv[CTL_MAX_ARGS + 1];
	char line[CTL_MAX_LINE + 1];
};

static struct log_ratelimit rl_ctl;

static struct ctl_command *find_command(struct ctl *c, const char *name)
{
	struct ctl_command *cmd;

	for (cmd = c->commands; cmd; cmd = cmd->next)
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

static int builtin_help(void *ctx, int argc, char **argv, FILE *reply)
{
	struct ctl *c = ctx;
	struct ctl_command *cmd;

	(void)argc;
	(void)argv;
	for (cmd = c->commands; cmd; cmd = cmd->next)
		fprintf(reply, "%-12s %s\n", cmd->name, cmd->help ? cmd->help : "");
	return 0;
}

static int add_command(struct ctl *c, const char *name, ctl_fn fn, void *ctx,
		       bool blocking)
{
	struct ctl_command *cmd, **pp;
	size_t len = strlen(name);

	if (!fn || len == 0 || len >= CTL_CMD_MAX || strpbrk(name, " \t\r\n"))
		return -EINVAL;
	cmd = find_command(c, name);
	if (cmd) {
		cmd->fn = fn;
		cmd->ctx = ctx;
		cmd->blocking = blocking;
		return 0;
	}
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	memcpy(cmd->name, name, len + 1);
	cmd->fn = fn;
	cmd->ctx = ctx;
	cmd->blocking = blocking;
	for (pp = &c->commands; *pp && strcmp((*pp)->name, name) < 0; pp = &(*pp)->next)
		;
	cmd->next = *pp;
	*pp = cmd;
	return 0;
}

int ctl_register(struct ctl *c, const char *cmd, int (*fn)(void *ctx, int argc, char **argv,
							  FILE *reply), void *ctx)
{
	return add_command(c, cmd, fn, ctx, false);
}

int ctl_register_blocking(struct ctl *c, const char *cmd, ctl_fn fn, void *ctx)
{
	return add_command(c, cmd, fn, ctx, true);
}

int ctl_register_help(struct ctl *c, const char *name, const char *help)
{
	struct ctl_command *cmd = find_command(c, name);
	char *copy;

	if (!cmd)
		return -ENOENT;
	copy = help ? strdup(help) : NULL;
	if (help && !copy)
		return -ENOMEM;
	free(cmd->help);
	cmd->help = copy;
	return 0;
}

static void drop_client(struct ctl_client *cl)
{
	struct ctl *c = cl->ctl;
	struct ctl_client **pp;

	for (pp = &c->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	c->nr_clients--;
	loop_del_fd(c->loop, cl->fd);
	loop_timer_free(cl->timeout);
	close(cl->fd);
	free(cl);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* the client went away or stalled: its loss */
		buf += n;
		len -= (size_t)n;
	}
}

/* Run cmd (NULL: unknown) and send its reply; complaint: why not run. */
static void execute(int fd, struct ctl_command *cmd, const char *complaint,
		    int argc, char **argv)
{
	struct timeval tv = { .tv_sec = CTL_REPLY_TIMEOUT_S };
	size_t body_len = 0;
	char *body = NULL;
	FILE *reply;
	int rc = 1;

	reply = open_memstream(&body, &body_len);
	if (!reply)
		return;
	if (complaint)
		fprintf(reply, "%s\n", complaint);
	else if (!cmd)
		fprintf(reply, "unknown command '%s' (try: help)\n", argv[0]);
	else
		rc = cmd->fn(cmd->ctx, argc, argv, reply);
	if (fclose(reply) != 0) {
		free(body);
		return;
	}

	/* A slow reader must not stall the loop for long. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	send_all(fd, rc == 0 ? "ok\n" : "error\n", rc == 0 ? 3 : 6);
	send_all(fd, body, body_len);
	free(body);
}

static void *job_main(void *arg)
{
	struct ctl_job *job = arg;
	struct ctl *c = job->ctl;

	execute(job->fd, job->cmd, NULL, job->argc, job->argv);
	close(job->fd);
	free(job);
	pthread_mutex_lock(&c->lock);
	if (--c->running == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/*
 * Hand a blocking command to a thread of its own, with the client's
 * connection. False if it cannot: the caller answers on the loop.
 */
static bool start_job(struct ctl_client *cl, struct ctl_command *cmd,
		      const char **complaint)
{
	struct ctl *c = cl->ctl;
	struct ctl_job *job;
	pthread_attr_t attr;
	char *save = NULL, *word;
	bool started = false;

	job = calloc(1, sizeof(*job));
	if (!job) {
		*complaint = "out of memory";
		return false;
	}
	job->ctl = c;
	job->cmd = cmd;
	memcpy(job->line, cl->line, sizeof(job->line));
	for (word = strtok_r(job->line, " \t\r\n", &save);
	     word && job->argc < CTL_MAX_ARGS;
	     word = strtok_r(NULL, " \t\r\n", &save))
		job->argv[job->argc++] = word;
	job->argv[job->argc] = NULL;
	job->fd = dup(cl->fd);
	if (job->fd < 0) {
		*complaint = "cannot hand the command over";
		free(job);
		return false;
	}

	pthread_mutex_lock(&c->lock);
	if (c->quiesced) {
		*complaint = "hvsim is stopping";
	} else if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&(pthread_t){ 0 }, &attr, job_main, job) == 0;
		pthread_attr_destroy(&attr);
		if (started)
			c->running++;
		else
			*complaint = "cannot start a thread for the command";
	}
	pthread_mutex_unlock(&c->lock);
	if (!started) {
		close(job->fd);
		free(job);
	}
	return started;
}

static void run_command(struct ctl_client *cl)
{
	struct ctl *c = cl->ctl;
	char *argv[CTL_MAX_ARGS + 1], *save = NULL, *word;
	char copy[CTL_MAX_LINE + 1];
	const char *complaint = NULL;
	struct ctl_command *cmd;
	int argc = 0;

	/* The words point into a copy: a blocking job splits the line again. */
	memcpy(copy, cl->line, sizeof(copy));
	for (word = strtok_r(copy, " \t\r\n", &save); word && argc < CTL_MAX_ARGS;
	     word = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = word;
	argv[argc] = NULL;
	if (argc == 0)
		return;	/* a liveness probe, or an empty line: no reply */

	cmd = find_command(c, argv[0]);
	TRACE("ctl: command '%s' (%d args)", argv[0], argc - 1);
	if (cmd && word) {
		complaint = "too many arguments (at most 63)";
	} else if (cmd && cmd->blocking) {
		if (start_job(cl, cmd, &complaint))
			return;
	}
	execute(cl->fd, cmd, complaint, argc, argv);
}

static void on_client_timeout(void *ctx)
{
	drop_client(ctx);
}

static void on_client_data(void *ctx, int fd, uint32_t events)
{
	struct ctl_client *cl = ctx;
	ssize_t n;
	char *nl;

	(void)events;
	n = recv(fd, cl->line + cl->len, CTL_MAX_LINE - cl->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		cl->len += (size_t)n;
		cl->line[cl->len] = '\0';
		nl = memchr(cl->line, '\n', cl->len);
		if (!nl && cl->len < CTL_MAX_LINE)
			return;
		if (!nl) {
			const char *msg = "error\ncommand line too long\n";

			send_all(fd, msg, strlen(msg));
			drop_client(cl);
			return;
		}
		*nl = '\0';
	} else {
		cl->line[cl->len] = '\0';	/* EOF: take what came */
	}
	run_command(cl);
	drop_client(cl);
}

static void on_accept(void *ctx, int fd, uint32_t events)
{
	struct ctl *c = ctx;
	struct ctl_client *cl;
	int sock;

	(void)events;
	sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0)
		return;
	if (c->nr_clients >= CTL_MAX_CLIENTS) {
		log_ratelimited(&rl_ctl, "control socket: too many clients, refusing one");
		close(sock);
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(sock);
		return;
	}
	cl->ctl = c;
	cl->fd = sock;
	cl->timeout = loop_timer_new(c->loop, on_client_timeout, cl);
	if (!cl->timeout || loop_timer_arm(cl->timeout, CTL_CLIENT_TIMEOUT_NS, 0) ||
	    loop_add_fd(c->loop, sock, EPOLLIN | EPOLLRDHUP, on_client_data, cl)) {
		loop_timer_free(cl->timeout);
		close(sock);
		free(cl);
		return;
	}
	cl->next = c->clients;
	c->clients = cl;
	c->nr_clients++;
}

struct ctl *ctl_new(struct loop *l, const char *socket_path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct ctl *c;
	int err;

	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(addr.sun_path, socket_path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = l;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (pthread_cond_init(&c->idle, NULL)) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->lock_ready = true;
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0)
		goto fail;
	unlink(socket_path);
	if (bind(c->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	c->socket_path = strdup(socket_path);
	if (!c->socket_path)
		goto fail;
	if (listen(c->listen_fd, 8) < 0)
		goto fail;
	err = loop_add_fd(l, c->listen_fd, EPOLLIN, on_accept, c);
	if (!err)
		err = add_command(c, "help", builtin_help, c, false);
	if (!err)
		err = ctl_register_help(c, "help", "list the commands");
	if (err) {
		errno = -err;
		goto fail;
	}
	return c;
fail:
	err = errno;
	ctl_free(c);
	errno = err;
	return NULL;
}

void ctl_quiesce(struct ctl *c)
{
	if (!c || !c->lock_ready)
		return;
	pthread_mutex_lock(&c->lock);
	c->quiesced = true;
	while (c->running)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void ctl_free(struct ctl *c)
{
	if (!c)
		return;
	ctl_quiesce(c);
	while (c->clients)
		drop_client(c->clients);
	if (c->listen_fd >= 0) {
		loop_del_fd(c->loop, c->listen_fd);
		close(c->listen_fd);
	}
	if (c->socket_path) {
		unlink(c->socket_path);
		free(c->socket_path);
	}
	while (c->commands) {
		struct ctl_command *cmd = c->commands;

		c->commands = cmd->next;
		free(cmd->help);
		free(cmd);
	}
	if (c->lock_ready) {
		pthread_cond_destroy(&c->idle);
		pthread_mutex_destroy(&c->lock);
	}
	free(c);
}

/* ---- client ---- */

static int connect_to(const char *socket_path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

bool ctl_socket_alive(const char *socket_path)
{
	int fd = connect_to(socket_path);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int ctl_client(const char *socket_path, int argc, char **argv, FILE *out, FILE *err)
{
	size_t len = 0, cap = 0, used = 0;
	char *line = NULL, *reply = NULL, *body;
	bool ok;
	int fd, i;

	if (argc < 1) {
		fprintf(err, "hvsim ctl: no command\n");
		return 2;
	}
	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (len > CTL_MAX_LINE) {
		fprintf(err, "hvsim ctl: command line too long\n");
		return 2;
	}
	line = malloc(len + 1);
	if (!line)
		return 2;
	line[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\n")) {
			fprintf(err, "hvsim ctl: arguments may not contain newlines\n");
			free(line);
			return 2;
		}
		strcat(line, argv[i]);
		strcat(line, i + 1 < argc ? " " : "\n");
	}

	fd = connect_to(socket_path);
	if (fd < 0) {
		fprintf(err, "hvsim ctl: cannot reach %s: %s\n", socket_path, strerror(errno));
		free(line);
		return 2;
	}
	send_all(fd, line, len);
	free(line);
	shutdown(fd, SHUT_WR);

	for (;;) {
		ssize_t n;

		if (cap - used < 4096) {
			char *bigger = realloc(reply, cap + 65536);

			if (!bigger) {
				free(reply);
				close(fd);
				return 2;
			}
			reply = bigger;
			cap += 65536;
		}
		n = recv(fd, reply + used, cap - used - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (!reply || used == 0) {
		fprintf(err, "hvsim ctl: no reply from %s\n", socket_path);
		free(reply);
		return 2;
	}
	reply[used] = '\0';
	body = strchr(reply, '\n');
	if (!body) {
		fprintf(err, "hvsim ctl: malformed reply\n");
		free(reply);
		return 2;
	}
	*body++ = '\0';
	ok = strcmp(reply, "ok") == 0;
	if (!ok && strcmp(reply, "error") != 0) {
		fprintf(err, "hvsim ctl: malformed reply\n");
		free(reply);
		return 2;
	}
	fputs(body, ok ? out : err);
	free(reply);
	return ok ? 0 : 1;
}
