// The HTTP API (/auth/*) and the session: tokens kept in localStorage, the access
// token refreshed before it expires (with rotation: each refresh stores the new
// refresh token), coordinated across tabs so one refresh token is never used twice.

import { httpBase } from './config.js';
import { ChatError } from './errors.js';

const base = (httpBase || '').replace(/\/+$/, '');

async function call(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ChatError('network', 'Cannot reach the server.');
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    envelope = null;
  }
  if (!envelope || typeof envelope !== 'object') {
    throw new ChatError(response.status >= 500 ? 'error' : 'invalid', `HTTP ${response.status}`, null, response.status);
  }
  if (!envelope.ok) {
    throw new ChatError(envelope.code || 'error', envelope.message, envelope.data, response.status);
  }
  return envelope.data;
}

export const authApi = {
  /** true when the id is free, false when taken; throws `invalid` for a malformed id. */
  async idAvailable(userId) {
    try {
      const data = await call('GET', `/auth/id-check/${encodeURIComponent(userId)}`);
      return Boolean(data && data.available);
    } catch (err) {
      if (err.code === 'exist') return false;
      throw err;
    }
  },
  signup: (userId, password, nick) => call('POST', '/auth/signup', { userId, password, nick }),
  login: (userId, password) => call('POST', '/auth/login', { userId, password }),
  refresh: (refreshToken) => call('POST', '/auth/refresh', { refreshToken }),
  logout: (refreshToken) => call('POST', '/auth/logout', { refreshToken }),
  me: (accessToken) => call('GET', '/auth/me', undefined, accessToken),
};

const STORAGE_KEY = 'chatting.session';

function readStored() {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    const value = raw ? JSON.parse(raw) : null;
    return value && value.accessToken && value.refreshToken ? value : null;
  } catch {
    return null;
  }
}

/** Seconds-since-epoch `exp` of a JWT, or null. */
function jwtExpiryMs(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
    return typeof claims.exp === 'number' ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

function withLock(name, fn) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request(name, fn);
  return fn();
}

/**
 * The logged-in session. Events: `change` (tokens or user changed), `ended`
 * (logged out here or in another tab, or the refresh token was refused).
 */
export class Session extends EventTarget {
  constructor() {
    super();
    this.data = readStored();
    this.timer = null;
    this.refreshing = null;
    window.addEventListener('storage', (event) => {
      if (event.key !== STORAGE_KEY && event.key !== null) return;
      const stored = readStored();
      if (!stored) {
        if (this.data) {
          this.data = null;
          this.clearTimer();
          this.dispatchEvent(new CustomEvent('ended', { detail: { reason: 'elsewhere' } }));
        }
        return;
      }
      this.data = stored;
      this.schedule();
      this.dispatchEvent(new Event('change'));
    });
  }

  get active() {
    return Boolean(this.data);
  }

  get user() {
    return this.data ? this.data.user : null;
  }

  set user(user) {
    if (!this.data) return;
    this.data.user = user;
    this.persist();
  }

  /** Stores a login/refresh answer: {accessToken, refreshToken, expiresIn, user}. */
  adopt(answer) {
    const now = Date.now();
    const expiresAt = jwtExpiryMs(answer.accessToken) || now + Number(answer.expiresIn || 900) * 1000;
    const ttlMs = Math.max(5000, Math.min(expiresAt - now, Number(answer.expiresIn || 900) * 1000));
    this.data = {
      accessToken: answer.accessToken,
      refreshToken: answer.refreshToken,
      expiresAt,
      ttlMs,
      obtainedAt: now,
      user: answer.user || (this.data && this.data.user) || null,
    };
    this.persist();
    this.schedule();
    this.dispatchEvent(new Event('change'));
  }

  persist() {
    if (this.data) localStorage.setItem(STORAGE_KEY, JSON.stringify(this.data));
  }

  clearTimer() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Plans the next refresh: a minute before expiry, or at 75 % of a short lifetime. */
  schedule() {
    this.clearTimer();
    if (!this.data) return;
    const margin = Math.min(60000, this.data.ttlMs * 0.25);
    const delay = Math.max(1000, this.data.expiresAt - margin - Date.now());
    this.timer = setTimeout(() => {
      this.refresh().catch(() => {
        // A network failure: try again soon; `ended` was already sent for notAuth.
        if (this.data) this.timer = setTimeout(() => this.schedule(), 5000);
      });
    }, Math.min(delay, 2 ** 31 - 1));
  }

  /** An access token good for at least `marginMs`; refreshes when needed. */
  async accessToken({ marginMs = 5000, force = false } = {}) {
    if (!this.data) throw new ChatError('notAuth', 'Not logged in.');
    const fresh = this.data.expiresAt - Date.now() > marginMs;
    // A forced refresh right after a refresh would only burn tokens.
    if (fresh && !(force && Date.now() - this.data.obtainedAt > 10000)) return this.data.accessToken;
    await this.refresh();
    return this.data.accessToken;
  }

  /** Rotates the token pair (at most one refresh at a time, across tabs too). */
  refresh() {
    if (this.refreshing) return this.refreshing;
    const seen = this.data && this.data.refreshToken;
    this.refreshing = withLock('chatting-token-refresh', async () => {
      const stored = readStored();
      if (!stored) throw new ChatError('notAuth', 'Not logged in.');
      if (stored.refreshToken !== seen && stored.expiresAt - Date.now() > 10000) {
        // Another tab already rotated the pair: use its result.
        this.data = stored;
        this.schedule();
        this.dispatchEvent(new Event('change'));
        return;
      }
      try {
        this.adopt(await authApi.refresh(stored.refreshToken));
      } catch (err) {
        if (err.code === 'notAuth' || err.code === 'invalid') this.end('expired');
        throw err;
      }
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Forgets the tokens here and in every tab. */
  end(reason) {
    this.clearTimer();
    const had = Boolean(this.data);
    this.data = null;
    localStorage.removeItem(STORAGE_KEY);
    if (had) this.dispatchEvent(new CustomEvent('ended', { detail: { reason } }));
  }

  /** POST /auth/logout (revokes the refresh family), then forgets the tokens. */
  async logout() {
    const token = this.data && this.data.refreshToken;
    this.clearTimer();
    this.data = null;
    localStorage.removeItem(STORAGE_KEY);
    if (token) {
      try {
        await authApi.logout(token);
      } catch {
        // The tokens are gone from this browser either way.
      }
    }
  }
}
