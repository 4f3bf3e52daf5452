// Soak: N real socket.io clients (separate connections) on one V0 conversation; each checks that it receives
// every event id exactly once, in increasing order. Usage: node v0-soak.js <url> <conversation> <clients> <expected ids>
// Prints {"ready":true} when every client is connected, then one summary line when all have every event (or at the deadline).
const { io } = require('socket.io-client');
const [url, conversationId, clientsArg, expectedArg, deadlineArg] = process.argv.slice(2);
const clients = Number(clientsArg), expected = Number(expectedArg), deadlineMs = Number(deadlineArg ?? 110000);
const stats = [];
let connected = 0, done = false;

const finish = () => {
  if (done) return;
  done = true;
  const ok = stats.every((s) => s.count === expected && s.inOrder && s.duplicates === 0);
  process.stdout.write(JSON.stringify({ ok, clients: stats.map(({ seen, socket, ...rest }) => rest) }) + '\n');
  stats.forEach((s) => s.socket.disconnect());
  process.exit(0);
};

for (let i = 0; i < clients; i++) {
  const s = { count: 0, inOrder: true, duplicates: 0, last: -1, seen: new Set() };
  s.socket = io(url, {
    transports: ['websocket'], forceNew: true, reconnection: false,
    query: { latest_event_id: -1, conversation_id: conversationId, providers_set: '', session_api_key: null },
  });
  s.socket.on('connect', () => { if (++connected === clients) process.stdout.write('{"ready":true}\n'); });
  s.socket.on('connect_error', (e) => { process.stdout.write(JSON.stringify({ error: e.message }) + '\n'); });
  s.socket.on('oh_event', (e) => {
    if (typeof e.id !== 'number' || e.observation === 'agent_state_changed') return;
    if (s.seen.has(e.id)) s.duplicates++;
    s.seen.add(e.id);
    if (e.id <= s.last) s.inOrder = false;
    s.last = e.id;
    s.count++;
    if (stats.every((x) => x.count >= expected)) finish();
  });
  stats.push(s);
}
setTimeout(finish, deadlineMs);
