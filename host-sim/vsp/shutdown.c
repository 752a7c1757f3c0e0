// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Shutdown IC: power off, reboot or hibernate on request from
 * `hvsim ctl NAME shutdown`, reporting whether the guest agreed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "viridian/wire/vmbus.h"
#include "vsp/ic.h"

static const uint32_t shutdown_versions[] = {
	IC_SHUTDOWN_VERSION_3_2, IC_SHUTDOWN_VERSION_3_1,
	IC_SHUTDOWN_VERSION_3, IC_SHUTDOWN_VERSION_1,
};

struct ic_shutdown {
	struct ic_service *ic;
};

struct ic_shutdown *ic_shutdown_create(void)
{
	struct ic_service_config cfg = {
		.name = "shutdown",
		.class = VMBUS_CLASS_SHUTDOWN,
		.msg_type = ICMSGTYPE_SHUTDOWN,
		.versions = shutdown_versions,
		.nversions = sizeof(shutdown_versions) /
			     sizeof(shutdown_versions[0]),
	};
	struct ic_shutdown *sd;

	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return NULL;
	cfg.ctx = sd;
	sd->ic = ic_service_create(&cfg);
	if (!sd->ic) {
		free(sd);
		return NULL;
	}
	return sd;
}

void ic_shutdown_destroy(struct ic_shutdown *sd)
{
	if (!sd)
		return;
	ic_service_destroy(sd->ic);
	free(sd);
}

struct vmbus_device *ic_shutdown_attach(struct ic_shutdown *sd,
					struct vmbus_server *srv,
					const guid_t *instance)
{
	return ic_service_attach(sd->ic, srv, instance);
}

struct ic_service *ic_shutdown_service(struct ic_shutdown *sd)
{
	return sd->ic;
}

static const char *kind_name(enum ic_shutdown_kind kind)
{
	switch (kind) {
	case IC_SHUTDOWN_POWEROFF:
		return "power off";
	case IC_SHUTDOWN_REBOOT:
		return "reboot";
	case IC_SHUTDOWN_HIBERNATE:
		return "hibernate";
	}
	return "?";
}

int ic_shutdown_request(struct ic_shutdown *sd, enum ic_shutdown_kind kind,
			bool force, int timeout_ms, uint32_t *status)
{
	struct ic_shutdown_msg m;
	uint32_t msg_version, flags;
	int rc;

	if (ic_service_state(sd->ic, NULL, &msg_version) != IC_STATE_READY)
		return -ENOTCONN;
	rc = ic_shutdown_flags(kind, force, msg_version, &flags);
	if (rc)
		return rc;
	memset(&m, 0, sizeof(m));
	m.flags = flags;
	snprintf((char *)m.display_message, sizeof(m.display_message),
		 "hvsim: %s requested", kind_name(kind));
	return ic_service_transact(sd->ic, &m, sizeof(m), NULL, 0, NULL,
				   status, timeout_ms);
}

int ic_shutdown_ctl(void *ctx, int argc, char **argv, FILE *reply)
{
	enum ic_shutdown_kind kind = IC_SHUTDOWN_POWEROFF;
	struct ic_shutdown *sd = ctx;
	uint32_t status = 0, msg_version = 0;
	enum ic_state state;
	bool force = false, kind_given = false;
	int i, rc;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (i == 0 && strcmp(a, "shutdown") == 0)
			continue;
		if (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0) {
			force = true;
		} else if (!kind_given && strcmp(a, "reboot") == 0) {
			kind = IC_SHUTDOWN_REBOOT;
			kind_given = true;
		} else if (!kind_given && strcmp(a, "hibernate") == 0) {
			kind = IC_SHUTDOWN_HIBERNATE;
			kind_given = true;
		} else if (!kind_given && strcmp(a, "poweroff") == 0) {
			kind_given = true;
		} else {
			fprintf(reply,
				"error: usage: shutdown [poweroff|reboot|hibernate] [--force]\n");
			return 1;
		}
	}

	rc = ic_shutdown_request(sd, kind, force, IC_SHUTDOWN_TIMEOUT_MS,
				 &status);
	switch (rc) {
	case 0:
		if (status == IC_S_OK) {
			fprintf(reply, "ok\n");
			return 0;
		}
		fprintf(reply, "refused status=%#010x\n", status);
		return 1;
	case -ENOTCONN:
		state = ic_service_state(sd->ic, NULL, NULL);
		fprintf(reply, "error: shutdown IC not ready (%s)\n",
			ic_state_name(state));
		return 1;
	case -ENOTSUP:
		ic_service_state(sd->ic, NULL, &msg_version);
		fprintf(reply,
			"error: the guest's shutdown IC %u.%u cannot %s\n",
			msg_version >> 16, msg_version & 0xffff,
			kind_name(kind));
		return 1;
	case -EINVAL:
		fprintf(reply, "error: --force goes with power off or reboot\n");
		return 1;
	case -ETIMEDOUT:
		fprintf(reply, "error: no answer within %d ms\n",
			IC_SHUTDOWN_TIMEOUT_MS);
		return 1;
	default:
		fprintf(reply, "error: %s\n", strerror(-rc));
		return 1;
	}
}
