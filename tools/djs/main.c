/* djs: one binary, many subcommands. Thin: parse, then call libdjs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "core/error.h"
#include "tools/agent/agent.h"
#include "tools/djs/cli.h"

#define DJS_VERSION_STRING "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "djs %s: a distributed job scheduler on an event-sourced LMDB log\n\n"
            "usage: djs COMMAND [options]\n\n"
            "  serve [--data DIR] [--listen HOST:PORT]   run the scheduler (data in ./data)\n"
            "  worker --server URL --token T [--name N] [--slots K] [--capabilities A,B]\n"
            "                                             run a worker agent ('djs worker --help')\n"
            "  replay verify DATA_DIR                     check every record and the hash chain\n"
            "  replay export DATA_DIR --format jsonl|msgpack [--from S|T] [--to S|T] [--types T,..]\n"
            "                [--entity ID] [-o FILE]     the log as a file, safe while serving\n"
            "  replay import FILE NEWDIR                  a complete export into a new, verified log\n"
            "  replay rebuild DATA_DIR [--to-seq N | --to-time T] [--keep-all] [--write-snapshot]\n"
            "                                             the state from scratch up to a point, its digest\n"
            "  replay diff DATA_DIR --from A --to B [-o json]\n"
            "                                             what changed between two seqs or times\n"
            "  audit DATA_DIR|--server URL (--job ID | --actor NAME | --type T,...) [--from A] [--to B]\n"
            "                                             who did what and when, from the log\n"
            "  backup DATA_DIR DEST [--config FILE]       hot, verified backup with the token secret, the\n"
            "                                             config and a manifest, safe while serving\n"
            "  restore BACKUP DIR [--to-seq N | --to-time T] [--config-to FILE | --config-to-source]\n"
            "                                             check a backup and restore it into a new DIR,\n"
            "                                             optionally cut at a point in time\n"
            "  token create --sub NAME --role ROLE [--ttl 1h] [--data DIR]\n"
            "                                             print a signed API token (roles: admin,\n"
            "                                             operator, user, worker; ttl N[s|m|h|d])\n"
            "  bench log [--events N] [--size BYTES] [--entities E] [--dir DIR]\n"
            "                                             measure the log against raw LMDB\n"
            "  bench engine|api|e2e|stream|replay|ui      the other benchmarks (docs/benchmarks.md;\n"
            "                                             ui: the dashboard in headless Chromium)\n"
            "  version                                    print the version\n\n"
            "client commands (talk to a server; 'djs COMMAND --help' for their options):\n",
            DJS_VERSION_STRING);
    djs_cmd_client_usage(f);
}

int main(int argc, char **argv)
{
    /* a peer that closes its socket is an error code on write, not a death */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return djs_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return djs_cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0)
        return djs_cmd_audit(argc - 1, argv + 1);
    if (strcmp(cmd, "backup") == 0)
        return djs_cmd_backup(argc - 1, argv + 1);
    if (strcmp(cmd, "restore") == 0)
        return djs_cmd_restore(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return djs_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return djs_cmd_token(argc - 1, argv + 1);
    if (strcmp(cmd, "cluster") == 0 && argc >= 3 && strcmp(argv[2], "recover") == 0)
        return djs_cmd_cluster_recover(argc - 2, argv + 2);
    if (djs_cmd_is_client(cmd))
        return djs_cmd_client(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("djs %s\n", DJS_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "routes") == 0) { /* hidden: the HTTP routes, for the OpenAPI test */
        for (const char *const *r = djs_server_routes(); *r != NULL; r++)
            printf("%s\n", *r);
        return 0;
    }
    if (strcmp(cmd, "worker") == 0)
        return djs_cmd_worker(argc - 1, argv + 1);
    fprintf(stderr, "djs: unknown command '%s' (try 'djs help')\n", cmd);
    return 2;
}
