// The conversations' history (first page, older pages, catching up after a reconnect) and
// where the user is: me, the room or the lobby, the group tab and the whisper tabs.

import { describeError } from './errors.js';
import {
  session,
  socket,
  state,
  makeConv,
  addMessages,
  cursor,
  historyScope,
  rememberNick,
  roomConv,
  request,
  saveRoom,
  convForKey,
  nickOf,
} from './state.js';
import { toast } from './toast.js';
import { renderAll, renderMe, renderGroups } from './render-panels.js';
import { refreshPeople } from './people.js';
import {
  renderTabs,
  activateConv,
  renderConvIfActive,
  renderHistoryControls,
  renderActiveConv,
  noteUnread,
  setConvLoader,
} from './render-conv.js';
import { isViewed } from './reading.js';

const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 100;

/** Where each conversation stood when the connection dropped. */
export function snapshotCursors() {
  const cursors = new Map();
  for (const conv of state.convs.values()) {
    if (conv.loaded) cursors.set(conv.key, { conv, after: cursor(conv, true) });
  }
  return cursors;
}

/** Fetches every message newer than `after` (none lost, none doubled: dedupe by id). */
export async function catchUp(conv, after) {
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

export async function loadInitial(conv) {
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

setConvLoader(loadInitial);

export async function loadOlder(conv) {
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

export function setMe(user) {
  const previousGroup = state.me ? state.me.groupId : null;
  state.me = { ...(state.me || {}), ...user };
  rememberNick(user.userId, user.nick);
  session.user = { userId: state.me.userId, nick: state.me.nick, groupId: state.me.groupId ?? null };
  renderMe();
  if (previousGroup !== state.me.groupId) syncGroupConv();
}

export function enterRoom(info, password = '') {
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
  refreshPeople();
}

export async function enterLobby() {
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
  const [rooms] = await Promise.all([request('room.list'), refreshPeople()]);
  state.rooms = new Map((rooms.rooms || []).map((r) => [r.roomId, r]));
  renderAll();
}

export function applyGroupList(reply) {
  state.groups = new Map((reply.groups || []).map((g) => [g.groupId, g]));
  renderGroups();
}

/** The group tab follows the user's group. */
export function syncGroupConv() {
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

/** A whisper tab; `deferred` ones load their history when first opened. */
export function openWhisper(userId, nick, { activate = true, deferred = false } = {}) {
  const key = `dm:${userId}`;
  let conv = state.convs.get(key);
  if (!conv) {
    conv = makeConv(key, 'whisper', { peer: userId, deferred });
    state.convs.set(key, conv);
    rememberNick(userId, nick, false);
    if (!deferred) loadInitial(conv);
  }
  if (activate) activateConv(key);
  else renderTabs();
  return conv;
}

/**
 * The server's list of the user's conversations (chat.conversations): a tab for every whisper
 * partner, even after a reload, and each tab's unread and mention counts.
 */
export async function loadConversations() {
  const reply = await request('chat.conversations');
  const unnamed = [];
  for (const entry of reply.conversations || []) {
    let conv = convForKey(entry);
    const last = entry.last || null;
    if (!conv && entry.with != null) {
      const nick = last && last.from && last.from.userId === entry.with ? last.from.nick : null;
      conv = openWhisper(entry.with, nick, { activate: false, deferred: true });
      if (!nick && nickOf(entry.with) === entry.with) unnamed.push(entry.with);
    }
    if (!conv) continue;
    if (last && last.sentAt > conv.lastAt) conv.lastAt = last.sentAt;
    // What is on screen was seen, whatever the server last heard.
    if (!isViewed(conv)) {
      conv.unread = entry.unread || 0;
      conv.mentions = entry.mentions || 0;
    }
  }
  renderTabs();
  renderActiveConv();
  for (const userId of unnamed) {
    request('user.info', { userId }).then(
      (user) => {
        rememberNick(user.userId, user.nick);
        renderTabs();
      },
      () => {},
    );
  }
}
