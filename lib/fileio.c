// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

char *fileio_read(FILE *f, size_t max, size_t *ret_len)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap + 1), *nb;

	if (!buf)
		return NULL;
	for (;;) {
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > max) {
			free(buf);
			errno = E2BIG;
			return NULL;
		}
		if (n == 0) {
			if (ferror(f)) {
				free(buf);
				errno = EIO;
				return NULL;
			}
			break;
		}
		if (len == cap) {
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
	}
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

char *fileio_read_path(const char *path, size_t max, size_t *ret_len)
{
	FILE *f;
	char *buf;
	int e;

	if (!strcmp(path, "-"))
		return fileio_read(stdin, max, ret_len);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf = fileio_read(f, max, ret_len);
	e = errno;
	fclose(f);
	errno = e;
	return buf;
}
