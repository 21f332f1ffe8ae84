#include "core/id.h"

#include <string.h>
#include <sys/random.h>

#include "core/error.h"

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void djs_rand_seed(uint64_t s[2], uint64_t seed)
{
    s[0] = splitmix(&seed);
    s[1] = splitmix(&seed);
    if (s[0] == 0 && s[1] == 0)
        s[1] = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t djs_rand_next(uint64_t s[2])
{
    uint64_t s0 = s[0], s1 = s[1], r = s0 + s1;
    s1 ^= s0;
    s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    s[1] = rotl(s1, 37);
    return r;
}

void djs_idgen_init(djs_idgen_t *g, uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    if (seed == 0) {
        /* getrandom on a 8-byte request never returns short once the pool is
         * initialised; fall back to the address of g if it fails anyway. */
        if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed) || seed == 0)
            seed = (uint64_t)(uintptr_t)g ^ 0x5eedULL;
    }
    djs_rand_seed(g->rng, seed);
}

void djs_id_new(djs_idgen_t *g, uint64_t unix_ms, djs_id_t *out)
{
    unix_ms &= 0xffffffffffffULL;
    if (unix_ms > g->last_ms) {
        g->last_ms = unix_ms;
        /* start low in the counter space so a burst has room to grow */
        g->counter = (uint32_t)(djs_rand_next(g->rng) & 0x3ff);
    } else if (++g->counter > 0xfff) {
        g->last_ms++; /* counter exhausted: borrow the next millisecond */
        g->counter = 0;
    }
    uint64_t ms = g->last_ms, r = djs_rand_next(g->rng);
    for (int i = 0; i < 6; i++)
        out->b[i] = (uint8_t)(ms >> (40 - 8 * i));
    out->b[6] = (uint8_t)(0x70 | (g->counter >> 8));
    out->b[7] = (uint8_t)(g->counter & 0xff);
    for (int i = 0; i < 8; i++)
        out->b[8 + i] = (uint8_t)(r >> (8 * i));
    out->b[8] = (uint8_t)(0x80 | (out->b[8] & 0x3f));
}

static const char hexd[] = "0123456789abcdef";

void djs_id_format(const djs_id_t *id, char *out)
{
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hexd[id->b[i] >> 4];
        *p++ = hexd[id->b[i] & 15];
    }
    *p = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int djs_id_parse(const char *s, size_t len, djs_id_t *out)
{
    if (s == NULL || len != DJS_ID_TEXT_LEN)
        return DJS_EINVAL;
    int n = 0;
    for (size_t i = 0; i < len;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return DJS_EINVAL;
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0 || i + 1 == 8 || i + 1 == 13 || i + 1 == 18 || i + 1 == 23)
            return DJS_EINVAL;
        out->b[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return n == 16 ? 0 : DJS_EINVAL;
}

int djs_id_cmp(const djs_id_t *a, const djs_id_t *b)
{
    return memcmp(a->b, b->b, 16);
}

int djs_id_is_nil(const djs_id_t *id)
{
    static const uint8_t zero[16];
    return memcmp(id->b, zero, 16) == 0;
}

uint64_t djs_id_unix_ms(const djs_id_t *id)
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | id->b[i];
    return ms;
}
