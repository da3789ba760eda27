// What can be done to a message from its toolbar: edit in place, delete (after asking), and
// react; and the server's events that change a message held here.

import { $, codePoints } from './dom.js';
import { describeError } from './errors.js';
import { state, request, updateMessage, convOfMessage, convForKey } from './state.js';
import { toast } from './toast.js';
import { renderActiveConv, renderConvIfActive, allowed, reactedByMe, jumpToLatest } from './render-conv.js';

function heldMessage(messageId) {
  const conv = convOfMessage(messageId);
  return conv ? { conv, message: conv.messages.get(messageId) } : null;
}

// ---------------------------------------------------------------------------
// Editing

function startEdit(message) {
  state.picking = null;
  state.editing = { messageId: message.messageId, text: message.text, fresh: true };
  renderActiveConv();
}

function cancelEdit() {
  if (!state.editing) return;
  const { messageId } = state.editing;
  state.editing = null;
  renderActiveConv();
  focusToolbar(messageId, 'message-edit');
}

async function saveEdit() {
  const editing = state.editing;
  if (!editing || editing.saving) return;
  const held = heldMessage(editing.messageId);
  if (!held) return;
  const text = editing.text.replace(/\s+$/, '');
  if (text === held.message.text) {
    cancelEdit();
    return;
  }
  if (!text.trim()) {
    toast('A message cannot be empty. Delete it instead.');
    return;
  }
  if (codePoints(text) > 2000) {
    toast('A message can be at most 2000 characters.');
    return;
  }
  editing.saving = true;
  try {
    const reply = await request('chat.edit', { messageId: editing.messageId, text });
    updateMessage(held.conv, editing.messageId, { text, editedAt: reply.editedAt });
    if (state.editing === editing) state.editing = null;
    renderConvIfActive(held.conv);
    focusToolbar(editing.messageId, 'message-edit');
  } catch (err) {
    toast(describeError(err, 'edit'));
  } finally {
    editing.saving = false;
  }
}

function focusToolbar(messageId, testid) {
  const item = $('message-list').querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
  const target = item && (item.querySelector(`[data-testid="${testid}"]`) || item.querySelector('[data-testid="message-react"]'));
  if (target) target.focus({ preventScroll: true });
  else $('composer-input').focus({ preventScroll: true });
}

// ---------------------------------------------------------------------------
// Deleting

let deleteTarget = null;

function askDelete(message) {
  deleteTarget = message.messageId;
  const mine = state.me && message.from.userId === state.me.userId;
  $('delete-preview').textContent = message.text;
  $('delete-heading').textContent = mine ? 'Delete your message?' : 'Delete this message?';
  $('delete-dialog').showModal();
}

async function confirmDelete() {
  const messageId = deleteTarget;
  deleteTarget = null;
  $('delete-dialog').close();
  const held = messageId && heldMessage(messageId);
  if (!held) return;
  try {
    await request('chat.delete', { messageId });
    updateMessage(held.conv, messageId, { deleted: true, text: '', reactions: [] });
    if (state.editing && state.editing.messageId === messageId) state.editing = null;
    renderConvIfActive(held.conv);
  } catch (err) {
    toast(describeError(err, 'delete'));
  }
}

// ---------------------------------------------------------------------------
// Reactions

function togglePicker(messageId) {
  state.picking = state.picking === messageId ? null : messageId;
  renderActiveConv();
  if (state.picking) {
    const first = $('message-list').querySelector('[data-testid="reaction-pick"]');
    if (first) first.focus({ preventScroll: true });
  }
}

async function react(message, emoji) {
  const on = !reactedByMe(message, emoji);
  const fromPicker = state.picking === message.messageId;
  state.picking = null;
  if (fromPicker) renderActiveConv();
  const held = heldMessage(message.messageId);
  try {
    const reply = await request('chat.react', { messageId: message.messageId, emoji, on });
    if (held) {
      updateMessage(held.conv, message.messageId, { reactions: reply.reactions || [] });
      renderConvIfActive(held.conv);
    }
  } catch (err) {
    toast(describeError(err, 'react'));
  }
}

// ---------------------------------------------------------------------------
// Server events

/** `chat.edited` and `chat.deleted`: the message as it is now. */
export function onMessageChanged(message) {
  if (!message || !message.messageId) return;
  const conv = convOfMessage(message.messageId);
  if (!conv) return;
  updateMessage(conv, message.messageId, message);
  if (message.deleted) {
    if (state.editing && state.editing.messageId === message.messageId) state.editing = null;
    if (state.picking === message.messageId) state.picking = null;
  }
  renderConvIfActive(conv);
}

/** `chat.reactions`: a message's reactions changed. */
export function onReactions(data) {
  if (!data || !data.messageId) return;
  const byKey = convForKey(data);
  const conv = byKey && byKey.messages.has(data.messageId) ? byKey : convOfMessage(data.messageId);
  if (!conv) return;
  updateMessage(conv, data.messageId, { reactions: data.reactions || [] });
  renderConvIfActive(conv);
}

// ---------------------------------------------------------------------------

export function wireMessageActions() {
  const list = $('message-list');
  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button || !list.contains(button)) return;
    const item = button.closest('[data-message-id]');
    const held = item && heldMessage(item.dataset.messageId);
    if (!held) return;
    const { message } = held;
    const can = allowed(message);
    switch (button.dataset.action) {
      case 'pick':
        if (can.react) togglePicker(message.messageId);
        break;
      case 'react':
        if (can.react) react(message, button.dataset.emoji);
        break;
      case 'edit':
        if (can.edit) startEdit(message);
        break;
      case 'edit-cancel':
        cancelEdit();
        break;
      case 'delete':
        if (can.delete) askDelete(message);
        break;
      default:
        break;
    }
  });
  list.addEventListener('submit', (event) => {
    event.preventDefault();
    saveEdit();
  });
  list.addEventListener('keydown', (event) => {
    if (event.target.dataset.testid === 'message-editor') {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        saveEdit();
      } else if (event.key === 'Escape') {
        event.preventDefault();
        cancelEdit();
      }
    } else if (event.key === 'Escape' && state.picking) {
      const messageId = state.picking;
      state.picking = null;
      renderActiveConv();
      focusToolbar(messageId, 'message-react');
    }
  });

  $('delete-form').addEventListener('submit', (event) => {
    event.preventDefault();
    confirmDelete();
  });
  $('delete-dialog').addEventListener('close', () => {
    deleteTarget = null;
  });

  $('jump-latest').addEventListener('click', jumpToLatest);
}
