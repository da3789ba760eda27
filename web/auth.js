// The auth view: log in and sign up.

import { authApi } from './api.js';
import { describeError } from './errors.js';
import { $, show, codePoints } from './dom.js';
import { session } from './state.js';
import { formError } from './toast.js';
import { startChat } from './chat.js';

const USER_ID = /^[a-z0-9_]{3,30}$/;

export function showAuth(message) {
  show($('chat-view'), false);
  show($('auth-view'), true);
  selectAuthTab('login');
  formError('login-error', message || '');
  document.title = 'chatting';
  $('login-userid').focus();
}

function selectAuthTab(which) {
  const login = which === 'login';
  $('tab-login').setAttribute('aria-selected', String(login));
  $('tab-signup').setAttribute('aria-selected', String(!login));
  $('tab-login').tabIndex = login ? 0 : -1;
  $('tab-signup').tabIndex = login ? -1 : 0;
  show($('login-form'), login);
  show($('signup-form'), !login);
}

export function wireAuth() {
  $('tab-login').addEventListener('click', () => {
    selectAuthTab('login');
    $('login-userid').focus();
  });
  $('tab-signup').addEventListener('click', () => {
    selectAuthTab('signup');
    $('signup-userid').focus();
  });
  for (const tab of [$('tab-login'), $('tab-signup')]) {
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      const next = tab.id === 'tab-login' ? 'signup' : 'login';
      selectAuthTab(next);
      $(`tab-${next}`).focus();
    });
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const userId = $('login-userid').value.trim();
    const password = $('login-password').value;
    if (!userId || !password) {
      formError('login-error', 'Enter your user ID and password.');
      return;
    }
    const button = event.submitter || $('login-form').querySelector('button[type=submit]');
    button.disabled = true;
    formError('login-error', '');
    try {
      session.adopt(await authApi.login(userId, password));
      $('login-password').value = '';
      startChat();
    } catch (err) {
      formError('login-error', describeError(err, 'login'));
    } finally {
      button.disabled = false;
    }
  });

  let checkTimer = null;
  let checkSeq = 0;
  const idStatus = (text, kind) => {
    const node = $('signup-idcheck');
    node.textContent = text;
    node.dataset.status = kind;
  };
  $('signup-userid').addEventListener('input', () => {
    clearTimeout(checkTimer);
    const userId = $('signup-userid').value.trim();
    if (!userId) return idStatus('', 'none');
    if (!USER_ID.test(userId)) {
      return idStatus('Use 3–30 characters: lowercase letters, digits and _.', 'invalid');
    }
    idStatus('Checking…', 'checking');
    const seq = ++checkSeq;
    checkTimer = setTimeout(async () => {
      try {
        const available = await authApi.idAvailable(userId);
        if (seq !== checkSeq) return;
        if (available) idStatus(`“${userId}” is available.`, 'available');
        else idStatus(`“${userId}” is already taken.`, 'taken');
      } catch (err) {
        if (seq === checkSeq) idStatus(describeError(err, 'idCheck'), 'invalid');
      }
    }, 300);
  });

  $('signup-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const userId = $('signup-userid').value.trim();
    const nick = $('signup-nick').value.trim();
    const password = $('signup-password').value;
    let problem = '';
    if (!USER_ID.test(userId)) problem = 'The user ID must be 3–30 characters: lowercase letters, digits and _.';
    else if (!nick || codePoints(nick) > 20) problem = 'Choose a nickname of 1–20 characters.';
    else if (codePoints(password) < 8 || codePoints(password) > 128) problem = 'The password must be 8–128 characters.';
    if (problem) {
      formError('signup-error', problem);
      return;
    }
    const button = event.submitter || $('signup-form').querySelector('button[type=submit]');
    button.disabled = true;
    formError('signup-error', '');
    clearTimeout(checkTimer);
    checkSeq++;
    try {
      await authApi.signup(userId, password, nick);
      session.adopt(await authApi.login(userId, password));
      $('signup-password').value = '';
      startChat();
    } catch (err) {
      formError('signup-error', describeError(err, 'signup'));
    } finally {
      button.disabled = false;
    }
  });
}
