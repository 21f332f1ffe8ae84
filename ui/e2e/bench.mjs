// The dashboard benchmark's browser side (`djs bench ui` starts it; see
// tools/bench/ui_cmd.c and docs/benchmarks.md). Against a `djs serve` that
// already holds --jobs QUEUED jobs (no agents), it runs:
//   a producer (a worker thread): --rate events/s, half job.submitted (new
//     jobs in workflows), half job.cancelled (random jobs among the loaded
//     ones, past the first rows, which the event-to-pixel probes keep);
//   three cold loads of /ui/jobs, each in a fresh browser context: the JS
//     they fetch (gzip -9 of each script body, and what went over the wire),
//     and navigation start to the first job row in the DOM (at the next
//     animation frame);
//   --seconds of live updates on the last page: PerformanceObserver
//     'longtask' entries, and --samples probes: cancel a visible QUEUED job
//     from the page, the API's acknowledgement to its row's data-status
//     changing (a MutationObserver, then the next animation frame);
//   the renderer's memory after that: RSS from /proc (its pid from CDP
//     SystemInfo.getProcessInfo) and the JS heap (CDP Performance.getMetrics);
//   a scroll of the virtual table from the top to the last row, --scroll-step
//     px per animation frame (it waits at the loaded end for the next page):
//     the intervals between animation frames.
// Progress goes to stderr, one JSON line with targets and pass/fail to stdout.
// Exit 0 when measured (whether or not the targets are met), 1 when the run failed.
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

const TARGETS = {
  initial_js_gzip_kb: 300,
  first_render_ms: 500,
  live_update_longtask_p99_ms: 50,
  scroll_frame_p99_ms: 20,
  event_to_pixel_p99_ms: 250,
};
// ui_rss_mb has no target (bounded: the issue asks for the figure); the
// event-to-pixel probes must give at least this many samples.
const MIN_SAMPLES = 20;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error('bench ui:', ...a);

function pct(values, p) {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}
const r1 = (v) => Math.round(v * 10) / 10;

// ---- the producer (a worker thread) ----

async function producer({ url, token, rate, jobs }) {
  const H = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const t0 = Date.now();
  const ids = [];
  for (let cursor; ;) {
    const q = new URLSearchParams({ limit: '500', ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${url}/api/v1/jobs?${q}`, { headers: H });
    if (!res.ok) throw new Error(`GET /jobs: ${res.status}`);
    const page = await res.json();
    for (const j of page.jobs) ids.push(j.id);
    if (!page.next || !page.jobs.length) break;
    cursor = page.next;
  }
  // the first rows stay for the probes; the rest in random order
  const reserve = Math.min(2000, Math.floor(jobs / 5));
  const pool = ids.slice(reserve);
  for (let i = pool.length - 1; i > 0; i--) {
    const k = Math.floor(Math.random() * (i + 1));
    [pool[i], pool[k]] = [pool[k], pool[i]];
  }
  const own = [];
  parentPort.postMessage({ type: 'ready', ids: ids.length, ms: Date.now() - t0 });
  let stop = false;
  parentPort.on('message', (m) => {
    if (m === 'stop') stop = true;
  });
  const st = { submitted: 0, cancelled: 0, errors: 0, inflight: 0, short: 0 };
  const start = Date.now();
  let submitBudget = 0, cancelBudget = 0, last = start;
  let tick = 0;
  while (!stop) {
    await sleep(20);
    const now = Date.now();
    const dt = (now - last) / 1000;
    last = now;
    submitBudget += (rate / 2) * dt;
    cancelBudget += (rate / 2) * dt;
    const m = Math.min(1000, Math.floor(submitBudget));
    if (m >= 1 && st.inflight < 64) {
      submitBudget -= m;
      const body = JSON.stringify({ jobs: Array.from({ length: m }, (_, i) => ({ key: `p${i}`, name: 'live', payload: { kind: 'noop' } })) });
      st.inflight++;
      fetch(`${url}/api/v1/jobs`, { method: 'POST', headers: H, body })
        .then(async (r) => {
          if (r.status !== 201) throw new Error(String(r.status));
          const a = await r.json();
          st.submitted += a.jobs.length;
          for (const j of a.jobs) own.push(j.id);
        })
        .catch(() => st.errors++)
        .finally(() => st.inflight--);
    }
    while (cancelBudget >= 1) {
      if (st.inflight >= 64) {
        st.short += Math.floor(cancelBudget);
        cancelBudget = 0;
        break;
      }
      const id = pool.length ? pool.pop() : own.shift();
      if (!id) break;
      cancelBudget -= 1;
      st.inflight++;
      fetch(`${url}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: H })
        .then(async (r) => {
          await r.arrayBuffer();
          if (r.status === 200) st.cancelled++;
          else st.errors++;
        })
        .catch(() => st.errors++)
        .finally(() => st.inflight--);
    }
    if (++tick % 50 === 0) parentPort.postMessage({ type: 'stats', ...st, s: (Date.now() - start) / 1000 });
  }
  while (st.inflight > 0) await sleep(10);
  parentPort.postMessage({ type: 'done', ...st, s: (Date.now() - start) / 1000 });
}

if (!isMainThread) {
  producer(workerData).catch((e) => {
    parentPort.postMessage({ type: 'error', error: String(e?.stack ?? e) });
  });
}

// ---- in the page ----

// Installed before the page's scripts: the first job row, and long tasks.
const INIT = `(() => {
  const b = (window.__bench = { first: null, longtasks: [] });
  try {
    new PerformanceObserver((l) => { for (const e of l.getEntries()) b.longtasks.push([e.startTime, e.duration]); })
      .observe({ type: 'longtask', buffered: true });
  } catch (e) { b.noLongtask = String(e); }
  const mo = new MutationObserver(() => {
    if (b.first) return;
    const r = document.querySelector('[data-testid="job-row"]');
    if (!r || r.getBoundingClientRect().height === 0) return;
    const dom = performance.now();
    b.first = { dom };
    mo.disconnect();
    requestAnimationFrame(() => { b.first.frame = performance.now(); });
  });
  mo.observe(document, { childList: true, subtree: true });
})();`;

// The id of a fully visible QUEUED row, or null.
function visibleQueued() {
  const sc = document.querySelector('.j-scroll');
  if (!sc) return null;
  const box = sc.getBoundingClientRect();
  const head = sc.querySelector('.j-head')?.getBoundingClientRect().bottom ?? box.top;
  for (const el of sc.querySelectorAll('[data-testid="job-row"][data-status="QUEUED"]')) {
    const r = el.getBoundingClientRect();
    if (r.top >= head && r.bottom <= box.bottom) return el.dataset.jobId;
  }
  return null;
}

// Cancel job id from the page; when its row's data-status changes.
function probe(id) {
  const body = document.querySelector('.j-body');
  return new Promise((resolve) => {
    const o = { id, send: 0, ack: null, dom: null, frame: null, status: 0 };
    let over = false;
    const finish = (extra) => {
      if (over) return;
      over = true;
      mo.disconnect();
      resolve({ ...o, ...extra });
    };
    const mo = new MutationObserver(() => {
      if (o.dom !== null) return;
      const el = body.querySelector(`[data-job-id="${id}"]`);
      if (!el || el.dataset.status === 'QUEUED') return;
      o.dom = performance.now();
      requestAnimationFrame(() => {
        o.frame = performance.now();
        if (o.ack !== null) finish({});
      });
    });
    mo.observe(body, { attributes: true, subtree: true, childList: true, attributeFilter: ['data-status'] });
    o.send = performance.now();
    fetch(`/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: { 'X-DJS-CSRF': '1' }, credentials: 'same-origin' }).then(
      (r) => {
        o.ack = performance.now();
        o.status = r.status;
        if (r.status !== 200) finish({ refused: true });
        else if (o.frame !== null) finish({});
      },
      (e) => finish({ error: String(e) }),
    );
    setTimeout(() => finish({ timeout: true }), 10000);
  });
}

// Scroll the table to its last row, step px per animation frame; the frame
// intervals of the frames that scrolled or got rows.
function scrollAll({ step, maxMs }) {
  const el = document.querySelector('.j-scroll');
  const foot = () => document.querySelector('.j-foot')?.textContent ?? '';
  el.scrollTop = 0;
  return new Promise((resolve) => {
    const iv = [];
    let last = null, scrolled = false, waits = 0, frames = 0;
    let end = { px: null, rows: 0 };
    let rc = el.getAttribute('aria-rowcount');
    const t0 = performance.now();
    const lt0 = window.__bench.longtasks.length;
    function frame(t) {
      const rc2 = el.getAttribute('aria-rowcount');
      if (last !== null && (scrolled || rc2 !== rc)) iv.push(t - last);
      rc = rc2;
      last = t;
      frames++;
      const bottom = el.scrollHeight - el.clientHeight;
      const now = performance.now();
      const done = (extra) =>
        resolve({ iv, frames, waits, ms: now - t0, rows: end.rows, longtasks: window.__bench.longtasks.slice(lt0), ...extra });
      // the end is where the last row was when the last page came: jobs
      // appended live after it would be a chase, not a scroll
      if (end.px === null && foot().includes('(all)')) end = { px: bottom, rows: Number(rc) - 1 };
      if (end.px !== null && el.scrollTop >= end.px - 1) return done({});
      if (el.scrollTop >= bottom - 1) {
        scrolled = false;
        waits++;
      } else {
        el.scrollTop = Math.min(end.px ?? bottom, el.scrollTop + step);
        scrolled = true;
      }
      if (now - t0 > maxMs) return done({ timedOut: true });
      requestAnimationFrame(frame);
    }
    requestAnimationFrame(frame);
  });
}

// ---- the run ----

function args() {
  const a = process.argv.slice(2);
  const o = { seconds: 60, rate: 2000, samples: 30, 'scroll-step': 800, jobs: 0, 'load-s': 0 };
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '');
    if (!(k in o) && k !== 'url' && k !== 'token') throw new Error(`bench.mjs: unknown option ${a[i]}`);
    o[k] = k === 'url' || k === 'token' ? a[i + 1] : Number(a[i + 1]);
  }
  if (!o.url || !o.token) throw new Error('bench.mjs: --url and --token are required');
  return o;
}

async function seqNow(o) {
  const r = await fetch(`${o.url}/api/v1/jobs?limit=1`, { headers: { Authorization: `Bearer ${o.token}` } });
  return (await r.json()).seq;
}

function startProducer(o) {
  const w = new Worker(new URL(import.meta.url), { workerData: { url: o.url, token: o.token, rate: o.rate, jobs: o.jobs } });
  const p = { w, last: null };
  p.ready = new Promise((resolve, reject) => {
    w.on('message', (m) => {
      if (m.type === 'ready') resolve(m);
      else if (m.type === 'error') reject(new Error(m.error));
      else p.last = m;
      if (m.type === 'done') p.resolveDone?.(m);
    });
    w.on('error', reject);
  });
  p.stop = () =>
    new Promise((resolve) => {
      p.resolveDone = resolve;
      w.postMessage('stop');
    }).finally(() => w.terminate());
  return p;
}

async function newPage(browser, o) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const res = await ctx.request.post(`${o.url}/api/v1/session`, { data: { token: o.token }, headers: { 'X-DJS-CSRF': '1' } });
  if (!res.ok()) throw new Error(`POST /api/v1/session: ${res.status()} ${await res.text()}`);
  const page = await ctx.newPage();
  await page.addInitScript(INIT);
  page.on('pageerror', (e) => log('page error:', e.message));
  return { ctx, page };
}

// One cold load of /ui/jobs: first row times and the scripts fetched.
async function coldLoad(browser, o) {
  const { ctx, page } = await newPage(browser, o);
  const scripts = [];
  page.on('response', (r) => {
    if (r.request().resourceType() === 'script' || new URL(r.url()).pathname.endsWith('.js'))
      scripts.push(
        (async () => {
          const body = await r.body();
          const sizes = await r.request().sizes();
          return { url: r.url(), raw: body.length, gz: gzipSync(body, { level: 9 }).length, wire: sizes.responseBodySize, enc: r.headers()['content-encoding'] ?? '' };
        })(),
      );
  });
  await page.goto(`${o.url}/ui/jobs`);
  try {
    await page.waitForFunction(() => window.__bench.first?.frame !== undefined, null, { timeout: 30000 });
  } catch (e) {
    const text = await page.evaluate(() => document.body.innerText.slice(0, 800)).catch(() => '?');
    throw new Error(`no job row in 30 s at ${page.url()}; the page says: ${text}`, { cause: e });
  }
  await sleep(500);
  const first = await page.evaluate(() => window.__bench.first);
  const js = await Promise.all(scripts);
  return { ctx, page, first, js };
}

async function measureMemory(browser, page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
  const bcdp = await browser.newBrowserCDPSession();
  const { processInfo } = await bcdp.send('SystemInfo.getProcessInfo');
  const procs = [];
  for (const p of processInfo.filter((p) => p.type === 'renderer')) {
    try {
      const kb = (re, f) => Number(re.exec(readFileSync(`/proc/${p.id}/${f}`, 'utf8'))?.[1] ?? 0) / 1024;
      procs.push({ pid: p.id, rss: kb(/VmRSS:\s+(\d+) kB/, 'status'), pss: kb(/Pss:\s+(\d+) kB/, 'smaps_rollup') });
    } catch {
      /* gone */
    }
  }
  procs.sort((a, b) => b.rss - a.rss);
  for (const p of procs) log(`renderer pid ${p.pid}: RSS ${r1(p.rss)} MB, PSS ${r1(p.pss)} MB`);
  return { heapMb: heap / 1048576, rssMb: procs[0]?.rss ?? null, pssMb: procs[0]?.pss ?? null, renderers: procs.length };
}

async function liveProbes(page, o) {
  const samples = [];
  const every = (o.seconds * 1000) / o.samples;
  const t0 = Date.now();
  for (let i = 0; i < o.samples; i++) {
    await sleep(Math.max(0, t0 + i * every - Date.now()));
    let id = null;
    for (let k = 0; k < 20 && !id; k++) {
      id = await page.evaluate(visibleQueued);
      if (!id) {
        await page.evaluate(() => {
          const sc = document.querySelector('.j-scroll');
          sc.scrollTop += sc.clientHeight;
        });
        await sleep(300);
      }
    }
    if (!id) {
      log('no visible QUEUED row for a probe');
      continue;
    }
    const s = await page.evaluate(probe, id);
    if (s.frame !== null && s.ack !== null) samples.push(s);
    else log(`probe of ${id}: ${s.timeout ? 'no change in 10 s' : `answered ${s.status}`}`);
  }
  await sleep(Math.max(0, t0 + o.seconds * 1000 - Date.now()));
  return samples;
}

function report(o, r) {
  const figures = {
    initial_js_gzip_kb: r1(r.js.reduce((a, j) => a + j.gz, 0) / 1024),
    first_render_ms: r1(pct(r.firstMs, 0.5)),
    live_update_longtask_p99_ms: r1(pct(r.liveLong, 0.99)),
    scroll_frame_p99_ms: r1(pct(r.scroll.iv, 0.99)),
    event_to_pixel_p99_ms: r1(pct(r.e2p, 0.99)),
  };
  const pass = {};
  for (const [k, t] of Object.entries(TARGETS)) pass[k] = figures[k] <= t;
  pass.event_to_pixel_samples = r.e2p.length >= MIN_SAMPLES;
  const out = {
    bench: 'ui',
    jobs: o.jobs,
    load_s: r1(o['load-s']),
    load_jobs_per_s: o['load-s'] > 0 ? Math.round(o.jobs / o['load-s']) : null,
    seconds: o.seconds,
    rate_target: o.rate,
    producer_events_per_s: Math.round(r.eventsPerS),
    producer: r.prod,
    ...figures,
    initial_js_files: r.js.length,
    initial_js_raw_kb: r1(r.js.reduce((a, j) => a + j.raw, 0) / 1024),
    initial_js_wire_kb: r1(r.js.reduce((a, j) => a + j.wire, 0) / 1024),
    initial_js_encoding: [...new Set(r.js.map((j) => j.enc || 'identity'))].join(','),
    first_render_samples_ms: r.firstMs.map(r1),
    first_render_dom_ms: r1(pct(r.firstDom, 0.5)),
    live_longtasks: r.liveLong.length,
    live_longtask_max_ms: r1(r.liveLong.length ? Math.max(...r.liveLong) : 0),
    scroll_frame_p50_ms: r1(pct(r.scroll.iv, 0.5)),
    scroll_frame_p95_ms: r1(pct(r.scroll.iv, 0.95)),
    scroll_frames_over_20ms: r.scroll.iv.filter((v) => v > 20).length,
    scroll_frames_over_50ms: r.scroll.iv.filter((v) => v > 50).length,
    scroll_longtask_ms: r.scroll.longtasks.map(([, d]) => Math.round(d)),
    scroll_frames: r.scroll.iv.length,
    scroll_rows: r.scroll.rows,
    scroll_s: r1(r.scroll.ms / 1000),
    scroll_longtasks: r.scroll.longtasks.length,
    scroll_timed_out: !!r.scroll.timedOut,
    ui_rss_mb: r.mem.rssMb === null ? null : r1(r.mem.rssMb),
    ui_rss_measures: 'VmRSS of the renderer process (pid from CDP SystemInfo.getProcessInfo; the largest if several)',
    ui_pss_mb: r.mem.pssMb === null ? null : r1(r.mem.pssMb),
    ui_js_heap_mb: r1(r.mem.heapMb),
    event_to_pixel_p50_ms: r1(pct(r.e2p, 0.5)),
    event_to_pixel_from_send_p99_ms: r1(pct(r.e2pSend, 0.99)),
    event_to_pixel_samples: r.e2p.length,
    targets: { ...TARGETS, event_to_pixel_samples: MIN_SAMPLES },
    pass,
    all_pass: Object.values(pass).every(Boolean),
  };
  const line = (k, unit, t) =>
    log(`${k.padEnd(30)} ${String(out[k]).padStart(8)} ${unit}${t === undefined ? '  (no target)' : `  (target <= ${t}: ${pass[k] ? 'pass' : 'FAIL'})`}`);
  log('---- figures ----');
  line('initial_js_gzip_kb', 'kB', TARGETS.initial_js_gzip_kb);
  line('first_render_ms', 'ms', TARGETS.first_render_ms);
  line('live_update_longtask_p99_ms', 'ms', TARGETS.live_update_longtask_p99_ms);
  line('scroll_frame_p99_ms', 'ms', TARGETS.scroll_frame_p99_ms);
  line('ui_rss_mb', 'MB');
  line('ui_js_heap_mb', 'MB');
  line('event_to_pixel_p99_ms', 'ms');
  log(`${'event_to_pixel_samples'.padEnd(30)} ${String(out.event_to_pixel_samples).padStart(8)}     (at least ${MIN_SAMPLES}: ${pass.event_to_pixel_samples ? 'pass' : 'FAIL'})`);
  line('producer_events_per_s', 'events/s');
  console.log(JSON.stringify(out));
}

async function main() {
  const o = args();
  const { chromium } = await import('playwright-core');
  const deadline = setTimeout(() => {
    log('the run took too long; giving up');
    process.exit(1);
  }, (o.seconds * 2 + 900) * 1000);
  deadline.unref();
  const prod = startProducer(o);
  const ready = await prod.ready;
  log(`producer: ${ready.ids} job ids read in ${ready.ms} ms; producing ${o.rate} events/s (half submits, half cancels)`);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
  });
  try {
    await sleep(2000);
    const loads = [];
    for (let i = 0; i < 3; i++) {
      const l = await coldLoad(browser, o);
      log(`cold load ${i + 1}: first row at ${r1(l.first.frame)} ms (DOM ${r1(l.first.dom)} ms), ${l.js.length} scripts`);
      if (i < 2) await l.ctx.close();
      loads.push(l);
    }
    const { page } = loads[2];
    const r = { js: loads[0].js, firstMs: loads.map((l) => l.first.frame), firstDom: loads.map((l) => l.first.dom) };

    log(`live: ${o.seconds} s of updates, ${o.samples} event-to-pixel probes`);
    const seq0 = await seqNow(o), w0 = Date.now();
    const lt0 = await page.evaluate(() => performance.now());
    const samples = await liveProbes(page, o);
    const lt1 = await page.evaluate(() => performance.now());
    r.eventsPerS = ((await seqNow(o)) - seq0) / ((Date.now() - w0) / 1000);
    const long = await page.evaluate(() => window.__bench.longtasks);
    r.liveLong = long.filter(([s]) => s >= lt0 && s <= lt1).map(([, d]) => d);
    r.e2p = samples.map((s) => Math.max(0, s.frame - s.ack));
    r.e2pSend = samples.map((s) => s.frame - s.send);
    log(`live: ${r.liveLong.length} long tasks, ${samples.length} probes, ${Math.round(r.eventsPerS)} events/s in the log`);
    r.mem = await measureMemory(browser, page);
    log(`memory: renderer RSS ${r.mem.rssMb === null ? '?' : r1(r.mem.rssMb)} MB (${r.mem.renderers} renderers), JS heap ${r1(r.mem.heapMb)} MB`);

    log(`scroll: top to bottom, ${o['scroll-step']} px per frame`);
    r.scroll = await page.evaluate(scrollAll, { step: o['scroll-step'], maxMs: Math.max(120000, o.jobs * 3) });
    log(`scroll: ${r.scroll.rows} rows in ${r1(r.scroll.ms / 1000)} s, ${r.scroll.iv.length} frames, ${r.scroll.waits} waiting for pages${r.scroll.timedOut ? ' (TIMED OUT)' : ''}`);
    r.prod = await prod.stop();
    delete r.prod.type;
    report(o, r);
  } finally {
    await browser.close();
  }
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error('bench ui: failed:', e?.stack ?? e);
      process.exit(1);
    },
  );
}
