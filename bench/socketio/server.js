// The npm socket.io baseline: socket.io 4.8 with connectionStateRecovery, the same ingest route shape as
// Akka.Sync (POST /api/conversations, POST /api/conversations/:id/agent/events, GET /ready), one room per
// conversation, each batch item broadcast once to its room as "oh_event". Only listens on 127.0.0.1.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { Server } = require('socket.io');

const port = Number(process.env.PORT || 0);
const conversations = new Map(); // id -> next seq

const server = http.createServer((req, res) => {
  const send = (code, body) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
  if (req.method === 'GET' && (req.url === '/ready' || req.url === '/alive')) return send(200, {});
  if (req.method === 'POST' && req.url === '/api/conversations') {
    const id = crypto.randomUUID().replace(/-/g, '');
    conversations.set(id, 1);
    return send(201, { id, execution_status: 'idle' });
  }
  const m = /^\/api\/conversations\/([0-9a-f]{32})\/agent\/events$/.exec(req.url || '');
  if (req.method === 'POST' && m) {
    const id = m[1];
    if (!conversations.has(id)) return send(404, { detail: 'Conversation not found' });
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      let batch;
      try { batch = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return send(400, { detail: 'bad json' }); }
      if (!Array.isArray(batch)) return send(400, { detail: 'expected an array' });
      let seq = conversations.get(id);
      const items = [];
      for (const e of batch) {
        const ev = { kind: e.kind, id: crypto.randomUUID(), timestamp: new Date().toISOString(), source: e.source, ...e };
        ev.id = ev.id || crypto.randomUUID();
        io.to(id).emit('oh_event', ev);
        items.push({ id: ev.id, seq: seq++ });
      }
      conversations.set(id, seq);
      send(200, { items });
    });
    return;
  }
  // Anything else (including /socket.io/) is left to socket.io's own listener.
  if (!req.url.startsWith('/socket.io/')) send(404, { detail: 'not found' });
});

const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
});
io.on('connection', socket => {
  const id = socket.handshake.query.conversation_id;
  if (!socket.recovered && typeof id === 'string') socket.join(id);
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
