// The chatting browser client: sign up / log in, lobby, rooms, groups, whispers.
// Wire contract: PROTOCOL.md (HTTP /auth/*, WebSocket frames {action, requestId, data}).

import { authApi } from './api.js';
import { ChatSocket } from './socket.js';
import { ChatError, describeError } from './errors.js';
import { $, show, codePoints } from './dom.js';
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
  rememberNick,
  roomConv,
  request,
  readSavedRoom,
  saveRoom,
} from './state.js';
import { toast, formError } from './toast.js';
import {
  renderTabs,
  activateConv,
  renderConvIfActive,
  renderHistoryControls,
  renderActiveConv,
  noteUnread,
} from './render-conv.js';
import {
  setPanelActions,
  renderAll,
  renderMe,
  renderLocation,
  renderConnection,
  renderRooms,
  renderRoom,
  renderGroups,
  renderPeople,
} from './render-panels.js';

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

setPanelActions({ joinRoom, joinGroup, openWhisper });
wireAuth();
wireDialogs();
wireMain();
if (session.active) startChat();
else showAuth('');
