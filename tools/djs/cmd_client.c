/* The client subcommands of djs: one table names them, their usage and
 * whether they are reads (which take --as-of / --at-seq). */
#include <stdio.h>
#include <string.h>

#include "tools/djs/cli.h"
#include "tools/client/client.h"

typedef struct client_cmd {
    const char *name;
    int (*run)(djs_client_t *c, int argc, char **argv);
    int reads;
    const char *args;    /* after "djs NAME" */
    const char *summary; /* one line for djs help */
    const char *details; /* for djs NAME --help, or "" */
} client_cmd_t;

#define SUBMIT_DETAILS                                                                                                             \
    "  --cmd CMD            shorthand for --payload '{\"kind\":\"exec\",\"command\":\"/bin/sh\",\"args\":[\"-c\",CMD]}'\n"         \
    "  --depends-on ID      run after job ID completed (repeatable)\n"                                                             \
    "  --requires CAP       only on workers with capability CAP (repeatable)\n"                                                    \
    "  --timeout S          bound each run to S seconds; --retries N: retry a failure up to N times\n"                             \
    "  --idempotency-key K  a repeated submit with the same K returns the first job (status EXISTS)\n"                             \
    "  --at TIME            run no earlier than TIME (RFC 3339, e.g. 2026-12-04T22:00:00Z); --in D: after a delay\n"               \
    "                       D like 90, 90s, 10m, 2h or 1d\n"                                                                       \
    "  --concurrency-key K  at most --concurrency-limit N (default 1) jobs with key K run at once\n"                               \
    "  -f FILE              one job object, or a workflow {\"jobs\":[{\"key\":\"a\",\"name\":..,\"dependsOn\":[\"b\"]},..]};\n"    \
    "                       JSON or YAML (by the .json/.yaml/.yml suffix, else whichever parses); - is stdin\n"                    \
    "prints the new job's id (a workflow: KEY ID lines), or with -o json the server's answer.\n\n"

#define SCHEDULE_DETAILS                                                                                                           \
    "  --cron SPEC          5 fields (minute hour day month weekday: ranges, steps, lists, names) or @hourly ...\n"                \
    "  --every DURATION     a fixed interval: 90s, 5m, 2h, 1d\n"                                                                   \
    "  --tz ZONE            an IANA zone (default UTC): a 02:30 run on a spring-forward day runs once\n"                           \
    "  --overlap P          skip (default) while the last run goes on, allow, or cancel-previous\n"                                \
    "  --catch-up P         after downtime: none (default), last, or all (up to --catch-up-max, default 10)\n"                     \
    "  --jitter S           delay each fire by up to S seconds (drawn once, recorded)\n"                                           \
    "  --start, --end TIME  RFC 3339: fire only between them\n"                                                                    \
    "prints the new schedule's id; its jobs carry scheduleId (djs jobs -o json).\n\n"

#define JOBS_DETAILS                                                                                                               \
    "  --status S           CREATED, QUEUED, SCHEDULED, RUNNING, COMPLETED, FAILED or CANCELLED\n"                                 \
    "  --priority P         HIGH, NORMAL or LOW\n"                                                                                 \
    "  --limit N            jobs per page, 1 to 500 (default 50); --cursor ID: the page after ID\n"                                \
    "  --all                follow the pages to the end\n\n"

#define LOGS_DETAILS                                                                                                               \
    "prints the job's output as it is (stdout and stderr of its runs) and exits 0;\n"                                              \
    "-f (--follow) keeps reading new output every 500 ms until the job has ended.\n\n"

#define EVENTS_DETAILS                                                                                                             \
    "  --from-seq N         start at event seq N (default 1)\n"                                                                    \
    "  --limit N            events per page, 1 to 1000 (default 100)\n"                                                            \
    "  --type T             only events of type T, e.g. job.submitted (docs/events.md)\n"                                          \
    "  --entity ID          only events of one job or worker\n\n"

#define CLUSTER_DETAILS                                                                                                            \
    "status lists this node's view: Raft state, term, leader, commit index, lag, and the nodes.\n"                                 \
    "add, assign, remove and transfer are made by the leader (give every node in --server) and\n"                                  \
    "answered once committed; start a new node with djs serve --join first (docs/operations.md).\n\n"

static const client_cmd_t cmds[] = {
    {"submit", djs_cmd_submit, 0,
     "--name N [--priority HIGH|NORMAL|LOW] [--payload JSON | --cmd CMD] [--depends-on ID]...\n"
     "           [--requires CAP]... [--timeout S] [--retries N] [--description D] [--idempotency-key K]\n"
     "           [--at TIME | --in DURATION] [--concurrency-key K [--concurrency-limit N]]\n"
     "       djs submit -f FILE|- [--idempotency-key K]",
     "submit a job, or a job or workflow ({\"jobs\":[...]}) from a JSON or YAML file", SUBMIT_DETAILS},
    {"jobs", djs_cmd_jobs, 1,
     "[--status S] [--priority P] [--owner O] [--capability C] [--name-prefix P] [--limit N] [--cursor ID] [--all]",
     "list jobs (one page, or every page with --all)", JOBS_DETAILS},
    {"watch", djs_cmd_watch, 0, "[--name-prefix P] [--status S] [--interval-ms MS] (the jobs filters)",
     "the jobs table with progress, redrawn until every job listed is finished (exit 1 if one did not complete)", ""},
    {"job", djs_cmd_job, 1, "ID", "show one job", ""},
    {"why", djs_cmd_why, 0, "ID", "why a job is not running: its pending reason and what would unblock it", ""},
    {"schedule", djs_cmd_schedule, 0,
     "create --name N (--cron SPEC | --every DURATION) [--tz ZONE] [--overlap skip|allow|cancel-previous]\n"
     "           [--catch-up none|last|all] [--catch-up-max N] [--jitter S] [--start TIME] [--end TIME]\n"
     "           (the job: djs submit's flags, or -f FILE)\n"
     "       djs schedule show|pause|resume|delete ID",
     "recurring jobs: create a schedule, show, pause, resume or delete one", SCHEDULE_DETAILS},
    {"schedules", djs_cmd_schedules, 0, "[--limit N]", "list schedules (spec, zone, status, next fire, fires)", ""},
    {"cancel", djs_cmd_job_action, 0, "ID", "cancel a job that has not finished", ""},
    {"retry", djs_cmd_job_action, 0, "ID", "retry a failed job", ""},
    {"delete", djs_cmd_job_action, 0, "ID", "delete a job that is not scheduled or running", ""},
    {"history", djs_cmd_history, 1, "ID", "a job's events, one line each", ""},
    {"logs", djs_cmd_logs, 0, "ID [-f]", "a job's output; -f follows it until the job ends", LOGS_DETAILS},
    {"workers", djs_cmd_workers, 1, "[ID]", "list workers, or show one", ""},
    {"stats", djs_cmd_stats, 1, "", "counts by state, queues, workers", ""},
    {"cluster", djs_cmd_cluster, 0,
     "status | add ID HOST:PORT [--role voter|standby|spare] | assign ID ROLE | remove ID | transfer [ID]\n"
     "       djs cluster recover --data DIR --node-id N --peers ID=HOST:PORT,...   (offline, every node stopped)",
     "a cluster's nodes and roles; add, re-role or remove a node, hand the lead over; recover after losing quorum",
     CLUSTER_DETAILS},
    {"events", djs_cmd_events, 1, "[--from-seq N] [--limit N] [--type T] [--entity ID]", "page through the event log",
     EVENTS_DETAILS},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char common_help[] =
    "options of every client command:\n"
    "  --server URL[,URL...]  the djs server (default $DJS_SERVER, else " DJS_CLIENT_DEFAULT_SERVER "),\n"
    "                         or a cluster's nodes: writes follow the leader, a node down is passed over\n"
    "  --token T              bearer token (default $DJS_TOKEN; 'djs token create' makes one)\n"
    "  -o table|json          output format (default table)\n"
    "  --cacert FILE          trust the CA certificates in FILE for https\n"
    "  --insecure             skip the server certificate check (testing only)\n"
    "  --request-timeout S    give up on a request after S seconds (default 30; connecting: 5)\n"
    "reads (jobs, job, history, workers, stats, events) also take:\n"
    "  --as-of RFC3339 | --at-seq N   the state as of a time or an event seq (time travel)\n"
    "exit status: 0 done, 1 refused by the server or not reachable, 2 usage error\n";

static const client_cmd_t *find(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

int djs_cmd_is_client(const char *name)
{
    return find(name) != NULL;
}

void djs_cmd_client_usage(FILE *f)
{
    for (size_t i = 0; i < NCMDS; i++) {
        char line[48];
        int n = snprintf(line, sizeof(line), "%s %s", cmds[i].name, cmds[i].args);
        if (n < 0 || (size_t)n >= sizeof(line) - 6 || strchr(line, '\n') != NULL)
            snprintf(line, sizeof(line), "%s ...", cmds[i].name);
        fprintf(f, "  %-41s  %s\n", line, cmds[i].summary);
    }
}

static void help(const client_cmd_t *cmd)
{
    printf("usage: djs %s %s\n\n%s.\n\n%s%s", cmd->name, cmd->args, cmd->summary, cmd->details, common_help);
}

int djs_cmd_client(int argc, char **argv)
{
    const client_cmd_t *cmd = find(argv[0]);
    djs_client_t c;
    if (cmd == NULL)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(cmd);
            return 0;
        }
    }
    int rc = djs_client_init(&c, cmd->name, argc, argv, cmd->reads);
    if (rc == 0)
        rc = cmd->run(&c, argc, argv);
    djs_client_dispose(&c);
    return rc;
}
