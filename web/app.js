// The chatting browser client: sign up / log in, lobby, rooms, groups, whispers.
// Wire contract: PROTOCOL.md (HTTP /auth/*, WebSocket frames {action, requestId, data}).

import { authApi } from './api.js';
import { ChatSocket } from './socket.js';
import { ChatError, describeError } from './errors.js';
import { $, el, show, hashOf, formatTime, formatFull, formatDay, codePoints } from './dom.js';
import {
  ROOM_KEY,
  session,
  socket,
  setSocket,
  state,
  resetState,
  makeConv,
  addMessages,
  cursor,
  historyScope,
  nickOf,
  rememberNick,
  roomConv,
  request,
  readSavedRoom,
  saveRoom,
} from './state.js';
import { toast, formError } from './toast.js';

const USER_ID = /^[a-z0-9_]{3,30}$/;
const GROUP_ID = /^[A-Za-z0-9_-]{1,30}$/;
const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 100;

// ---------------------------------------------------------------------------
// Auth view

function showAuth(message) {
  show($('chat-view'), false);
  show($('auth-view'), true);
  selectAuthTab('login');
  formError('login-error', message || '');
  document.title = 'chatting';
  $('login-userid').focus();
}

function selectAuthTab(which) {
  const login = which === 'login';
  $('tab-login').setAttribute('aria-selected', String(login));
  $('tab-signup').setAttribute('aria-selected', String(!login));
  $('tab-login').tabIndex = login ? 0 : -1;
  $('tab-signup').tabIndex = login ? -1 : 0;
  show($('login-form'), login);
  show($('signup-form'), !login);
}

function wireAuth() {
  $('tab-login').addEventListener('click', () => {
    selectAuthTab('login');
    $('login-userid').focus();
  });
  $('tab-signup').addEventListener('click', () => {
    selectAuthTab('signup');
    $('signup-userid').focus();
  });
  for (const tab of [$('tab-login'), $('tab-signup')]) {
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      const next = tab.id === 'tab-login' ? 'signup' : 'login';
      selectAuthTab(next);
      $(`tab-${next}`).focus();
    });
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const userId = $('login-userid').value.trim();
    const password = $('login-password').value;
    if (!userId || !password) {
      formError('login-error', 'Enter your user ID and password.');
      return;
    }
    const button = event.submitter || $('login-form').querySelector('button[type=submit]');
    button.disabled = true;
    formError('login-error', '');
    try {
      session.adopt(await authApi.login(userId, password));
      $('login-password').value = '';
      startChat();
    } catch (err) {
      formError('login-error', describeError(err, 'login'));
    } finally {
      button.disabled = false;
    }
  });

  let checkTimer = null;
  let checkSeq = 0;
  const idStatus = (text, kind) => {
    const node = $('signup-idcheck');
    node.textContent = text;
    node.dataset.status = kind;
  };
  $('signup-userid').addEventListener('input', () => {
    clearTimeout(checkTimer);
    const userId = $('signup-userid').value.trim();
    if (!userId) return idStatus('', 'none');
    if (!USER_ID.test(userId)) {
      return idStatus('Use 3–30 characters: lowercase letters, digits and _.', 'invalid');
    }
    idStatus('Checking…', 'checking');
    const seq = ++checkSeq;
    checkTimer = setTimeout(async () => {
      try {
        const available = await authApi.idAvailable(userId);
        if (seq !== checkSeq) return;
        if (available) idStatus(`“${userId}” is available.`, 'available');
        else idStatus(`“${userId}” is already taken.`, 'taken');
      } catch (err) {
        if (seq === checkSeq) idStatus(describeError(err, 'idCheck'), 'invalid');
      }
    }, 300);
  });

  $('signup-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const userId = $('signup-userid').value.trim();
    const nick = $('signup-nick').value.trim();
    const password = $('signup-password').value;
    let problem = '';
    if (!USER_ID.test(userId)) problem = 'The user ID must be 3–30 characters: lowercase letters, digits and _.';
    else if (!nick || codePoints(nick) > 20) problem = 'Choose a nickname of 1–20 characters.';
    else if (codePoints(password) < 8 || codePoints(password) > 128) problem = 'The password must be 8–128 characters.';
    if (problem) {
      formError('signup-error', problem);
      return;
    }
    const button = event.submitter || $('signup-form').querySelector('button[type=submit]');
    button.disabled = true;
    formError('signup-error', '');
    clearTimeout(checkTimer);
    checkSeq++;
    try {
      await authApi.signup(userId, password, nick);
      session.adopt(await authApi.login(userId, password));
      $('signup-password').value = '';
      startChat();
    } catch (err) {
      formError('signup-error', describeError(err, 'signup'));
    } finally {
      button.disabled = false;
    }
  });
}

// ---------------------------------------------------------------------------
// Chat view: connection life

function startChat() {
  if (socket) socket.stop();
  resetState();
  state.me = session.user;
  if (state.me) rememberNick(state.me.userId, state.me.nick);
  const saved = readSavedRoom();
  if (saved) {
    state.roomId = saved.roomId;
    state.roomPassword = saved.password || '';
  }
  show($('auth-view'), false);
  show($('chat-view'), true);
  renderAll();
  setSocket(new ChatSocket({ token: ({ force }) => session.accessToken({ force }) }));
  socket.addEventListener('state', (event) => renderConnection(event.detail));
  socket.addEventListener('open', (event) =>
    onOpen(event.detail).catch((err) => {
      // `offline`: the connection dropped again meanwhile; the next open starts over.
      if (err.code !== 'offline') toast(describeError(err));
    }),
  );
  socket.addEventListener('event', (event) => onEvent(event.detail.event, event.detail.data));
  socket.addEventListener('authfailed', () => session.end('expired'));
  socket.start();
  $('composer-input').focus();
}

function stopChat() {
  if (socket) socket.stop();
  setSocket(null);
  closeDialogs();
  sessionStorage.removeItem(ROOM_KEY);
  resetState();
}

/** Where each conversation stood when the connection dropped. */
function snapshotCursors() {
  const cursors = new Map();
  for (const conv of state.convs.values()) {
    if (conv.loaded) cursors.set(conv.key, { conv, after: cursor(conv, true) });
  }
  return cursors;
}

/** Every (re)connection starts in the lobby: re-enter the room, then fetch what was missed. */
async function onOpen({ reconnect }) {
  const cursors = snapshotCursors();
  const me = await request('user.me');
  setMe({ userId: me.userId, nick: me.nick, groupId: me.groupId ?? null });
  const target = state.roomId;
  if (target > 0) {
    try {
      const info = await request('room.join', { roomId: target, password: state.roomPassword || undefined });
      enterRoom(info, state.roomPassword);
    } catch (err) {
      if (err.code === 'offline') return;
      toast(describeError(err, 'rejoin'));
      await enterLobby();
    }
  } else {
    await enterLobby();
  }
  syncGroupConv();
  await request('group.list').then(applyGroupList, () => {});
  if (reconnect) {
    for (const { conv, after } of cursors.values()) {
      if (state.convs.get(conv.key) === conv) await catchUp(conv, after);
    }
  }
  // Conversations opened while offline never got their first page.
  for (const conv of state.convs.values()) if (!conv.loaded && !conv.loading) loadInitial(conv);
  flushOutbox();
}

/** Fetches every message newer than `after` (none lost, none doubled: dedupe by id). */
async function catchUp(conv, after) {
  if (after == null) {
    if (conv.kind === 'room') after = 0;
    else return loadInitial(conv);
  }
  for (let page = 0; page < 50; page++) {
    let reply;
    try {
      reply = await request('chat.history', { ...historyScope(conv), after, limit: CATCH_UP_PAGE });
    } catch (err) {
      if (err.code !== 'offline') toast(describeError(err, 'history'));
      return;
    }
    const added = addMessages(conv, reply.messages || []);
    noteUnread(conv, added);
    renderConvIfActive(conv);
    renderTabs();
    if (!reply.hasMore || !reply.messages || !reply.messages.length) return;
    const last = reply.messages[reply.messages.length - 1];
    after = conv.kind === 'room' ? last.seq : last.messageId;
  }
}

async function loadInitial(conv) {
  conv.loading = true;
  try {
    const reply = await request('chat.history', { ...historyScope(conv), limit: HISTORY_PAGE });
    if (state.convs.get(conv.key) !== conv) return;
    addMessages(conv, reply.messages || []);
    conv.hasMore = Boolean(reply.hasMore);
    conv.loaded = true;
  } catch (err) {
    if (err.code !== 'offline') toast(describeError(err, 'history'));
  } finally {
    conv.loading = false;
  }
  renderConvIfActive(conv, { stick: true });
  renderTabs();
}

async function loadOlder(conv) {
  if (conv.loading || !conv.hasMore) return;
  const before = cursor(conv, false);
  if (before == null) return;
  conv.loading = true;
  renderHistoryControls();
  try {
    const reply = await request('chat.history', { ...historyScope(conv), before, limit: HISTORY_PAGE });
    if (state.convs.get(conv.key) !== conv) return;
    addMessages(conv, reply.messages || []);
    conv.hasMore = Boolean(reply.hasMore);
    conv.loading = false;
    renderConvIfActive(conv, { keepAnchor: true });
  } catch (err) {
    toast(describeError(err, 'history'));
  } finally {
    conv.loading = false;
    renderHistoryControls();
  }
}

function setMe(user) {
  const previousGroup = state.me ? state.me.groupId : null;
  state.me = { ...(state.me || {}), ...user };
  rememberNick(user.userId, user.nick);
  session.user = { userId: state.me.userId, nick: state.me.nick, groupId: state.me.groupId ?? null };
  renderMe();
  if (previousGroup !== state.me.groupId) syncGroupConv();
}

function enterRoom(info, password = '') {
  const changed = state.roomId !== info.roomId || !state.room;
  state.roomId = info.roomId;
  state.room = info;
  state.roomPassword = password || '';
  saveRoom();
  for (const member of info.members || []) rememberNick(member.userId, member.nick);
  let conv = roomConv();
  if (!conv || conv.roomId !== info.roomId) {
    conv = makeConv('room', 'room', { roomId: info.roomId });
    state.convs.set('room', conv);
    loadInitial(conv);
  }
  if (changed) state.active = 'room';
  renderAll();
}

async function enterLobby() {
  state.roomId = 0;
  state.room = null;
  state.roomPassword = '';
  saveRoom();
  let conv = roomConv();
  if (!conv || conv.roomId !== 0) {
    conv = makeConv('room', 'room', { roomId: 0 });
    state.convs.set('room', conv);
    state.active = 'room';
    loadInitial(conv);
  }
  renderAll();
  const [users, rooms] = await Promise.all([request('user.listInLobby'), request('room.list')]);
  state.lobbyUsers = new Map((users.users || []).map((u) => [u.userId, u]));
  for (const u of users.users || []) rememberNick(u.userId, u.nick);
  state.rooms = new Map((rooms.rooms || []).map((r) => [r.roomId, r]));
  renderAll();
}

function applyGroupList(reply) {
  state.groups = new Map((reply.groups || []).map((g) => [g.groupId, g]));
  renderGroups();
}

/** The group tab follows the user's group. */
function syncGroupConv() {
  const groupId = state.me && state.me.groupId;
  const conv = state.convs.get('group');
  if (conv && conv.groupId === groupId) return;
  if (conv) state.convs.delete('group');
  if (groupId) {
    const fresh = makeConv('group', 'group', { groupId });
    state.convs.set('group', fresh);
    if (socket && socket.state === 'open') loadInitial(fresh);
  }
  if (!state.convs.has(state.active)) state.active = 'room';
  renderTabs();
  renderGroups();
  renderActiveConv({ stick: true });
}

function openWhisper(userId, nick, { activate = true } = {}) {
  const key = `dm:${userId}`;
  let conv = state.convs.get(key);
  if (!conv) {
    conv = makeConv(key, 'whisper', { peer: userId });
    state.convs.set(key, conv);
    rememberNick(userId, nick, false);
    loadInitial(conv);
  }
  if (activate) activateConv(key);
  else renderTabs();
  return conv;
}

// ---------------------------------------------------------------------------
// Server events

function onEvent(event, data) {
  switch (event) {
    case 'chat.in':
      return onChatIn(data);
    case 'room.list.refresh':
      if (data.room) state.rooms.set(data.roomId, data.room);
      else state.rooms.delete(data.roomId);
      return renderRooms();
    case 'room.info.refresh':
      if (data.roomId === state.roomId && state.room) {
        state.room = data;
        for (const member of data.members || []) rememberNick(member.userId, member.nick);
        renderRoom();
        renderPeople();
        renderLocation();
        renderTabs();
      }
      return undefined;
    case 'user.listInLobby.refresh':
      return onUserChange(state.lobbyUsers, data.change, data.user);
    case 'user.listInRoom.refresh':
      if (data.roomId === state.roomId && state.room) {
        const members = new Map((state.room.members || []).map((u) => [u.userId, u]));
        onUserChange(members, data.change, data.user);
        state.room.members = [...members.values()];
        state.room.count = state.room.members.length;
        renderRoom();
        renderPeople();
      }
      return undefined;
    case 'group.list.refresh':
      if (data.members > 0) state.groups.set(data.groupId, data);
      else state.groups.delete(data.groupId);
      return renderGroups();
    case 'system.error':
      return toast(describeError(new ChatError(data.code || 'error', data.message)));
    default:
      return undefined;
  }
}

function onUserChange(map, change, user) {
  if (!user) return;
  if (change === 'left') map.delete(user.userId);
  else map.set(user.userId, user);
  if (change === 'updated') {
    rememberNick(user.userId, user.nick);
    if (state.me && user.userId === state.me.userId) setMe({ nick: user.nick, groupId: user.groupId ?? null });
    renderActiveConv();
    renderTabs();
  }
  renderPeople();
}

function onChatIn(message) {
  if (!message || !state.me) return;
  let conv = null;
  if (message.type === 'all') {
    const room = roomConv();
    if (room && message.roomId === room.roomId && message.roomId === state.roomId) conv = room;
  } else if (message.type === 'group') {
    const group = state.convs.get('group');
    if (group && group.groupId === message.groupId) conv = group;
  } else if (message.type === 'whisper') {
    const mine = message.from.userId === state.me.userId;
    const peer = mine ? message.to : message.from.userId;
    conv = state.convs.get(`dm:${peer}`) || openWhisper(peer, mine ? null : message.from.nick, { activate: false });
  }
  if (!conv) return;
  const added = addMessages(conv, [message]);
  noteUnread(conv, added);
  renderConvIfActive(conv);
  renderTabs();
}

function noteUnread(conv, added) {
  const fromOthers = added.filter((m) => !state.me || m.from.userId !== state.me.userId).length;
  if (!fromOthers) return;
  if (conv.key !== state.active || document.hidden) conv.unread += fromOthers;
  renderTitle();
}

// ---------------------------------------------------------------------------
// Sending

function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

function sendMessage(text) {
  const conv = state.convs.get(state.active);
  if (!conv) return;
  const payload = { text, clientMsgId: newClientMsgId() };
  if (conv.kind === 'room') payload.type = 'all';
  else if (conv.kind === 'group') payload.type = 'group';
  else {
    payload.type = 'whisper';
    payload.to = conv.peer;
  }
  state.outbox.push({ payload, conv, sending: false });
  renderActiveConv({ stick: true });
  flushOutbox();
}

function flushOutbox() {
  if (!socket || socket.state !== 'open') return;
  for (const item of state.outbox) {
    if (!item.sending) sendItem(item);
  }
}

async function sendItem(item) {
  item.sending = true;
  const { conv, payload } = item;
  const dropItem = () => {
    state.outbox = state.outbox.filter((other) => other !== item);
  };
  if (state.convs.get(conv.key) !== conv || (conv.kind === 'room' && conv.roomId !== state.roomId)) {
    dropItem();
    toast('A message was not sent: you left that conversation.');
    renderActiveConv();
    return;
  }
  try {
    const reply = await request('chat.send', payload);
    dropItem();
    addMessages(conv, [
      {
        messageId: reply.messageId,
        type: payload.type,
        roomId: payload.type === 'all' ? conv.roomId : null,
        groupId: payload.type === 'group' ? conv.groupId : null,
        to: payload.type === 'whisper' ? payload.to : null,
        from: { userId: state.me.userId, nick: state.me.nick, groupId: state.me.groupId ?? null },
        text: payload.text,
        sentAt: reply.sentAt,
        seq: reply.seq ?? null,
      },
    ]);
  } catch (err) {
    if (err.code === 'offline' || err.code === 'timeout') {
      // Sent again after the reconnect with the same clientMsgId: never doubled.
      item.sending = false;
      return;
    }
    dropItem();
    const context = payload.type === 'whisper' ? 'whisper' : payload.type === 'group' ? 'groupSend' : '';
    toast(describeError(err, context));
    const input = $('composer-input');
    if (!input.value && state.active === conv.key) input.value = payload.text;
  }
  renderConvIfActive(conv, { stick: true });
}

// ---------------------------------------------------------------------------
// Rendering

function renderAll() {
  renderMe();
  renderLocation();
  renderRooms();
  renderRoom();
  renderGroups();
  renderPeople();
  renderTabs();
  renderActiveConv({ stick: true });
}

function renderMe() {
  if (!state.me) return;
  $('me-nick').textContent = state.me.nick || state.me.userId;
  $('me-id').textContent = `@${state.me.userId}`;
}

function renderLocation() {
  $('location').textContent = state.room ? `Lobby › ${state.room.title}` : 'Lobby';
}

let countdownTimer = null;
function renderConnection(detail) {
  state.connection = detail.state;
  const node = $('conn-state');
  node.dataset.state = detail.state;
  clearInterval(countdownTimer);
  const paint = () => {
    let text;
    if (detail.state === 'open') text = 'Connected';
    else if (detail.state === 'closed') text = 'Offline';
    else if (detail.retryAt && !detail.connecting) {
      const seconds = Math.max(0, Math.ceil((detail.retryAt - Date.now()) / 1000));
      text = `${detail.state === 'reconnecting' ? 'Connection lost. Reconnecting' : 'Cannot connect. Retrying'} in ${seconds} s`;
    } else text = detail.state === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
    node.textContent = text;
  };
  paint();
  if (detail.retryAt && !detail.connecting) countdownTimer = setInterval(paint, 1000);
  show($('conn-retry'), detail.state !== 'open' && detail.state !== 'closed' && Boolean(detail.retryAt) && !detail.connecting);
  renderActiveConv();
}

function renderRooms() {
  const inLobby = !state.room;
  show($('lobby-panel'), inLobby);
  const list = $('room-list');
  list.replaceChildren();
  const rooms = [...state.rooms.values()].sort((a, b) => b.roomId - a.roomId);
  for (const room of rooms) {
    const full = room.count >= room.capacity;
    list.append(
      el(
        'li',
        { class: 'room', 'data-testid': 'room-item', 'data-room-id': room.roomId },
        el(
          'div',
          { class: 'room__main' },
          el('span', { class: 'room__title', 'data-testid': 'room-item-title', text: room.title }),
          room.hasPassword ? el('span', { class: 'badge badge--lock', text: 'Password' }) : null,
          full ? el('span', { class: 'badge badge--full', text: 'Full' }) : null,
        ),
        el(
          'div',
          { class: 'room__meta' },
          el('span', { 'data-testid': 'room-item-count', text: `${room.count}/${room.capacity}` }),
          ` · owner ${nickOf(room.owner)}`,
        ),
        el('button', {
          type: 'button',
          class: 'btn btn--small room__join',
          'data-testid': 'room-join',
          'aria-label': `Join ${room.title}`,
          text: 'Join',
          onclick: () => joinRoom(room),
        }),
      ),
    );
  }
  show($('room-list-empty'), rooms.length === 0);
}

function renderRoom() {
  const room = state.room;
  show($('room-panel'), Boolean(room));
  if (!room) return;
  $('room-title').textContent = room.title;
  $('room-owner').textContent = `${nickOf(room.owner)} (@${room.owner})`;
  $('room-count').textContent = `${room.count} of ${room.capacity}`;
  $('room-access').textContent = room.hasPassword ? 'Password protected' : 'Open';
  show($('room-settings-button'), Boolean(state.me && room.owner === state.me.userId));
}

function renderGroups() {
  const mine = state.me && state.me.groupId;
  show($('group-current'), Boolean(mine));
  $('group-current-id').textContent = mine || '';
  const list = $('group-list');
  list.replaceChildren();
  const groups = [...state.groups.values()].sort((a, b) => a.groupId.localeCompare(b.groupId));
  for (const group of groups) {
    const isMine = group.groupId === mine;
    list.append(
      el(
        'li',
        { class: `group${isMine ? ' group--mine' : ''}`, 'data-testid': 'group-item', 'data-group-id': group.groupId },
        el(
          'div',
          { class: 'group__main' },
          el('span', { class: 'group__id', text: group.groupId }),
          el('span', { class: 'muted', text: `${group.members} member${group.members === 1 ? '' : 's'} · ${group.online} online` }),
        ),
        isMine
          ? el('span', { class: 'badge badge--group', text: 'Yours' })
          : el('button', {
              type: 'button',
              class: 'btn btn--small',
              'data-testid': 'group-join-button',
              'aria-label': `Join group ${group.groupId}`,
              text: 'Join',
              onclick: () => joinGroup(group.groupId),
            }),
      ),
    );
  }
  show($('group-list-empty'), groups.length === 0);
}

function avatar(userId, nick) {
  const letter = [...(nick || userId || '?')][0].toUpperCase();
  return el('span', { class: `avatar avatar--${hashOf(userId || '', 8)}`, 'aria-hidden': 'true', text: letter });
}

function renderPeople() {
  const inRoom = Boolean(state.room);
  const users = inRoom ? state.room.members || [] : [...state.lobbyUsers.values()];
  $('people-heading').textContent = inRoom
    ? `In this room (${users.length}/${state.room.capacity})`
    : `Online in the lobby (${users.length})`;
  const list = $('user-list');
  list.dataset.scope = inRoom ? 'room' : 'lobby';
  list.replaceChildren();
  const meId = state.me && state.me.userId;
  for (const user of users) {
    const nick = nickOf(user.userId, user.nick);
    const isMe = user.userId === meId;
    const isOwner = inRoom && state.room.owner === user.userId;
    list.append(
      el(
        'li',
        { class: `user${isMe ? ' user--me' : ''}`, 'data-testid': 'user-item', 'data-user-id': user.userId },
        avatar(user.userId, nick),
        el(
          'span',
          { class: 'user__name' },
          el(
            'span',
            { class: 'user__line' },
            el('span', { class: 'user__nick', 'data-testid': 'user-nick', text: nick }),
            isOwner ? el('span', { class: 'badge badge--owner', 'data-testid': 'owner-badge', title: 'Room owner', text: 'Owner' }) : null,
            isMe ? el('span', { class: 'badge', text: 'You' }) : null,
          ),
          el('span', { class: 'muted user__id', text: `@${user.userId}` }),
        ),
        isMe
          ? null
          : el('button', {
              type: 'button',
              class: 'btn btn--small btn--whisper',
              'data-testid': 'whisper-button',
              'aria-label': `Whisper to ${nick}`,
              text: 'Whisper',
              onclick: () => {
                openWhisper(user.userId, nick);
                $('composer-input').focus();
              },
            }),
      ),
    );
  }
  show($('user-list-empty'), users.filter((u) => u.userId !== meId).length === 0);
}

function convTitle(conv) {
  if (conv.kind === 'room') return conv.roomId === 0 ? 'Lobby' : `# ${state.room ? state.room.title : 'Room'}`;
  if (conv.kind === 'group') return `Group ${conv.groupId}`;
  return `@ ${nickOf(conv.peer)}`;
}

function convOrder() {
  const convs = [...state.convs.values()];
  const rank = { room: 0, group: 1, whisper: 2 };
  return convs.sort((a, b) => rank[a.kind] - rank[b.kind]);
}

function renderTabs() {
  const bar = $('conv-tabs');
  bar.replaceChildren();
  for (const conv of convOrder()) {
    const selected = conv.key === state.active;
    const tab = el(
      'button',
      {
        type: 'button',
        role: 'tab',
        class: `tab tab--${conv.kind}`,
        'aria-selected': String(selected),
        'aria-controls': 'messages',
        tabindex: selected ? '0' : '-1',
        'data-testid': 'conv-tab',
        'data-conv': conv.key,
        onclick: () => activateConv(conv.key),
        onkeydown: (event) => moveTab(event, conv.key),
      },
      el('span', { class: 'tab__label', text: convTitle(conv) }),
      conv.unread > 0
        ? el('span', { class: 'tab__unread', 'data-testid': 'conv-unread', 'aria-label': `${conv.unread} unread`, text: String(conv.unread) })
        : null,
    );
    const wrap = el('span', { class: 'tab-wrap' }, tab);
    if (conv.kind === 'whisper') {
      wrap.append(
        el('button', {
          type: 'button',
          class: 'tab__close',
          'data-testid': 'conv-close',
          'aria-label': `Close conversation with ${nickOf(conv.peer)}`,
          text: '×',
          onclick: () => {
            state.convs.delete(conv.key);
            if (state.active === conv.key) state.active = 'room';
            renderTabs();
            renderActiveConv({ stick: true });
          },
        }),
      );
    }
    bar.append(wrap);
  }
  renderComposerLabel();
  renderTitle();
}

function moveTab(event, key) {
  if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
  const keys = convOrder().map((c) => c.key);
  const index = keys.indexOf(key) + (event.key === 'ArrowRight' ? 1 : -1);
  const next = keys[(index + keys.length) % keys.length];
  activateConv(next);
  const tab = $('conv-tabs').querySelector(`[data-conv="${CSS.escape(next)}"]`);
  if (tab) tab.focus();
}

function activateConv(key) {
  if (!state.convs.has(key)) return;
  state.active = key;
  state.convs.get(key).unread = 0;
  renderTabs();
  renderActiveConv({ stick: true });
}

function renderComposerLabel() {
  const conv = state.convs.get(state.active);
  let label = 'Message';
  if (conv) {
    if (conv.kind === 'room') label = conv.roomId === 0 ? 'Message everyone in the lobby' : `Message everyone in ${state.room ? state.room.title : 'the room'}`;
    else if (conv.kind === 'group') label = `Message your group ${conv.groupId}`;
    else label = `Whisper to ${nickOf(conv.peer)}`;
  }
  $('composer-label').textContent = label;
  $('composer-form').dataset.kind = conv ? conv.kind : 'room';
}

function renderTitle() {
  let unread = 0;
  for (const conv of state.convs.values()) unread += conv.unread;
  document.title = unread ? `(${unread}) chatting` : 'chatting';
}

function renderConvIfActive(conv, options) {
  if (conv.key === state.active) renderActiveConv(options);
}

function renderHistoryControls() {
  const conv = state.convs.get(state.active);
  const button = $('load-older');
  show(button, Boolean(conv && conv.loaded && conv.hasMore));
  button.disabled = Boolean(conv && conv.loading);
  button.textContent = conv && conv.loading ? 'Loading…' : 'Load older messages';
  show($('history-start'), Boolean(conv && conv.loaded && !conv.hasMore));
}

/** A message that directly follows one of the same sender and kind is shown compactly. */
function continues(previous, message) {
  if (!previous || previous.from.userId !== message.from.userId || previous.type !== message.type) return false;
  const gap = new Date(message.sentAt) - new Date(previous.sentAt);
  return gap >= 0 && gap < 5 * 60 * 1000;
}

function messageItem(message, compact = false) {
  const mine = state.me && message.from.userId === state.me.userId;
  const nick = nickOf(message.from.userId, message.from.nick);
  const sent = new Date(message.sentAt);
  let tag = null;
  if (message.type === 'whisper') {
    tag = mine ? `whisper to ${nickOf(message.to)}` : 'whispers to you';
  } else if (message.type === 'group') {
    tag = `group ${message.groupId}`;
  }
  return el(
    'li',
    {
      class: `msg msg--${message.type}${mine ? ' msg--mine' : ''}${compact ? ' msg--cont' : ''}`,
      'data-testid': 'message',
      'data-message-id': message.messageId,
      'data-type': message.type,
    },
    avatar(message.from.userId, nick),
    el(
      'div',
      { class: 'msg__body' },
      el(
        'div',
        { class: 'msg__meta' },
        el('span', { class: 'msg__nick', 'data-testid': 'message-nick', 'data-user-id': message.from.userId, text: nick }),
        tag ? el('span', { class: 'msg__tag', 'data-testid': 'message-tag', text: tag }) : null,
        el('time', { class: 'msg__time', datetime: message.sentAt, title: formatFull(sent), text: formatTime(sent) }),
      ),
      el('p', { class: 'msg__text', 'data-testid': 'message-text', text: message.text }),
    ),
  );
}

function pendingItem(item) {
  const offline = !socket || socket.state !== 'open';
  return el(
    'li',
    { class: `msg msg--${item.payload.type} msg--mine msg--pending`, 'data-testid': 'message-pending' },
    avatar(state.me.userId, state.me.nick),
    el(
      'div',
      { class: 'msg__body' },
      el(
        'div',
        { class: 'msg__meta' },
        el('span', { class: 'msg__nick', text: state.me.nick }),
        el('span', { class: 'msg__tag', text: offline ? 'waiting for the connection…' : 'sending…' }),
      ),
      el('p', { class: 'msg__text', text: item.payload.text }),
    ),
  );
}

/**
 * Redraws the active conversation. `stick` scrolls to the newest message;
 * otherwise the view stays at the bottom only if it was there, and `keepAnchor`
 * keeps the visible messages in place while older ones are added on top.
 */
function renderActiveConv({ stick = false, keepAnchor = false } = {}) {
  const conv = state.convs.get(state.active);
  const box = $('messages');
  const list = $('message-list');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const fromBottom = box.scrollHeight - box.scrollTop;
  list.replaceChildren();
  if (conv) {
    list.dataset.conv = conv.key;
    let lastDay = '';
    let previous = null;
    for (const id of conv.order) {
      const message = conv.messages.get(id);
      const day = new Date(message.sentAt).toDateString();
      if (day !== lastDay) {
        list.append(el('li', { class: 'day', role: 'separator', text: formatDay(new Date(message.sentAt)) }));
        lastDay = day;
        previous = null;
      }
      list.append(messageItem(message, continues(previous, message)));
      previous = message;
    }
    for (const item of state.outbox) if (item.conv === conv) list.append(pendingItem(item));
    if (conv.loaded && !conv.order.length && !state.outbox.some((i) => i.conv === conv)) {
      list.append(el('li', { class: 'empty-conv', text: 'No messages yet. Say hello!' }));
    }
  }
  renderHistoryControls();
  if (keepAnchor) box.scrollTop = box.scrollHeight - fromBottom;
  else if (stick || atBottom) box.scrollTop = box.scrollHeight;
}

// ---------------------------------------------------------------------------
// Actions from the UI

async function joinRoom(room) {
  if (room.hasPassword) {
    openJoinDialog(room);
    return;
  }
  try {
    enterRoom(await request('room.join', { roomId: room.roomId }));
    $('composer-input').focus();
  } catch (err) {
    toast(describeError(err, 'join'));
  }
}

let joinTarget = null;
function openJoinDialog(room) {
  joinTarget = room;
  $('join-room-name').textContent = `“${room.title}” is protected by a password.`;
  $('join-password').value = '';
  formError('join-error', '');
  $('join-dialog').showModal();
  $('join-password').focus();
}

function closeDialogs() {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
}

function wireDialogs() {
  for (const button of document.querySelectorAll('dialog [data-close]')) {
    button.addEventListener('click', () => button.closest('dialog').close());
  }

  $('join-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!joinTarget) return;
    const password = $('join-password').value;
    try {
      const info = await request('room.join', { roomId: joinTarget.roomId, password });
      $('join-dialog').close();
      enterRoom(info, password);
      $('composer-input').focus();
    } catch (err) {
      formError('join-error', describeError(err, 'join'));
      $('join-password').select();
    }
  });

  $('create-room-button').addEventListener('click', () => {
    $('create-room-form').reset();
    formError('create-room-error', '');
    $('create-room-dialog').showModal();
    $('create-room-title').focus();
  });
  $('create-room-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = $('create-room-title').value.trim();
    const password = $('create-room-password').value;
    const capacity = Number($('create-room-capacity').value);
    let problem = '';
    if (!title || codePoints(title) > 50) problem = 'The title must be 1–50 characters.';
    else if (!Number.isInteger(capacity) || capacity < 2 || capacity > 100) problem = 'Capacity must be a whole number from 2 to 100.';
    else if (codePoints(password) > 30) problem = 'The password can be at most 30 characters.';
    if (problem) return formError('create-room-error', problem);
    try {
      const data = { title, capacity };
      if (password) data.password = password;
      const info = await request('room.create', data);
      $('create-room-dialog').close();
      enterRoom(info, password);
      $('composer-input').focus();
    } catch (err) {
      formError('create-room-error', describeError(err));
    }
    return undefined;
  });

  $('room-settings-button').addEventListener('click', () => {
    const room = state.room;
    if (!room) return;
    $('settings-title').value = room.title;
    $('settings-password').value = '';
    $('settings-remove-password').checked = false;
    $('settings-remove-password').disabled = !room.hasPassword;
    $('settings-capacity').value = String(room.capacity);
    formError('settings-error', '');
    $('settings-dialog').showModal();
    $('settings-title').focus();
  });
  $('settings-remove-password').addEventListener('change', () => {
    $('settings-password').disabled = $('settings-remove-password').checked;
  });
  $('settings-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const room = state.room;
    if (!room) return undefined;
    const title = $('settings-title').value.trim();
    const password = $('settings-password').value;
    const remove = $('settings-remove-password').checked;
    const capacity = Number($('settings-capacity').value);
    if (!title || codePoints(title) > 50) return formError('settings-error', 'The title must be 1–50 characters.');
    if (!Number.isInteger(capacity) || capacity < 2 || capacity > 100) {
      return formError('settings-error', 'Capacity must be a whole number from 2 to 100.');
    }
    if (capacity < room.count) {
      return formError('settings-error', `Capacity can't be lower than the ${room.count} people inside.`);
    }
    if (codePoints(password) > 30) return formError('settings-error', 'The password can be at most 30 characters.');
    const changes = {};
    if (title !== room.title) changes.title = title;
    if (remove) changes.password = '';
    else if (password) changes.password = password;
    if (capacity !== room.capacity) changes.capacity = capacity;
    if (!Object.keys(changes).length) {
      $('settings-dialog').close();
      return undefined;
    }
    try {
      const info = await request('room.update', changes);
      $('settings-dialog').close();
      if (changes.password !== undefined) state.roomPassword = changes.password;
      state.room = info;
      saveRoom();
      renderAll();
      toast('Room settings saved.', 'info');
    } catch (err) {
      formError('settings-error', describeError(err, 'roomUpdate'));
    }
    return undefined;
  });

  $('nick-button').addEventListener('click', () => {
    $('nick-input').value = state.me ? state.me.nick : '';
    formError('nick-error', '');
    $('nick-dialog').showModal();
    $('nick-input').select();
  });
  $('nick-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const nick = $('nick-input').value.trim();
    if (!nick || codePoints(nick) > 20) return formError('nick-error', 'A nickname is 1–20 characters.');
    try {
      const user = await request('user.update', { nick });
      $('nick-dialog').close();
      setMe({ userId: user.userId, nick: user.nick, groupId: user.groupId ?? null });
      if (state.lobbyUsers.has(user.userId)) state.lobbyUsers.set(user.userId, user);
      renderAll();
      toast(`You are now “${user.nick}”.`, 'info');
    } catch (err) {
      formError('nick-error', describeError(err, 'nick'));
    }
    return undefined;
  });
}

async function joinGroup(groupId) {
  try {
    const reply = await request('group.join', { groupId });
    setMe({ groupId: reply.groupId });
    activateConv('group');
  } catch (err) {
    toast(describeError(err, 'groupJoin'));
  }
}

function wireMain() {
  $('room-leave-button').addEventListener('click', async () => {
    try {
      await request('room.leave');
      await enterLobby();
    } catch (err) {
      toast(describeError(err));
    }
  });

  $('group-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const groupId = $('group-id-input').value.trim();
    if (!GROUP_ID.test(groupId)) {
      toast('A group ID is 1–30 characters: letters, digits, _ and -.');
      return;
    }
    try {
      const reply = await request('group.create', { groupId });
      $('group-id-input').value = '';
      setMe({ groupId: reply.groupId });
      activateConv('group');
    } catch (err) {
      toast(describeError(err, 'groupCreate'));
    }
  });
  $('group-join-typed').addEventListener('click', async () => {
    const groupId = $('group-id-input').value.trim();
    if (!GROUP_ID.test(groupId)) {
      toast('A group ID is 1–30 characters: letters, digits, _ and -.');
      return;
    }
    await joinGroup(groupId);
    if (state.me.groupId === groupId) $('group-id-input').value = '';
  });
  $('group-leave').addEventListener('click', async () => {
    try {
      await request('group.leave');
      setMe({ groupId: null });
      request('group.list').then(applyGroupList, () => {});
    } catch (err) {
      toast(describeError(err, 'groupLeave'));
    }
  });

  const input = $('composer-input');
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer-form').requestSubmit();
    }
  });
  $('composer-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.replace(/\s+$/, '');
    if (!text.trim()) return;
    if (codePoints(text) > 2000) {
      toast('A message can be at most 2000 characters.');
      return;
    }
    input.value = '';
    sendMessage(text);
  });

  $('load-older').addEventListener('click', () => {
    const conv = state.convs.get(state.active);
    if (conv) loadOlder(conv);
  });
  $('messages').addEventListener('scroll', () => {
    const conv = state.convs.get(state.active);
    if (conv && $('messages').scrollTop < 40 && conv.hasMore && !conv.loading && conv.loaded) loadOlder(conv);
  });

  $('conn-retry').addEventListener('click', () => socket && socket.retryNow());

  $('logout-button').addEventListener('click', async () => {
    stopChat();
    await session.logout();
    showAuth('');
    toast('You have logged out.', 'info');
  });

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    const conv = state.convs.get(state.active);
    if (conv && conv.unread) {
      conv.unread = 0;
      renderTabs();
    }
  });

  session.addEventListener('ended', (event) => {
    stopChat();
    const reason = event.detail && event.detail.reason;
    showAuth(reason === 'elsewhere' ? 'You were logged out in another tab.' : 'Your session has ended. Please log in again.');
  });
  session.addEventListener('change', () => {
    if (state.me && session.user && session.user.nick !== state.me.nick) setMe({ nick: session.user.nick });
  });
}

// ---------------------------------------------------------------------------
// Debug hook for tests and for trying the reconnect by hand.

window.chattingDebug = {
  /** Closes the WebSocket as a network loss would; the client stays down `holdMs`. */
  dropSocket(options = {}) {
    if (socket) socket.drop(options);
  },
  /** Sends one raw action over the WebSocket (as the devtools console could). */
  request(action, data = {}) {
    return request(action, data);
  },
  /** Rotates the token pair now. */
  refreshTokens() {
    return session.refresh();
  },
  snapshot() {
    return {
      connection: socket ? socket.state : 'closed',
      roomId: state.roomId,
      me: state.me,
      active: state.active,
      convs: [...state.convs.values()].map((c) => ({ key: c.key, count: c.order.length, unread: c.unread })),
    };
  },
};

// ---------------------------------------------------------------------------

wireAuth();
wireDialogs();
wireMain();
if (session.active) startChat();
else showAuth('');
