// SPDX-License-Identifier: Apache-2.0
#include "agent/loader/kclock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

#define HZ_MIN 24    /* the kernel's own bounds on CONFIG_HZ choices are 100..1000 */
#define HZ_MAX 10000

int kclock_hz_from(const char *path)
{
	static const char key[] = "CONFIG_HZ=";
	char line[256];
	int hz = 0;
	gzFile f;

	f = gzopen(path, "rb"); /* reads an uncompressed file as it is */
	if (!f)
		return errno ? -errno : -ENOENT;
	while (gzgets(f, line, sizeof(line))) {
		char *end;
		long v;

		if (strncmp(line, key, sizeof(key) - 1) != 0)
			continue;
		errno = 0;
		v = strtol(line + sizeof(key) - 1, &end, 10);
		if (errno == 0 && end != line + sizeof(key) - 1 && (*end == '\n' || !*end) &&
		    v >= HZ_MIN && v <= HZ_MAX)
			hz = (int)v;
		break;
	}
	gzclose(f);
	return hz;
}

unsigned int kclock_hz(void)
{
	struct utsname u;
	char path[sizeof(u.release) + 16];
	int hz;

	if (uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		hz = kclock_hz_from(path);
		if (hz > 0)
			return (unsigned int)hz;
	}
	hz = kclock_hz_from("/proc/config.gz");
	return hz > 0 ? (unsigned int)hz : 0;
}

unsigned int kclock_ns_per_jiffy(unsigned int hz)
{
	return hz ? 1000000000u / hz : 0;
}
