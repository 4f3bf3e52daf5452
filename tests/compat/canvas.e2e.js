// The real OpenHands web client, Agent Canvas (npm @openhands/agent-canvas, unmodified), on Akka.Sync, in Debian's
// chromium driven by playwright-core. It starts its own Akka.Sync servers (the Gateway dll) on loopback, walks a new
// user's path through the canvas, and records every request the page makes and every frame its sockets receive.
//
// Usage: node canvas.e2e.js <gateway dll> <canvas build dir> <artifacts dir>
// Prints one JSON summary line; exits non-zero on any failure.
const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const [gatewayDll, canvasDir, artifacts] = process.argv.slice(2);
const STEP_TIMEOUT = 30000;
const children = new Set();
const summary = { ok: false, steps: [], failures: [], screenshots: [] };

// Routes of a real sandbox (terminal, files, git, automation service): not part of an event-sync server. The canvas
// calls them on the conversation page and tolerates their 404 silently (no toast); they are reported, not failed.
const OUT_OF_SCOPE = [/^\/api\/bash\//, /^\/sockets\/bash-events/, /^\/api\/git\//, /^\/api\/vscode\//, /^\/api\/automation\//,
  /^\/api\/file\/(?!home)/, /^\/api\/desktop\//];
const outOfScopeSeen = new Map();
let lastPage = null; // for the screenshot of a failure
const current = { main: null }; // the main server, also after its restart

function fail(message) {
  throw new Error(message);
}

function step(name, detail) {
  summary.steps.push(detail === undefined ? name : `${name}: ${JSON.stringify(detail)}`);
}

// ---- servers ----

async function startServer(name, settings, port = 0, dataDir = null) {
  dataDir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), `akka-sync-canvas-${name}-`));
  const args = [gatewayDll, `--urls=http://127.0.0.1:${port}`, `--Persistence:DataDirectory=${dataDir}`,
    '--Logging:LogLevel:Default=Warning', '--Logging:LogLevel:Akka.Sync.Gateway=Information', '--Logging:LogLevel:Akka=Warning'];
  for (const [k, v] of Object.entries(settings)) args.push(`--${k}=${v}`);
  const proc = spawn('dotnet', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1' } });
  children.add(proc);
  const log = fs.createWriteStream(path.join(artifacts, `canvas-server-${name}.log`), { flags: 'a' });
  proc.stdout.pipe(log);
  proc.stderr.pipe(log);
  const base = await new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${name}: server did not start in 60 s`)), 60000);
    proc.stdout.on('data', (chunk) => {
      buffer += chunk.toString();
      const m = buffer.match(/serving (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${name}: server exited with ${code} before serving`)); });
  });
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(`${base}/ready`)).ok) return { name, proc, base, dataDir, settings }; } catch { /* not yet */ }
    await sleep(100);
  }
  fail(`${name}: server not ready in 30 s`);
}

async function stopServer(server) {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) { children.delete(server.proc); return; }
  const exited = new Promise((resolve) => server.proc.once('exit', resolve));
  server.proc.kill('SIGTERM');
  const timer = setTimeout(() => server.proc.kill('SIGKILL'), 20000);
  await exited;
  clearTimeout(timer);
  children.delete(server.proc);
}

function killAll() {
  for (const p of children) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
}
process.on('exit', killAll);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(server, method, route, body, key) {
  const headers = { 'content-type': 'application/json' };
  if (key) headers['X-Session-API-Key'] = key;
  const res = await fetch(server.base + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${route} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function until(what, predicate, timeoutMs = STEP_TIMEOUT) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function allEvents(server, id, key) {
  const items = [];
  let page = null;
  for (let i = 0; i < 1000; i++) {
    const r = await api(server, 'GET', `/api/conversations/${id}/events/search?limit=100${page ? `&page_id=${page}` : ''}`, undefined, key);
    items.push(...r.items);
    if (!r.next_page_id) return items;
    page = r.next_page_id;
  }
  fail('too many pages');
}

const statusOf = async (server, id, key) => (await api(server, 'GET', `/api/conversations/${id}`, undefined, key)).execution_status;

// ---- the browser ----

/** A fresh browser context (its own storage) whose page is watched: requests, page errors, toasts, socket frames. */
async function openPage(browser, servers, { onboarded = true, origin = null } = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  if (onboarded) await context.addInitScript(() => localStorage.setItem('openhands-onboarded', '1'));
  await context.addInitScript(() => {
    window.__toasts = [];
    new MutationObserver(() => {
      for (const t of document.querySelectorAll('[data-rht-toaster] [role="status"]')) {
        const text = t.textContent.trim();
        if (text && !window.__toasts.includes(text)) { window.__toasts.push(text); (window.__toastTimes = window.__toastTimes || []).push([Date.now(), text]); }
      }
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  lastPage = page;
  const watch = { requests: [], bad: [], errors: [], sockets: [] };
  const bases = () => servers.map((s) => s.base).concat(origin ? [origin] : []);
  page.on('pageerror', (e) => watch.errors.push(e.message));
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (!bases().includes(url.origin)) return; // fonts, telemetry: the network is closed here
    const route = url.pathname + url.search;
    watch.requests.push(`${Date.now()} ${r.status()} ${r.request().method()} ${route}`);
    if (r.status() >= 400) {
      if (OUT_OF_SCOPE.some((re) => re.test(url.pathname))) outOfScopeSeen.set(`${r.request().method()} ${url.pathname.replace(/[0-9a-f]{32}/, '{id}')}`, r.status());
      else if (!(watch.allow || []).some((re) => re.test(route))) watch.bad.push(`${r.status()} ${r.request().method()} ${route}`);
    }
  });
  page.on('websocket', (ws) => {
    const url = new URL(ws.url());
    if (OUT_OF_SCOPE.some((re) => re.test(url.pathname))) return;
    const socket = { url: ws.url(), ids: [], frames: 0 };
    watch.sockets.push(socket);
    ws.on('framereceived', (f) => {
      socket.frames++;
      try {
        const e = JSON.parse(f.payload);
        if (e.key !== 'full_state') socket.ids.push(e.id);
      } catch { /* not JSON */ }
    });
  });
  return { context, page, watch };
}

async function errorToasts(page) {
  const toasts = await page.evaluate(() => window.__toasts || []);
  return toasts.filter((t) => /fail|error|not exist|unable|invalid|denied|unauthori|not found|\b[45]\d\d\b/i.test(t));
}

/** Nothing the page needed failed, no page error, no error toast, and no socket got the same event twice. */
async function assertClean(where, { page, watch }) {
  if (watch.bad.length) fail(`${where}: failed requests ${JSON.stringify(watch.bad)}`);
  if (watch.errors.length) fail(`${where}: page errors ${JSON.stringify(watch.errors)}`);
  const toasts = await errorToasts(page);
  if (toasts.length) {
    const times = await page.evaluate(() => window.__toastTimes || []);
    fail(`${where}: error toasts ${JSON.stringify(toasts)} at ${JSON.stringify(times)} after ${JSON.stringify(watch.requests.filter((r) => !r.includes('/assets/')))}`);
  }
  for (const s of watch.sockets) {
    const seen = new Set();
    for (const id of s.ids) {
      if (seen.has(id)) fail(`${where}: socket ${s.url} got event ${id} twice`);
      seen.add(id);
    }
  }
}

async function shot(page, name) {
  const file = path.join(artifacts, `canvas-${name}.png`);
  await page.screenshot({ path: file });
  summary.screenshots.push(file);
}

const userMessages = (page) => page.locator('[data-testid="chat-scroll-container"] [data-testid="user-message"]');
const agentMessages = (page, text) => page.locator('[data-testid="chat-scroll-container"] [data-testid="agent-message"]', { hasText: text });

async function sendFromComposer(page, text) {
  const input = page.locator('[data-testid="interactive-chat-box"] [data-testid="chat-input"]');
  await input.click();
  await page.keyboard.type(text);
  await page.locator('[data-testid="interactive-chat-box"] [data-testid="submit-button"]').click();
}

async function newChatFromHome(page, text) {
  const input = page.locator('[data-testid="home-chat-launcher"] [data-testid="chat-input"]');
  await input.click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/conversations\/[0-9a-f-]{32,36}$/);
  return new URL(page.url()).pathname.split('/').pop().replace(/-/g, '');
}

async function expectAnswerOnce(page, said) {
  const answer = agentMessages(page, `You said: "${said}"`);
  await answer.first().waitFor();
  const n = await answer.count();
  if (n !== 1) fail(`the answer to "${said}" is shown ${n} times`);
}

async function cardStatus(page) {
  return page.locator('[data-testid="conversation-card"][data-active="true"] [data-testid^="conversation-status-"]').first().getAttribute('data-testid');
}

// ---- scenarios ----

async function firstRun(browser, server) {
  // A conversation made before the browser arrives: the list must come from our search.
  const existing = await api(server, 'POST', '/api/conversations', { title: 'Made before the browser came' });
  const view = await openPage(browser, [server], { onboarded: false });
  const { page } = view;
  await page.goto(server.base + '/');
  // The canvas' own first-run wizard; with its backend already connected it starts at "Choose your agent". Its LLM
  // step has nothing to set here (the agent is attached on the server), so a new user skips it.
  await page.locator('[data-testid="onboarding-modal"]').waitFor();
  await page.locator('[data-testid="onboarding-step-choose-agent"]').waitFor();
  if (await page.locator('[data-testid="onboarding-backend-disconnected"]').count()) fail('first run: the wizard says the backend is disconnected');
  await shot(page, 'onboarding');
  await page.locator('[data-testid="onboarding-skip"]').click();
  await page.locator('[data-testid="backend-status-dot"][data-status="connected"]').first().waitFor();
  await page.locator('[data-testid="conversation-card-title"]', { hasText: 'Made before the browser came' }).waitFor();
  await page.locator('[data-testid="home-chat-launcher"] [data-testid="chat-input"]').waitFor();
  await sleep(6000); // let the boot calls, their retries (1 s, 2 s) and their toasts settle
  if (await page.locator('[data-testid="telemetry-consent-form"]').count()) fail('first run: the consent modal is shown');
  if (await page.locator('[data-testid="home-llm-not-configured-banner"]').count()) fail('first run: "LLM is not set up" banner');
  await shot(page, 'first-run');
  await assertClean('first run', view);
  step('first run', { backend: 'connected', listed: existing.id });
  return view;
}

async function chat(browser, server, view) {
  const { page } = view;
  // A new chat from the home page: the canvas creates the conversation with its own body and first message.
  const id = await newChatFromHome(page, 'hello from the canvas');
  await expectAnswerOnce(page, 'hello from the canvas');
  await until('finished', async () => (await statusOf(server, id)) === 'finished');
  await until('the finished dot', async () => (await cardStatus(page)) === 'conversation-status-check');
  await shot(page, 'live-answer');
  step('new chat answered live', { id });

  // Send, then Stop while the agent runs (the demo agent takes its time here), then resume.
  await sendFromComposer(page, 'second message');
  await page.locator('[data-testid="stop-button"]').waitFor();
  await page.getByText('Running', { exact: true }).first().waitFor();
  await page.locator('[data-testid="stop-button"]').click();
  await page.locator('[data-testid="play-button"]').waitFor();
  await page.getByText('Stopped', { exact: true }).first().waitFor();
  if ((await statusOf(server, id)) !== 'paused') fail('stop did not pause');
  await until('the paused dot', async () => (await cardStatus(page)) === 'conversation-status-paused');
  await shot(page, 'stopped');
  await page.locator('[data-testid="play-button"]').click();
  await page.locator('[data-testid="stop-button"]').waitFor();
  await expectAnswerOnce(page, 'second message');
  await until('finished again', async () => (await statusOf(server, id)) === 'finished');
  if (await agentMessages(page, 'You said: ""').count()) fail('the resumed run answered an empty message');
  const events = await allEvents(server, id);
  const kinds = events.map((e) => e.kind);
  if (!kinds.includes('InterruptEvent')) fail('stop did not go through /interrupt');
  step('stop and resume', { statuses: ['running', 'paused', 'running', 'finished'], events: events.length });
  await assertClean('chat', view);
  return id;
}

async function reloadAndRestart(browser, server, view, id) {
  const { page } = view;
  const counts = async () => ({ user: await userMessages(page).count(), agent: await agentMessages(page, 'You said').count() });
  const before = await counts();
  await page.reload();
  await agentMessages(page, 'You said: "second message"').waitFor();
  await sleep(1000);
  const afterReload = await counts();
  if (JSON.stringify(afterReload) !== JSON.stringify(before)) fail(`reload changed the messages: ${JSON.stringify(before)} -> ${JSON.stringify(afterReload)}`);
  step('reload', afterReload);

  // The server restarts on the same port and data: the page's socket reconnects by itself. A stopping server closes it
  // with 1012 at once, so the page starts retrying while the server is still down: count its sockets from before the stop.
  const port = new URL(server.base).port;
  const socketsBefore = view.watch.sockets.length;
  await stopServer(server);
  const restarted = await startServer(server.name, server.settings, port, server.dataDir);
  current.main = restarted;
  await until('the socket to reconnect', async () => view.watch.sockets.length > socketsBefore
    && view.watch.sockets.slice(socketsBefore).some((s) => s.frames > 0), 120000); // its backoff: 1, 2, 4, 8, 16, 30 s
  await sendFromComposer(page, 'after the restart');
  await expectAnswerOnce(page, 'after the restart');
  await until('finished after restart', async () => (await statusOf(restarted, id)) === 'finished');
  const after = await counts();
  if (after.user !== before.user + 1 || after.agent !== before.agent + 1) fail(`after the restart: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  await assertClean('reload and restart', view);
  step('server restart', { ...after, sockets: view.watch.sockets.length });
  return restarted;
}

async function olderHistory(browser, server) {
  // A long conversation, ingested by an agent in batches: the canvas shows the newest 50 and pages back on scroll.
  const { id } = await api(server, 'POST', '/api/conversations', { title: 'A long conversation' });
  const total = 2000;
  for (let b = 0; b < total / 500; b++) {
    const batch = [];
    for (let i = b * 500; i < (b + 1) * 500; i++) {
      const source = i % 2 === 0 ? 'user' : 'agent';
      batch.push({ kind: 'MessageEvent', source, llm_message: { role: source === 'user' ? 'user' : 'assistant', content: [{ type: 'text', text: `m-${String(i + 1).padStart(4, '0')}` }] } });
    }
    await api(server, 'POST', `/api/conversations/${id}/agent/events`, batch);
  }
  const stored = (await allEvents(server, id)).map((e) => e.id);
  const view = await openPage(browser, [server]);
  const { page } = view;
  const pages = [];
  page.on('response', async (r) => {
    if (r.url().includes(`/api/conversations/${id}/events/search`)) {
      try { pages.push({ url: r.url(), body: await r.json() }); } catch { /* navigation */ }
    }
  });
  await page.goto(`${server.base}/conversations/${id}`);
  await userMessages(page).first().waitFor();
  const container = page.locator('[data-testid="chat-scroll-container"]');
  const done = () => pages.length > 0 && pages[pages.length - 1].body.next_page_id === null;
  for (let i = 0; i < 200 && !done(); i++) {
    const n = pages.length;
    await container.evaluate((el) => { el.scrollTop = 0; });
    await container.hover();
    await page.mouse.wheel(0, -2000);
    await until('an older page', async () => pages.length > n || done(), 10000).catch(() => {});
  }
  if (!done()) fail(`paging did not reach the start: ${pages.length} pages`);
  const seen = new Map();
  for (const p of pages) for (const e of p.body.items) seen.set(e.id, (seen.get(e.id) || 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1);
  const missing = stored.filter((e) => !seen.has(e));
  if (twice.length) fail(`history pages repeated ${twice.length} events`);
  if (missing.length) fail(`history pages missed ${missing.length} events`);
  await page.getByText('m-0001', { exact: true }).first().waitFor();
  await assertClean('older history', view);
  step('older history', { events: stored.length, pages: pages.length });
  await view.context.close();
}

async function confirmation(browser, server) {
  const { id } = await api(server, 'POST', '/api/conversations', { title: 'Needs confirmation' });
  const askFor = async (command) => {
    const actionId = crypto.randomUUID();
    const call = `call_${actionId.slice(0, 8)}`;
    await api(server, 'POST', `/api/conversations/${id}/agent/events`, [
      { kind: 'ActionEvent', id: actionId, source: 'agent', thought: [{ type: 'text', text: `I want to run ${command}` }],
        action: { kind: 'ExecuteBashAction', command, is_input: false, timeout: null, reset: false },
        tool_name: 'execute_bash', tool_call_id: call,
        tool_call: { id: call, name: 'execute_bash', arguments: JSON.stringify({ command }), origin: 'completion' },
        llm_response_id: `resp-${actionId.slice(0, 8)}`, security_risk: 'LOW' },
      { kind: 'ConversationStateUpdateEvent', source: 'environment', key: 'execution_status', value: 'waiting_for_confirmation' },
    ]);
  };
  await askFor('rm -rf /tmp/scratch');
  const view = await openPage(browser, [server]);
  const { page } = view;
  await page.goto(`${server.base}/conversations/${id}`);
  await page.locator('[data-testid="action-reject-button"]').click();
  await until('idle after the rejection', async () => (await statusOf(server, id)) === 'idle');
  if (!(await allEvents(server, id)).some((e) => e.kind === 'UserRejectObservation')) fail('no UserRejectObservation after reject');
  await askFor('ls');
  await page.locator('[data-testid="action-confirm-button"]').click();
  await until('running after the confirmation', async () => ['running', 'finished'].includes(await statusOf(server, id)));
  await assertClean('confirmation', view);
  step('confirmation', { reject: 'UserRejectObservation, idle', accept: 'running' });
  await view.context.close();
}

async function withKeys(browser) {
  const key = 'canvas-test-server-key';
  // The key handed to the page, as the canvas' own static server does.
  const injected = await startServer('keys-injected', {
    'Web:CanvasPath': canvasDir, 'Auth:SessionApiKeys:0': key, 'Web:CanvasSessionApiKey': key, 'Agent:DemoStepDelay': '00:00:00.200',
  });
  try {
    const view = await openPage(browser, [injected]);
    await view.page.goto(injected.base + '/');
    await view.page.locator('[data-testid="backend-status-dot"][data-status="connected"]').first().waitFor();
    const id = await newChatFromHome(view.page, 'hello with a key');
    await expectAnswerOnce(view.page, 'hello with a key');
    await until('finished', async () => (await statusOf(injected, id, key)) === 'finished');
    await assertClean('injected key', view);
    await view.context.close();
    step('server key handed to the page', { id });
  } finally {
    await stopServer(injected);
  }
  // No key handed out: the page asks its user for one, and a wrong one is refused.
  const asking = await startServer('keys-asked', {
    'Web:CanvasPath': canvasDir, 'Auth:SessionApiKeys:0': key, 'Agent:DemoStepDelay': '00:00:00.200',
  });
  try {
    const view = await openPage(browser, [asking]);
    view.watch.allow = [/^\/api\/settings$/]; // the wrong key's 401, on purpose
    await view.page.goto(asking.base + '/');
    await view.page.locator('[data-testid="api-key-entry-screen"]').waitFor();
    await view.page.locator('[data-testid="api-key-entry-name"]').fill('Akka.Sync');
    const keyInput = view.page.locator('[data-testid="api-key-entry-api-key"]');
    await keyInput.fill('not-the-key');
    await view.page.locator('[data-testid="api-key-entry-submit"]').click();
    await view.page.locator('[data-testid="api-key-entry-status"].text-red-400').waitFor();
    await keyInput.fill(key);
    await view.page.locator('[data-testid="api-key-entry-submit"]').click();
    await view.page.locator('[data-testid="backend-status-dot"][data-status="connected"]').first().waitFor();
    const id = await newChatFromHome(view.page, 'hello after typing the key');
    await expectAnswerOnce(view.page, 'hello after typing the key');
    await until('finished', async () => (await statusOf(asking, id, key)) === 'finished');
    await assertClean('key typed by the user', view);
    await view.context.close();
    step('server key typed by the user', { id, wrongKey: 401 });
  } finally {
    await stopServer(asking);
  }
}

async function separateOrigin(browser) {
  // The canvas served by a plain static server on another origin; Akka.Sync allows that origin by configuration only.
  const staticServer = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.join(canvasDir, decodeURIComponent(url.pathname));
    if (!file.startsWith(canvasDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(canvasDir, 'index.html');
    const type = { '.js': 'application/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.html': 'text/html' }[path.extname(file)] || 'application/octet-stream';
    res.writeHead(200, { 'content-type': type });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => staticServer.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${staticServer.address().port}`;
  const key = 'separate-origin-key';
  const backend = await startServer('separate-origin', {
    'Cors:AllowLoopbackOrigins': 'false', 'Cors:AllowedOrigins:0': origin, 'Auth:SessionApiKeys:0': key, 'Agent:DemoStepDelay': '00:00:00.200',
  });
  try {
    const view = await openPage(browser, [backend], { origin });
    const { page } = view;
    await page.goto(origin + '/');
    // No backend yet: the canvas offers Manage backends; add this server through its form.
    await page.locator('[data-testid="manage-backends-add"]').click();
    await page.locator('[data-testid="add-backend-option-agent-server"]').click();
    await page.locator('[data-testid="add-backend-name"]').fill('Akka.Sync');
    await page.locator('[data-testid="add-backend-host"]').fill(backend.base);
    await page.locator('[data-testid="add-backend-api-key"]').fill(key);
    await page.locator('[data-testid="add-backend-submit"]').click();
    await page.locator('[data-testid="add-backend-modal"]').waitFor({ state: 'detached' });
    const done = page.locator('[data-testid="manage-backends-done"]');
    if (await done.count()) await done.click();
    await page.locator('[data-testid="backend-status-dot"][data-status="connected"]').first().waitFor();
    const id = await newChatFromHome(page, 'hello across origins');
    await expectAnswerOnce(page, 'hello across origins');
    await until('finished', async () => (await statusOf(backend, id, key)) === 'finished');
    await assertClean('separate origin', view);
    // The allowed origin gets CORS; any other is refused it.
    const other = await fetch(`${backend.base}/api/settings`, { method: 'OPTIONS', headers: { Origin: 'http://127.0.0.1:1', 'Access-Control-Request-Method': 'GET' } });
    if (other.headers.get('access-control-allow-origin')) fail('an origin that is not configured got CORS');
    await view.context.close();
    step('separate origin via Manage backends', { origin, id });
  } finally {
    await stopServer(backend);
    staticServer.close();
  }
}

async function behindAkkaSync(browser) {
  // The canvas on an Akka.Sync that fronts another Akka.Sync in demo mode (issue 16): the front starts each conversation
  // upstream with the canvas' own body and follows it; the front has no agent of its own. The upstream demo agent's
  // answer flows upstream -> follower -> canvas; Stop and resume are forwarded upstream and their statuses come back.
  const key = 'canvas-upstream-session-key';
  const upstream = await startServer('upstream', { 'Auth:SessionApiKeys:0': key, 'Agent:DemoStepDelay': '00:00:01.500' });
  const front = await startServer('front', {
    'Web:CanvasPath': canvasDir, 'Agent:Mode': 'external', 'Upstream:Url': upstream.base, 'Upstream:SessionApiKey': key,
  });
  try {
    const view = await openPage(browser, [front]);
    const { page } = view;
    await page.goto(front.base + '/');
    await page.locator('[data-testid="backend-status-dot"][data-status="connected"]').first().waitFor();
    const id = await newChatFromHome(page, 'hello through the front');
    await expectAnswerOnce(page, 'hello through the front');
    await until('finished upstream', async () => (await statusOf(upstream, id, key)) === 'finished');
    await until('finished on the front', async () => (await statusOf(front, id)) === 'finished');

    await sendFromComposer(page, 'stop me upstream');
    await page.locator('[data-testid="stop-button"]').waitFor();
    await page.getByText('Running', { exact: true }).first().waitFor();
    await page.locator('[data-testid="stop-button"]').click();
    await page.locator('[data-testid="play-button"]').waitFor();
    await page.getByText('Stopped', { exact: true }).first().waitFor();
    if ((await statusOf(upstream, id, key)) !== 'paused') fail('stop on the front did not pause the upstream');
    await page.locator('[data-testid="play-button"]').click();
    await expectAnswerOnce(page, 'stop me upstream');
    await until('finished again upstream', async () => (await statusOf(upstream, id, key)) === 'finished');
    await until('finished again on the front', async () => (await statusOf(front, id)) === 'finished');

    // The front holds exactly the upstream's log, in its order; the link is live; the key never reached the page.
    const ups = await allEvents(upstream, id, key);
    const fronts = await allEvents(front, id);
    if (JSON.stringify(ups.map((e) => e.id)) !== JSON.stringify(fronts.map((e) => e.id))) fail(`the front's log differs from the upstream's: ${ups.length} vs ${fronts.length}`);
    const users = fronts.filter((e) => e.kind === 'MessageEvent' && e.source === 'user').map((e) => e.llm_message.content[0].text);
    if (JSON.stringify(users) !== JSON.stringify(['hello through the front', 'stop me upstream'])) fail(`user messages: ${JSON.stringify(users)}`);
    if (!fronts.some((e) => e.kind === 'InterruptEvent')) fail('stop did not reach the upstream as /interrupt');
    const link = (await api(front, 'GET', `/api/conversations/${id}`)).upstream;
    if (!link || link.state !== 'live' || !link.connected) fail(`link: ${JSON.stringify(link)}`);
    if (view.watch.requests.some((r) => r.includes(key))) fail('the upstream key reached the page');
    await shot(page, 'behind-akka-sync');
    await assertClean('behind an upstream Akka.Sync', view);
    step('canvas on Akka.Sync following an upstream Akka.Sync', { id, events: fronts.length, link: link.state });
    await view.context.close();
  } finally {
    await stopServer(front);
    await stopServer(upstream);
  }
}

(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let server = null;
  try {
    // The embedded default, open, with the canvas on its own origin; the demo agent slow enough to press Stop.
    server = current.main = await startServer('main', { 'Web:CanvasPath': canvasDir, 'Agent:DemoStepDelay': '00:00:01.500' });
    const view = await firstRun(browser, server);
    const id = await chat(browser, server, view);
    server = await reloadAndRestart(browser, server, view, id);
    await view.context.close();
    await olderHistory(browser, server);
    await confirmation(browser, server);
    await withKeys(browser);
    await separateOrigin(browser);
    await behindAkkaSync(browser);
    summary.ok = true;
  } catch (e) {
    summary.failures.push(String(e && e.stack || e));
    if (lastPage) {
      const file = path.join(artifacts, 'canvas-failure.png');
      await lastPage.screenshot({ path: file }).then(() => summary.screenshots.push(file), () => {});
      summary.failureText = await lastPage.innerText('body').then((t) => t.slice(0, 2000), () => null);
    }
  } finally {
    summary.outOfScope = Object.fromEntries(outOfScopeSeen);
    if (current.main) await stopServer(current.main).catch(() => {});
    await browser.close();
    killAll();
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(summary.ok ? 0 : 1);
})();
