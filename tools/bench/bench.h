/* The benchmarks of `djs bench NAME` (docs/benchmarks.md), each a whole
 * run: argv[0] is NAME, the options follow. They print their figures
 * (human lines, then one JSON line) on stdout and progress on stderr, and
 * return the exit code (not a DJS_E... code): 0 measured, 1 the run
 * failed, 2 a usage error.
 *
 *   djs_bench_log     the event log against raw LMDB (log.c)
 *   djs_bench_engine  the scheduler engine without HTTP (engine.c)
 *   djs_bench_api     HTTP/1.1 load on a child `djs serve` (api.c)
 *   djs_bench_e2e     jobs end to end with simulated workers, and beanstalkd
 *                 (e2e.c, beanstalk.c)
 *   djs_bench_stream  WebSocket event streams, catch-up and live (stream.c)
 *   djs_bench_replay  verify, rebuild, export/import, cold start, backup and
 *                     restore on a big log (replay.c)
 *   djs_bench_ui      the dashboard in headless Chromium against a child
 *                     `djs serve` with many jobs and a producer (ui_cmd.c,
 *                     ui/e2e/bench.mjs); exits 77 (skipped) when node, the
 *                     dashboard's packages or Chromium are missing
 *
 * The ones that start a server exec this same binary (/proc/self/exe)
 * with `serve`. */
#ifndef DJS_TOOLS_BENCH_BENCH_H
#define DJS_TOOLS_BENCH_BENCH_H

int djs_bench_log(int argc, char **argv);
int djs_bench_engine(int argc, char **argv);
int djs_bench_api(int argc, char **argv);
int djs_bench_e2e(int argc, char **argv);
int djs_bench_stream(int argc, char **argv);
int djs_bench_replay(int argc, char **argv);
int djs_bench_ui(int argc, char **argv);
int djs_bench_cluster(int argc, char **argv);

#endif
