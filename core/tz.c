/* THROWAWAY STUB (see core/tz.h): UTC only. */
#include "core/tz.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

struct djs_tz {
    char name[129];
};

int djs_tz_open_dir(const char *dir, const char *name, size_t len, djs_tz_t **out)
{
    (void)dir;
    *out = NULL;
    if (len == 0 || len > 128 || name[0] == '/' || memchr(name, '\0', len) != NULL)
        return DJS_EINVAL;
    for (size_t i = 0; i + 1 < len; i++)
        if (name[i] == '.' && name[i + 1] == '.')
            return DJS_EINVAL;
    if (!((len == 3 && memcmp(name, "UTC", 3) == 0) || (len == 7 && memcmp(name, "Etc/UTC", 7) == 0)))
        return DJS_ENOTFOUND;
    djs_tz_t *tz = djs_calloc(1, sizeof(*tz));
    memcpy(tz->name, name, len);
    *out = tz;
    return 0;
}

int djs_tz_open(const char *name, size_t len, djs_tz_t **out)
{
    return djs_tz_open_dir("/usr/share/zoneinfo", name, len, out);
}

void djs_tz_close(djs_tz_t *tz)
{
    djs_free(tz);
}

int32_t djs_tz_offset(const djs_tz_t *tz, int64_t t)
{
    (void)tz;
    (void)t;
    return 0;
}

const char *djs_tz_name(const djs_tz_t *tz)
{
    return tz->name;
}
