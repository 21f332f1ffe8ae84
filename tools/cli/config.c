#include "tools/cli/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"

#define MAX_CONFIG_BYTES (1 << 20)

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* The whole file, NUL-terminated, into *out (djs_free it). */
static int read_all(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int rc = errno == ENOENT ? DJS_ENOTFOUND : errno == EACCES ? DJS_EPERM : DJS_EIO;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    char *text = djs_malloc(MAX_CONFIG_BYTES + 1);
    size_t n = fread(text, 1, MAX_CONFIG_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc = bad ? DJS_EIO : n > MAX_CONFIG_BYTES ? DJS_ETOOBIG : memchr(text, '\0', n) != NULL ? DJS_EINVAL : 0;
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : rc == DJS_ETOOBIG ? "larger than 1 MiB" : "not a text file");
        djs_free(text);
        return rc;
    }
    text[n] = '\0';
    *out = text;
    return 0;
}

int djs_cli_config_load(djs_cli_config_t *c, const char *path, const char *const *known, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    int rc = read_all(path, &c->text, err, errlen);
    if (rc != 0)
        return rc;
    int cap = 0, line = 0;
    for (char *p = c->text, *next; p != NULL && *p != '\0'; p = next) {
        line++;
        next = strchr(p, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *hash = strchr(p, '#');
        if (hash != NULL)
            *hash = '\0';
        char *l = trim(p);
        if (*l == '\0')
            continue;
        char *eq = strchr(l, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, line);
            goto fail;
        }
        *eq = '\0';
        char *key = trim(l), *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') { /* "quoted" keeps inner spaces */
            value[vlen - 1] = '\0';
            value++;
        }
        int ok = 0;
        for (int i = 0; known[i] != NULL && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "%s:%d: unknown setting '%.64s'", path, line, key);
            goto fail;
        }
        for (int i = 0; i < c->n; i++)
            if (strcmp(c->e[i].key, key) == 0) {
                snprintf(err, errlen, "%s:%d: '%s' is already set on line %d", path, line, key, c->e[i].line);
                goto fail;
            }
        if (c->n == cap)
            c->e = djs_realloc(c->e, (size_t)(cap = cap ? cap * 2 : 16) * sizeof(*c->e));
        c->e[c->n++] = (djs_cli_config_entry_t){key, value, line};
    }
    return 0;
fail:
    djs_cli_config_free(c);
    return DJS_EINVAL;
}

const char *djs_cli_config_get(const djs_cli_config_t *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0)
            return c->e[i].value;
    return NULL;
}

int djs_cli_config_bool(const char *v)
{
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        return 1;
    if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0)
        return 0;
    return DJS_EINVAL;
}

void djs_cli_config_free(djs_cli_config_t *c)
{
    djs_free(c->text);
    djs_free(c->e);
    memset(c, 0, sizeof(*c));
}
