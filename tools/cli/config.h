/* A settings file for djs serve (--config FILE): "key = value" lines, '#'
 * comments, keys are the long option names without their dashes. The
 * command line wins over the file. Used by djs serve (tools/djs/cmd_serve.c). */
#ifndef DJS_TOOLS_CLI_CONFIG_H
#define DJS_TOOLS_CLI_CONFIG_H

#include <stddef.h>

#include "core/error.h"

typedef struct djs_cli_config_entry {
    const char *key, *value; /* point into the loaded text */
    int line;
} djs_cli_config_entry_t;

typedef struct djs_cli_config {
    char *text; /* owned */
    djs_cli_config_entry_t *e;
    int n;
} djs_cli_config_t;

/* Load path; every key must be in known (NULL-terminated). Errors print
 * one line naming the file and line to err (c is then empty). Returns 0,
 * DJS_ENOTFOUND (no such file), DJS_EPERM (not readable), DJS_EIO (another
 * open or read error), DJS_ETOOBIG (over 1 MiB) or DJS_EINVAL (not text, a
 * line that is not "key = value", an unknown or repeated key). */
int djs_cli_config_load(djs_cli_config_t *c, const char *path, const char *const *known, char *err, size_t errlen);
/* The value of key, or NULL. */
const char *djs_cli_config_get(const djs_cli_config_t *c, const char *key);
/* A boolean setting: 1, 0, or DJS_EINVAL when the value is not
 * true/false/yes/no/1/0. */
int djs_cli_config_bool(const char *value);
void djs_cli_config_free(djs_cli_config_t *c);

#endif
