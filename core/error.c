#include "core/error.h"

#include <errno.h>
#include <lmdb.h>
#include <uv.h>

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
    default:
        return DJS_EIO;
    }
}

int djs_err_from_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return DJS_ENOTFOUND;
    case MDB_KEYEXIST:
        return DJS_EEXISTS;
    case MDB_MAP_FULL:
        return DJS_EMAPFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return DJS_ECORRUPT;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_DBS_FULL:
        return DJS_ELIMIT;
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
    case MDB_MAP_RESIZED:
        return DJS_EBUSY;
    default:
        if (rc > 0)
            return djs_err_from_errno(rc);
        return DJS_EIO;
    }
}

int djs_err_from_uv(int rc)
{
    if (rc >= 0)
        return 0;
    switch (rc) {
    case UV_ENOMEM:
        return DJS_ENOMEM;
    case UV_ENOENT:
        return DJS_ENOTFOUND;
    case UV_EEXIST:
    case UV_EADDRINUSE:
        return DJS_EEXISTS;
    case UV_EACCES:
    case UV_EPERM:
        return DJS_EPERM;
    case UV_EINVAL:
        return DJS_EINVAL;
    case UV_EBUSY:
    case UV_EAGAIN:
        return DJS_EBUSY;
    case UV_ECONNREFUSED:
    case UV_ETIMEDOUT:
    case UV_ECONNRESET:
        return DJS_EUNAVAILABLE;
    default:
        return DJS_EIO;
    }
}
