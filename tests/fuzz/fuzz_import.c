/* libFuzzer target: replay/import on arbitrary bytes (seeds: a small
 * complete export of a real server's log in each encoding, and one cut
 * short). Besides "no crash, no read outside the input" (ASan), it traps
 * unless every run ends in one of two ways:
 *
 * - refused: a known error, a detail that says why, and nothing left at
 *   NEWDIR or NEWDIR.tmp-* (no half-built log);
 * - imported: NEWDIR holds a log that verifies, whose record count and
 *   chain head are the report's (then it is removed for the next run).
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "eventlog/log.h"
#include "replay/import.h"
#include "replay/verify.h"

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            __builtin_trap();                                                                                                      \
    } while (0)

static char workdir[64], newdir[96]; /* newdir = workdir/new */

static int known_error(int rc)
{
    return rc == DJS_EINVAL || rc == DJS_EVERSION || rc == DJS_ETRUNCATED || rc == DJS_ETOOBIG || rc == DJS_ECORRUPT ||
           rc == DJS_ESEQGAP || rc == DJS_ECHAIN || rc == DJS_EBADTYPE || rc == DJS_ERANGE;
}

/* Entries in workdir: newdir or a newdir.tmp-* left behind. */
static int leftovers(void)
{
    DIR *d = opendir(workdir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void remove_log(void)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/data.mdb", newdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", newdir);
    unlink(p);
    rmdir(newdir);
}

static void remove_workdir(void)
{
    rmdir(workdir);
}

/* Work in a directory of tmpfs when there is one (an import that gets as
 * far as creating its log commits, with fsync, at least once), else here. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(workdir, sizeof(workdir), "/dev/shm/djs-fuzz-import-XXXXXX");
    if (mkdtemp(workdir) == NULL) {
        snprintf(workdir, sizeof(workdir), "fuzz-import-XXXXXX");
        if (mkdtemp(workdir) == NULL)
            abort();
    }
    snprintf(newdir, sizeof(newdir), "%s/new", workdir);
    atexit(remove_workdir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *in = fmemopen((void *)data, size, "r");
    CHECK(in != NULL);
    djs_import_report_t rep;
    int rc = djs_import(in, newdir, NULL, &rep);
    fclose(in);
    if (rc != 0) {
        CHECK(known_error(rc));
        CHECK(rep.detail[0] != '\0');
        CHECK(leftovers() == 0);
        return 0;
    }
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    djs_log_t *log;
    CHECK(djs_log_open(&log, newdir, &o) == 0);
    djs_verify_report_t vr;
    CHECK(djs_verify_log(log, &vr, NULL, NULL) == 0);
    CHECK(vr.records == rep.events && memcmp(vr.head_hash, rep.head, DJS_HASH_LEN) == 0);
    djs_log_close(log);
    remove_log();
    CHECK(leftovers() == 0);
    return 0;
}
