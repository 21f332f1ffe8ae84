/* djs token create --sub NAME --role ROLE [--ttl 1h] [--data DIR]
 *                  [--login-code [--code-ttl 10m] [--url URL]]
 * djs token verify [--data DIR] TOKEN   (hidden: for tests and debugging) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth.h"
#include "core/buf.h"
#include "core/error.h"
#include "tools/djs/cli.h"

#define TOKEN_USAGE                                                                                                                \
    "djs token create --sub NAME --role admin|operator|user|worker [--ttl 1h] [--data DIR]\n"                                      \
    "                 [--login-code [--code-ttl 10m] [--url URL]]\n"                                                               \
    "       djs token verify [--data DIR] TOKEN\n\n"                                                                               \
    "create prints a signed HS256 token; --ttl takes N with an s, m, h or d suffix (default 1h),\n"                                \
    "--data the data directory whose jwt.secret signs it (default ./data; created if missing).\n"                                  \
    "--login-code prints a one-time login code for the dashboard instead: it opens one browser session\n"                          \
    "of --ttl (default 12h) when used within --code-ttl (default 10m), and is no bearer token; with --url\n"                       \
    "(the server's, e.g. http://127.0.0.1:8080) it prints the link URL/ui/login#code=CODE.\n"                                      \
    "verify prints 'sub=SUB role=ROLE exp=N' and exits 0, or prints why the token is refused and exits 1.\n"                       \
    "Usage errors exit 2, other failures 1.\n"

#define VERIFY_LEEWAY_S 30

static int usage_error(const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "djs token: %s '%s' (try 'djs token help')\n", what, arg);
    else
        fprintf(stderr, "djs token: %s (try 'djs token help')\n", what);
    return 2;
}

/* Anything left in argv after the options: one positional allowed in pos. */
static int leftovers(int argc, char **argv, const char **pos, int maxpos)
{
    int n = 0;
    for (int i = 2; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if (strncmp(argv[i], "--", 2) == 0)
            return usage_error("unknown or incomplete option", argv[i]);
        if (n == maxpos)
            return usage_error("unexpected argument", argv[i]);
        pos[n++] = argv[i];
    }
    return n < maxpos ? usage_error("missing TOKEN", NULL) : 0;
}

static int open_auth(const char *dir, djs_auth_t **a)
{
    int rc = djs_auth_open(a, dir);
    if (rc != 0) {
        const char *hint = rc == DJS_EPERM    ? " (must be a regular file of mode 0600)"
                           : rc == DJS_EINVAL ? " (key must be 32 to 4096 bytes)"
                                              : "";
        fprintf(stderr, "djs token: cannot load %s/%s: %s%s\n", dir, DJS_AUTH_SECRET_FILE, djs_strerror(rc), hint);
    }
    return rc;
}

static int token_create(int argc, char **argv)
{
    const char *sub = djs_cli_opt(argc, argv, "--sub");
    const char *role_s = djs_cli_opt(argc, argv, "--role");
    const char *ttl_s = djs_cli_opt(argc, argv, "--ttl");
    const char *dir = djs_cli_opt(argc, argv, "--data");
    const char *code_ttl_s = djs_cli_opt(argc, argv, "--code-ttl");
    const char *url = djs_cli_opt(argc, argv, "--url");
    int login = djs_cli_flag(argc, argv, "--login-code");
    int rc = leftovers(argc, argv, NULL, 0);
    if (rc != 0)
        return rc;
    if (sub == NULL)
        return usage_error("missing --sub NAME", NULL);
    if (*sub == '\0' || strlen(sub) > DJS_AUTH_MAX_SUB)
        return usage_error("--sub must be 1 to 255 bytes", NULL);
    if (role_s == NULL)
        return usage_error("missing --role ROLE", NULL);
    int role = djs_role_parse(role_s);
    if (role < 0)
        return usage_error("--role must be admin, operator, user or worker, not", role_s);
    uint64_t ttl = login ? 12 * 3600 : 3600, code_ttl = 600;
    if (ttl_s != NULL && (djs_cli_duration(ttl_s, &ttl) != 0 || ttl == 0))
        return usage_error("--ttl takes a positive N with an s, m, h or d suffix, not", ttl_s);
    if (!login && (code_ttl_s != NULL || url != NULL))
        return usage_error("--code-ttl and --url go with --login-code", NULL);
    if (login && ttl > DJS_AUTH_MAX_SESSION_TTL)
        return usage_error("a login code's session lasts at most 30d, not", ttl_s);
    if (code_ttl_s != NULL && (djs_cli_duration(code_ttl_s, &code_ttl) != 0 || code_ttl == 0 || code_ttl > 86400))
        return usage_error("--code-ttl takes a positive N with an s, m, h or d suffix up to 1d, not", code_ttl_s);
    if (url != NULL && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return usage_error("--url must start with http:// or https://, not", url);
    djs_auth_t *a;
    if (open_auth(dir ? dir : "data", &a) != 0)
        return 1;
    djs_buf_t tok;
    djs_buf_init(&tok);
    if (login)
        rc = djs_auth_sign_login(a, sub, role, (uint64_t)time(NULL), code_ttl, ttl, &tok);
    else
        rc = djs_auth_sign(a, sub, role, (uint64_t)time(NULL), ttl, &tok);
    djs_auth_close(a);
    if (rc != 0) {
        fprintf(stderr, "djs token: cannot sign: %s\n", djs_strerror(rc));
        djs_buf_dispose(&tok);
        return 1;
    }
    if (url != NULL) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        printf("%.*s/ui/login#code=%s\n", (int)n, url, (const char *)tok.base);
    } else {
        printf("%s\n", (const char *)tok.base);
    }
    djs_buf_dispose(&tok);
    return 0;
}

static int token_verify(int argc, char **argv)
{
    const char *dir = djs_cli_opt(argc, argv, "--data");
    const char *tok = NULL;
    int rc = leftovers(argc, argv, &tok, 1);
    if (rc != 0)
        return rc;
    djs_auth_t *a;
    if (open_auth(dir ? dir : "data", &a) != 0)
        return 1;
    djs_principal_t p;
    const char *why = NULL;
    rc = djs_auth_verify(a, tok, strlen(tok), (uint64_t)time(NULL), VERIFY_LEEWAY_S, &p, &why);
    djs_auth_close(a);
    if (rc != 0) {
        printf("invalid token: %s\n", why ? why : djs_strerror(rc));
        return 1;
    }
    printf("sub=%s role=%s exp=%" PRIu64 "%s\n", p.sub, djs_role_name(p.role), p.exp, p.login ? " use=login" : "");
    return 0;
}

int djs_cmd_token(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("missing create or verify", NULL);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: %s", TOKEN_USAGE);
        return 0;
    }
    if (strcmp(argv[1], "create") == 0)
        return token_create(argc, argv);
    if (strcmp(argv[1], "verify") == 0)
        return token_verify(argc, argv);
    return usage_error("unknown subcommand", argv[1]);
}
