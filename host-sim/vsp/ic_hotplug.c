// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Hot-added integration components (see ic_hotplug.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/channel.h"
#include "vmbus/server.h"
#include "vsp/ic.h"
#include "vsp/ic_hotplug.h"
#include "vsp/timesync.h"

enum ic_kind {
	IC_KIND_HEARTBEAT,
	IC_KIND_SHUTDOWN,
	IC_KIND_TIMESYNC,
};

struct ic_added {
	enum ic_kind kind;
	bool monitor;
	guid_t instance;
	struct ic_heartbeat *hb;
	struct ic_shutdown *sd;
	struct ic_timesync *ts;
};

struct ic_hotplug {
	struct vmbus_server *srv;
	struct hypervisor *hv;		/* time sync's reference time; may be NULL */
	struct ic_added ics[IC_HOTPLUG_MAX];
	unsigned int n;
	unsigned int next_serial;
};

/* Beside the boot-time ICs' 8a8c2b8e-5e1d-4b0a-9c11-6e3b7a01000N. */
static guid_t default_instance(unsigned int serial)
{
	return GUID_INIT(0x8a8c2b8e, 0x5e1d, 0x4b0a, 0x9c, 0x11, 0x6e, 0x3b,
			 0x7a, 0x02, (uint8_t)(serial >> 8), (uint8_t)serial);
}

struct ic_hotplug *ic_hotplug_create(struct vmbus_server *srv,
				     struct hypervisor *hv)
{
	struct ic_hotplug *hp;

	if (!srv)
		return NULL;
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return NULL;
	hp->srv = srv;
	hp->hv = hv;
	hp->next_serial = 1;
	return hp;
}

static void free_added(struct ic_added *a)
{
	ic_heartbeat_destroy(a->hb);
	ic_shutdown_destroy(a->sd);
	ic_timesync_destroy(a->ts);
	a->hb = NULL;
	a->sd = NULL;
	a->ts = NULL;
}

void ic_hotplug_destroy(struct ic_hotplug *hp)
{
	unsigned int i;

	if (!hp)
		return;
	for (i = 0; i < hp->n; i++)
		free_added(&hp->ics[i]);
	free(hp);
}

static struct ic_service *added_service(const struct ic_added *a)
{
	switch (a->kind) {
	case IC_KIND_HEARTBEAT:
		return ic_heartbeat_service(a->hb);
	case IC_KIND_TIMESYNC:
		return ic_timesync_service(a->ts);
	default:
		return ic_shutdown_service(a->sd);
	}
}

static const char *kind_name(enum ic_kind kind)
{
	switch (kind) {
	case IC_KIND_HEARTBEAT:
		return "heartbeat";
	case IC_KIND_TIMESYNC:
		return "timesync";
	default:
		return "shutdown";
	}
}

static int ctl_add(struct ic_hotplug *hp, int argc, char **argv, FILE *reply)
{
	struct ic_added *a;
	struct vmbus_device *dev;
	struct channel *ch;
	const char *instance_arg = NULL;
	char guid[37];
	int i;

	if (hp->n == IC_HOTPLUG_MAX) {
		fprintf(reply, "at most %d added ICs\n", IC_HOTPLUG_MAX);
		return -1;
	}
	a = &hp->ics[hp->n];
	memset(a, 0, sizeof(*a));
	if (strcmp(argv[2], "heartbeat") == 0) {
		a->kind = IC_KIND_HEARTBEAT;
	} else if (strcmp(argv[2], "shutdown") == 0) {
		a->kind = IC_KIND_SHUTDOWN;
	} else if (strcmp(argv[2], "timesync") == 0) {
		a->kind = IC_KIND_TIMESYNC;
	} else {
		fprintf(reply, "unknown IC '%s' (heartbeat, shutdown or timesync)\n",
			argv[2]);
		return -1;
	}
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "monitor") == 0 && !a->monitor) {
			a->monitor = true;
		} else if (!instance_arg) {
			instance_arg = argv[i];
		} else {
			fprintf(reply, "unexpected argument '%s'\n", argv[i]);
			return -1;
		}
	}
	if (instance_arg) {
		if (!vmbus_guid_from_str(instance_arg, &a->instance)) {
			fprintf(reply, "'%s' is not a GUID\n", instance_arg);
			return -1;
		}
	} else {
		do {
			a->instance = default_instance(hp->next_serial++);
		} while (vmbus_server_instance_taken(hp->srv, &a->instance) &&
			 hp->next_serial <= 0xffff);
	}
	vmbus_guid_to_str(&a->instance, guid);
	if (vmbus_server_instance_taken(hp->srv, &a->instance)) {
		fprintf(reply, "a device with instance %s exists\n", guid);
		return -1;
	}

	switch (a->kind) {
	case IC_KIND_HEARTBEAT:
		a->hb = ic_heartbeat_create(1000);
		break;
	case IC_KIND_TIMESYNC:
		a->ts = ic_timesync_create(hp->hv, IC_TIMESYNC_SAMPLE_INTERVAL_MS);
		break;
	default:
		a->sd = ic_shutdown_create();
		break;
	}
	if (!a->hb && !a->sd && !a->ts) {
		fprintf(reply, "out of memory\n");
		return -1;
	}
	ic_service_set_monitor(added_service(a), a->monitor);
	switch (a->kind) {
	case IC_KIND_HEARTBEAT:
		dev = ic_heartbeat_attach(a->hb, hp->srv, &a->instance);
		break;
	case IC_KIND_TIMESYNC:
		dev = ic_timesync_attach(a->ts, hp->srv, &a->instance);
		break;
	default:
		dev = ic_shutdown_attach(a->sd, hp->srv, &a->instance);
		break;
	}
	if (!dev) {
		free_added(a);
		fprintf(reply, "cannot offer %s: out of relids\n", guid);
		return -1;
	}
	hp->n++;
	ch = vmbus_server_device_channel(dev, 0);
	fprintf(reply, "added %s %s relid %u\n", kind_name(a->kind), guid,
		ch ? channel_relid(ch) : 0);
	return 0;
}

static struct ic_added *find_added(struct ic_hotplug *hp, const char *arg)
{
	guid_t instance;
	unsigned int i;

	if (!vmbus_guid_from_str(arg, &instance))
		return NULL;
	for (i = 0; i < hp->n; i++)
		if (guid_equal(&hp->ics[i].instance, &instance))
			return &hp->ics[i];
	return NULL;
}

static void print_state(const struct ic_added *a, FILE *reply)
{
	uint32_t msg_version = 0;
	enum ic_state state;

	state = ic_service_state(added_service(a), NULL, &msg_version);
	fprintf(reply, "state=%s version=%u.%u", ic_state_name(state),
		msg_version >> 16, msg_version & 0xffff);
}

int ic_hotplug_ctl(void *ctx, int argc, char **argv, FILE *reply)
{
	struct ic_hotplug *hp = ctx;
	struct ic_added *a;
	char guid[37];
	unsigned int i;

	if (argc >= 3 && strcmp(argv[1], "add") == 0)
		return ctl_add(hp, argc, argv, reply);
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (i = 0; i < hp->n; i++) {
			a = &hp->ics[i];
			vmbus_guid_to_str(&a->instance, guid);
			fprintf(reply, "%s %s %s ", guid, kind_name(a->kind),
				a->monitor ? "monitor" : "event");
			print_state(a, reply);
			fputc('\n', reply);
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "status") == 0) {
		a = find_added(hp, argv[2]);
		if (!a) {
			fprintf(reply, "no added IC with instance '%s'\n", argv[2]);
			return -1;
		}
		if (a->kind == IC_KIND_HEARTBEAT)
			return ic_heartbeat_ctl(a->hb, 1, argv, reply);
		if (a->kind == IC_KIND_TIMESYNC)
			return ic_timesync_ctl(a->ts, 0, argv, reply);
		print_state(a, reply);
		fputc('\n', reply);
		return 0;
	}
	fprintf(reply, "usage: ic add heartbeat|shutdown|timesync [monitor] [INSTANCE] | ic list | ic status INSTANCE\n");
	return -1;
}
