/* djs error codes.
 *
 * Every fallible djs function returns int: 0 on success, a negative DJS_E...
 * code on failure. One X-macro table (DJS_ERRNO_MAP) generates the enum,
 * djs_strerror() and djs_err_name(), as libuv's UV_ERRNO_MAP does.
 * Errors of LMDB, libuv and OpenSSL are translated where they enter djs code:
 * djs_err_from_mdb lives with the log (eventlog/log.h), the only layer that
 * talks to LMDB; libuv's codes are negative errno values, translated here
 * without libuv's header. The original text can be kept by the caller.
 */
#ifndef DJS_CORE_ERROR_H
#define DJS_CORE_ERROR_H

/* X(name, code, message). Codes are stable: never renumber, only append. */
#define DJS_ERRNO_MAP(X)                                                                                                           \
    X(INVAL, -1, "invalid argument")                                                                                               \
    X(NOMEM, -2, "out of memory")                                                                                                  \
    X(NOTFOUND, -3, "not found")                                                                                                   \
    X(EXISTS, -4, "already exists")                                                                                                \
    X(IO, -5, "input/output error")                                                                                                \
    X(STORAGE, -6, "storage failure: log is not writable")                                                                         \
    X(MAPFULL, -7, "storage map is full")                                                                                          \
    X(CORRUPT, -8, "corrupt or tampered data")                                                                                     \
    X(TRUNCATED, -9, "truncated record")                                                                                           \
    X(TOOBIG, -10, "value exceeds its size limit")                                                                                 \
    X(BADTYPE, -11, "wrong type in record")                                                                                        \
    X(VERSION, -12, "unsupported format version")                                                                                  \
    X(CHAIN, -13, "hash chain mismatch")                                                                                           \
    X(SEQGAP, -14, "sequence gap or disorder")                                                                                     \
    X(CLOSED, -15, "handle is closed")                                                                                             \
    X(RDONLY, -16, "opened read-only")                                                                                             \
    X(BUSY, -17, "resource busy")                                                                                                  \
    X(PERM, -18, "permission denied")                                                                                              \
    X(RANGE, -19, "value out of range")                                                                                            \
    X(CRYPTO, -20, "cryptographic library failure")                                                                                \
    X(LOOP, -21, "event loop failure")                                                                                             \
    X(CONFLICT, -22, "state conflict")                                                                                             \
    X(CYCLE, -23, "dependency cycle")                                                                                              \
    X(STALE, -24, "stale attempt (fencing)")                                                                                       \
    X(LIMIT, -25, "limit exceeded")                                                                                                \
    X(AUTH, -26, "authentication failed")                                                                                          \
    X(FORBIDDEN, -27, "forbidden")                                                                                                 \
    X(UNAVAILABLE, -28, "service unavailable")                                                                                     \
    X(ARCHIVED, -29, "before the log's archived start")                                                                            \
    X(NOTLEADER, -30, "not the cluster leader")

typedef enum djs_errno {
#define DJS__ERR_ENUM(name, code, msg) DJS_E##name = (code),
    DJS_ERRNO_MAP(DJS__ERR_ENUM)
#undef DJS__ERR_ENUM
} djs_errno_t;

/* Human-readable message for a djs code (0 gives "success"); never NULL.
 * Unknown codes give "unknown error". The string is static. */
const char *djs_strerror(int err);

/* Symbolic name ("DJS_ENOTFOUND", "OK" for 0, "DJS_E?" for unknown). Static. */
const char *djs_err_name(int err);

/* Translate a libuv error (UV_E..., a negative errno on Unix) into a djs code. */
int djs_err_from_uv(int uv_rc);

/* Translate a POSIX errno (positive) into a djs code. */
int djs_err_from_errno(int e);

/* A line for the operator from work that has no caller to return an error
 * to (a background snapshot that failed, a damaged snapshot skipped at
 * start-up). Library code never prints: its owner passes one of these, and
 * the program decides where lines go (djs serve: stderr). line is valid only
 * during the call. */
typedef void (*djs_note_cb)(void *arg, const char *line);
/* Format a line (at most 319 bytes are kept) and hand it to cb; nothing
 * when cb is NULL. */
__attribute__((format(printf, 3, 4))) void djs_notef(djs_note_cb cb, void *arg, const char *fmt, ...);

#endif
