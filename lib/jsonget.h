/* SPDX-License-Identifier: Apache-2.0 */
/* Reading fields of validated objects: NULL where a field is absent or of another type. */
#ifndef SL_LIB_JSONGET_H
#define SL_LIB_JSONGET_H

#include <cjson/cJSON.h>

static inline const cJSON *jget(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static inline const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = jget(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

#endif
