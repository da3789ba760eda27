// The WebSocket API: JSON frames {action, requestId, data}, one reply per request,
// events in between. Keeps itself alive with `ping`, reconnects with exponential
// backoff after a drop, and tells the app through events:
//   `state`  {state: 'connecting'|'open'|'reconnecting'|'closed', attempt, retryAt}
//   `open`   {reconnect: bool}   the connection is registered (in the lobby)
//   `event`  {event, data}       a server event frame
//   `authfailed`                 no usable token any more

import { wsUrl } from './config.js';
import { ChatError } from './errors.js';

const PING_EVERY_MS = 60000; // the server drops connections idle for 10 minutes
const REQUEST_TIMEOUT_MS = 15000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30000;

function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

export class ChatSocket extends EventTarget {
  /** @param {{token: (opts: {force: boolean}) => Promise<string>}} options */
  constructor({ token }) {
    super();
    this.token = token;
    this.url = wsUrl || defaultUrl();
    this.ws = null;
    this.state = 'closed';
    this.running = false;
    this.attempt = 0;
    this.everOpened = false;
    this.needFreshToken = false;
    this.pending = new Map();
    this.nextId = 1;
    this.pingTimer = null;
    this.retryTimer = null;
    this.holdUntil = 0;
    this.generation = 0;
    this.waiting = false;
    window.addEventListener('online', () => {
      this.retryNow();
    });
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, attempt: this.attempt, ...extra } }));
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.everOpened = false;
    this.connect();
  }

  /** Closes for good (log out): no reconnect. */
  stop() {
    this.running = false;
    this.generation++;
    this.waiting = false;
    clearTimeout(this.retryTimer);
    this.detach(4001, 'logout');
    this.setState('closed');
  }

  async connect() {
    clearTimeout(this.retryTimer);
    this.waiting = false;
    if (!this.running) return;
    if (this.ws) this.detach(4000, 'replaced');
    const generation = ++this.generation;
    this.setState(this.everOpened ? 'reconnecting' : 'connecting', { connecting: true });
    let token;
    try {
      token = await this.token({ force: this.needFreshToken });
    } catch (err) {
      if (err.code === 'notAuth' || err.code === 'invalid') {
        this.running = false;
        this.setState('closed');
        this.dispatchEvent(new Event('authfailed'));
        return;
      }
      this.scheduleReconnect();
      return;
    }
    if (!this.running || generation !== this.generation) return;
    const separator = this.url.includes('?') ? '&' : '?';
    const ws = new WebSocket(`${this.url}${separator}token=${encodeURIComponent(token)}`);
    this.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      opened = true;
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.needFreshToken = false;
      this.startPing();
      this.setState('open');
      this.dispatchEvent(new CustomEvent('open', { detail: { reconnect } }));
    });
    ws.addEventListener('message', (event) => {
      if (this.ws === ws) this.receive(event.data);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      // A handshake refused with 401 looks like any failed connection from here:
      // the next attempt brings a freshly refreshed token.
      if (!opened) this.needFreshToken = true;
      this.lost();
    });
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    if (frame.type === 'reply') {
      const waiting = frame.requestId != null ? this.pending.get(frame.requestId) : null;
      if (!waiting) return;
      this.pending.delete(frame.requestId);
      clearTimeout(waiting.timer);
      if (frame.ok) waiting.resolve(frame.data || {});
      else waiting.reject(new ChatError(frame.code || 'error', frame.message, frame.data || null));
      // The service purged this connection (a delivery to it failed): start over.
      if (!frame.ok && frame.code === 'notAuth' && /no longer registered|reconnect/i.test(frame.message || '')) {
        this.lost();
      }
    } else if (frame.type === 'event') {
      this.dispatchEvent(new CustomEvent('event', { detail: { event: frame.event, data: frame.data || {} } }));
    }
  }

  /** Sends one action; resolves with the reply's `data`, rejects with a ChatError. */
  request(action, data = {}, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN || this.state !== 'open') {
        reject(new ChatError('offline', 'Not connected.'));
        return;
      }
      const requestId = `r${this.nextId++}`;
      const timer = setTimeout(() => {
        if (!this.pending.has(requestId)) return;
        this.pending.delete(requestId);
        reject(new ChatError('timeout', `No answer to ${action}.`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer, action });
      try {
        ws.send(JSON.stringify({ action, requestId, data }));
      } catch {
        this.pending.delete(requestId);
        clearTimeout(timer);
        reject(new ChatError('offline', 'Not connected.'));
      }
    });
  }

  startPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      this.request('ping', {}, { timeoutMs: 10000 }).catch((err) => {
        // No answer: the connection is dead even if the browser has not noticed.
        if (err.code === 'timeout' && this.ws === ws) this.lost();
      });
    }, PING_EVERY_MS);
  }

  /** Drops the current socket without reconnect logic. */
  detach(code = 1000, reason = '') {
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
    for (const [, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new ChatError('offline', 'The connection was lost.'));
    }
    this.pending.clear();
  }

  lost() {
    this.detach(4000, 'lost');
    if (!this.running) {
      this.setState('closed');
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    clearTimeout(this.retryTimer);
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.max(backoff * (0.75 + Math.random() * 0.5), this.holdUntil - Date.now());
    this.attempt += 1;
    const retryAt = Date.now() + delay;
    this.setState(this.everOpened ? 'reconnecting' : 'connecting', { retryAt });
    this.waiting = true;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (!this.running || !this.waiting) return;
    this.holdUntil = 0;
    this.connect();
  }

  /** Debug/test hook: closes the socket as a network loss would; stays down `holdMs`. */
  drop({ holdMs = 0 } = {}) {
    this.holdUntil = Date.now() + holdMs;
    if (this.ws) this.lost();
  }
}
