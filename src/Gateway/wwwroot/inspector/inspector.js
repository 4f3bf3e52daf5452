// Akka.Sync inspector: plain JavaScript, no build step. Lists conversations, creates them, and watches one live
// over the real V1 socket (replay, then live; on a dropped connection it resumes with after_event_id).
'use strict';

const $ = (id) => document.getElementById(id);
const state = { key: null, conversations: [], selected: null, socket: null, seen: new Set(), lastEventId: null, retry: 0, pollTimer: null };

// ---- REST ----

async function api(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (state.key) headers['X-Session-API-Key'] = state.key;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) { $('key-form').hidden = false; throw new Error('a session API key is required'); }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.detail) || response.statusText);
  return data;
}

async function loadConversations() {
  try {
    const page = await api('GET', '/api/conversations/search?limit=100&sort_order=CREATED_AT_DESC');
    state.conversations = page.items;
    $('server-state').textContent = 'server ok';
    renderConversations();
  } catch (e) {
    $('server-state').textContent = e.message;
  }
}

function renderConversations() {
  const filter = $('filter').value.trim().toLowerCase();
  const list = $('conversations');
  list.replaceChildren();
  for (const c of state.conversations) {
    const label = c.title || '(untitled)';
    if (filter && !label.toLowerCase().includes(filter) && !c.id.includes(filter)) continue;
    const li = document.createElement('li');
    li.dataset.id = c.id;
    li.className = state.selected && state.selected.id === c.id ? 'selected' : '';
    li.innerHTML = `<strong></strong><small></small>`;
    li.querySelector('strong').textContent = label;
    li.querySelector('small').textContent = `${c.protocol} · ${c.agent_state || c.execution_status} · ${c.id.slice(0, 8)}`;
    li.onclick = () => select(c.id);
    list.appendChild(li);
  }
}

// ---- one conversation ----

async function select(id) {
  closeSocket();
  clearInterval(state.pollTimer);
  const info = await api('GET', `/api/conversations/${id}`);
  state.selected = info;
  state.seen = new Set();
  state.lastEventId = null;
  location.hash = id;
  $('empty').hidden = true;
  $('detail').hidden = false;
  $('title').textContent = info.title || '(untitled)';
  $('conversation-id').textContent = info.id;
  $('protocol').textContent = info.protocol;
  $('events').replaceChildren();
  setStatus(info.agent_state || info.execution_status);
  renderConversations();
  const v1 = info.protocol === 'v1';
  for (const b of ['run', 'pause', 'confirm', 'reject']) $(b).disabled = !v1;
  if (v1) openSocket();
  else {
    // The V0 dialect is Socket.IO; the inspector shows it read-only by polling the REST log.
    $('socket-state').textContent = 'v0: read-only (REST)';
    await pollEvents();
    state.pollTimer = setInterval(pollEvents, 1500);
  }
}

function setStatus(value) {
  const el = $('status');
  el.textContent = value || '';
  el.className = `status ${value || ''}`;
}

function openSocket() {
  const c = state.selected;
  const params = new URLSearchParams();
  if (state.lastEventId) params.set('after_event_id', state.lastEventId); else params.set('resend_all', 'true');
  if (state.key) params.set('session_api_key', state.key);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/sockets/events/${c.id}?${params}`);
  state.socket = socket;
  $('socket-state').textContent = 'connecting';
  socket.onopen = () => { state.retry = 0; $('socket-state').textContent = 'live'; };
  socket.onmessage = (m) => onEvent(JSON.parse(m.data));
  socket.onclose = (e) => {
    if (state.socket !== socket) return;
    $('socket-state').textContent = `closed ${e.code}${e.reason ? ' ' + e.reason : ''}`;
    if (e.code === 4004 || e.code === 4001 || e.code === 1000) return;
    if (e.code === 4009) state.lastEventId = null; // start over
    const delay = Math.min(5000, 500 * 2 ** state.retry++);
    setTimeout(() => { if (state.socket === socket && state.selected && state.selected.id === c.id) openSocket(); }, delay);
  };
}

function closeSocket() {
  const s = state.socket;
  state.socket = null;
  if (s) s.close(1000);
}

function onEvent(e) {
  if (e.kind === 'ConversationStateUpdateEvent') {
    if (e.key === 'full_state') { setStatus(e.value.execution_status); return; }
    if (e.key === 'execution_status') setStatus(e.value);
  }
  if (e.kind === 'ConversationErrorEvent' && !state.seen.has(e.id) && e.code === 'bad_frame') {
    $('control-result').textContent = e.detail;
    return;
  }
  if (state.seen.has(String(e.id))) return; // never show an event twice, whatever the network did
  state.seen.add(String(e.id));
  if (typeof e.id === 'string') state.lastEventId = e.id;
  addRow(e);
  if (e.observation === 'agent_state_changed') setStatus(e.extras.agent_state);
}

function addRow(e) {
  const li = document.createElement('li');
  li.dataset.id = e.id;
  li.innerHTML = '<details><summary><span class="seq"></span><span class="kind"></span><span class="source"></span><span class="text"></span><time></time></summary><pre></pre></details>';
  li.querySelector('.seq').textContent = typeof e.id === 'number' ? `#${e.id}` : `#${$('events').children.length + 1}`;
  li.querySelector('.kind').textContent = e.kind || (e.action ? `action:${e.action}` : `observation:${e.observation}`);
  li.querySelector('.source').textContent = e.source;
  li.querySelector('.text').textContent = describe(e);
  li.querySelector('time').textContent = e.timestamp;
  li.querySelector('pre').textContent = JSON.stringify(e, null, 2);
  $('events').appendChild(li);
  $('events').scrollTop = $('events').scrollHeight;
}

function describe(e) {
  if (e.llm_message) return e.llm_message.content.filter((c) => c.type === 'text').map((c) => c.text).join(' ');
  if (e.action && e.action.command) return `$ ${e.action.command}`;
  if (e.observation && e.observation.content) return e.observation.content.map((c) => c.text).join(' ');
  if (e.key) return `${e.key} = ${typeof e.value === 'string' ? e.value : '…'}`;
  return e.message || e.detail || e.error || '';
}

async function pollEvents() {
  const c = state.selected;
  let page = null;
  do {
    const data = await api('GET', `/api/conversations/${c.id}/events/search?limit=100${page ? `&page_id=${page}` : ''}`);
    data.items.forEach(onEvent);
    page = data.next_page_id;
  } while (page);
}

// ---- actions ----

async function control(path, body) {
  try {
    await api('POST', `/api/conversations/${state.selected.id}/${path}`, body ?? {});
    $('control-result').textContent = `${path}: ok`;
  } catch (e) {
    $('control-result').textContent = `${path}: ${e.message}`;
  }
}

$('run').onclick = () => control('run');
$('pause').onclick = () => control('pause');
$('confirm').onclick = () => control('events/respond_to_confirmation', { accept: true });
$('reject').onclick = () => control('events/respond_to_confirmation', { accept: false, reason: 'rejected in the inspector' });

$('message-form').onsubmit = async (ev) => {
  ev.preventDefault();
  const text = $('message').value.trim();
  if (!text || !state.selected) return;
  if (state.selected.protocol === 'v1' && state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify({ role: 'user', content: [{ type: 'text', text }] }));
  } else if (state.selected.protocol === 'v1') {
    await control('events', { role: 'user', content: [{ type: 'text', text }], run: true });
  } else {
    $('control-result').textContent = 'v0 conversations take messages over Socket.IO (oh_user_action)';
    return;
  }
  $('message').value = '';
};

$('create-form').onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    const body = { protocol: $('new-protocol').value };
    if ($('new-title').value.trim()) body.title = $('new-title').value.trim();
    const info = await api('POST', '/api/conversations', body);
    $('new-title').value = '';
    await loadConversations();
    await select(info.id);
  } catch (e) {
    $('server-state').textContent = e.message;
  }
};

$('key-form').onsubmit = async (ev) => {
  ev.preventDefault();
  state.key = $('key').value || null;
  $('key-form').hidden = true;
  await loadConversations();
};

$('filter').oninput = renderConversations;

(async () => {
  await loadConversations();
  const id = location.hash.slice(1);
  if (id && state.conversations.some((c) => c.id === id)) await select(id);
  setInterval(loadConversations, 5000);
})();
