// socket.io-client receivers for bench/Load: N sockets on one conversation, each counting "oh_event"s that carry
// a bench stamp {t: epoch µs at ingest, n}. Prints "ready" when all are connected, "progress <min count>" every
// 20 ms, and at the end one JSON line with counts and a log-linear latency histogram (µs).
// Usage: node receivers.js <url> <conversation_id> <sockets> <expected events> <timeout s>
//        node receivers.js replay <url> <conversation_id> <events>   (connection state recovery timing)
'use strict';
const { io } = require('socket.io-client');

const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

// Log-linear histogram of µs values: exact below 128, then 64 linear buckets per power of two (≤ 1.6% error).
const hist = new Float64Array(128 + 40 * 64);
function index(v) {
  v = Math.max(0, Math.round(v));
  if (v < 128) return v;
  const k = Math.floor(Math.log2(v)) - 6;          // v >> k lies in [64, 128)
  return Math.min(hist.length - 1, 128 + (k - 1) * 64 + (Math.floor(v / 2 ** k) - 64));
}
function lowest(i) {
  if (i < 128) return i;
  const k = Math.floor((i - 128) / 64) + 1;
  return (64 + (i - 128) % 64) * 2 ** k;
}
function record(v) { hist[index(v)]++; }
function percentile(p) {
  let total = 0; for (const c of hist) total += c;
  if (!total) return -1;
  const want = Math.ceil(total * p / 100);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) { seen += hist[i]; if (seen >= want) return lowest(i + 1) - 1; }
  return -1;
}

async function fanout(url, conv, n, expected, timeoutS) {
  expectedTarget = expected;
  const counts = new Int32Array(n);
  const sockets = [];
  let connected = 0;
  let firstUs = 0, lastUs = 0, total = 0;
  await new Promise((resolve, reject) => {
    for (let i = 0; i < n; i++) {
      const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, query: { conversation_id: conv } });
      s.on('connect', () => { if (++connected === n) resolve(); });
      s.on('connect_error', e => reject(e));
      s.on('oh_event', e => {
        const now = nowUs();
        if (typeof e.t === 'number') { record(now - e.t); counts[i]++; total++; if (!firstUs) firstUs = now; lastUs = now; }
      });
      sockets.push(s);
    }
  });
  process.stdout.write('ready\n');
  const deadline = Date.now() + timeoutS * 1000;
  const min = () => { let m = Infinity; for (const c of counts) if (c < m) m = c; return m; };
  await new Promise(resolve => {
    const timer = setInterval(() => {
      const m = min();
      process.stdout.write(`progress ${m}\n`);
      if (m >= expectedNow() || Date.now() > deadline) { clearInterval(timer); resolve(); }
    }, 20);
  });
  for (const s of sockets) s.close();
  process.stdout.write(JSON.stringify({ frames: total, first_us: firstUs, last_us: lastUs, p50_us: percentile(50), p99_us: percentile(99), p999_us: percentile(99.9) }) + '\n');
  process.exit(0);
}

// The expected count can be lowered by the driver (a time-capped run ingests fewer): "expect <n>" on stdin.
let expectedTarget = Infinity; // set from argv in fanout()
const expectedNow = () => expectedTarget;
process.stdin.setEncoding('utf8');
process.stdin.on('data', d => { for (const line of d.split('\n')) if (line.startsWith('expect ')) expectedTarget = Number(line.slice(7)); });

async function replay(url, conv, events) {
  // Connection state recovery: receive one packet, drop the transport, let the server emit `events` meanwhile,
  // reconnect, and time the recovered packets to the last one.
  const post = async batch => {
    const r = await fetch(`${url}/api/conversations/${conv}/agent/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    if (!r.ok) throw new Error(`ingest ${r.status}`);
  };
  const s = io(url, { transports: ['websocket'], reconnectionDelay: 1, reconnectionDelayMax: 1, query: { conversation_id: conv } });
  let got = 0, t0 = 0, done;
  const finished = new Promise(r => { done = r; });
  s.on('oh_event', e => { if (typeof e.n === 'number') { got++; if (got === events + 1) done(nowUs()); } });
  await new Promise(r => s.on('connect', r));
  await post([{ kind: 'BenchEvent', source: 'agent', t: nowUs(), n: 0 }]);
  while (got < 1) await new Promise(r => setTimeout(r, 5));
  // Transport drop with automatic reconnection off, so the events below are missed; connect() then asks for recovery.
  s.io.reconnection(false);
  s.io.engine.close();
  await new Promise(r => setTimeout(r, 50));
  for (let i = 0; i < events; i += 1000) {
    const batch = [];
    for (let k = i; k < Math.min(events, i + 1000); k++) batch.push({ kind: 'BenchEvent', source: 'agent', t: nowUs(), n: k + 1, pad: 'x'.repeat(96) });
    await post(batch);
  }
  t0 = nowUs();
  s.connect();
  const timeout = new Promise(r => setTimeout(() => r(0), 60000));
  const end = await Promise.race([finished, timeout]);
  process.stdout.write(JSON.stringify({ recovered: s.recovered === true, frames: got - 1, seconds: end ? (end - t0) / 1e6 : -1 }) + '\n');
  process.exit(0);
}

const a = process.argv.slice(2);
if (a[0] === 'replay') replay(a[1], a[2], Number(a[3])).catch(e => { console.error(e); process.exit(1); });
else fanout(a[0], a[1], Number(a[2]), Number(a[3]), Number(a[4])).catch(e => { console.error(e); process.exit(1); });
