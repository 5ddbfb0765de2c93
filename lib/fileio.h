/* SPDX-License-Identifier: Apache-2.0 */
/* Reading whole inputs (files, stdin) under a size cap. */
#ifndef SL_LIB_FILEIO_H
#define SL_LIB_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/*
 * Reads f to the end into a malloc'd, NUL-terminated buffer of at most max bytes.
 * Returns NULL with errno set: E2BIG past max, ENOMEM, or the read error.
 */
char *fileio_read(FILE *f, size_t max, size_t *ret_len);
/* The same for a path; "-" means stdin. */
char *fileio_read_path(const char *path, size_t max, size_t *ret_len);

#endif
