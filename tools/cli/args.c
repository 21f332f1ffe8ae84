#include "tools/cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

const char *djs_cli_opt(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL || strncmp(argv[i], name, n) != 0)
            continue;
        if (argv[i][n] == '=') {
            const char *v = argv[i] + n + 1;
            argv[i] = NULL;
            return v;
        }
        if (argv[i][n] == '\0' && i + 1 < argc && argv[i + 1] != NULL) {
            const char *v = argv[i + 1];
            argv[i] = argv[i + 1] = NULL;
            return v;
        }
    }
    return NULL;
}

int djs_cli_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i] != NULL && strcmp(argv[i], name) == 0) {
            argv[i] = NULL;
            return 1;
        }
    }
    return 0;
}

int djs_cli_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return DJS_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return DJS_ERANGE;
    if (errno != 0 || end == s)
        return DJS_EINVAL;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    else if (*end == 'G')
        mul = 1000000000, end++;
    if (*end != '\0')
        return DJS_EINVAL;
    if (mul > 1 && v > UINT64_MAX / mul)
        return DJS_ERANGE;
    *out = v * mul;
    return 0;
}

int djs_cli_duration(const char *s, uint64_t *secs)
{
    static const char units[] = "smhd";
    static const uint64_t mult[] = {1, 60, 3600, 86400};
    if (s == NULL || *s < '0' || *s > '9')
        return DJS_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return DJS_ERANGE;
    uint64_t mul = 1;
    if (*end != '\0') {
        const char *u = strchr(units, *end);
        if (u == NULL || end[1] != '\0')
            return DJS_EINVAL;
        mul = mult[u - units];
    }
    if (v > UINT64_MAX / mul)
        return DJS_ERANGE;
    *secs = v * mul;
    return 0;
}

int djs_cli_rest(int argc, char **argv, const char **pos, int maxpos, const char *usage)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "djs: unknown option '%s'\nusage: %s\n", argv[i], usage);
            return DJS_EINVAL;
        }
        if (n == maxpos) {
            fprintf(stderr, "djs: unexpected argument '%s'\nusage: %s\n", argv[i], usage);
            return DJS_EINVAL;
        }
        pos[n++] = argv[i];
    }
    return n;
}
