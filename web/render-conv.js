// Rendering of the conversation pane: the tabs, the composer's label, the page title and the
// messages of the active conversation.

import { state, socket, nickOf } from './state.js';
import { $, el, show, hashOf, formatTime, formatFull, formatDay, linkified } from './dom.js';
import { renderTyping } from './typing.js';

export function avatar(userId, nick) {
  const letter = [...(nick || userId || '?')][0].toUpperCase();
  return el('span', { class: `avatar avatar--${hashOf(userId || '', 8)}`, 'aria-hidden': 'true', text: letter });
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

export function renderTabs() {
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

export function activateConv(key) {
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

export function renderConvIfActive(conv, options) {
  if (conv.key === state.active) renderActiveConv(options);
}

export function renderHistoryControls() {
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
      el('p', { class: 'msg__text', 'data-testid': 'message-text' }, linkified(message.text)),
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
export function renderActiveConv({ stick = false, keepAnchor = false } = {}) {
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
  renderTyping();
  if (keepAnchor) box.scrollTop = box.scrollHeight - fromBottom;
  else if (stick || atBottom) box.scrollTop = box.scrollHeight;
}

export function noteUnread(conv, added) {
  const fromOthers = added.filter((m) => !state.me || m.from.userId !== state.me.userId).length;
  if (!fromOthers) return;
  if (conv.key !== state.active || document.hidden) conv.unread += fromOthers;
  renderTitle();
}
