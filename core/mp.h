/* A bounded MessagePack reader for bytes we did not write.
 *
 * msgpack-c's object unpacker allocates as many elements as a container
 * header claims (up to 2^32-1) before it checks that the bytes exist, so
 * untrusted input (records read back from disk, request bodies, fuzzing)
 * goes through this reader first. It never reads past `end`, never
 * allocates, and bounds nesting depth. Strings and bins point into the
 * input and are not NUL-terminated.
 *
 * Errors: DJS_ETRUNCATED (input ends inside an object), DJS_EBADTYPE (the
 * next object is not of the requested type, or is a reserved byte),
 * DJS_ETOOBIG (a container claims more elements than bytes remain, or
 * nesting exceeds the limit), DJS_ERANGE (integer does not fit).
 */
#ifndef DJS_CORE_MP_H
#define DJS_CORE_MP_H

#include <stddef.h>
#include <stdint.h>

#define DJS_MP_MAX_DEPTH 32

typedef struct djs_mp_reader {
    const uint8_t *p;
    const uint8_t *end;
} djs_mp_reader_t;

static inline void djs_mp_reader_init(djs_mp_reader_t *r, const void *data, size_t len)
{
    r->p = (const uint8_t *)data;
    r->end = len > 0 ? r->p + len : r->p; /* NULL with len 0 is an empty input */
}

int djs_mp_read_uint(djs_mp_reader_t *r, uint64_t *v);
int djs_mp_read_int(djs_mp_reader_t *r, int64_t *v);
int djs_mp_read_bool(djs_mp_reader_t *r, int *v);
int djs_mp_read_nil(djs_mp_reader_t *r);
int djs_mp_read_double(djs_mp_reader_t *r, double *v); /* float32, float64 or integer */
int djs_mp_read_str(djs_mp_reader_t *r, const char **s, size_t *len);
int djs_mp_read_bin(djs_mp_reader_t *r, const uint8_t **b, size_t *len);
int djs_mp_read_array(djs_mp_reader_t *r, uint32_t *n);
int djs_mp_read_map(djs_mp_reader_t *r, uint32_t *n);
/* Validate and step over one whole object (containers included), at most
 * max_depth levels deep. */
int djs_mp_skip(djs_mp_reader_t *r, int max_depth);
/* Type tag of the next object without consuming it; DJS_ETRUNCATED at end. */
int djs_mp_peek(const djs_mp_reader_t *r, uint8_t *byte);
/* Validate that [data, len) is exactly one well-formed object. */
int djs_mp_validate(const void *data, size_t len, int max_depth);

#endif
