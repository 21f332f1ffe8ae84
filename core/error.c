#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *djs_strerror(int err)
{
    if (err == 0)
        return "success";
    switch (err) {
#define DJS__ERR_MSG(name, code, msg)                                                                                              \
    case code:                                                                                                                     \
        return msg;
        DJS_ERRNO_MAP(DJS__ERR_MSG)
#undef DJS__ERR_MSG
    }
    return "unknown error";
}

const char *djs_err_name(int err)
{
    if (err == 0)
        return "OK";
    switch (err) {
#define DJS__ERR_NAME(name, code, msg)                                                                                             \
    case code:                                                                                                                     \
        return "DJS_E" #name;
        DJS_ERRNO_MAP(DJS__ERR_NAME)
#undef DJS__ERR_NAME
    }
    return "DJS_E?";
}

int djs_err_from_errno(int e)
{
    switch (e) {
    case 0:
        return 0;
    case ENOMEM:
        return DJS_ENOMEM;
    case ENOENT:
        return DJS_ENOTFOUND;
    case EEXIST:
    case EADDRINUSE:
        return DJS_EEXISTS;
    case EACCES:
    case EPERM:
        return DJS_EPERM;
    case EROFS:
        return DJS_ERDONLY;
    case EINVAL:
        return DJS_EINVAL;
    case EBUSY:
    case EAGAIN:
        return DJS_EBUSY;
    case ENOSPC:
    case EDQUOT:
        return DJS_ESTORAGE;
    case ECONNREFUSED:
    case ETIMEDOUT:
    case ECONNRESET:
        return DJS_EUNAVAILABLE;
    default:
        return DJS_EIO;
    }
}

/* libuv reports errors as negative errno values on Unix (UV_ENOENT ==
 * -ENOENT), so core needs no libuv header to translate them; its own codes
 * (UV_EOF and the like) are not errno values and fall through to DJS_EIO. */
int djs_err_from_uv(int rc)
{
    return rc >= 0 ? 0 : djs_err_from_errno(-rc);
}

void djs_notef(djs_note_cb cb, void *arg, const char *fmt, ...)
{
    if (cb == NULL)
        return;
    char line[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    cb(arg, line);
}
