// The client's state: the session, the socket, the per-login state and its conversations,
// the room saved for a reload, and the one way to send a request over the socket.

import { Session } from './api.js';
import { ChatError } from './errors.js';

export const ROOM_KEY = 'chatting.room'; // sessionStorage: the room this tab is in, to restore on reload

export const session = new Session();
export let socket = null;

export function setSocket(value) {
  socket = value;
}

// ---------------------------------------------------------------------------
// State

/** @returns the fresh per-login state */
function initialState() {
  return {
    me: null, // User {userId, nick, groupId}
    roomId: 0, // the room this connection is in (0: lobby) or is re-entering
    room: null, // RoomInfo while in a room
    roomPassword: '', // remembered to re-enter after a reconnect
    online: [], // User + roomIds of everyone online, by userId (user.listOnline)
    rooms: new Map(), // roomId -> RoomSummary
    groups: new Map(), // groupId -> {groupId, members, online}
    nicks: new Map(), // userId -> newest nick seen
    convs: new Map(), // key -> Conversation
    active: 'room',
    editing: null, // {messageId, text}: the message being edited in place
    picking: null, // messageId whose reaction picker is open
    outbox: [], // chat.send waiting for a reply or for the connection
    connection: 'connecting',
  };
}
export let state = initialState();

export function resetState() {
  state = initialState();
}

/**
 * A conversation tab: the current room (or the lobby), the group, or a whisper
 * thread. Messages are kept by messageId (dedupe) and shown sorted by it.
 */
export function makeConv(key, kind, extra = {}) {
  return {
    key,
    kind, // 'room' | 'group' | 'whisper'
    roomId: null,
    groupId: null,
    peer: null,
    ...extra,
    messages: new Map(),
    order: [],
    hasMore: false,
    loaded: false,
    loading: false,
    // Held back until the tab is opened: a whisper partner listed by chat.conversations.
    deferred: false,
    unread: 0, // messages from others not yet seen
    mentions: 0, // of those, the ones naming the user
    readUpTo: null, // the read mark told to (or by) the server: seq for rooms, messageId otherwise
    divider: null, // messageId the "new messages" line is drawn above
    dividerCount: 0, // unread when the tab was opened: the line is placed once they are loaded
    lastAt: '', // sentAt of the newest message known, to order the whisper tabs
  };
}

export function byMessageId(a, b) {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Adds messages, ignoring ones already there; returns the new ones. A copy the client built
 * from its own chat.send reply (`local`) gives way to the server's, which knows the mentions.
 */
export function addMessages(conv, messages) {
  const added = [];
  for (const message of messages) {
    if (!message || !message.messageId) continue;
    const held = conv.messages.get(message.messageId);
    if (held) {
      if (held.local && !message.local) conv.messages.set(message.messageId, message);
      continue;
    }
    conv.messages.set(message.messageId, message);
    added.push(message);
    if (message.from) rememberNick(message.from.userId, message.from.nick, false);
    if (message.sentAt && message.sentAt > conv.lastAt) conv.lastAt = message.sentAt;
  }
  if (added.length) conv.order = [...conv.messages.keys()].sort(byMessageId);
  return added;
}

/** An edit, a delete or new reactions: the held copy is updated in place, keeping its position. */
export function updateMessage(conv, messageId, changes) {
  const held = conv.messages.get(messageId);
  if (!held) return false;
  conv.messages.set(messageId, { ...held, ...changes, local: false });
  return true;
}

/** Is `a` a later read mark than `b` in this conversation (null is the earliest)? */
export function readMarkAfter(conv, a, b) {
  if (a == null) return false;
  if (b == null) return true;
  return conv.kind === 'room' ? a > b : byMessageId(String(a), String(b)) > 0;
}

/** The read mark of a message: its seq in a room, its messageId elsewhere. */
export function readMarkOf(conv, message) {
  return conv.kind === 'room' ? (message.seq ?? null) : message.messageId;
}

/** Whether `message` names the signed-in user. */
export function mentionsMe(message) {
  return Boolean(state.me && Array.isArray(message.mentions) && message.mentions.includes(state.me.userId));
}

/** The held conversation a wire Conversation key (`roomId`, `groupId` or `with`) names, if any. */
export function convForKey(data) {
  if (!data) return null;
  if (data.with != null) return state.convs.get(`dm:${data.with}`) || null;
  if (data.groupId != null) {
    const group = state.convs.get('group');
    return group && group.groupId === data.groupId ? group : null;
  }
  if (data.roomId != null) {
    const room = roomConv();
    return room && room.roomId === data.roomId ? room : null;
  }
  return null;
}

/** The conversation holding a message, looked for in every tab. */
export function convOfMessage(messageId) {
  for (const conv of state.convs.values()) if (conv.messages.has(messageId)) return conv;
  return null;
}

/** The history bound past the newest (`after`) or oldest (`before`) message held. */
export function cursor(conv, newest) {
  if (!conv.order.length) return null;
  const id = newest ? conv.order[conv.order.length - 1] : conv.order[0];
  if (conv.kind !== 'room') return id;
  const seqs = conv.order.map((key) => conv.messages.get(key).seq).filter((s) => typeof s === 'number');
  if (!seqs.length) return null;
  return newest ? Math.max(...seqs) : Math.min(...seqs);
}

export function historyScope(conv) {
  if (conv.kind === 'room') return { roomId: conv.roomId };
  if (conv.kind === 'group') return { groupId: conv.groupId };
  return { with: conv.peer };
}

export function nickOf(userId, fallback) {
  return state.nicks.get(userId) || fallback || userId;
}

export function rememberNick(userId, nick, authoritative = true) {
  if (!userId || !nick) return;
  if (authoritative || !state.nicks.has(userId)) state.nicks.set(userId, nick);
}

export function roomConv() {
  return state.convs.get('room');
}

// ---------------------------------------------------------------------------
// Requests

export function request(action, data) {
  if (!socket) return Promise.reject(new ChatError('offline', 'Not connected.'));
  return socket.request(action, data);
}

// ---------------------------------------------------------------------------
// The room saved for a reload

export function readSavedRoom() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(ROOM_KEY) || 'null');
    return saved && Number.isInteger(saved.roomId) && saved.roomId > 0 ? saved : null;
  } catch {
    return null;
  }
}

export function saveRoom() {
  if (state.roomId > 0) {
    sessionStorage.setItem(ROOM_KEY, JSON.stringify({ roomId: state.roomId, password: state.roomPassword }));
  } else {
    sessionStorage.removeItem(ROOM_KEY);
  }
}
