// The chat view's connection life: starting and stopping it, and what every (re)connection
// does.

import { ChatSocket } from './socket.js';
import { describeError } from './errors.js';
import { $, show } from './dom.js';
import {
  ROOM_KEY,
  session,
  socket,
  setSocket,
  state,
  resetState,
  rememberNick,
  request,
  readSavedRoom,
} from './state.js';
import { toast } from './toast.js';
import { renderAll, renderConnection } from './render-panels.js';
import {
  snapshotCursors,
  catchUp,
  loadInitial,
  setMe,
  enterRoom,
  enterLobby,
  applyGroupList,
  syncGroupConv,
  loadConversations,
} from './conversations.js';
import { onEvent } from './events.js';
import { flushOutbox } from './sending.js';
import { forgetTypists } from './typing.js';
import { startPeopleRefresh, stopPeopleRefresh } from './people.js';

export function startChat() {
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
  startPeopleRefresh();
  $('composer-input').focus();
}

export function stopChat() {
  if (socket) socket.stop();
  setSocket(null);
  stopPeopleRefresh();
  closeDialogs();
  sessionStorage.removeItem(ROOM_KEY);
  resetState();
  forgetTypists();
}

function closeDialogs() {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
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
  // Every whisper partner gets a tab, and every tab the server's unread counts.
  await loadConversations().catch((err) => {
    if (err.code !== 'offline') toast(describeError(err));
  });
  // Conversations opened while offline never got their first page; listed partners wait for a look.
  for (const conv of state.convs.values()) {
    if (!conv.loaded && !conv.loading && (!conv.deferred || conv.key === state.active)) loadInitial(conv);
  }
  flushOutbox();
}
