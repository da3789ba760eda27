// Actions from the UI: the dialogs (join a protected room, create a room, room settings,
// nickname) and the main view's controls (leave, groups, composer, history, log out).

import { describeError } from './errors.js';
import { $, codePoints } from './dom.js';
import { session, socket, state, request, saveRoom } from './state.js';
import { toast, formError } from './toast.js';
import { renderAll } from './render-panels.js';
import { activateConv, onMessagesScrolled, recheckViewed } from './render-conv.js';
import { loadOlder, setMe, enterRoom, enterLobby, applyGroupList } from './conversations.js';
import { sendMessage } from './sending.js';
import { updateListedUser } from './people.js';
import { tellTyping } from './typing.js';
import { showPanel } from './panels.js';
import { stopChat } from './chat.js';
import { showAuth } from './auth.js';

const GROUP_ID = /^[A-Za-z0-9_-]{1,30}$/;

/** The owner removes someone from the room; they may not come back for 10 minutes. */
export async function kickUser(userId, nick) {
  try {
    state.room = await request('room.kick', { userId });
    renderAll();
    toast(`${nick} was removed from the room.`);
  } catch (err) {
    toast(describeError(err, 'kick'));
  }
}

export async function joinRoom(room) {
  if (room.hasPassword) {
    openJoinDialog(room);
    return;
  }
  try {
    enterRoom(await request('room.join', { roomId: room.roomId }));
    showPanel('conv');
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

export function wireDialogs() {
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
      showPanel('conv');
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
      showPanel('conv');
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
      updateListedUser(user);
      renderAll();
      toast(`You are now “${user.nick}”.`, 'info');
    } catch (err) {
      formError('nick-error', describeError(err, 'nick'));
    }
    return undefined;
  });
}

export async function joinGroup(groupId) {
  try {
    const reply = await request('group.join', { groupId });
    setMe({ groupId: reply.groupId });
    activateConv('group');
    showPanel('conv');
  } catch (err) {
    toast(describeError(err, 'groupJoin'));
  }
}

export function wireMain() {
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
      showPanel('conv');
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
  input.addEventListener('input', tellTyping);
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
    onMessagesScrolled();
  });

  $('conn-retry').addEventListener('click', () => socket && socket.retryNow());

  $('logout-button').addEventListener('click', async () => {
    stopChat();
    await session.logout();
    showAuth('');
    toast('You have logged out.', 'info');
  });

  // Back in the window: what it shows is read now.
  document.addEventListener('visibilitychange', recheckViewed);
  window.addEventListener('focus', recheckViewed);

  session.addEventListener('ended', (event) => {
    stopChat();
    const reason = event.detail && event.detail.reason;
    showAuth(reason === 'elsewhere' ? 'You were logged out in another tab.' : 'Your session has ended. Please log in again.');
  });
  session.addEventListener('change', () => {
    if (state.me && session.user && session.user.nick !== state.me.nick) setMe({ nick: session.user.nick });
  });
}
