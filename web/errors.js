// Readable text for every result code of PROTOCOL.md, plus the client's own
// (network, timeout, offline). A context picks a more precise wording where the
// same code means different things (e.g. `wrong` at login vs. at a room password).

export class ChatError extends Error {
  constructor(code, message, data = null, status = 0) {
    super(message || code);
    this.code = code;
    this.serverMessage = message || '';
    this.data = data;
    this.status = status;
  }
}

const GENERIC = {
  invalid: 'That request was not accepted. Please check what you entered.',
  notAuth: 'You are not allowed to do that, or your session has expired.',
  wrong: 'The password is wrong.',
  noInfo: 'Not found. It may have been closed or removed.',
  exist: 'That name is already taken.',
  noSpace: 'There is no space left: the room is full.',
  tooLarge: 'That is too long to send.',
  rateLimited: 'Slow down: you are sending too fast.',
  error: 'Something went wrong on the server. Please try again.',
  network: 'Cannot reach the server. Check your connection.',
  timeout: 'The server did not answer in time. Please try again.',
  offline: 'Not connected right now. Please wait for the connection to come back.',
};

const BY_CONTEXT = {
  login: { wrong: 'Wrong user ID or password.', noInfo: 'Wrong user ID or password.' },
  signup: { exist: 'That user ID is already taken. Please choose another one.' },
  idCheck: { exist: 'That user ID is already taken.' },
  join: {
    wrong: 'Wrong room password.',
    noSpace: 'This room is full. Try again when someone leaves.',
    noInfo: 'That room no longer exists.',
    notAuth: 'The room owner removed you from this room; you cannot come back yet.',
  },
  kick: {
    notAuth: 'Only the room owner can remove people.',
    noInfo: 'That person is no longer in the room.',
  },
  rejoin: {
    wrong: 'Could not re-enter the room: its password has changed.',
    noSpace: 'Could not re-enter the room: it filled up while you were away.',
    noInfo: 'The room was closed while you were away.',
  },
  roomUpdate: {
    notAuth: 'Only the room owner can change the room settings.',
  },
  whisper: { noInfo: 'There is no one with that user ID.' },
  groupCreate: { exist: 'A group with that ID already exists. Join it instead, or pick another ID.' },
  groupJoin: { noInfo: 'There is no group with that ID.' },
  groupLeave: { invalid: 'You are not in a group.' },
  groupSend: { invalid: 'Join a group before sending group messages.' },
  nick: { invalid: 'A nickname is 1 to 20 characters, without control characters.' },
  history: { notAuth: 'You can only read the history of a room you are in.' },
  edit: {
    notAuth: 'You can only edit your own messages.',
    noInfo: 'That message is no longer there.',
  },
  delete: {
    notAuth: 'You can only delete your own messages, or any message in a room you own.',
    noInfo: 'That message is no longer there.',
  },
  react: { noInfo: 'That message is no longer there.' },
  read: { notAuth: 'You are no longer in that room.' },
};

/** The sentence to show for an error (a ChatError, or anything thrown). */
export function describeError(err, context = '') {
  const code = err && err.code ? err.code : 'error';
  const specific = BY_CONTEXT[context] && BY_CONTEXT[context][code];
  let text = specific || GENERIC[code] || GENERIC.error;
  if (code === 'rateLimited') {
    const ms = err.data && Number(err.data.retryAfterMs);
    if (ms > 0) text += ` Try again in ${Math.ceil(ms / 1000)} s.`;
  } else if (code === 'invalid' && !specific && err.serverMessage) {
    text += ` (${err.serverMessage})`;
  }
  return text;
}
