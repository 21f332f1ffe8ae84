/* djs cluster recover --data DIR --node-id N --peers ID=HOST:PORT,...
 *
 * After losing quorum (a majority of the voters is gone for good): with
 * every node of the cluster stopped, force the surviving configuration
 * into the Raft files of the survivor with the longest log (DIR/raft), as
 * libraft's raft_recover does; then copy that data directory to the other
 * survivors and start them all (docs/operations.md, "Cluster"). Offline:
 * stop every node first (libraft's rule; this command cannot see a
 * server running on another machine). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "eventlog/log.h"
#include "tools/cli/args.h"
#include "tools/djs/cli.h"

#define RECOVER_USAGE "djs cluster recover --data DIR --node-id N --peers ID=HOST:PORT,...   (every node stopped)"

int djs_cmd_cluster_recover(int argc, char **argv)
{
    const char *data = djs_cli_opt(argc, argv, "--data"), *peers = djs_cli_opt(argc, argv, "--peers"),
               *idv = djs_cli_opt(argc, argv, "--node-id");
    uint64_t id = 0;
    const char *pos[1];
    if (data == NULL || peers == NULL || idv == NULL || djs_cli_u64(idv, &id) != 0 || id == 0 ||
        djs_cli_rest(argc, argv, pos, 0, RECOVER_USAGE) < 0) {
        fprintf(stderr, "usage: %s\n", RECOVER_USAGE);
        return 2;
    }
    char raft[4200];
    snprintf(raft, sizeof(raft), "%s/raft", data);
    struct stat st;
    if (stat(raft, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "djs cluster recover: %s has no Raft state (%s): not a cluster node's data directory\n", data, raft);
        return 1;
    }
    /* the seq, to compare the survivors' logs (recover the longest) */
    djs_log_t *log = NULL;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    if (djs_log_open(&log, data, &o) == 0) {
        printf("djs cluster recover: %s: event log at seq %llu\n", data, (unsigned long long)djs_log_last_seq(log));
        djs_log_close(log);
    }
    char err[400];
    int rc = djs_cluster_recover(raft, id, peers, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "djs cluster recover: %s\n", err);
        return 1;
    }
    printf("djs cluster recover: the configuration of %s is now %s (node %llu).\n"
           "djs cluster recover: copy %s to the other surviving nodes' data directories, then start them all.\n",
           raft, peers, (unsigned long long)id, data);
    return 0;
}
