// The people panel's list: everyone online and where they are, from user.listOnline.
//
// The server tells a connection of changes to the lists it is in (the lobby's people and
// rooms, its room's people, its group), not of every move everywhere, so the list is asked
// for again whenever one of those changes arrives: after a short quiet spell, so that a burst
// of arrivals costs one request. Each request reads every live connection on the server
// (docs/PERFORMANCE.md), so it is asked for only when something changed, and inside a room,
// where the lobby's changes are not told at all, now and then while the page is shown.

import { state, request, rememberNick } from './state.js';
import { renderPeople } from './render-panels.js';

const QUIET_MS = 300;
// Everyone told of one change asks at about the same moment; spread out, they ask in turn.
const SPREAD_MS = 700;
const IN_ROOM_EVERY_MS = 30000;
// One listing reads every live connection, and a busy lobby changes every second: each tab
// lists at most this often, so the cost stays (tabs ÷ 5 s) listings a second, not
// tabs × changes.
const MIN_GAP_MS = 5000;

let quietTimer = null;
let asking = false;
let askAgain = false;
let roomTimer = null;
let lastAskedAt = -Infinity;

/** Asks for the list once the changes arriving now have settled. */
export function refreshPeopleSoon() {
  clearTimeout(quietTimer);
  const settled = QUIET_MS + Math.random() * SPREAD_MS;
  const allowed = lastAskedAt + MIN_GAP_MS - performance.now();
  quietTimer = setTimeout(refreshPeople, Math.max(settled, allowed));
}

/** Asks for the list now; one request at a time, the last change asked for after it. */
export async function refreshPeople() {
  clearTimeout(quietTimer);
  quietTimer = null;
  if (asking) {
    askAgain = true;
    return;
  }
  asking = true;
  lastAskedAt = performance.now();
  const asked = state;
  try {
    const reply = await request('user.listOnline');
    if (state !== asked) return; // logged out or in again meanwhile
    state.online = reply.users || [];
    for (const user of state.online) rememberNick(user.userId, user.nick);
    renderPeople();
    await learnRoomTitles(asked);
  } catch {
    // The list shown stays; the next change, or the next (re)connection, asks again.
  } finally {
    asking = false;
    if (askAgain) {
      askAgain = false;
      refreshPeopleSoon();
    }
  }
}

/**
 * The lobby's room list stays current by itself; inside a room it is not told of new rooms,
 * so a place never heard of is looked up.
 */
async function learnRoomTitles(asked) {
  if (!state.room) return;
  const unknown = state.online.some((user) =>
    (user.roomIds || []).some((id) => id > 0 && id !== state.roomId && !state.rooms.has(id)),
  );
  if (!unknown) return;
  const rooms = await request('room.list');
  if (state !== asked) return;
  state.rooms = new Map((rooms.rooms || []).map((r) => [r.roomId, r]));
  renderPeople();
}

/** A user's nick and group changed: shown at once, no request needed. */
export function updateListedUser(user) {
  const listed = state.online.find((u) => u.userId === user.userId);
  if (listed) Object.assign(listed, { nick: user.nick, groupId: user.groupId ?? null });
}

export function startPeopleRefresh() {
  stopPeopleRefresh();
  roomTimer = setInterval(() => {
    if (state.room && !document.hidden) refreshPeople();
  }, IN_ROOM_EVERY_MS);
}

export function stopPeopleRefresh() {
  clearInterval(roomTimer);
  roomTimer = null;
  clearTimeout(quietTimer);
  quietTimer = null;
}
