// The phone layout shows one panel at a time (the conversation, the people, the rooms and
// groups), picked from the bar at the bottom; wider screens show all three and no bar.

import { $ } from './dom.js';
import { renderActiveConv } from './render-conv.js';

const PANELS = ['conv', 'people', 'rooms'];

function tabs() {
  return [...document.querySelectorAll('.phone-nav__tab')];
}

export function showPanel(name) {
  if (!PANELS.includes(name)) return;
  $('layout').dataset.panel = name;
  for (const tab of tabs()) {
    const selected = tab.dataset.panel === name;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  // Back on screen, the conversation shows its newest messages, which now count as read.
  if (name === 'conv') renderActiveConv({ stick: true });
}

export function wirePanels() {
  for (const tab of tabs()) {
    tab.addEventListener('click', () => showPanel(tab.dataset.panel));
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      const index = PANELS.indexOf(tab.dataset.panel) + (event.key === 'ArrowRight' ? 1 : -1);
      const next = PANELS[(index + PANELS.length) % PANELS.length];
      showPanel(next);
      document.querySelector(`.phone-nav__tab[data-panel="${next}"]`).focus();
    });
  }
}
