// The chatting browser client: sign up / log in, lobby, rooms, groups, whispers.
// Wire contract: PROTOCOL.md (HTTP /auth/*, WebSocket frames {action, requestId, data}).
//
// The modules, each importing only the ones above it:
//   state.js          the session, the socket, the per-login state, requests
//   toast.js          toasts and form errors
//   typing.js         "X is typing…": telling and showing
//   reading.js        unread and mention counts, the "new messages" line, chat.read
//   render-conv.js    the conversation pane: tabs, composer label, messages
//   message-actions.js  editing, deleting and reacting to a message; their events
//   panels.js         the phone layout's one panel at a time
//   render-panels.js  the header and the side panels
//   people.js         the people list: everyone online and where, kept current
//   conversations.js  history loading; entering rooms, the lobby, groups, whispers
//   events.js         server events
//   sending.js        the outbox
//   chat.js           starting and stopping the chat view; each (re)connection
//   auth.js           the auth view
//   actions.js        the dialogs and the main view's controls
// and this entry point, which wires them up and starts.

import { session, socket, state, request } from './state.js';
import { setPanelActions } from './render-panels.js';
import { openWhisper } from './conversations.js';
import { startChat } from './chat.js';
import { showAuth, wireAuth } from './auth.js';
import { joinRoom, joinGroup, kickUser, wireDialogs, wireMain } from './actions.js';
import { showPanel, wirePanels } from './panels.js';
import { wireMessageActions } from './message-actions.js';

// ---------------------------------------------------------------------------
// Debug hook for tests and for trying the reconnect by hand.

window.chattingDebug = {
  /** Closes the WebSocket as a network loss would; the client stays down `holdMs`. */
  dropSocket(options = {}) {
    if (socket) socket.drop(options);
  },
  /** Sends one raw action over the WebSocket (as the devtools console could). */
  request(action, data = {}) {
    return request(action, data);
  },
  /** Rotates the token pair now. */
  refreshTokens() {
    return session.refresh();
  },
  snapshot() {
    return {
      connection: socket ? socket.state : 'closed',
      roomId: state.roomId,
      me: state.me,
      active: state.active,
      convs: [...state.convs.values()].map((c) => ({
        key: c.key,
        count: c.order.length,
        unread: c.unread,
        mentions: c.mentions,
        readUpTo: c.readUpTo,
      })),
    };
  },
};

// ---------------------------------------------------------------------------

setPanelActions({
  joinRoom,
  joinGroup,
  kickUser,
  // On a phone the conversation is another panel: opening one shows it.
  openWhisper: (userId, nick) => {
    showPanel('conv');
    openWhisper(userId, nick);
  },
});
wireAuth();
wireDialogs();
wireMain();
wirePanels();
wireMessageActions();
if (session.active) startChat();
else showAuth('');
