// "X is typing…": telling the server while the composer changes, and showing who is typing
// in the conversation on screen.

import { $, show } from './dom.js';
import { state, request, nickOf } from './state.js';

// The server passes one typing event per connection every 2 s; telling it more often only
// earns `{"sent": false}`.
const TELL_EVERY_MS = 2000;
// A typist who has said nothing more for this long has stopped.
const SHOW_FOR_MS = 5000;

let lastTold = 0;
let later = null;
// Conversation key -> Map(userId -> time their typing stops showing).
const typists = new Map();

function tellLater(delayMs) {
  if (!later) {
    later = setTimeout(() => {
      later = null;
      tellTyping();
    }, delayMs);
  }
}

/** The composer changed: tell the conversation's audience, at most every 2 s. */
export function tellTyping() {
  const conv = state.convs.get(state.active);
  if (!conv || !$('composer-input').value.trim()) return;
  const wait = lastTold + TELL_EVERY_MS - Date.now();
  if (wait > 0) {
    // Still typing when the interval is up: tell them then.
    tellLater(wait);
    return;
  }
  lastTold = Date.now();
  let data = { type: 'all' };
  if (conv.kind === 'group') data = { type: 'group' };
  else if (conv.kind === 'whisper') data = { type: 'whisper', to: conv.peer };
  // Typing is a courtesy: a refusal or a lost connection is not worth the user's attention.
  request('chat.typing', data).then(
    (reply) => {
      // The server's 2 s ran from a moment later than this clock's: try again shortly.
      if (reply && reply.sent === false) tellLater(500);
    },
    () => {},
  );
}

/** A `chat.typing` event. */
export function onTyping(data) {
  if (!data || !data.from || !state.me) return;
  let key = null;
  if (data.type === 'all' && data.roomId === state.roomId) key = 'room';
  else if (data.type === 'group' && data.groupId === state.me.groupId) key = 'group';
  else if (data.type === 'whisper' && data.with) key = `dm:${data.with}`;
  if (!key) return;
  if (!typists.has(key)) typists.set(key, new Map());
  typists.get(key).set(data.from.userId, Date.now() + SHOW_FOR_MS);
  renderTyping();
  setTimeout(renderTyping, SHOW_FOR_MS + 50);
}

/** Their message arrived: they are done typing it. */
export function stoppedTyping(convKey, userId) {
  if (typists.get(convKey)?.delete(userId)) renderTyping();
}

export function forgetTypists() {
  typists.clear();
  renderTyping();
}

export function renderTyping() {
  const now = Date.now();
  const here = typists.get(state.active);
  const names = [];
  for (const [userId, until] of here || []) {
    if (until > now) names.push(nickOf(userId));
    else here.delete(userId);
  }
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  const line = $('typing');
  line.textContent = text;
  show(line, Boolean(text));
}
