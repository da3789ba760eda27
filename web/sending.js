// Sending: the outbox of chat.send requests waiting for a reply or for the connection.

import { $ } from './dom.js';
import { describeError } from './errors.js';
import { socket, state, addMessages, request } from './state.js';
import { toast } from './toast.js';
import { renderConvIfActive, renderActiveConv } from './render-conv.js';

function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export function sendMessage(text) {
  const conv = state.convs.get(state.active);
  if (!conv) return;
  const payload = { text, clientMsgId: newClientMsgId() };
  if (conv.kind === 'room') payload.type = 'all';
  else if (conv.kind === 'group') payload.type = 'group';
  else {
    payload.type = 'whisper';
    payload.to = conv.peer;
  }
  state.outbox.push({ payload, conv, sending: false });
  renderActiveConv({ stick: true });
  flushOutbox();
}

export function flushOutbox() {
  if (!socket || socket.state !== 'open') return;
  for (const item of state.outbox) {
    if (!item.sending) sendItem(item);
  }
}

async function sendItem(item) {
  item.sending = true;
  const { conv, payload } = item;
  const dropItem = () => {
    state.outbox = state.outbox.filter((other) => other !== item);
  };
  if (state.convs.get(conv.key) !== conv || (conv.kind === 'room' && conv.roomId !== state.roomId)) {
    dropItem();
    toast('A message was not sent: you left that conversation.');
    renderActiveConv();
    return;
  }
  try {
    const reply = await request('chat.send', payload);
    dropItem();
    addMessages(conv, [
      {
        messageId: reply.messageId,
        type: payload.type,
        roomId: payload.type === 'all' ? conv.roomId : null,
        groupId: payload.type === 'group' ? conv.groupId : null,
        to: payload.type === 'whisper' ? payload.to : null,
        from: { userId: state.me.userId, nick: state.me.nick, groupId: state.me.groupId ?? null },
        text: payload.text,
        sentAt: reply.sentAt,
        seq: reply.seq ?? null,
        editedAt: null,
        deleted: false,
        reactions: [],
        mentions: [],
        // Built here from the reply: the server's copy (with its mentions) replaces it.
        local: true,
      },
    ]);
  } catch (err) {
    if (err.code === 'offline' || err.code === 'timeout') {
      // Sent again after the reconnect with the same clientMsgId: never doubled.
      item.sending = false;
      return;
    }
    dropItem();
    const context = payload.type === 'whisper' ? 'whisper' : payload.type === 'group' ? 'groupSend' : '';
    toast(describeError(err, context));
    const input = $('composer-input');
    if (!input.value && state.active === conv.key) input.value = payload.text;
  }
  renderConvIfActive(conv, { stick: true });
}
