// The chatting browser client: sign up / log in, lobby, rooms, groups, whispers.
// Wire contract: PROTOCOL.md (HTTP /auth/*, WebSocket frames {action, requestId, data}).
//
// The modules, each importing only the ones above it:
//   state.js          the session, the socket, the per-login state, requests
//   toast.js          toasts and form errors
//   typing.js         "X is typing…": telling and showing
//   render-conv.js    the conversation pane: tabs, composer label, messages
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
      convs: [...state.convs.values()].map((c) => ({ key: c.key, count: c.order.length, unread: c.unread })),
    };
  },
};

// ---------------------------------------------------------------------------

setPanelActions({ joinRoom, joinGroup, kickUser, openWhisper });
wireAuth();
wireDialogs();
wireMain();
if (session.active) startChat();
else showAuth('');
