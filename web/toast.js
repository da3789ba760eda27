// Toasts and form errors.

import { $, el, show } from './dom.js';

export function toast(text, kind = 'error') {
  const box = $('toasts');
  const item = el(
    'div',
    { class: `toast toast--${kind}`, 'data-testid': 'toast', 'data-kind': kind },
    el('span', { class: 'toast__text', text }),
    el('button', {
      type: 'button',
      class: 'toast__close',
      'aria-label': 'Dismiss',
      text: '×',
      onclick: () => item.remove(),
    }),
  );
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 5000);
}

export function formError(id, text) {
  const node = $(id);
  node.textContent = text || '';
  show(node, Boolean(text));
}
