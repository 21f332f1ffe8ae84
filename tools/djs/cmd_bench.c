/* djs bench NAME: which benchmark (tools/bench/bench.h) runs. */
#include <stdio.h>
#include <string.h>

#include "tools/bench/bench.h"
#include "tools/djs/cli.h"

int djs_cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "log") == 0)
        return djs_bench_log(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "engine") == 0)
        return djs_bench_engine(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "api") == 0)
        return djs_bench_api(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "e2e") == 0)
        return djs_bench_e2e(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "stream") == 0)
        return djs_bench_stream(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return djs_bench_replay(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "ui") == 0)
        return djs_bench_ui(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "cluster") == 0)
        return djs_bench_cluster(argc - 1, argv + 1);
    fprintf(stderr, "usage: djs bench log|engine|api|e2e|stream|replay|ui|cluster [options]   (djs help lists them)\n");
    return 2;
}
