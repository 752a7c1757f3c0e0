// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Parsing of the storage VSP's command-line and control-command arguments,
 * apart from the rest so that tests link it alone.
 */
#include "vsp/storvsp.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsp/storvsp_proto.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int storvsp_parse_uint(const char *s, unsigned long long max,
		      unsigned long long *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	/* Decimal, or hex with 0x: a leading zero is not octal here. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		*v = strtoull(s + 2, &end, 16);
	else
		*v = strtoull(s, &end, 10);
	if (end == s || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
			 end == s + 2))
		return -EINVAL;
	if (errno || *end || *v > max)
		return -EINVAL;
	return 0;
}

int storvsp_parse_size(const char *text, uint64_t *bytes)
{
	unsigned long long v, mult = 1;
	char num[32];
	size_t len;

	if (!text)
		return -EINVAL;
	len = strlen(text);
	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, text, len + 1);
	switch (num[len - 1]) {
	case 'k': case 'K':
		mult = 1ull << 10;
		break;
	case 'm': case 'M':
		mult = 1ull << 20;
		break;
	case 'g': case 'G':
		mult = 1ull << 30;
		break;
	case 't': case 'T':
		mult = 1ull << 40;
		break;
	default:
		break;
	}
	if (mult != 1)
		num[len - 1] = '\0';
	if (storvsp_parse_uint(num, ULLONG_MAX, &v) || v > UINT64_MAX / mult)
		return -EINVAL;
	*bytes = v * mult;
	return 0;
}

int storvsp_parse_disk_option(const char *spec, struct storvsp_disk_spec *out,
			      char *err, size_t errlen)
{
	const char *comma;
	size_t plen;

	if (!spec || !out) {
		set_err(err, errlen, "no disk given");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->sector_size = 512;
	out->lun = -1;
	comma = strchr(spec, ',');
	plen = comma ? (size_t)(comma - spec) : strlen(spec);
	if (!plen) {
		set_err(err, errlen, "disk '%s': no file name", spec);
		return -EINVAL;
	}
	if (plen >= sizeof(out->path)) {
		set_err(err, errlen, "disk '%.40s...': path too long", spec);
		return -EINVAL;
	}
	memcpy(out->path, spec, plen);
	out->path[plen] = '\0';

	while (comma) {
		const char *opt = comma + 1, *val;
		char word[64];
		size_t wlen;
		unsigned long long v;

		comma = strchr(opt, ',');
		wlen = comma ? (size_t)(comma - opt) : strlen(opt);
		if (!wlen || wlen >= sizeof(word)) {
			set_err(err, errlen, "disk '%s': bad option list", spec);
			return -EINVAL;
		}
		memcpy(word, opt, wlen);
		word[wlen] = '\0';
		val = strchr(word, '=');
		if (!val && strcmp(word, "ro") == 0) {
			out->ro = true;
		} else if (!val && (strcmp(word, "ide") == 0 ||
				    strcmp(word, "fc") == 0)) {
			enum storvsp_kind kind = word[0] == 'i' ?
						 STORVSP_KIND_IDE :
						 STORVSP_KIND_FC;

			if (out->kind_given && out->kind != kind) {
				set_err(err, errlen,
					"disk '%s': ide and fc exclude each other",
					spec);
				return -EINVAL;
			}
			out->kind = kind;
			out->kind_given = true;
		} else if (val && strncmp(word, "sector=", 7) == 0) {
			if (storvsp_parse_uint(val + 1, 4096, &v) ||
			    (v != 512 && v != 4096)) {
				set_err(err, errlen,
					"disk '%s': sector must be 512 or 4096",
					spec);
				return -EINVAL;
			}
			out->sector_size = (unsigned int)v;
		} else if (val && strncmp(word, "ctl=", 4) == 0) {
			if (storvsp_parse_uint(val + 1, STORVSP_MAX_CONTROLLERS - 1,
				       &v)) {
				set_err(err, errlen,
					"disk '%s': ctl must be 0..%d", spec,
					STORVSP_MAX_CONTROLLERS - 1);
				return -EINVAL;
			}
			out->controller = (unsigned int)v;
		} else if (val && strncmp(word, "lun=", 4) == 0) {
			if (storvsp_parse_uint(val + 1, STORVSP_MAX_LUNS - 1, &v)) {
				set_err(err, errlen,
					"disk '%s': lun must be 0..%d", spec,
					STORVSP_MAX_LUNS - 1);
				return -EINVAL;
			}
			out->lun = (int)v;
		} else {
			set_err(err, errlen, "disk '%s': unknown option '%s'",
				spec, word);
			return -EINVAL;
		}
	}
	return 0;
}
