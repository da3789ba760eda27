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
    unread: 0,
  };
}

function byMessageId(a, b) {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Adds messages, ignoring ones already there; returns the new ones. */
export function addMessages(conv, messages) {
  const added = [];
  for (const message of messages) {
    if (!message || !message.messageId || conv.messages.has(message.messageId)) continue;
    conv.messages.set(message.messageId, message);
    added.push(message);
    if (message.from) rememberNick(message.from.userId, message.from.nick, false);
  }
  if (added.length) conv.order = [...conv.messages.keys()].sort(byMessageId);
  return added;
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
