/* Entity ids: UUIDv7 (RFC 9562), 16 bytes, big-endian, time-ordered.
 *
 * Layout: 48-bit Unix milliseconds, version 7, a 12-bit counter in rand_a
 * (RFC 9562 method 1, so ids made in one millisecond by one generator stay
 * ordered), variant 10, 62 random bits. Time order keeps LMDB's entity
 * index appends near the right edge of the B-tree (see NOTES.md: ~1.1M/s
 * with time-ordered keys, ~0.25M/s with random ones).
 *
 * Text form: 8-4-4-4-12 lowercase hex (36 chars); parsing accepts either case.
 */
#ifndef DJS_CORE_ID_H
#define DJS_CORE_ID_H

#include <stddef.h>
#include <stdint.h>

#define DJS_ID_TEXT_LEN 36

typedef struct djs_id {
    uint8_t b[16];
} djs_id_t;

/* Generator state. Embedded struct, no resources: one per thread. */
typedef struct djs_idgen {
    uint64_t last_ms;
    uint32_t counter;
    uint64_t rng[2];
} djs_idgen_t;

/* seed 0 seeds from the kernel (getrandom); any other value gives a
 * reproducible sequence for tests and benchmarks. */
void djs_idgen_init(djs_idgen_t *g, uint64_t seed);
/* New id for the given Unix time in ms. Never returns an id lower than the
 * previous one of this generator, even if unix_ms goes backwards. */
void djs_id_new(djs_idgen_t *g, uint64_t unix_ms, djs_id_t *out);

/* Writes 36 chars plus NUL into out (which must hold 37 bytes). */
void djs_id_format(const djs_id_t *id, char *out);
/* Parses exactly len == 36 chars of 8-4-4-4-12 hex. DJS_EINVAL otherwise. */
int djs_id_parse(const char *s, size_t len, djs_id_t *out);

int djs_id_cmp(const djs_id_t *a, const djs_id_t *b);
int djs_id_is_nil(const djs_id_t *id);
/* The Unix ms embedded in a UUIDv7. */
uint64_t djs_id_unix_ms(const djs_id_t *id);

/* A small fast PRNG (xoroshiro128+) shared by ids, jitter and tests;
 * not for secrets. */
uint64_t djs_rand_next(uint64_t s[2]);
void djs_rand_seed(uint64_t s[2], uint64_t seed);

#endif
