// Small DOM helpers. Text always goes in through textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

/** el('li', {class: 'x', 'data-testid': 'y', onclick: fn, text: 'hi'}, child, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

/** A stable small number for a string (avatar colours). */
export function hashOf(text, buckets) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % buckets;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

export function formatTime(date) {
  return timeFormat.format(date);
}

export function formatFull(date) {
  return fullFormat.format(date);
}

export function formatDay(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (date.toDateString() === today.toDateString()) return 'Today';
  if (date.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return dayFormat.format(date);
}

/** Length in Unicode code points, as the protocol counts. */
export function codePoints(text) {
  return [...text].length;
}

// http and https only: any other scheme (javascript:, data:) stays plain text.
const LINK = /\bhttps?:\/\/[^\s<>"]+/g;
// Punctuation that ends a sentence rather than the address.
const TRAILING = /[.,;:!?')\]]+$/;

/**
 * Text with its http(s) addresses as links that open apart from this page, and the `@userId`
 * of each user in `mentions` emphasised (`me` the more so).
 */
export function linkified(text, mentions = [], me = null) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(TRAILING, '');
    if (match.index > last) parts.push(...withMentions(text.slice(last, match.index), mentions, me));
    parts.push(el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'message-link', text: url }));
    last = match.index + url.length;
  }
  if (last < text.length) parts.push(...withMentions(text.slice(last), mentions, me));
  return parts;
}

// As the server reads a mention: `@` after a word boundary, then the user id. Only ids the
// server put in `mentions` (users that exist) are emphasised.
const MENTION = /(?<![A-Za-z0-9_])@([A-Za-z0-9_]+)/g;

function withMentions(text, mentions, me) {
  if (!mentions.length) return [text];
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    if (!mentions.includes(match[1])) continue;
    if (match.index > last) parts.push(text.slice(last, match.index));
    const mine = match[1] === me;
    parts.push(el('strong', { class: `mention${mine ? ' mention--me' : ''}`, 'data-testid': 'mention', text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** What an unread or mention badge says: the server counts up to 999. */
export function countText(count) {
  return count >= 999 ? '999+' : String(count);
}
