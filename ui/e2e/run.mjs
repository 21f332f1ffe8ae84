// The dashboard end to end: Debian's Chromium (driven by playwright-core,
// never a downloaded browser) against a real `djs serve` with real agents,
// started by tests/integration/test_ui_browser.sh, which passes:
//   DJS_URL          the server (http://127.0.0.1:PORT)
//   DJS_LOGIN_URL    the DASHBOARD link serve printed (a one-time login code)
//   DJS_TOKEN        an admin token (for the API calls the test makes)
//   DJS_USER_TOKEN   a user token (sub alice)
//   DJS_ARTEFACTS    where the screenshots go
//   DJS_KILL_CMD / DJS_START_CMD  shell commands that kill -9 and restart the server
//   CHROMIUM         the browser (/usr/bin/chromium)
// Each check prints "ok - NAME" or "not ok - NAME: why"; any failure, a
// console error, an uncaught page error, a blank or error page, or a
// serious accessibility violation (axe-core) fails the run (exit 1).
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`e2e: ${k} is not set`);
  return v;
};
const URL_ = env('DJS_URL');
const LOGIN_URL = env('DJS_LOGIN_URL');
const TOKEN = env('DJS_TOKEN');
const USER_TOKEN = env('DJS_USER_TOKEN');
const ART = env('DJS_ARTEFACTS');
const KILL = process.env.DJS_KILL_CMD;
const START = process.env.DJS_START_CMD;
mkdirSync(ART, { recursive: true });
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let failures = 0;
const ok = (name) => console.log(`ok - ${name}`);
const notOk = (name, why) => {
  failures++;
  console.log(`not ok - ${name}: ${why}`);
};
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    ok(`${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    notOk(name, e instanceof Error ? e.stack ?? e.message : String(e));
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeoutMs = 10_000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}${last ? ` (${last})` : ''}`);
    await sleep(everyMs);
  }
}

// ---- the API, as the admin (or another token) ----
async function api(method, path, body, token = TOKEN) {
  const res = await fetch(URL_ + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return json;
}
const sh = (script, args) => ({ command: '/bin/sh', args: ['-c', script, ...(args ?? [])] });

// ---- the browser ----
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage'],
});

/** A page that records console errors and page errors; `expected` filters those a test provokes on purpose. */
async function newPage(label, viewport = { width: 1280, height: 720 }) {
  // bypassCSP: axe-core is injected as an inline script, which the dashboard's strict CSP (rightly) refuses
  const ctx = await browser.newContext({ viewport, colorScheme: 'light', bypassCSP: true });
  const page = await ctx.newPage();
  page.djsErrors = [];
  page.djsExpect = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // the first GET /api/v1/session of a signed-out browser is a 401 by design (how the shell learns it must log in)
    if (/status of 401/.test(text) && !page.djsSignedIn) return;
    if (page.djsExpect.some((re) => re.test(text))) return;
    page.djsErrors.push(`[${label}] console: ${text}`);
  });
  page.on('pageerror', (e) => page.djsErrors.push(`[${label}] page error: ${e.message}`));
  // which request a "Failed to load resource" console error was
  page.on('response', (r) => {
    if (r.status() >= 400) console.log(`# [${label}] ${r.status()} ${r.request().method()} ${r.url().replace(URL_, '')}`);
  });
  return page;
}
function noErrors(page) {
  if (page.djsErrors.length) {
    const e = page.djsErrors.splice(0);
    throw new Error(e.join('\n'));
  }
}

/** Not blank, not an error page: the view's root is there and says something. */
async function assertRendered(page, testid) {
  await page.waitForSelector(`[data-testid="${testid}"]`, { timeout: 10_000 });
  await until('the view leaves its loading state', async () => (await page.locator('[data-testid="state-loading"]').count()) === 0, 10_000);
  const bad = await page.locator('[data-testid="error-boundary"], [data-testid="state-error"]').count();
  if (bad) throw new Error(`error state on the page: ${(await page.locator('[data-testid="state-error"]').first().innerText()).slice(0, 300)}`);
  const text = (await page.locator('main').innerText()).trim();
  if (text.length < 20) throw new Error(`blank view: ${JSON.stringify(text)}`);
}

async function axe(page, name) {
  await page.addScriptTag({ content: AXE });
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, n: v.nodes.length, where: v.nodes.slice(0, 3).map((x) => x.target.join(' ')) }));
  });
  const bad = r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of r) console.log(`# axe ${name}: ${v.impact} ${v.id} x${v.n} ${v.where.join(' | ')}`);
  if (bad.length) throw new Error(`axe: ${bad.map((v) => `${v.id} (${v.impact}, ${v.n}: ${v.where.join(' | ')})`).join('; ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${ART}/${name}.png`, fullPage: false });
}

const urlAt = (page) => new URL(page.url()).searchParams.get('at');

// =====================================================================
const admin = await newPage('admin');

await check('log in with the one-time DASHBOARD link', async () => {
  await admin.goto(LOGIN_URL);
  await until('the principal shows', async () => (await admin.locator('[data-testid="principal"]').innerText()).includes('admin'));
  admin.djsSignedIn = true;
  if (admin.url().includes('code=')) throw new Error(`the login code stayed in the address bar: ${admin.url()}`);
  const cookies = await admin.context().cookies();
  const c = cookies.find((x) => x.httpOnly);
  if (!c || c.sameSite !== 'Strict') throw new Error(`no HttpOnly SameSite=Strict cookie: ${JSON.stringify(cookies)}`);
  noErrors(admin);
});

// some history first, so every view has something to show
const seed = await api('POST', '/api/v1/jobs', {
  jobs: [
    { key: 'a', name: 'seed-a', payload: sh('echo seed a; echo \'{"ok":1}\'') },
    { key: 'b', name: 'seed-b', dependsOn: ['a'], payload: sh('echo seed b') },
  ],
});
await api('POST', '/api/v1/schedules', { name: 'nightly-e2e', spec: '0 3 * * *', job: { name: 'nightly', payload: sh('true') } }).catch((e) =>
  console.log(`# schedule not created: ${e.message}`),
);
await until('the seed workflow completes', async () => {
  const j = await api('GET', `/api/v1/jobs/${seed.jobs[1].id}`);
  return j.status === 'COMPLETED';
}, 20_000, 200);

const VIEWS = [
  ['overview', 'view-overview'],
  ['jobs', 'view-jobs'],
  ['workflows', 'view-workflows'],
  ['workers', 'view-workers'],
  ['schedules', 'view-schedules'],
  ['events', 'view-events'],
];
for (const [id, testid] of VIEWS) {
  await check(`view ${id}: renders, no errors, accessible`, async () => {
    await admin.click(`[data-testid="nav-${id}"]`);
    await assertRendered(admin, testid);
    await sleep(300); // charts and streams settle
    await shot(admin, `view-${id}`);
    await axe(admin, id);
    noErrors(admin);
  });
}

await check('keyboard: g j goes to the jobs, ? opens the help', async () => {
  await admin.click(`[data-testid="nav-overview"]`);
  await admin.waitForSelector('[data-testid="view-overview"]');
  await admin.locator('body').press('g');
  await admin.locator('body').press('j');
  await admin.waitForSelector('[data-testid="view-jobs"]', { timeout: 3_000 });
  await admin.locator('body').press('?');
  await admin.waitForSelector('[data-testid="help-dialog"][open]', { timeout: 3_000 });
  await shot(admin, 'help');
  await admin.keyboard.press('Escape');
  await until('the help closes', async () => (await admin.locator('[data-testid="help-dialog"][open]').count()) === 0, 3_000);
  noErrors(admin);
});

await check('theme: dark is switchable and kept', async () => {
  await admin.selectOption('[data-testid="theme-switch"]', 'dark');
  const t = await admin.evaluate(() => document.documentElement.dataset.theme);
  if (t !== 'dark') throw new Error(`data-theme is ${t}`);
  await shot(admin, 'view-jobs-dark');
  await axe(admin, 'jobs (dark)');
  await admin.reload();
  await admin.waitForSelector('[data-testid="view-jobs"]');
  const t2 = await admin.evaluate(() => document.documentElement.dataset.theme);
  if (t2 !== 'dark') throw new Error(`after a reload data-theme is ${t2}`);
  await admin.selectOption('[data-testid="theme-switch"]', 'system');
  noErrors(admin);
});

let wf;
await check('a workflow submitted over the API appears in the jobs view within a second and progresses live', async () => {
  await admin.click('[data-testid="nav-jobs"]');
  await assertRendered(admin, 'view-jobs');
  const tag = `live-${Date.now()}`;
  const t0 = Date.now();
  wf = await api('POST', '/api/v1/jobs', {
    jobs: [
      { key: 'fetch', name: `${tag}-1-fetch`, payload: sh('for i in 1 2 3; do echo "fetch line $i"; sleep 0.4; done') },
      { key: 'left', name: `${tag}-2-left`, dependsOn: ['fetch'], payload: sh('echo left; sleep 0.6') },
      { key: 'right', name: `${tag}-2-right`, dependsOn: ['fetch'], payload: sh('echo right; sleep 0.6') },
      { key: 'join', name: `${tag}-3-join`, dependsOn: ['left', 'right'], payload: sh('echo join') },
    ],
  });
  const first = wf.jobs[0].id;
  await admin.waitForSelector(`[data-testid="job-row"][data-job-id="${first}"]`, { timeout: 1_000 });
  const dt = Date.now() - t0;
  console.log(`# the workflow's first job showed ${dt} ms after the submit was sent`);
  await until(
    'the first job goes past QUEUED in the table, live',
    async () => ['SCHEDULED', 'RUNNING', 'COMPLETED'].includes(await admin.getAttribute(`[data-testid="job-row"][data-job-id="${first}"]`, 'data-status')),
    5_000,
  );
  noErrors(admin);
});

await check('the DAG shows the workflow with live node states', async () => {
  const wid = (await api('GET', `/api/v1/jobs/${wf.jobs[0].id}`)).workflow;
  await admin.goto(`${URL_}/ui/workflows/${wid}`);
  await assertRendered(admin, 'view-workflow');
  await admin.waitForSelector('[data-testid="dag-node"]', { timeout: 10_000 });
  const n = await admin.locator('[data-testid="dag-node"]').count();
  if (n !== 4) throw new Error(`${n} DAG nodes, expected 4`);
  const join = `[data-testid="dag-node"][data-job-id="${wf.jobs[3].id}"]`;
  const before = await admin.getAttribute(join, 'data-status');
  await until('the join node turns COMPLETED', async () => (await admin.getAttribute(join, 'data-status')) === 'COMPLETED', 20_000, 100);
  console.log(`# the join node went ${before} -> COMPLETED on the page`);
  await shot(admin, 'view-workflow-dag');
  await axe(admin, 'workflow');
  noErrors(admin);
});

await check('a job shows its spec, timeline and output tail', async () => {
  await admin.goto(`${URL_}/ui/jobs/${wf.jobs[0].id}`);
  await assertRendered(admin, 'view-job');
  await until('the output tail has the job\'s lines', async () => (await admin.locator('[data-testid="job-output"]').innerText()).includes('fetch line 3'), 10_000);
  await admin.waitForSelector('[data-testid="job-event"]');
  await shot(admin, 'view-job');
  await axe(admin, 'job');
  noErrors(admin);
});

await check('the output tail follows a running job live', async () => {
  const j = await api('POST', '/api/v1/jobs', { name: 'tail-live', payload: sh('for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.5; done') });
  await admin.goto(`${URL_}/ui/jobs/${j.id}`);
  await assertRendered(admin, 'view-job');
  await until('tick 2 shows', async () => (await admin.locator('[data-testid="job-output"]').innerText()).includes('tick 2'), 10_000);
  const st = await api('GET', `/api/v1/jobs/${j.id}`);
  if (st.status !== 'RUNNING') throw new Error(`tick 2 showed but the job is ${st.status}: not followed live`);
  await until('tick 6 shows', async () => (await admin.locator('[data-testid="job-output"]').innerText()).includes('tick 6'), 10_000);
  noErrors(admin);
});

await check('retry and cancel as admin', async () => {
  const bad = await api('POST', '/api/v1/jobs', { name: 'fails-once', payload: sh('echo failing >&2; exit 3') });
  await until('it fails', async () => (await api('GET', `/api/v1/jobs/${bad.id}`)).status === 'FAILED', 20_000, 200);
  await admin.goto(`${URL_}/ui/jobs/${bad.id}`);
  await assertRendered(admin, 'view-job');
  await admin.click('[data-testid="job-retry"]');
  if (await admin.locator('[data-testid="job-confirm"]').count()) await admin.click('[data-testid="job-confirm"]');
  await until('the retry is in the log', async () => (await api('GET', `/api/v1/jobs/${bad.id}`)).attempt >= 2, 10_000, 200);
  const long = await api('POST', '/api/v1/jobs', { name: 'long-one', payload: sh('sleep 30') });
  await admin.goto(`${URL_}/ui/jobs/${long.id}`);
  await assertRendered(admin, 'view-job');
  await admin.click('[data-testid="job-cancel"]');
  if (await admin.locator('[data-testid="job-confirm"]').count()) await admin.click('[data-testid="job-confirm"]');
  await until('the job is CANCELLED', async () => (await api('GET', `/api/v1/jobs/${long.id}`)).status === 'CANCELLED', 10_000, 200);
  await until('the page says CANCELLED', async () => (await admin.locator('main').innerText()).includes('CANCELLED'), 5_000);
  noErrors(admin);
});

// ---- time travel ----
const countsOnPage = async (page) =>
  page.evaluate(() => {
    const o = {};
    for (const el of document.querySelectorAll('[data-testid="point-counts"] [data-status]')) o[el.dataset.status] = Number(el.dataset.count);
    return o;
  });
async function countsMatch(page, seq) {
  const st = await api('GET', `/api/v1/state?at_seq=${seq}`);
  let last = '';
  await until(`the counts at seq ${seq} match GET /api/v1/state`, async () => {
    if ((await page.getAttribute('[data-testid="point-counts"]', 'data-seq')) !== String(seq)) return false;
    const c = await countsOnPage(page);
    const diff = Object.keys(c).filter((k) => c[k] !== (st.jobs[k] ?? 0));
    last = JSON.stringify({ page: c, api: st.jobs });
    return Object.keys(c).length === 7 && diff.length === 0;
  }, 5_000).catch((e) => {
    throw new Error(`${e.message}: ${last}`);
  });
}

await check('time travel: a pinned link and the slider show the counts GET /api/v1/state?at_seq=N answers', async () => {
  const head = await api('GET', '/api/v1/state');
  const mid = Math.max(2, Math.floor(head.applied_seq / 2));
  await admin.goto(`${URL_}/ui/?at=${mid}`);
  await assertRendered(admin, 'view-overview');
  await countsMatch(admin, mid);
  await shot(admin, 'timetravel-overview');
  // the slider: Home goes to the first seq, then → steps; it commits after a short rest
  await admin.focus('[data-testid="time-slider"]');
  await admin.keyboard.press('Home');
  for (let i = 0; i < 5; i++) await admin.keyboard.press('ArrowRight');
  await until('the URL carries the slider point', async () => urlAt(admin) !== String(mid), 3_000);
  const at = Number(urlAt(admin));
  await countsMatch(admin, at);
  // every view renders at that point: the jobs view reads its pages at_seq
  await admin.click('[data-testid="nav-jobs"]');
  await assertRendered(admin, 'view-jobs');
  if (urlAt(admin) !== String(at)) throw new Error(`the point was lost on navigation: ${admin.url()}`);
  const page = await api('GET', `/api/v1/jobs?at_seq=${at}&limit=500`);
  const want = page.jobs.map((j) => j.id).sort();
  await until('the jobs view shows the jobs of that point', async () => {
    const got = (await admin.locator('[data-testid="job-row"]').evaluateAll((r) => r.map((x) => x.dataset.jobId))).sort();
    // the table is virtual: all of them when they fit, else a window of them, every one of that point
    return want.length <= 10 ? JSON.stringify(got) === JSON.stringify(want) : got.length >= 10 && got.every((id) => want.includes(id));
  }, 5_000);
  await shot(admin, 'timetravel-jobs');
  // and every other view renders at that point, reading at_seq
  for (const [id, testid] of VIEWS) {
    await admin.click(`[data-testid="nav-${id}"]`);
    await assertRendered(admin, testid);
    if (urlAt(admin) !== String(at)) throw new Error(`${id}: the point was lost: ${admin.url()}`);
    if (await admin.locator('[data-testid="schedules-now-note"]').count()) throw new Error(`${id}: answered as of now, not seq ${at}`);
  }
  await shot(admin, 'timetravel-events');
  await admin.click('[data-testid="back-to-live"]');
  await until('back to live', async () => urlAt(admin) === null, 3_000);
  noErrors(admin);
});

await check('the date-time picker moves to the last seq at or before that time', async () => {
  const now = new Date();
  const p = (n) => String(n).padStart(2, '0');
  const local = `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}T${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}`;
  await admin.fill('[data-testid="time-picker"]', local);
  await until('the picker pinned a point', async () => urlAt(admin) !== null, 5_000);
  const at = Number(urlAt(admin));
  const st = await api('GET', `/api/v1/state?as_of=${encodeURIComponent(new Date(local).toISOString())}`);
  if (st.seq !== at) throw new Error(`picker pinned ${at}, as_of answers ${st.seq}`);
  await admin.click('[data-testid="back-to-live"]');
  noErrors(admin);
});

await check('play mode replays history in order, then at 100x reaches the head and goes live', async () => {
  await admin.goto(`${URL_}/ui/events?at=3`);
  await assertRendered(admin, 'view-events');
  // 1x: the test's own history is a minute long, so the point moves many times
  await admin.selectOption('[data-testid="play-speed"]', '1');
  await admin.click('[data-testid="play"]');
  const seen = [];
  await until('the point advances three times', async () => {
    const a = Number(urlAt(admin));
    if (a && a !== seen[seen.length - 1]) seen.push(a);
    return seen.length >= 4;
  }, 20_000, 50);
  if (seen.some((s, i) => i > 0 && s < seen[i - 1])) throw new Error(`the replay went back: ${seen}`);
  console.log(`# replay points at 1x: ${seen.join(' ')}`);
  await shot(admin, 'timetravel-play');
  await admin.selectOption('[data-testid="play-speed"]', '100');
  await until('the replay reaches the head and goes live', async () => urlAt(admin) === null, 30_000, 100);
  await assertRendered(admin, 'view-events');
  noErrors(admin);
});

await check('readable on a tablet (820x1180): no page-wide horizontal scroll on any view', async () => {
  await admin.setViewportSize({ width: 820, height: 1180 });
  try {
    for (const [id, testid] of VIEWS) {
      await admin.click(`[data-testid="nav-${id}"]`);
      await assertRendered(admin, testid);
      const over = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (over > 1) throw new Error(`${id}: the page is ${over} px wider than the screen`);
      if (id === 'jobs' || id === 'overview') await shot(admin, `tablet-${id}`);
    }
  } finally {
    await admin.setViewportSize({ width: 1280, height: 720 });
  }
  noErrors(admin);
});

// ---- a user ----
const user = await newPage('user');
await check('a user sees only their jobs and no admin controls', async () => {
  const mine = await api('POST', '/api/v1/jobs', { name: 'alice-own', payload: sh('sleep 20') }, USER_TOKEN);
  await user.goto(`${URL_}/ui/`);
  await user.waitForSelector('[data-testid="view-login"]');
  await user.fill('#login-token', USER_TOKEN);
  await user.click('button[type="submit"]');
  await until('signed in as alice', async () => (await user.locator('[data-testid="principal"]').innerText()).includes('alice'), 5_000);
  user.djsSignedIn = true;
  await assertRendered(user, 'view-jobs');
  await user.waitForSelector(`[data-testid="job-row"][data-job-id="${mine.id}"]`, { timeout: 5_000 });
  const ids = await user.locator('[data-testid="job-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.jobId));
  if (ids.length !== 1) throw new Error(`alice sees ${ids.length} jobs: ${ids}`);
  for (const id of ['overview', 'workers', 'events'])
    if (await user.locator(`[data-testid="nav-${id}"]`).count()) throw new Error(`a user sees the ${id} view`);
  if (await user.locator('[data-testid="point-counts"]').count()) throw new Error('a user sees the whole system\'s counts');
  await shot(user, 'user-jobs');
  await user.goto(`${URL_}/ui/workers`);
  await user.waitForSelector('[data-testid="state-error"]');
  if (await user.locator('[data-testid="worker-row"]').count()) throw new Error('a user sees the workers');
  user.djsExpect.push(/status of 404/);
  await user.goto(`${URL_}/ui/jobs/${wf.jobs[0].id}`);
  await user.waitForSelector('[data-testid="job-not-found"]', { timeout: 5_000 });
  for (const a of ['retry', 'cancel', 'delete'])
    if (await user.locator(`[data-testid="job-${a}"]`).count()) throw new Error(`a user gets ${a} on another's job`);
  await user.goto(`${URL_}/ui/jobs/${mine.id}`);
  await assertRendered(user, 'view-job');
  await until('the job shows its worker', async () => (await user.locator('main').innerText()).includes('RUNNING'), 10_000);
  if (await user.locator('a[href*="/ui/workers"]').count()) throw new Error('a user gets links to the staff-only Workers view');
  await axe(user, 'user job');
  await api('POST', `/api/v1/jobs/${mine.id}/cancel`, undefined, USER_TOKEN);
  noErrors(user);
});

// ---- the server goes away and comes back ----
if (KILL && START) {
  await check('kill -9 and restart the server: a banner, then the page resumes without gaps', async () => {
    await admin.goto(`${URL_}/ui/jobs`);
    await assertRendered(admin, 'view-jobs');
    admin.djsExpect.push(/ERR_CONNECTION_REFUSED|WebSocket|status of 50[234]|Failed to load resource/);
    execSync(KILL, { stdio: 'inherit', shell: '/bin/bash' });
    // something to notice the outage: the stream drops, the next read fails
    // the live stream drops: the shell checks /health and says so
    await admin.waitForSelector('[data-testid="conn-banner"]', { timeout: 10_000 });
    await shot(admin, 'server-down');
    execSync(START, { stdio: 'inherit', shell: '/bin/bash' });
    const during = await api('POST', '/api/v1/jobs', { name: 'after-restart', payload: sh('echo back') });
    await until('the job submitted after the restart appears live', async () => (await admin.locator(`[data-testid="job-row"][data-job-id="${during.id}"]`).count()) === 1, 20_000, 200);
    await until('the banner is gone', async () => (await admin.locator('[data-testid="conn-banner"]').count()) === 0, 20_000, 250);
    // no gap, no duplicate: the rows the page holds are the API's jobs, each once
    const rows = await admin.locator('[data-testid="job-row"]').evaluateAll((r) => r.map((x) => x.dataset.jobId));
    if (new Set(rows).size !== rows.length) throw new Error('a job shows twice');
    await shot(admin, 'server-back');
    admin.djsExpect.length = 0;
    noErrors(admin);
  });
}

await browser.close();
console.log(failures ? `# ${failures} check(s) failed` : '# all checks passed');
process.exit(failures ? 1 : 0);
