// Rendering of the header and the side panels: me, where I am, the connection, the lobby's
// rooms, the current room, the groups and the people list.

import { state, nickOf } from './state.js';
import { $, el, show } from './dom.js';
import { avatar, renderTabs, renderActiveConv } from './render-conv.js';

/**
 * What the panels' buttons do: joining a room or a group and opening a whisper. Set once by
 * app.js, as those actions render the panels in turn.
 */
const actions = { joinRoom: null, joinGroup: null, openWhisper: null };

export function setPanelActions(handlers) {
  Object.assign(actions, handlers);
}

export function renderAll() {
  renderMe();
  renderLocation();
  renderRooms();
  renderRoom();
  renderGroups();
  renderPeople();
  renderTabs();
  renderActiveConv({ stick: true });
}

export function renderMe() {
  if (!state.me) return;
  $('me-nick').textContent = state.me.nick || state.me.userId;
  $('me-id').textContent = `@${state.me.userId}`;
}

export function renderLocation() {
  $('location').textContent = state.room ? `Lobby › ${state.room.title}` : 'Lobby';
}

let countdownTimer = null;
export function renderConnection(detail) {
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

export function renderRooms() {
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
          onclick: () => actions.joinRoom(room),
        }),
      ),
    );
  }
  show($('room-list-empty'), rooms.length === 0);
}

export function renderRoom() {
  const room = state.room;
  show($('room-panel'), Boolean(room));
  if (!room) return;
  $('room-title').textContent = room.title;
  $('room-owner').textContent = `${nickOf(room.owner)} (@${room.owner})`;
  $('room-count').textContent = `${room.count} of ${room.capacity}`;
  $('room-access').textContent = room.hasPassword ? 'Password protected' : 'Open';
  show($('room-settings-button'), Boolean(state.me && room.owner === state.me.userId));
}

export function renderGroups() {
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
              onclick: () => actions.joinGroup(group.groupId),
            }),
      ),
    );
  }
  show($('group-list-empty'), groups.length === 0);
}

/** What a place is called in the people list: the lobby, or a room's title when known. */
function placeName(roomId) {
  if (roomId === 0) return 'Lobby';
  if (state.room && roomId === state.roomId) return state.room.title;
  const room = state.rooms.get(roomId);
  return room ? room.title : `Room ${roomId}`;
}

/** Everyone online, each with where they are; in a room, its people first. */
export function renderPeople() {
  const inRoom = Boolean(state.room);
  const here = (user) => inRoom && (user.roomIds || []).includes(state.roomId);
  const users = [...state.online].sort((a, b) => Number(here(b)) - Number(here(a)));
  $('people-heading').textContent = `Online (${users.length})`;
  const list = $('user-list');
  list.dataset.scope = 'online';
  list.replaceChildren();
  const meId = state.me && state.me.userId;
  for (const user of users) {
    const nick = nickOf(user.userId, user.nick);
    const isMe = user.userId === meId;
    const inMyRoom = here(user);
    const isOwner = inMyRoom && state.room.owner === user.userId;
    const where = (user.roomIds || []).map(placeName).join(', ');
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
          el('span', { class: 'muted user__where', 'data-testid': 'user-where', title: 'Where they are', text: where }),
        ),
        isMe
          ? null
          : el(
              'span',
              { class: 'user__actions' },
              inMyRoom && state.room.owner === meId
                ? el('button', {
                    type: 'button',
                    class: 'btn btn--small',
                    'data-testid': 'kick-button',
                    'aria-label': `Remove ${nick} from the room`,
                    text: 'Kick',
                    onclick: () => actions.kickUser(user.userId, nick),
                  })
                : null,
              el('button', {
                type: 'button',
                class: 'btn btn--small btn--whisper',
                'data-testid': 'whisper-button',
                'aria-label': `Whisper to ${nick}`,
                text: 'Whisper',
                onclick: () => {
                  actions.openWhisper(user.userId, nick);
                  $('composer-input').focus();
                },
              }),
            ),
      ),
    );
  }
  show($('user-list-empty'), users.filter((u) => u.userId !== meId).length === 0);
}
