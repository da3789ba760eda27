// Server events pushed over the socket.

import { ChatError, describeError } from './errors.js';
import { state, addMessages, rememberNick, roomConv, nickOf, convForKey } from './state.js';
import { toast } from './toast.js';
import { renderRooms, renderRoom, renderGroups, renderPeople, renderLocation } from './render-panels.js';
import { renderTabs, renderConvIfActive, renderActiveConv, noteUnread } from './render-conv.js';
import { setMe, openWhisper, enterLobby } from './conversations.js';
import { onTyping, stoppedTyping } from './typing.js';
import { refreshPeopleSoon, updateListedUser } from './people.js';
import { onMessageChanged, onReactions } from './message-actions.js';
import { applyRead } from './reading.js';

export function onEvent(event, data) {
  switch (event) {
    case 'chat.in':
      return onChatIn(data);
    case 'room.list.refresh':
      if (data.room) state.rooms.set(data.roomId, data.room);
      else state.rooms.delete(data.roomId);
      renderRooms();
      renderPeople();
      // A count that changed is someone arriving or leaving.
      return refreshPeopleSoon();
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
      return onUserChange(data.change, data.user);
    case 'user.listInRoom.refresh':
      if (data.roomId === state.roomId && state.room && data.user) {
        const members = new Map((state.room.members || []).map((u) => [u.userId, u]));
        if (data.change === 'left') members.delete(data.user.userId);
        else members.set(data.user.userId, data.user);
        state.room.members = [...members.values()];
        state.room.count = state.room.members.length;
        renderRoom();
        onUserChange(data.change, data.user);
      }
      return undefined;
    case 'group.list.refresh':
      if (data.members > 0) state.groups.set(data.groupId, data);
      else state.groups.delete(data.groupId);
      renderGroups();
      // Its online count changes as members come and go, wherever they are.
      return refreshPeopleSoon();
    case 'room.kicked':
      if (data.roomId !== state.roomId) return undefined;
      toast(`${nickOf(data.by)} removed you from the room.`);
      return enterLobby().catch((err) => toast(describeError(err)));
    case 'chat.typing':
      return onTyping(data);
    case 'chat.edited':
    case 'chat.deleted':
      return onMessageChanged(data);
    case 'chat.reactions':
      return onReactions(data);
    case 'chat.read':
      return onRead(data);
    case 'system.error':
      return toast(describeError(new ChatError(data.code || 'error', data.message)));
    default:
      return undefined;
  }
}

/** Someone joined or left a list this connection is in, or was renamed. */
function onUserChange(change, user) {
  if (!user) return;
  if (change === 'updated') {
    rememberNick(user.userId, user.nick);
    if (state.me && user.userId === state.me.userId) setMe({ nick: user.nick, groupId: user.groupId ?? null });
    updateListedUser(user);
    renderActiveConv();
    renderTabs();
    renderPeople();
  } else {
    refreshPeopleSoon();
  }
}

/** The user read a conversation in another tab. */
function onRead(data) {
  const conv = convForKey(data);
  if (!conv || data.upTo == null) return;
  applyRead(conv, data.upTo);
  renderTabs();
  renderConvIfActive(conv);
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
  stoppedTyping(conv.key, message.from.userId);
  const added = addMessages(conv, [message]);
  noteUnread(conv, added);
  renderConvIfActive(conv);
  renderTabs();
}
