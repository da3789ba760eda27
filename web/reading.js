// What the user has seen: the unread and mention counts of each conversation, where the
// "new messages" line goes, and the read mark told to the server (and to the user's other
// tabs through it) with chat.read.

import { $ } from './dom.js';
import { describeError } from './errors.js';
import { state, historyScope, mentionsMe, readMarkAfter, readMarkOf, request } from './state.js';
import { toast } from './toast.js';

// Within this many pixels of the end the list counts as scrolled to the bottom.
export const BOTTOM_SLACK = 60;
// Reading moves the mark on with every message that arrives while the conversation is on
// screen: reads wait a little and go together, at most every few seconds, well within the
// server's limit on chat.read (30 in 10 s per connection).
const READ_AFTER_MS = 800;
const READ_GAP_MS = 3000;

const readsDue = new Set();
let readTimer = null;
let lastReadAt = -Infinity;
let readFailureShown = false;

export function atBottom() {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < BOTTOM_SLACK;
}

/**
 * On screen: the active tab, in a focused window, scrolled to its newest message, and shown
 * (a phone may show the people or the rooms instead).
 */
export function isViewed(conv) {
  if (!conv || !conv.loaded || conv.key !== state.active || document.hidden || !document.hasFocus()) return false;
  return $('messages').getClientRects().length > 0 && atBottom();
}

function fromOthers(message) {
  return !state.me || message.from.userId !== state.me.userId;
}

// As the server counts unread messages: from others, and not deleted.
function countsAsUnread(message) {
  return fromOthers(message) && !message.deleted;
}

/** New messages arrived in `conv`: the ones from others that nobody saw count as unread. */
export function noteArrivals(conv, added) {
  const unseen = added.filter(countsAsUnread);
  if (!unseen.length || isViewed(conv)) return false;
  conv.unread += unseen.length;
  conv.mentions += unseen.filter(mentionsMe).length;
  // Arriving in the open conversation while the user looks elsewhere: the line goes above them.
  if (conv.key === state.active && conv.divider == null && !conv.dividerCount) conv.divider = unseen[0].messageId;
  return true;
}

/** The newest `count` messages from others are the unread ones: the line goes above the oldest. */
export function placeDivider(conv) {
  let left = conv.dividerCount;
  conv.dividerCount = 0;
  conv.divider = null;
  for (let i = conv.order.length - 1; i >= 0 && left > 0; i--) {
    const message = conv.messages.get(conv.order[i]);
    if (!countsAsUnread(message)) continue;
    left--;
    conv.divider = message.messageId;
  }
}

/** The conversation is on screen: its counts go and the server hears it was read. */
export function markViewed(conv) {
  if (!isViewed(conv)) return false;
  const changed = conv.unread > 0 || conv.mentions > 0;
  conv.unread = 0;
  conv.mentions = 0;
  readsDue.add(conv);
  scheduleReads(Math.max(READ_AFTER_MS, lastReadAt + READ_GAP_MS - performance.now()));
  return changed;
}

function newestMark(conv) {
  let newest = null;
  for (const id of conv.order) {
    const mark = readMarkOf(conv, conv.messages.get(id));
    if (readMarkAfter(conv, mark, newest)) newest = mark;
  }
  return newest;
}

function scheduleReads(delayMs) {
  if (readTimer) return;
  readTimer = setTimeout(flushReads, delayMs);
}

function flushReads() {
  readTimer = null;
  let told = false;
  for (const conv of [...readsDue]) {
    readsDue.delete(conv);
    told = tellRead(conv) || told;
  }
  if (told) lastReadAt = performance.now();
}

/** Tells the server how far `conv` was read, if that is further than it heard; true if sent. */
function tellRead(conv) {
  if (state.convs.get(conv.key) !== conv) return false;
  const upTo = newestMark(conv);
  if (!readMarkAfter(conv, upTo, conv.readUpTo)) return false;
  const before = conv.readUpTo;
  conv.readUpTo = upTo;
  request('chat.read', { ...historyScope(conv), upTo }).catch((err) => {
    // Not told: the next view tries again (after a reconnect, if that was the trouble).
    if (conv.readUpTo === upTo) conv.readUpTo = before;
    if (err.code === 'rateLimited') {
      // Many conversations read at once: try again once the limit allows, without a word.
      readsDue.add(conv);
      scheduleReads(Number(err.data && err.data.retryAfterMs) || READ_GAP_MS);
    } else if (err.code !== 'offline' && err.code !== 'timeout' && !readFailureShown) {
      // Reading happens by itself, again and again: a server that refuses it is said once.
      readFailureShown = true;
      toast(describeError(err, 'read'));
    }
  });
  return true;
}

/** Another tab of the user read `conv` up to `upTo`: what it saw is no longer unread here. */
export function applyRead(conv, upTo) {
  if (readMarkAfter(conv, upTo, conv.readUpTo)) conv.readUpTo = upTo;
  let unread = 0;
  let mentions = 0;
  if (conv.loaded) {
    for (const id of conv.order) {
      const message = conv.messages.get(id);
      if (!countsAsUnread(message) || !readMarkAfter(conv, readMarkOf(conv, message), conv.readUpTo)) continue;
      unread++;
      if (mentionsMe(message)) mentions++;
    }
  }
  conv.unread = Math.min(conv.unread, unread);
  conv.mentions = Math.min(conv.mentions, mentions);
}
