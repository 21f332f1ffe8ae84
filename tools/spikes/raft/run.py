#!/usr/bin/env python3
"""Drive three raftspike processes on loopback TCP (see README.md).

  run.py bench --size 256 --inflight 1000 --seconds 10
  run.py failover --kills 5 --election-ms 1000

Prints the nodes' RESULT/FINAL lines, the machine load (uptime) before and
after, and a last line of JSON with the figures.
"""
import argparse
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("RAFTSPIKE", "/tmp/raftspike-build/raftspike")


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Cluster:
    def __init__(self, a, mode):
        self.a = a
        self.mode = mode
        self.q = queue.Queue()
        self.procs = {}
        self.ports = {i: a.base_port + i for i in (1, 2, 3)}
        self.cluster = ",".join(f"{i}=127.0.0.1:{p}" for i, p in self.ports.items())
        if os.path.exists(a.root):
            shutil.rmtree(a.root)
        os.makedirs(a.root)

    def start(self, i):
        a = self.a
        cmd = [BIN, "--id", str(i), "--addr", f"127.0.0.1:{self.ports[i]}",
               "--dir", f"{a.root}/n{i}", "--cluster", self.cluster,
               "--mode", self.mode, "--size", str(a.size),
               "--inflight", str(a.inflight), "--seconds", str(a.seconds),
               "--election-ms", str(a.election_ms),
               "--heartbeat-ms", str(a.heartbeat_ms),
               "--snapshot-threshold", str(a.snapshot_threshold),
               "--snapshot-trailing", str(a.snapshot_trailing)]
        if a.max_inflight_entries:
            cmd += ["--max-inflight-entries", str(a.max_inflight_entries)]
        if a.no_pre_vote:
            cmd.append("--no-pre-vote")
        err = open(f"{a.root}/n{i}.stderr", "a")
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                             bufsize=1)
        self.procs[i] = p

        def rd():
            for line in p.stdout:
                self.q.put((i, time.time_ns(), line.rstrip("\n")))
        threading.Thread(target=rd, daemon=True).start()
        return p

    def wait(self, pred, timeout):
        """Return the first (id, t, line) for which pred holds."""
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0:
                return None
            try:
                item = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if self.a.verbose:
                print(f"  [{item[0]}] {item[2]}", file=sys.stderr)
            if pred(*item):
                return item

    def stop(self):
        for i, p in self.procs.items():
            if p.poll() is not None:
                print(f"node {i} had already exited: status {p.returncode}"
                      f" (stderr in {self.a.root}/n{i}.stderr)")
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        finals = {}
        end = time.time() + 5
        while len(finals) < sum(1 for p in self.procs.values()) and time.time() < end:
            it = self.wait(lambda i, t, l: l.startswith("FINAL "), end - time.time())
            if it is None:
                break
            finals[it[0]] = json.loads(it[2][6:])
        for p in self.procs.values():
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
        return finals


def ev(line, what):
    return line.startswith(f"EVENT {what} ")


def field(line, name):
    for tok in line.split():
        if tok.startswith(name + "="):
            return tok.split("=", 1)[1]
    return None


def bench(a):
    c = Cluster(a, "pipe")
    before = uptime()
    for i in (1, 2, 3):
        c.start(i)
    res = c.wait(lambda i, t, l: l.startswith("RESULT "), a.seconds + 60)
    if res is None:
        print("no RESULT", file=sys.stderr)
        c.stop()
        return 1
    time.sleep(1.0)  # let followers learn the last commit index
    finals = c.stop()
    after = uptime()
    r = json.loads(res[2][7:])
    print("RESULT", json.dumps(r))
    for i in sorted(finals):
        print("FINAL", json.dumps(finals[i]))
    applied = {i: f["applied"] for i, f in finals.items()}
    seq_err = sum(f["seq_errors"] for f in finals.values())
    print("load before:", before)
    print("load after: ", after)
    out = dict(r, followers_applied=applied, seq_errors=seq_err,
               load_before=before, load_after=after)
    print(json.dumps(out))
    return 0 if seq_err == 0 else 1


def failover(a):
    c = Cluster(a, "trickle")
    before = uptime()
    for i in (1, 2, 3):
        c.start(i)
    it = c.wait(lambda i, t, l: ev(l, "first-commit"), 30)
    if it is None:
        print("no first leader", file=sys.stderr)
        c.stop()
        return 1
    leader = it[0]
    print(f"initial leader {leader}, term {field(it[2], 'term')}")
    elect, commit = [], []
    for k in range(a.kills):
        time.sleep(a.settle)
        victim = leader
        c.procs[victim].send_signal(signal.SIGKILL)
        t_kill = time.time_ns()
        c.procs[victim].wait()
        got_leader = c.wait(lambda i, t, l: i != victim and ev(l, "leader")
                            and int(field(l, "t_ns")) > t_kill, 30)
        if got_leader is None:
            print(f"kill {k}: no new leader within 30 s", file=sys.stderr)
            break
        leader = got_leader[0]
        got_commit = c.wait(lambda i, t, l: i == leader and ev(l, "first-commit"), 30)
        tl = (int(field(got_leader[2], "t_ns")) - t_kill) / 1e6
        tc = (int(field(got_commit[2], "t_ns")) - t_kill) / 1e6 if got_commit else None
        elect.append(tl)
        if tc is not None:
            commit.append(tc)
        print(f"kill {k + 1}: killed {victim}, new leader {leader} "
              f"term {field(got_leader[2], 'term')}: elected after {tl:.0f} ms, "
              f"first acknowledged write after {tc:.0f} ms")
        c.start(victim)  # same data dir: rejoins as follower
    time.sleep(1.0)
    finals = c.stop()
    after = uptime()
    for i in sorted(finals):
        print("FINAL", json.dumps(finals[i]))
    seq_err = sum(f["seq_errors"] for f in finals.values())
    print("load before:", before)
    print("load after: ", after)

    def st(v):
        return {"n": len(v), "min": min(v), "p50": statistics.median(v),
                "max": max(v)} if v else None
    out = {"election_timeout_ms": a.election_ms, "heartbeat_ms": a.heartbeat_ms,
           "pre_vote": not a.no_pre_vote, "elected_ms": st(elect),
           "first_commit_ms": st(commit), "seq_errors": seq_err,
           "load_before": before, "load_after": after}
    print(json.dumps(out))
    return 0 if seq_err == 0 else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["bench", "failover"])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--inflight", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--election-ms", type=int, default=1000)
    ap.add_argument("--heartbeat-ms", type=int, default=100)
    ap.add_argument("--no-pre-vote", action="store_true")
    ap.add_argument("--snapshot-threshold", type=int, default=1024)
    ap.add_argument("--snapshot-trailing", type=int, default=128)
    ap.add_argument("--max-inflight-entries", type=int, default=0,
                    help="raft_set_max_inflight_entries (0: library default 32)")
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds between a restart and the next kill")
    ap.add_argument("--root", default="/tmp/raftspike")
    ap.add_argument("--base-port", type=int, default=19100)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"{BIN} missing: run make in {HERE}")
    sys.exit(bench(a) if a.what == "bench" else failover(a))


if __name__ == "__main__":
    main()
