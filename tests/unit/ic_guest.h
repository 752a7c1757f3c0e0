/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The scripted guest's side of IC negotiation, for the tests of host-sim's
 * integration components: as Linux's vmbus_prep_negotiate_resp behaves,
 * the first of the guest's own versions that the host listed wins; none
 * gives zero counts. Answers a NEGOTIATE request in place.
 */
#ifndef VIRIDIAN_TESTS_IC_GUEST_H
#define VIRIDIAN_TESTS_IC_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "viridian/wire/ic.h"

static inline void ic_guest_negotiate(uint8_t *pkt, uint32_t len,
				      const uint32_t *fw, size_t nfw,
				      const uint32_t *sv, size_t nsv)
{
	struct icmsg_hdr hdr;
	struct icmsg_negotiate neg;
	struct ic_version v[IC_NEGOTIATE_MAX_VERSIONS], pick_fw = { 0, 0 },
			  pick_sv = { 0, 0 };
	bool found_fw = false, found_sv = false;
	size_t i, j, nv;

	memcpy(&hdr, pkt + 8, sizeof(hdr));
	memcpy(&neg, pkt + IC_HEADER_SIZE, sizeof(neg));
	nv = (size_t)neg.icframe_vercnt + neg.icmsg_vercnt;
	if (nv > IC_NEGOTIATE_MAX_VERSIONS ||
	    IC_HEADER_SIZE + sizeof(neg) + 4u * nv > len)
		return;
	memcpy(v, pkt + IC_HEADER_SIZE + sizeof(neg), 4u * nv);
	for (i = 0; i < nfw && !found_fw; i++)
		for (j = 0; j < neg.icframe_vercnt && !found_fw; j++)
			if (IC_VERSION(v[j].major, v[j].minor) == fw[i]) {
				pick_fw = v[j];
				found_fw = true;
			}
	for (i = 0; i < nsv && found_fw && !found_sv; i++)
		for (j = neg.icframe_vercnt; j < nv && !found_sv; j++)
			if (IC_VERSION(v[j].major, v[j].minor) == sv[i]) {
				pick_sv = v[j];
				found_sv = true;
			}
	neg.icframe_vercnt = neg.icmsg_vercnt = found_sv ? 1 : 0;
	hdr.icmsgsize = 0x10;
	hdr.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy(pkt + 8, &hdr, sizeof(hdr));
	memcpy(pkt + IC_HEADER_SIZE, &neg, sizeof(neg));
	memcpy(pkt + IC_HEADER_SIZE + sizeof(neg), &pick_fw, 4);
	memcpy(pkt + IC_HEADER_SIZE + sizeof(neg) + 4, &pick_sv, 4);
}

#endif /* VIRIDIAN_TESTS_IC_GUEST_H */
