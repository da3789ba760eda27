// Rendering of the conversation pane: the tabs, the composer's label, the page title and the
// messages of the active conversation.

import { state, socket, nickOf, mentionsMe } from './state.js';
import { $, el, show, hashOf, formatTime, formatFull, formatDay, linkified, countText } from './dom.js';
import { renderTyping } from './typing.js';
import { atBottom, markViewed, noteArrivals, placeDivider } from './reading.js';

// The quick reactions offered by a message's react button.
export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢'];
// Scrolled up further than this from the end, the "jump to latest" button shows.
const JUMP_AFTER_PX = 150;

/**
 * How a tab that was never loaded gets its history (conversations.js, which renders through
 * this module in turn): a whisper partner listed at connect time loads when first opened.
 */
let loadConv = () => {};

export function setConvLoader(load) {
  loadConv = load;
}

export function avatar(userId, nick) {
  const letter = [...(nick || userId || '?')][0].toUpperCase();
  return el('span', { class: `avatar avatar--${hashOf(userId || '', 8)}`, 'aria-hidden': 'true', text: letter });
}

function convTitle(conv) {
  if (conv.kind === 'room') return conv.roomId === 0 ? 'Lobby' : `# ${state.room ? state.room.title : 'Room'}`;
  if (conv.kind === 'group') return `Group ${conv.groupId}`;
  return `@ ${nickOf(conv.peer)}`;
}

/** The room, the group, then the whispers with the newest message first. */
function convOrder() {
  const convs = [...state.convs.values()];
  const rank = { room: 0, group: 1, whisper: 2 };
  return convs.sort(
    (a, b) => rank[a.kind] - rank[b.kind] || (b.lastAt > a.lastAt ? 1 : b.lastAt < a.lastAt ? -1 : 0),
  );
}

function unreadBadges(conv) {
  const badges = [];
  if (conv.mentions > 0) {
    const n = countText(conv.mentions);
    badges.push(
      el('span', {
        class: 'tab__mentions',
        'data-testid': 'conv-mentions',
        'aria-label': `${n} mention${conv.mentions === 1 ? '' : 's'}`,
        title: 'Messages that mention you',
        text: `@${n}`,
      }),
    );
  }
  if (conv.unread > 0) {
    const n = countText(conv.unread);
    badges.push(el('span', { class: 'tab__unread', 'data-testid': 'conv-unread', 'aria-label': `${n} unread`, text: n }));
  }
  return badges;
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
        class: `tab tab--${conv.kind}${conv.mentions > 0 ? ' tab--mentioned' : ''}`,
        'aria-selected': String(selected),
        'aria-controls': 'messages',
        tabindex: selected ? '0' : '-1',
        'data-testid': 'conv-tab',
        'data-conv': conv.key,
        onclick: () => activateConv(conv.key),
        onkeydown: (event) => moveTab(event, conv.key),
      },
      el('span', { class: 'tab__label', text: convTitle(conv) }),
      unreadBadges(conv),
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
  const conv = state.convs.get(key);
  if (!conv) return;
  if (state.active !== key) {
    state.active = key;
    state.editing = null;
    state.picking = null;
    // The line marks what was new when the tab was opened; it is placed once they are loaded.
    conv.divider = null;
    conv.dividerCount = conv.unread;
  }
  if (!conv.loaded && !conv.loading) loadConv(conv);
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
  const total = $('phone-unread');
  total.textContent = unread ? countText(unread) : '';
  show(total, unread > 0);
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

/** What the user may do to a message: edit their own, delete their own or any in a room they own. */
export function allowed(message) {
  const me = state.me && state.me.userId;
  const mine = Boolean(me) && message.from.userId === me;
  const owner = message.type === 'all' && Boolean(state.room) && message.roomId === state.roomId && state.room.owner === me;
  const live = !message.deleted;
  return { edit: live && mine, delete: live && (mine || owner), react: live };
}

function actionBar(message, nick) {
  const can = allowed(message);
  if (!can.react) return null;
  const button = (action, testid, label, text, extra = {}) =>
    el('button', { type: 'button', class: 'msg__action', 'data-action': action, 'data-testid': testid, 'aria-label': label, title: label, text, ...extra });
  return el(
    'div',
    { class: 'msg__actions', role: 'toolbar', 'aria-label': `Message from ${nick}` },
    button('pick', 'message-react', 'Add a reaction', '☺+', { 'aria-expanded': String(state.picking === message.messageId) }),
    can.edit ? button('edit', 'message-edit', 'Edit message', 'Edit') : null,
    can.delete ? button('delete', 'message-delete', 'Delete message', 'Delete') : null,
  );
}

function picker(message) {
  const mineOf = (emoji) => reactedByMe(message, emoji);
  return el(
    'div',
    { class: 'msg__picker', role: 'group', 'aria-label': 'Pick a reaction', 'data-testid': 'reaction-picker' },
    QUICK_EMOJI.map((emoji) =>
      el('button', {
        type: 'button',
        class: 'picker__emoji',
        'data-action': 'react',
        'data-emoji': emoji,
        'data-testid': 'reaction-pick',
        'aria-pressed': String(mineOf(emoji)),
        'aria-label': `React with ${emoji}`,
        text: emoji,
      }),
    ),
  );
}

export function reactedByMe(message, emoji) {
  const reaction = (message.reactions || []).find((r) => r.emoji === emoji);
  return Boolean(reaction && state.me && reaction.users.includes(state.me.userId));
}

function reactionChips(message) {
  const reactions = (message.reactions || []).filter((r) => r.count > 0);
  if (!reactions.length) return null;
  return el(
    'div',
    { class: 'msg__reactions', 'data-testid': 'reactions' },
    reactions.map((reaction) => {
      const mine = reactedByMe(message, reaction.emoji);
      const names = reaction.users.map((id) => nickOf(id));
      const more = reaction.count - reaction.users.length;
      const who = names.join(', ') + (more > 0 ? ` and ${more} more` : '');
      return el(
        'button',
        {
          type: 'button',
          class: `chip${mine ? ' chip--mine' : ''}`,
          'data-action': 'react',
          'data-emoji': reaction.emoji,
          'data-testid': 'reaction',
          'aria-pressed': String(mine),
          'aria-label': `${reaction.emoji} ${reaction.count}: ${who}. ${mine ? 'Remove your reaction' : 'React too'}`,
          title: who,
        },
        el('span', { class: 'chip__emoji', text: reaction.emoji }),
        el('span', { class: 'chip__count', 'data-testid': 'reaction-count', text: String(reaction.count) }),
      );
    }),
  );
}

function editor(message) {
  return el(
    'form',
    { class: 'msg__edit', 'data-testid': 'message-edit-form', novalidate: true },
    el('textarea', {
      class: 'msg__editor',
      rows: '1',
      maxlength: '2000',
      'aria-label': 'Edit message (Enter saves, Escape cancels)',
      'data-testid': 'message-editor',
    }),
    el(
      'div',
      { class: 'msg__edit-row' },
      el('span', { class: 'muted msg__edit-hint', text: 'Enter saves · Escape cancels' }),
      el('button', { type: 'button', class: 'btn btn--small', 'data-action': 'edit-cancel', 'data-testid': 'message-edit-cancel', text: 'Cancel' }),
      el('button', { type: 'submit', class: 'btn btn--small btn--primary', 'data-testid': 'message-edit-save', text: 'Save' }),
    ),
  );
}

function messageItem(message, compact = false) {
  const mine = state.me && message.from.userId === state.me.userId;
  const nick = nickOf(message.from.userId, message.from.nick);
  const sent = new Date(message.sentAt);
  const mentioned = !message.deleted && mentionsMe(message);
  const editing = state.editing && state.editing.messageId === message.messageId && !message.deleted;
  let tag = null;
  if (message.type === 'whisper') {
    tag = mine ? `whisper to ${nickOf(message.to)}` : 'whispers to you';
  } else if (message.type === 'group') {
    tag = `group ${message.groupId}`;
  }
  let body;
  if (message.deleted) {
    body = el('p', { class: 'msg__text msg__text--deleted', 'data-testid': 'message-deleted', text: 'message deleted' });
  } else if (editing) {
    body = editor(message);
  } else {
    const me = state.me && state.me.userId;
    body = el('p', { class: 'msg__text', 'data-testid': 'message-text' }, linkified(message.text, message.mentions || [], me));
  }
  const edited =
    message.editedAt && !message.deleted
      ? el('span', { class: 'msg__edited', 'data-testid': 'message-edited', title: `Edited ${formatFull(new Date(message.editedAt))}`, text: '(edited)' })
      : null;
  const chips = message.deleted ? null : reactionChips(message);
  const classes = ['msg', `msg--${message.type}`];
  if (mine) classes.push('msg--mine');
  if (compact) classes.push('msg--cont');
  if (mentioned) classes.push('msg--mention');
  if (message.deleted) classes.push('msg--deleted');
  return el(
    'li',
    {
      class: classes.join(' '),
      'data-testid': 'message',
      'data-message-id': message.messageId,
      'data-type': message.type,
      // Focusable by a tap, which shows its toolbar on a touch screen.
      tabindex: '-1',
      'data-mentioned': mentioned ? 'true' : null,
      'data-deleted': message.deleted ? 'true' : null,
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
      body,
      edited || chips ? el('div', { class: 'msg__foot' }, edited, chips) : null,
      state.picking === message.messageId && !message.deleted ? picker(message) : null,
    ),
    editing ? null : actionBar(message, nick),
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

/** Where the keyboard focus is inside the message list, to put it back after a redraw. */
function focusWithin(list) {
  const active = document.activeElement;
  if (!active || !list.contains(active)) return null;
  const item = active.closest('[data-message-id]');
  if (!item) return null;
  return {
    messageId: item.dataset.messageId,
    testid: active.dataset.testid || '',
    emoji: active.dataset.emoji || '',
    selection: 'selectionStart' in active ? [active.selectionStart, active.selectionEnd] : null,
  };
}

function restoreFocus(list, focus) {
  if (!focus) return;
  const item = list.querySelector(`[data-message-id="${CSS.escape(focus.messageId)}"]`);
  if (item && focus.testid === 'message') {
    item.focus({ preventScroll: true });
    return;
  }
  let target = item && item.querySelector(`[data-testid="${focus.testid}"]${focus.emoji ? `[data-emoji="${CSS.escape(focus.emoji)}"]` : ''}`);
  // The control went (a picker closed, an edit ended): the message's own toolbar keeps it nearby.
  if (!target && item) target = item.querySelector('[data-testid="message-react"]');
  if (!target) return;
  target.focus({ preventScroll: true });
  if (focus.selection && 'setSelectionRange' in target) target.setSelectionRange(...focus.selection);
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
  const wasAtBottom = atBottom();
  const fromBottom = box.scrollHeight - box.scrollTop;
  const focus = focusWithin(list);
  const editorFocused = focus && focus.testid === 'message-editor';
  list.replaceChildren();
  if (conv) {
    list.dataset.conv = conv.key;
    if (conv.loaded && conv.dividerCount) placeDivider(conv);
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
      if (id === conv.divider) {
        list.append(el('li', { class: 'new-divider', role: 'separator', 'data-testid': 'new-divider', text: 'New messages' }));
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
  const input = list.querySelector('[data-testid="message-editor"]');
  if (input) {
    input.value = state.editing.text;
    input.addEventListener('input', () => {
      if (state.editing) state.editing.text = input.value;
    });
  }
  renderHistoryControls();
  renderTyping();
  if (keepAnchor) box.scrollTop = box.scrollHeight - fromBottom;
  else if (stick || wasAtBottom) box.scrollTop = box.scrollHeight;
  restoreFocus(list, focus);
  if (input && !editorFocused && state.editing.fresh) {
    state.editing.fresh = false;
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }
  onMessagesScrolled();
}

/** The list moved (or was redrawn): the jump button, and whether it now counts as read. */
export function onMessagesScrolled() {
  const conv = state.convs.get(state.active);
  const box = $('messages');
  const away = box.scrollHeight - box.scrollTop - box.clientHeight > JUMP_AFTER_PX;
  const jump = $('jump-latest');
  show(jump, Boolean(conv) && away);
  const fresh = conv && conv.unread > 0 ? `${countText(conv.unread)} new · ` : '';
  jump.textContent = `${fresh}Jump to latest`;
  if (conv && markViewed(conv)) renderTabs();
}

/** The window got the focus or was shown again: what is on screen now counts as read. */
export function recheckViewed() {
  const conv = state.convs.get(state.active);
  if (conv && markViewed(conv)) renderTabs();
}

export function jumpToLatest() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
  onMessagesScrolled();
  $('composer-input').focus({ preventScroll: true });
}

export function noteUnread(conv, added) {
  if (noteArrivals(conv, added)) renderTitle();
}
