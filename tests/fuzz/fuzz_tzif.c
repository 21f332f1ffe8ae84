/* libFuzzer target: the TZif reader (core/tz.c) on arbitrary bytes, the
 * first file djs reads that it did not write. Besides "no crash, no read
 * outside the input" (ASan), it checks that a zone that parses answers
 * sane offsets (within +-26 h) everywhere, that the transitions it reports
 * move strictly forward and backward, and that the cron walk over it
 * terminates with a time after its start or DJS_ENOTFOUND. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/cron.h"
#include "core/error.h"
#include "core/tz.h"

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            __builtin_trap();                                                                                                      \
    } while (0)

static void check_zone(const djs_tz_t *tz)
{
    static const int64_t at[] = {INT64_MIN,    -5000000000LL, -1,       0, 1, 1711846800, 1729990800,
                                 4102444800LL, 99999999999LL, INT64_MAX};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        int32_t off = djs_tz_offset(tz, at[i]);
        CHECK(off > -26 * 3600 && off < 26 * 3600);
        int64_t next = djs_tz_next_change(tz, at[i]), prev = djs_tz_prev_change(tz, at[i]);
        CHECK(next == INT64_MAX || next > at[i]);
        CHECK(prev == INT64_MIN || prev <= at[i]);
    }
    djs_cron_t c;
    if (djs_cron_parse("30 2 * * *", 10, &c, NULL, 0) == 0) {
        int64_t next = 0;
        int rc = djs_cron_next(&c, tz, 0, 1711846800, &next);
        CHECK(rc == DJS_ENOTFOUND || (rc == 0 && next > 1711846800));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    djs_tz_t *tz = NULL;
    int rc = djs_tz_from_tzif("Fuzz/Zone", 9, data, size, &tz);
    CHECK(rc == 0 || rc == DJS_ECORRUPT);
    if (rc == 0) {
        check_zone(tz);
        djs_tz_close(tz);
    }
    return 0;
}
