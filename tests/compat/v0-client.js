// Drives the real socket.io-client (the version OpenHands' V0 frontend uses) the way
// frontend/src/context/ws-client-provider.tsx does, for the Gateway tests.
// Usage: node v0-client.js <server url> '<query as JSON>' ['<extra io() options as JSON>']
// Prints one JSON line per thing that happens: {"type":"connect"|"connect_error"|"event"|"disconnect", ...}.
// Reads JSON lines on stdin: {"emit":"<event>","data":{...}} sends an event (with "ack":"<label>" it asks for an ack,
// printed as {"type":"ack","label":…,"args":[…]}); {"close":true} disconnects and exits.
const { io } = require('socket.io-client');
const readline = require('readline');

const [url, queryJson, optionsJson] = process.argv.slice(2);
const query = JSON.parse(queryJson);
const options = optionsJson ? JSON.parse(optionsJson) : {};
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const socket = io(url, { transports: ['websocket'], query, reconnection: false, ...options });
socket.on('connect', () => print({ type: 'connect', id: socket.id }));
socket.on('connect_error', (e) => print({ type: 'connect_error', message: e.message, data: e.data ?? null }));
socket.on('disconnect', (reason) => print({ type: 'disconnect', reason }));
socket.on('oh_event', (data) => print({ type: 'event', data }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line);
  if (command.close) {
    socket.disconnect();
    process.exit(0);
  }
  if (command.emit && command.ack) socket.emit(command.emit, command.data, (...args) => print({ type: 'ack', label: command.ack, args }));
  else if (command.emit) socket.emit(command.emit, command.data);
});
// Never outlive the test that started us.
setTimeout(() => process.exit(2), Number(process.env.V0_CLIENT_LIFETIME_MS ?? 180000)).unref();
process.stdin.on('end', () => process.exit(0));
