#!/usr/bin/env bash
# The operator kit in deploy/: the Prometheus rules pass promtool check and
# their unit tests; every metric the rules and the Grafana dashboard name is
# in a real /metrics answer; the systemd unit, the Dockerfile and the
# Kubernetes manifests parse, name existing paths, routes, ports and serve
# settings, and the server started with their own arguments answers their
# health checks.
set -euo pipefail
DJS=${1:?usage: test_deploy.sh path/to/djs}
SRC=${DJS_SOURCE_DIR:?}
. "$(dirname "$0")/lib.sh"
djs_init deploy
D="$SRC/deploy"
$PY -c 'import yaml' 2>/dev/null || fail "python3-yaml missing (tools/deps.sh installs it)"

# ---- the alert rules ----
if [ -x /usr/bin/promtool ]; then
    /usr/bin/promtool check rules "$D/prometheus/djs-rules.yml" >"$T/promtool.out" 2>&1 ||
        fail "promtool check rules: $(cat "$T/promtool.out")"
    (cd "$D/prometheus" && /usr/bin/promtool test rules djs-rules.test.yml) >"$T/promtool.out" 2>&1 ||
        fail "promtool test rules: $(cat "$T/promtool.out")"
else
    echo "SKIP promtool check/test rules: /usr/bin/promtool missing (tools/deps.sh installs prometheus)"
fi

# ---- what a real server exports and serves ----
djs_listen
djs_start_server
TOKEN=$(djs_token admin admin)
AUTH=(-H "Authorization: Bearer $TOKEN")
djs_submit '{"name":"deploy-check"}'
djs_get stats >/dev/null
djs_api "$URL/metrics" >"$T/metrics"
djs_stop_server
"$DJS" routes >"$T/routes"
[ -s "$T/routes" ] || fail "no routes from djs routes"

# ---- static checks of every file. Each file's djs serve arguments go to
# $T/NAME.args (one per line, data and port mapped to the test's) for the
# runs below, the probes' paths to $T/k8s.probes, the HEALTHCHECK command
# to $T/docker.health (@PORT@ for the port), the dashboard's expressions
# to $T/dashboard-rules.yml as recording rules.
$PY - "$SRC" "$T" "$port" <<'PY' || fail "deploy files (above)"
import json, os, re, shlex, sys

import yaml

src, t, port = sys.argv[1], sys.argv[2], sys.argv[3]
D = os.path.join(src, "deploy")
errors = []


def bad(msg):
    errors.append(msg)


def read(path):
    with open(path) as f:
        return f.read()


# ---- the truth: a real /metrics answer, djs routes, djs serve's settings ----
metrics = set()
for line in read(f"{t}/metrics").splitlines():
    if line.startswith("# TYPE "):
        metrics.add(line.split()[2])
    elif line and not line.startswith("#"):
        metrics.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
PROMETHEUS_OWN = {"up"}  # made by Prometheus for every target
get_paths = {p for m, p in (l.split() for l in read(f"{t}/routes").splitlines() if l.strip()) if m == "GET"}
serve_c = read(f"{src}/tools/djs/cmd_serve.c")
serve_keys = set(re.findall(r'"([a-z0-9-]+)"', re.search(r"serve_keys\[\] = \{(.*?)NULL\}", serve_c, re.S).group(1)))
bool_keys = set(re.findall(r'flag_setting\(argc, argv, cfg, "([a-z0-9-]+)"\)', serve_c))
default_port = int(re.search(r'listen = "[^"]*:(\d+)";', serve_c).group(1))
secret_file = re.search(r'#define DJS_AUTH_SECRET_FILE "([^"]+)"', read(f"{src}/api/auth.h")).group(1)
run_pkgs = set(re.search(r'djs_pkgs_run="([^"]*)"', read(f"{src}/tools/deps.sh")).group(1).split())
if default_port != 8080 or not serve_keys or "data" not in serve_keys:
    bad(f"cmd_serve.c no longer reads as expected: port {default_port}, keys {sorted(serve_keys)}")


def listen_port(where, listen):
    m = re.fullmatch(r"(.+):(\d+)", listen or "")
    if not m:
        bad(f"{where}: listen {listen!r} is not HOST:PORT")
        return None
    if int(m.group(2)) != default_port:
        bad(f"{where}: port {m.group(2)}, the default is {default_port}")
    return int(m.group(2))


def serve_settings(where, args):
    """djs serve ARGS as {key: value}: every key a serve setting."""
    out, i = {}, 0
    if not args or args[0] != "serve":
        bad(f"{where}: not djs serve: {args}")
        return out
    args = args[1:]
    while i < len(args):
        a = args[i]
        key = a[2:] if a.startswith("--") else None
        if key is None or (key not in serve_keys and key != "config"):
            bad(f"{where}: {a!r} is not a djs serve option")
            i += 1
            continue
        if key in bool_keys:
            out[key], i = "true", i + 1
        elif i + 1 < len(args):
            out[key], i = args[i + 1], i + 2
        else:
            bad(f"{where}: {a} wants a value")
            i += 1
    if "insecure-no-auth" in out:
        bad(f"{where}: --insecure-no-auth in a deployment file")
    return out


def write_args(name, settings, data=None):
    """The serve arguments mapped to the test's data directory and port."""
    lines = ["serve"]
    for k, v in settings.items():
        if k == "data":
            v = data or f"{t}/{name}/data"
        elif k == "listen":
            v = f"127.0.0.1:{port}"
        lines += [f"--{k}"] + ([] if k in bool_keys else [v])
    with open(f"{t}/{name}.args", "w") as f:
        f.write("\n".join(lines) + "\n")


# ---- PromQL: the metric names an expression selects ----
NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
               "inf", "nan"}


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("(") or m.group(0).lower() in NOT_METRICS:
            continue
        names.add(m.group(0))
    return names


def check_expr(where, expr):
    names = metric_names(expr)
    if not names:
        bad(f"{where}: no metric in {expr!r}")
    for n in sorted(names - metrics - PROMETHEUS_OWN):
        bad(f"{where}: {n} is not in djs /metrics")


# ---- the alert rules and their unit tests ----
rules = yaml.safe_load(read(f"{D}/prometheus/djs-rules.yml"))
alerts = []
for g in rules["groups"]:
    for r in g["rules"]:
        check_expr(f"rule {r.get('alert') or r.get('record')}", r["expr"])
        if "alert" in r:
            alerts.append(r["alert"])
want = {"DjsApiDown", "DjsFailedJobRateHigh", "DjsWorkerLost", "DjsQueueBacklog", "DjsHighCpu", "DjsHighMemory",
        "DjsSlowResponses", "DjsFewWorkers", "DjsLogCommitSlow", "DjsLogFailStop", "DjsStreamSubscribersDropped"}
for a in sorted(want - set(alerts)):
    bad(f"djs-rules.yml: no alert {a}")
tests = yaml.safe_load(read(f"{D}/prometheus/djs-rules.test.yml"))
if "djs-rules.yml" not in tests.get("rule_files", []):
    bad("djs-rules.test.yml does not load djs-rules.yml")
fires, quiet = set(), set()
for case in tests["tests"]:
    firing = set()
    for at in case.get("alert_rule_test", []):
        if at.get("exp_alerts"):
            fires.add(at["alertname"])
            firing |= {str(x["exp_labels"].get("instance")) for x in at["exp_alerts"]}
        else:
            quiet.add(at["alertname"])
    insts = {m.group(1) for s in case["input_series"] for m in [re.search(r'instance="([^"]*)"', s["series"])] if m}
    if insts - firing:  # series in the case that fire nothing
        quiet |= {at["alertname"] for at in case.get("alert_rule_test", [])}
for a in alerts:
    if a not in fires:
        bad(f"djs-rules.test.yml: no series that fire {a}")
    if a not in quiet:
        bad(f"djs-rules.test.yml: no series that do not fire {a}")

# ---- the Grafana dashboard ----
dash = json.loads(read(f"{D}/grafana/djs.json"))
exprs, titles = [], []


def walk(panels):
    for p in panels:
        titles.append(p.get("title", "").lower())
        for tg in p.get("targets", []):
            exprs.append((p.get("title"), tg["expr"]))
        walk(p.get("panels", []))


walk(dash["panels"])
for need in ["throughput", "queue depth by tier", "running", "workers", "p99 latency", "commit latency"]:
    if not any(need in ti for ti in titles):
        bad(f"djs.json: no panel for {need}")
rec = []
for i, (title, e) in enumerate(exprs):
    e = e.replace("$__rate_interval", "5m").replace("$job", "djs").replace("$instance", ".*")
    check_expr(f"djs.json panel {title!r}", e)
    rec.append({"record": f"dashboard:expr_{i}", "expr": e})
for v in dash.get("templating", {}).get("list", []):
    q = v.get("definition", "")
    m = re.match(r"label_values\(([A-Za-z_:][A-Za-z0-9_:]*)", q)
    if q and (not m or m.group(1) not in metrics):
        bad(f"djs.json variable {v['name']}: {q!r} names no djs metric")
with open(f"{t}/dashboard-rules.yml", "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rec}]}, f)

# ---- the Dockerfile ----
instrs, buf = [], ""
for raw in read(f"{D}/docker/Dockerfile").splitlines():
    s = raw.strip()
    if not s or s.startswith("#"):
        continue
    if s.endswith("\\"):
        buf += s[:-1] + " "
        continue
    instrs.append(buf + s)
    buf = ""
ops = [(i.split(None, 1)[0].upper(), i.split(None, 1)[1] if " " in i else "") for i in instrs]
stages, copied_to, entry, cmd, health, user, volumes, exposed = [], {}, None, None, None, None, [], []
for op, rest in ops:
    if op == "FROM":
        w = rest.split()
        if not w[0].startswith("debian:12"):
            bad(f"Dockerfile: FROM {w[0]}, not Debian 12")
        stages.append(w[2] if len(w) > 2 and w[1].upper() == "AS" else None)
    elif op == "RUN" and "cmake -S" in rest and "CMAKE_BUILD_TYPE=Release" not in rest:
        bad("Dockerfile: not the Release build")
    elif op == "RUN" and "build-essential" in rest:
        missing = run_pkgs - set(rest.split())
        if missing:
            bad(f"Dockerfile: the build stage lacks tools/deps.sh's {sorted(missing)}")
    elif op == "COPY":
        w = shlex.split(rest)
        if w[0].startswith("--from="):
            if w[0][7:] not in stages:
                bad(f"Dockerfile: COPY from an unknown stage {w[0]}")
            copied_to[w[-1]] = w[1]
            continue
        for p in w[:-1]:
            if not os.path.exists(os.path.join(src, p)):
                bad(f"Dockerfile: COPY {p}: no such path in the repository")
    elif op == "ENTRYPOINT":
        entry = json.loads(rest)
    elif op == "CMD":
        cmd = json.loads(rest)
    elif op == "HEALTHCHECK":
        health = rest.split(" CMD ", 1)[1] if " CMD " in rest else None
    elif op == "USER":
        user = rest.split(":")[0]
    elif op == "VOLUME":
        volumes += json.loads(rest) if rest.startswith("[") else rest.split()
    elif op == "EXPOSE":
        exposed += [int(p.split("/")[0]) for p in rest.split()]
if user in (None, "root", "0"):
    bad(f"Dockerfile: runs as {user or 'root'}")
if not entry or entry[0] not in copied_to:
    bad(f"Dockerfile: ENTRYPOINT {entry} is not the binary copied from the build")
d = serve_settings("Dockerfile CMD", cmd or [])
lp = listen_port("Dockerfile CMD", d.get("listen"))
if exposed != [lp]:
    bad(f"Dockerfile: EXPOSE {exposed}, serve listens on {lp}")
if not any(d.get("data", "").startswith(v.rstrip("/") + "/") or d.get("data") == v for v in volumes):
    bad(f"Dockerfile: --data {d.get('data')} is not in a VOLUME {volumes}")
m = re.search(r"https?://[^/\s:]+:(\d+)(/\S*)", health or "")
if not m or m.group(2) != "/health" or m.group(2) not in get_paths or int(m.group(1)) != lp:
    bad(f"Dockerfile: HEALTHCHECK {health!r} is not GET /health on port {lp}")
else:
    write_args("docker", d)
    with open(f"{t}/docker.health", "w") as f:
        f.write(health.replace(f":{lp}/", ":@PORT@/"))

# ---- the systemd unit and its serve.conf ----
unit = {}
section = None
for line in read(f"{D}/systemd/djs.service").splitlines():
    s = line.strip()
    if not s or s[0] in "#;":
        continue
    if s.startswith("["):
        section = s.strip("[]")
        continue
    k, v = s.split("=", 1)
    unit.setdefault(section, {})[k.strip()] = v.strip()
svc = unit.get("Service", {})
ex = shlex.split(svc.get("ExecStart", ""))
if not ex or ex[0] != "/usr/local/bin/djs":
    bad(f"djs.service: ExecStart {ex}")
d = serve_settings("djs.service ExecStart", ex[1:])
if d.get("config") != "/etc/djs/serve.conf":
    bad(f"djs.service: --config {d.get('config')}, the install steps put serve.conf in /etc/djs/serve.conf")
conf = {}
for n, line in enumerate(read(f"{D}/systemd/serve.conf").splitlines(), 1):
    s = line.split("#", 1)[0].strip()
    if s:
        k, v = (x.strip() for x in s.split("=", 1))
        if k not in serve_keys:
            bad(f"serve.conf:{n}: {k} is not a djs serve setting")
        conf[k] = v
if conf.get("data") != "/var/lib/" + svc.get("StateDirectory", "?"):
    bad(f"serve.conf: data {conf.get('data')} is not the unit's StateDirectory")
listen_port("serve.conf", conf.get("listen"))
if unit.get("Install", {}).get("WantedBy") != "multi-user.target":
    bad("djs.service: no [Install] WantedBy=multi-user.target")
conf["data"], conf["listen"] = f"{t}/systemd/data", f"127.0.0.1:{port}"
with open(f"{t}/systemd.conf", "w") as f:
    f.write("".join(f"{k} = {v}\n" for k, v in conf.items()))
with open(f"{t}/systemd.args", "w") as f:
    f.write(f"serve\n--config\n{t}/systemd.conf\n")

# ---- the Kubernetes manifests ----
docs = []
for name in sorted(os.listdir(f"{D}/k8s")):
    if name.endswith(".yaml"):
        docs += [(name, x) for x in yaml.safe_load_all(read(f"{D}/k8s/{name}")) if x]
kinds = {}
for name, x in docs:
    if not x.get("apiVersion") or not x.get("kind") or not x.get("metadata", {}).get("name"):
        bad(f"{name}: a document without apiVersion, kind or metadata.name")
    kinds.setdefault(x["kind"], []).append(x)


def each(x, key):
    """Every value of key anywhere in x."""
    if isinstance(x, dict):
        for k, v in x.items():
            if k == key:
                yield v
            yield from each(v, key)
    elif isinstance(x, list):
        for v in x:
            yield from each(v, key)


sts = kinds.get("StatefulSet", [])
if len(sts) != 1:
    bad(f"k8s: {len(sts)} StatefulSets, 1 wanted")
else:
    st = sts[0]
    pod = st["spec"]["template"]
    if st["spec"].get("replicas") != 1:
        bad("k8s: djs has one writer: replicas must be 1")
    if st["spec"]["selector"]["matchLabels"].items() > pod["metadata"]["labels"].items():
        bad("k8s: the StatefulSet's selector does not match its pod")
    claims = {c["metadata"]["name"] for c in st["spec"].get("volumeClaimTemplates", [])}
    if not claims:
        bad("k8s: no persistent volume (volumeClaimTemplates)")
    if not pod["spec"].get("securityContext", {}).get("runAsNonRoot"):
        bad("k8s: the pod does not set runAsNonRoot")
    cs = pod["spec"]["containers"]
    inits = pod["spec"].get("initContainers", [])
    for c in cs + inits:
        if not c.get("resources", {}).get("requests"):
            bad(f"k8s: container {c['name']} has no resource requests")
    main = [c for c in cs if c.get("args", [""])[0] == "serve"]
    if len(main) != 1:
        bad("k8s: no container runs djs serve")
    else:
        c = main[0]
        d = serve_settings("k8s args", c["args"])
        lp = listen_port("k8s args", d.get("listen"))
        named = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
        if [p["containerPort"] for p in c.get("ports", [])] != [lp]:
            bad(f"k8s: containerPort {c.get('ports')} is not the listen port {lp}")
        probes = []
        for kind, want_path in (("livenessProbe", "/health"), ("readinessProbe", "/health/ready")):
            hg = c.get(kind, {}).get("httpGet", {})
            if hg.get("path") != want_path:
                bad(f"k8s: {kind} is not GET {want_path}: {hg}")
            probes.append(hg.get("path", ""))
        for hg in each(docs, "httpGet"):
            if hg.get("path") not in get_paths:
                bad(f"k8s: probe path {hg.get('path')} is not a GET route")
            p = hg.get("port")
            if named.get(p, p) != lp:
                bad(f"k8s: probe port {p} is not {lp}")
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        data_mount = [n for n, mp in mounts.items() if d.get("data", "").startswith(mp.rstrip("/") + "/")]
        if not data_mount or data_mount[0] not in claims:
            bad(f"k8s: --data {d.get('data')} is not on the persistent volume")
        # the JWT secret: from a Secret, copied to DATA/jwt.secret by an init container
        vols = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        secrets = {s["metadata"]["name"]: s for s in kinds.get("Secret", [])}
        sv = [v for v in vols.values() if "secret" in v]
        if len(sv) != 1 or sv[0]["secret"]["secretName"] not in secrets:
            bad("k8s: the JWT secret does not come from a Secret of the manifests")
        elif secret_file not in (secrets[sv[0]["secret"]["secretName"]].get("data") or {}):
            bad(f"k8s: the Secret has no {secret_file} key")
        else:
            target = f"{d.get('data')}/{secret_file}"
            ok = [i for i in inits
                  if sv[0]["name"] in {m["name"] for m in i.get("volumeMounts", [])} and target in " ".join(i.get("command", []))
                  and "0600" in " ".join(i.get("command", []))]
            if not ok:
                bad(f"k8s: no init container copies the Secret to {target} (0600)")
            else:  # its script, with its mounts mapped to the test's directories
                script = ok[0]["command"][-1]
                local = {m["mountPath"]: f"{t}/k8s" if m["name"] == data_mount[0] else f"{t}/k8s-{m['name']}"
                         for m in ok[0]["volumeMounts"]}
                for mp in sorted(local, key=len, reverse=True):
                    script = script.replace(mp, local[mp])
                with open(f"{t}/k8s.init", "w") as f:
                    f.write(script)
                with open(f"{t}/k8s.secret", "w") as f:
                    f.write(f"{local[[m['mountPath'] for m in ok[0]['volumeMounts'] if m['name'] == sv[0]['name']][0]]}/{secret_file}\n")
        write_args("k8s", d, d.get("data", "").replace(mounts.get(data_mount[0] if data_mount else "", "?"), f"{t}/k8s", 1))
        with open(f"{t}/k8s.probes", "w") as f:
            f.write("\n".join(probes) + "\n")
        for s in kinds.get("Service", []):
            if s["spec"]["selector"].items() > pod["metadata"]["labels"].items():
                bad(f"k8s: Service {s['metadata']['name']} selects no djs pod")
            for p in s["spec"]["ports"]:
                tp = p.get("targetPort", p["port"])
                if p["port"] != lp or named.get(tp, tp) != lp:
                    bad(f"k8s: Service {s['metadata']['name']} port {p} is not {lp}")
for p in list(each(docs, "containerPort")) + list(each(docs, "port")):
    if isinstance(p, int) and p != default_port:
        bad(f"k8s: port {p} is not djs's {default_port}")

for e in errors:
    print("deploy:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# the dashboard's expressions are PromQL: promtool checks them as recording rules
if [ -x /usr/bin/promtool ]; then
    /usr/bin/promtool check rules "$T/dashboard-rules.yml" >"$T/promtool.out" 2>&1 ||
        fail "dashboard expressions: $(cat "$T/promtool.out")"
fi

# ---- each file's own serve arguments start a server that passes its checks ----
# run_args NAME: djs serve with $T/NAME.args, until /health answers; in
# $T/NAME, what the image's VOLUME or the unit's StateDirectory provides
run_args() {
    local -a args
    mkdir -p "$T/$1"
    mapfile -t args <"$T/$1.args"
    [ "${args[0]}" = serve ] || fail "$1: not djs serve: ${args[*]}"
    djs_serve "${args[@]:1}"
    djs_wait_ready "$1: serve did not answer $URL/health" curl -sf -m 2 "$URL/health"
}

# Kubernetes: the init container's script refuses a short secret and copies
# a good one; djs serve with the container's args then signs with the
# Secret's key, and the probes' paths answer 200
secret=$(cat "$T/k8s.secret")
mkdir -p "$(dirname "$secret")" "$T/k8s" "$T/mint"
head -c 5 /dev/urandom >"$secret"
chmod 0440 "$secret"
if sh -c "$(cat "$T/k8s.init")" >"$T/init.out" 2>&1; then fail "the init container accepted a 5-byte secret"; fi
grep -q "32 or more" "$T/init.out" || fail "the init container's refusal: $(cat "$T/init.out")"
chmod 0600 "$secret"
head -c 32 /dev/urandom >"$secret"
chmod 0440 "$secret"
sh -c "$(cat "$T/k8s.init")" >"$T/init.out" 2>&1 || fail "the init container's script: $(cat "$T/init.out")"
install -m 0600 "$secret" "$T/mint/jwt.secret"
run_args k8s
while read -r path; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$URL$path")
    [ "$code" = 200 ] || fail "k8s probe $path: $code"
done <"$T/k8s.probes"
AUTH=(-H "Authorization: Bearer $(djs_token ops operator "$T/mint")")
code=$(djs_api -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 200 ] || fail "a token signed with the Secret's key: $code"
djs_stop_server

# Docker: ENTRYPOINT + CMD; the HEALTHCHECK command itself succeeds
run_args docker
health=$(cat "$T/docker.health")
sh -c "${health//@PORT@/$port}" >/dev/null || fail "docker HEALTHCHECK failed: $health"
djs_stop_server

# systemd: ExecStart with the unit's serve.conf (data and listen mapped)
run_args systemd
curl -sf "$URL/health/ready" >/dev/null || fail "systemd: /health/ready"
djs_stop_server
if command -v systemd-analyze >/dev/null; then
    printf '[Unit]\nDescription=probe\n[Service]\nType=exec\nExecStart=/bin/true\n' >"$T/probe.service"
    if systemd-analyze verify "$T/probe.service" >"$T/verify.out" 2>&1; then
        sed "s#/usr/local/bin/djs#$DJS#" "$D/systemd/djs.service" >"$T/djs.service"
        systemd-analyze verify "$T/djs.service" >"$T/verify.out" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify.out")"
        if grep -q "djs.service" "$T/verify.out"; then fail "systemd-analyze verify complains: $(cat "$T/verify.out")"; fi
    else
        echo "SKIP systemd-analyze verify: it cannot run here ($(head -1 "$T/verify.out"))"
    fi
else
    echo "SKIP systemd-analyze verify: not installed (tools/deps.sh installs systemd)"
fi
echo "test_deploy: all checks passed"
