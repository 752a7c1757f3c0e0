// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The control socket (host-sim/ctl/ctl.c) with a real event loop on a
 * thread of its own and real clients: replies, unknown commands, too many
 * arguments, and blocking commands, which must leave the loop free to
 * answer others while they wait, and which ctl_quiesce waits for.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/loop.h"
#include "ctl/ctl.h"

struct fixture {
	struct loop *loop;
	struct ctl *ctl;
	pthread_t thread;
	char dir[64];
	char path[96];
};

/* What the blocking command waits for; set by the `release` command. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, slow_entered;

static int cmd_echo(void *ctx, int argc, char **argv, FILE *reply)
{
	(void)ctx;
	for (int i = 1; i < argc; i++)
		fprintf(reply, "%s%s", argv[i], i + 1 < argc ? " " : "\n");
	return argc > 1 && strcmp(argv[1], "fail") == 0;
}

static int cmd_release(void *ctx, int argc, char **argv, FILE *reply)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	fprintf(reply, "released\n");
	return 0;
}

static int cmd_slow(void *ctx, int argc, char **argv, FILE *reply)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	pthread_mutex_lock(&gate_lock);
	slow_entered = true;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	fprintf(reply, "waited\n");
	return 0;
}

static void *loop_main(void *arg)
{
	loop_run(arg);
	return NULL;
}

static bool fixture_up(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/test_ctl.XXXXXX");
	if (!mkdtemp(f->dir))
		return false;
	snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
	f->loop = loop_new();
	if (!f->loop)
		return false;
	f->ctl = ctl_new(f->loop, f->path);
	if (!f->ctl)
		return false;
	if (ctl_register(f->ctl, "echo", cmd_echo, NULL) ||
	    ctl_register_help(f->ctl, "echo", "say it back") ||
	    ctl_register(f->ctl, "release", cmd_release, NULL) ||
	    ctl_register_blocking(f->ctl, "slow", cmd_slow, NULL))
		return false;
	return pthread_create(&f->thread, NULL, loop_main, f->loop) == 0;
}

static void fixture_down(struct fixture *f)
{
	loop_stop(f->loop);
	loop_wake(f->loop);
	pthread_join(f->thread, NULL);
	ctl_free(f->ctl);
	loop_free(f->loop);
	rmdir(f->dir);
}

/* Run a client; its exit status, and what it printed in out and err. */
static int client(struct fixture *f, const char *line, char *out, size_t outlen,
		  char *err, size_t errlen)
{
	char *argv[8], copy[256], *save = NULL, *w;
	FILE *o = fmemopen(out, outlen, "w"), *e = fmemopen(err, errlen, "w");
	int argc = 0, rc;

	memset(out, 0, outlen);
	memset(err, 0, errlen);
	snprintf(copy, sizeof(copy), "%s", line);
	for (w = strtok_r(copy, " ", &save); w && argc < 8; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	rc = ctl_client(f->path, argc, argv, o, e);
	fclose(o);
	fclose(e);
	return rc;
}

static void test_replies(void)
{
	struct fixture f;
	char out[4096], err[512];

	REQUIRE(fixture_up(&f));
	CHECK(ctl_socket_alive(f.path));
	CHECK(client(&f, "echo a b", out, sizeof(out), err, sizeof(err)) == 0);
	CHECK(strcmp(out, "a b\n") == 0 && !err[0]);
	CHECK(client(&f, "echo fail", out, sizeof(out), err, sizeof(err)) == 1);
	CHECK(strcmp(err, "fail\n") == 0);
	CHECK(client(&f, "nosuch", out, sizeof(out), err, sizeof(err)) == 1);
	CHECK(strstr(err, "unknown command 'nosuch'") != NULL);
	CHECK(client(&f, "help", out, sizeof(out), err, sizeof(err)) == 0);
	CHECK(strstr(out, "echo") && strstr(out, "say it back") && strstr(out, "slow"));

	/* 64 arguments after the command: one too many. */
	{
		const char *argv[66] = { "echo" };
		FILE *o, *e;

		for (int i = 1; i <= 64; i++)
			argv[i] = "x";
		memset(err, 0, sizeof(err));
		o = fmemopen(out, sizeof(out), "w");
		e = fmemopen(err, sizeof(err), "w");
		REQUIRE(o && e);
		CHECK(ctl_client(f.path, 65, (char **)argv, o, e) == 1);
		fclose(o);
		fclose(e);
		CHECK(strstr(err, "too many arguments (at most 63)") != NULL);
	}
	fixture_down(&f);
	CHECK(!ctl_socket_alive(f.path));
}

struct slow_client {
	struct fixture *f;
	int rc;
	char out[256], err[256];
};

static void *slow_client_main(void *arg)
{
	struct slow_client *sc = arg;

	sc->rc = client(sc->f, "slow", sc->out, sizeof(sc->out), sc->err,
			sizeof(sc->err));
	return NULL;
}

static void test_blocking_command(void)
{
	struct slow_client sc = { .rc = -1 };
	struct fixture f;
	char out[256], err[256];
	pthread_t t;

	gate_open = slow_entered = false;
	REQUIRE(fixture_up(&f));
	sc.f = &f;
	REQUIRE(pthread_create(&t, NULL, slow_client_main, &sc) == 0);
	pthread_mutex_lock(&gate_lock);
	while (!slow_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);

	/* The slow command waits; the loop still answers everyone else. */
	CHECK(client(&f, "echo meanwhile", out, sizeof(out), err, sizeof(err)) == 0);
	CHECK(strcmp(out, "meanwhile\n") == 0);
	CHECK(sc.rc == -1);
	CHECK(client(&f, "release", out, sizeof(out), err, sizeof(err)) == 0);
	pthread_join(t, NULL);
	CHECK(sc.rc == 0 && strcmp(sc.out, "waited\n") == 0);
	fixture_down(&f);
}

struct quiesce_arg {
	struct ctl *ctl;
	bool done;
};

static void *quiesce_main(void *arg)
{
	struct quiesce_arg *q = arg;

	ctl_quiesce(q->ctl);
	__atomic_store_n(&q->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void test_quiesce_waits(void)
{
	struct slow_client sc = { .rc = -1 };
	struct quiesce_arg q = { 0 };
	struct fixture f;
	char out[256], err[256];
	pthread_t t, tq;

	gate_open = slow_entered = false;
	REQUIRE(fixture_up(&f));
	sc.f = &f;
	REQUIRE(pthread_create(&t, NULL, slow_client_main, &sc) == 0);
	pthread_mutex_lock(&gate_lock);
	while (!slow_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);

	q.ctl = f.ctl;
	REQUIRE(pthread_create(&tq, NULL, quiesce_main, &q) == 0);
	usleep(100 * 1000);
	CHECK(!__atomic_load_n(&q.done, __ATOMIC_ACQUIRE));
	CHECK(client(&f, "release", out, sizeof(out), err, sizeof(err)) == 0);
	pthread_join(tq, NULL);
	CHECK(q.done);
	pthread_join(t, NULL);
	CHECK(sc.rc == 0);
	/* Once quiesced, blocking commands are refused; the rest still run. */
	CHECK(client(&f, "slow", out, sizeof(out), err, sizeof(err)) == 1);
	CHECK(strstr(err, "stopping") != NULL);
	CHECK(client(&f, "echo still", out, sizeof(out), err, sizeof(err)) == 0);
	fixture_down(&f);
}

int main(void)
{
	RUN_TEST(test_replies);
	RUN_TEST(test_blocking_command);
	RUN_TEST(test_quiesce_waits);
	return check_finish();
}
