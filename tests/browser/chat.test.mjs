// Browser tests of the web client (web/) in real headless Chromium, against a running
// local gateway. Run through scripts/browser-test, which starts the gateway and sets
// CHATTING_BASE_URL; or by hand: CHATTING_BASE_URL=http://127.0.0.1:3100 node --test
//
// The steps build on each other (one story with three people), so they run in order.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import { chromium } from 'playwright-core';

const BASE = (process.env.CHATTING_BASE_URL || 'http://127.0.0.1:3000').replace(/\/+$/, '');
const ACCESS_TTL = Number(process.env.CHATTING_ACCESS_TTL_SECS || 900);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOT_DIR = path.resolve(HERE, '../../target/browser');
const STEP_TIMEOUT = 15000;

const run = Date.now().toString(36).slice(-5);
const alice = { userId: `alice_${run}`, nick: 'Alice', password: 'alice-password-1' };
const bob = { userId: `bob_${run}`, nick: 'Bob', password: 'bob-password-1' };
const carol = { userId: `carol_${run}`, nick: 'Carol', password: 'carol-password-1' };
const ROOM = { title: `Test room ${run}`, password: 'open-sesame', capacity: '5' };
const GROUP = `team_${run}`;

let browser;
let proxy;
let PAGE_BASE = BASE;
const pages = {};
const problems = [];

const tid = (id) => `[data-testid="${id}"]`;

/**
 * A small reverse proxy in front of the gateway that serves every HTML page with the
 * CSP it gets in production (`default-src 'self'`), so an inline script or style, or a
 * connection to another origin, would be refused and reported below. WebSocket
 * upgrades are piped through untouched. (Playwright's route.fulfill would move the page
 * out of the local address space and trip Chromium's local-network-access checks.)
 */
async function startCspProxy(target) {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const headers = { ...answer.headers };
        if (String(headers['content-type'] || '').startsWith('text/html')) {
          headers['content-security-policy'] = "default-src 'self'";
        }
        res.writeHead(answer.statusCode, headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('upgrade', (req, socket, head) => {
    const backend = net.connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      backend.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head && head.length) backend.write(head);
      backend.pipe(socket);
      socket.pipe(backend);
    });
    const close = () => {
      backend.destroy();
      socket.destroy();
    };
    backend.on('error', close);
    socket.on('error', close);
    backend.on('close', close);
    socket.on('close', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (err) => problems.push(`${name}: page error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(`${name}: ${text}`);
  });
  pages[name] = page;
  return page;
}

async function waitConnected(page) {
  await page.locator(`${tid('conn-state')}[data-state="open"]`).waitFor();
}

/** The message with this exact text in the shown conversation. */
function messageWithText(page, text) {
  return page.locator(tid('message')).filter({ has: page.locator(tid('message-text'), { hasText: text }) });
}

function userItem(page, userId) {
  return page.locator(`${tid('user-list')} ${tid('user-item')}[data-user-id="${userId}"]`);
}

/** Waits until the people list shows `userId` in exactly `place` (a room's title or Lobby). */
async function whereIs(page, userId, place) {
  const exactly = new RegExp(`^${place.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  await userItem(page, userId).locator(tid('user-where'), { hasText: exactly }).waitFor();
}

async function send(page, text) {
  const input = page.locator(tid('composer-input'));
  await input.fill(text);
  await input.press('Enter');
  await messageWithText(page, text).waitFor();
  assert.equal(await input.inputValue(), '', 'Enter sends and clears the box');
}

/** A message's text, or its placeholder once deleted, for every message shown, in order. */
async function shownTexts(page) {
  return page
    .locator(`${tid('message-list')} ${tid('message')}`)
    .evaluateAll((items) =>
      items.map((li) => li.querySelector('[data-testid="message-text"], [data-testid="message-deleted"]').textContent),
    );
}

/** Opens a message's toolbar as a pointer does, and presses one of its buttons. */
async function messageAction(message, action) {
  await message.hover();
  await message.locator(tid(action)).click();
}

function convTab(page, key) {
  return page.locator(`${tid('conv-tab')}[data-conv="${key}"]`);
}

async function signUp(page, user) {
  await page.goto(PAGE_BASE);
  await page.locator(tid('tab-signup')).click();
  await page.locator(tid('signup-userid')).fill(user.userId);
  await page.locator(tid('signup-idcheck'), { hasText: 'is available' }).waitFor();
  await page.locator(tid('signup-nick')).fill(user.nick);
  await page.locator(tid('signup-password')).fill(user.password);
  await page.locator(tid('signup-submit')).click();
  await page.locator(tid('chat-view')).waitFor();
  await waitConnected(page);
  await page.locator(tid('me-nick'), { hasText: user.nick }).waitFor();
}

async function storedSession(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('chatting.session') || 'null'));
}

describe('chatting web client', { timeout: 240000 }, () => {
  before(async () => {
    proxy = await startCspProxy(BASE);
    PAGE_BASE = proxy.url;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    await newPage('alice');
    await newPage('bob');
  });

  after(async () => {
    if (browser) await browser.close();
    if (proxy) {
      proxy.server.closeAllConnections();
      proxy.server.close();
    }
  });

  let aliceFirstRefresh = null;

  it('two people sign up and see each other in the lobby', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await Promise.all([signUp(a, alice), signUp(b, bob)]);
    aliceFirstRefresh = (await storedSession(a)).refreshToken;
    await userItem(a, bob.userId).waitFor();
    await userItem(b, alice.userId).waitFor();
    assert.equal(await userItem(a, bob.userId).locator(tid('user-nick')).textContent(), 'Bob');
    assert.equal(await userItem(a, bob.userId).locator(tid('user-where')).textContent(), 'Lobby');
    assert.equal(await a.locator(`${tid('user-list')}[data-scope="online"]`).count(), 1);
  });

  it('a taken user id is reported and a wrong password is refused at log in', async () => {
    const c = await newPage('carol');
    await c.goto(PAGE_BASE);
    await c.locator(tid('tab-signup')).click();
    await c.locator(tid('signup-userid')).fill(alice.userId);
    await c.locator(tid('signup-idcheck'), { hasText: 'already taken' }).waitFor();
    await c.locator(tid('signup-userid')).fill('NO');
    await c.locator(tid('signup-idcheck'), { hasText: 'lowercase' }).waitFor();
    // Carol's account comes from the HTTP API; she logs in through the page.
    const created = await fetch(`${BASE}/auth/signup`, {
      method: 'POST',
      body: JSON.stringify({ userId: carol.userId, password: carol.password, nick: carol.nick }),
    });
    assert.equal(created.status, 201);
    await c.locator(tid('tab-login')).click();
    await c.locator(tid('login-userid')).fill(carol.userId);
    await c.locator(tid('login-password')).fill('not-her-password');
    await c.locator(tid('login-submit')).click();
    await c.locator(tid('login-error'), { hasText: 'Wrong user ID or password' }).waitFor();
    await c.locator(tid('login-password')).fill(carol.password);
    await c.locator(tid('login-password')).press('Enter');
    await waitConnected(c);
    await userItem(pages.alice, carol.userId).waitFor();
  });

  it('a room is created with a password and joined from the live room list', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await a.locator(tid('create-room-button')).click();
    await a.locator(tid('create-room-title')).fill(ROOM.title);
    await a.locator(tid('create-room-password')).fill(ROOM.password);
    await a.locator(tid('create-room-capacity')).fill(ROOM.capacity);
    await a.locator(tid('create-room-submit')).click();
    await a.locator(tid('room-title'), { hasText: ROOM.title }).waitFor();
    await userItem(a, alice.userId).locator(tid('owner-badge')).waitFor();
    assert.ok(await a.locator(tid('room-settings-button')).isVisible(), 'the owner sees the settings');
    // Alice is still in Bob's people list, now in her room.
    await whereIs(b, alice.userId, ROOM.title);

    // Bob never reloaded: the room arrives through room.list.refresh.
    const item = b.locator(`${tid('room-item')}`, { hasText: ROOM.title });
    await item.waitFor();
    await item.locator(tid('room-join')).click();
    await b.locator(tid('join-dialog')).waitFor();
    await b.locator(tid('join-password')).fill('wrong-guess');
    await b.locator(tid('join-submit')).click();
    await b.locator(tid('join-error'), { hasText: 'Wrong room password' }).waitFor();
    await b.locator(tid('join-password')).fill(ROOM.password);
    await b.locator(tid('join-password')).press('Enter');
    await b.locator(tid('room-title'), { hasText: ROOM.title }).waitFor();
    assert.equal(await b.locator(tid('room-settings-button')).isVisible(), false, 'only the owner gets settings');
    await userItem(a, bob.userId).waitFor();
    await userItem(b, alice.userId).locator(tid('owner-badge')).waitFor();
    assert.equal(await userItem(b, bob.userId).locator(tid('owner-badge')).count(), 0);
  });

  it('people who enter a room stay in everyone\'s people list, shown in that room', async () => {
    const a = pages.alice;
    const c = pages.carol;
    // Carol, in the lobby, was told only that Bob left the lobby and the room's count changed.
    await whereIs(c, bob.userId, ROOM.title);
    await whereIs(c, alice.userId, ROOM.title);
    // From inside the room, the lobby's people are listed too, with where they are.
    await whereIs(a, carol.userId, 'Lobby');
    assert.equal(await a.locator(`${tid('user-list')} ${tid('user-item')}`).count(), 3, 'everyone once');
    assert.equal(await userItem(c, alice.userId).locator(tid('kick-button')).count(), 0, 'kicking is for the room');
  });

  it('chat goes both ways with the sender nick and time', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await send(a, 'Hello from Alice');
    const seen = messageWithText(b, 'Hello from Alice');
    await seen.waitFor();
    assert.equal(await seen.locator(tid('message-nick')).textContent(), 'Alice');
    assert.match((await seen.locator('time').getAttribute('datetime')) || '', /^\d{4}-\d\d-\d\dT/);
    await send(b, 'Hi Alice, Bob here');
    await messageWithText(a, 'Hi Alice, Bob here').waitFor();
  });

  it('who is typing shows to the others in the room and goes when the message arrives', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await a.locator(tid('composer-input')).fill('A longer thought, typed slowly');
    await b.locator(tid('typing'), { hasText: 'Alice is typing…' }).waitFor();
    assert.equal(await a.locator(tid('typing')).isVisible(), false, 'nobody is told of their own typing');
    await a.locator(tid('composer-input')).press('Enter');
    await messageWithText(b, 'A longer thought, typed slowly').waitFor();
    await b.locator(tid('typing')).waitFor({ state: 'hidden' });
  });

  it('web addresses in messages are links that open apart; other schemes stay text', async () => {
    const a = pages.alice;
    const b = pages.bob;
    const text = 'Notes at https://example.com/chat?x=1, not javascript:alert(1) or data:text/html,hi.';
    await send(a, text);
    const seen = messageWithText(b, 'Notes at');
    await seen.waitFor();
    const links = seen.locator(tid('message-link'));
    assert.equal(await links.count(), 1, 'only the https address is a link');
    assert.equal(await links.getAttribute('href'), 'https://example.com/chat?x=1');
    assert.equal(await links.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await links.getAttribute('target'), '_blank');
    assert.equal(await seen.locator(tid('message-text')).textContent(), text, 'the text itself is unchanged');
  });

  it('a whisper reaches only its target, styled as a whisper', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await userItem(a, bob.userId).locator(tid('whisper-button')).click();
    await a.locator(`${tid('conv-tab')}[data-conv="dm:${bob.userId}"][aria-selected="true"]`).waitFor();
    await send(a, 'psst, just for you');
    const tab = b.locator(`${tid('conv-tab')}[data-conv="dm:${alice.userId}"]`);
    await tab.locator(tid('conv-unread')).waitFor();
    await tab.click();
    const whisper = messageWithText(b, 'psst, just for you');
    await whisper.waitFor();
    assert.equal(await whisper.getAttribute('data-type'), 'whisper');
    assert.match(await whisper.getAttribute('class'), /msg--whisper/);
    // Carol, in the lobby, got nothing.
    assert.equal(await pages.carol.locator(`${tid('conv-tab')}[data-conv^="dm:"]`).count(), 0);
    await b.locator(`${tid('conv-tab')}[data-conv="room"]`).click();
  });

  it('group chat: create, join, talk', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await a.locator(tid('group-id-input')).fill(GROUP);
    await a.locator(tid('group-create')).click();
    await a.locator(tid('group-current-id'), { hasText: GROUP }).waitFor();
    await b.locator(tid('group-id-input')).fill(GROUP);
    await b.locator(tid('group-join-typed')).click();
    await b.locator(tid('group-current-id'), { hasText: GROUP }).waitFor();
    await a.locator(`${tid('group-item')}[data-group-id="${GROUP}"]`, { hasText: '2 members' }).waitFor();
    await a.locator(`${tid('conv-tab')}[data-conv="group"]`).click();
    await send(a, 'team meeting at noon');
    await b.locator(`${tid('conv-tab')}[data-conv="group"]`).click();
    const message = messageWithText(b, 'team meeting at noon');
    await message.waitFor();
    assert.equal(await message.getAttribute('data-type'), 'group');
    await a.locator(`${tid('conv-tab')}[data-conv="room"]`).click();
    await b.locator(`${tid('conv-tab')}[data-conv="room"]`).click();
  });

  it('a nick change shows on the other side', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await b.locator(tid('nick-button')).click();
    await b.locator(tid('nick-input')).fill('Bobby');
    await b.locator(tid('nick-input')).press('Enter');
    await b.locator(tid('me-nick'), { hasText: 'Bobby' }).waitFor();
    await userItem(a, bob.userId).locator(tid('user-nick'), { hasText: 'Bobby' }).waitFor();
    // Bob's earlier message now shows his new nick too.
    await messageWithText(a, 'Hi Alice, Bob here').locator(tid('message-nick'), { hasText: 'Bobby' }).waitFor();
  });

  it('the author edits a message in place: Enter saves, Escape cancels', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await send(a, 'see you at noun');
    const theirs = messageWithText(b, 'see you at noun');
    await theirs.hover();
    assert.equal(await theirs.locator(tid('message-edit')).count(), 0, 'only the author may edit');
    assert.equal(await theirs.locator(tid('message-delete')).count(), 0, 'Bob neither wrote it nor owns the room');
    const mine = messageWithText(a, 'see you at noun');
    await messageAction(mine, 'message-edit');
    const editor = a.locator(tid('message-editor'));
    assert.equal(await editor.inputValue(), 'see you at noun');
    assert.ok(await editor.evaluate((node) => node === document.activeElement), 'the editor has the focus');
    await editor.fill('never mind');
    await editor.press('Escape');
    await editor.waitFor({ state: 'detached' });
    assert.equal(await mine.locator(tid('message-edited')).count(), 0, 'a cancelled edit changes nothing');
    await messageAction(mine, 'message-edit');
    await editor.fill('see you at noon');
    await editor.press('Enter');
    const fixed = messageWithText(b, 'see you at noon');
    await fixed.locator(tid('message-edited'), { hasText: '(edited)' }).waitFor();
    assert.match((await fixed.locator(tid('message-edited')).getAttribute('title')) || '', /^Edited \S/);
    assert.equal(await messageWithText(b, 'see you at noun').count(), 0);
    await messageWithText(a, 'see you at noon').locator(tid('message-edited')).waitFor();
    const texts = await shownTexts(b);
    assert.equal(texts[texts.length - 1], 'see you at noon', 'the edited message keeps its place');
  });

  it('deleting asks first; the placeholder keeps the place; the room owner may delete anyone\'s', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await send(b, 'this one goes');
    await send(b, 'and this one stays a while');
    await messageWithText(a, 'and this one stays a while').waitFor();
    const goes = messageWithText(b, 'this one goes');
    await messageAction(goes, 'message-delete');
    await b.locator(tid('delete-dialog')).waitFor();
    assert.equal(await b.locator(tid('delete-preview')).textContent(), 'this one goes');
    await b.locator(tid('delete-cancel')).click();
    await b.locator(tid('delete-dialog')).waitFor({ state: 'hidden' });
    assert.equal(await goes.count(), 1, 'cancelling keeps the message');
    await messageAction(goes, 'message-delete');
    await b.locator(tid('delete-confirm')).click();
    await goes.waitFor({ state: 'detached' });
    const gone = a.locator(`${tid('message')}[data-deleted="true"]`);
    await gone.waitFor();
    assert.equal(await gone.locator(tid('message-deleted')).textContent(), 'message deleted');
    assert.equal(await gone.locator(tid('message-nick')).textContent(), 'Bobby');
    assert.equal(await gone.locator(tid('message-react')).count(), 0, 'nothing more to do with it');
    assert.deepEqual((await shownTexts(a)).slice(-2), ['message deleted', 'and this one stays a while']);
    // Alice owns the room: she removes Bob's message too.
    await messageAction(messageWithText(a, 'and this one stays a while'), 'message-delete');
    assert.equal(await a.locator(tid('delete-heading')).textContent(), 'Delete this message?');
    await a.locator(tid('delete-confirm')).click();
    await messageWithText(b, 'and this one stays a while').waitFor({ state: 'detached' });
    assert.deepEqual((await shownTexts(b)).slice(-3), ['see you at noon', 'message deleted', 'message deleted']);
  });

  it('reactions show counts, mark one\'s own and toggle from the chip', async () => {
    const a = pages.alice;
    const b = pages.bob;
    const hello = (page) => messageWithText(page, 'Hello from Alice');
    await messageAction(hello(b), 'message-react');
    const picker = hello(b).locator(tid('reaction-picker'));
    await picker.waitFor();
    assert.equal(await picker.locator(tid('reaction-pick')).count(), 6);
    await picker.locator(`${tid('reaction-pick')}[data-emoji="👍"]`).click();
    await picker.waitFor({ state: 'detached' });
    const chipA = hello(a).locator(`${tid('reaction')}[data-emoji="👍"]`);
    const chipB = hello(b).locator(`${tid('reaction')}[data-emoji="👍"]`);
    await chipA.locator(tid('reaction-count'), { hasText: /^1$/ }).waitFor();
    assert.equal(await chipA.getAttribute('aria-pressed'), 'false', 'not Alice\'s reaction');
    assert.equal(await chipA.getAttribute('title'), 'Bobby');
    assert.equal(await chipB.getAttribute('aria-pressed'), 'true', 'Bob\'s own is marked');
    await chipA.click();
    // Each page renders the event when it arrives there: wait on both.
    await chipA.locator(tid('reaction-count'), { hasText: /^2$/ }).waitFor();
    await chipB.locator(tid('reaction-count'), { hasText: /^2$/ }).waitFor();
    assert.equal(await chipB.getAttribute('title'), 'Bobby, Alice');
    assert.equal(await chipA.getAttribute('aria-pressed'), 'true');
    assert.match((await chipA.textContent()) || '', /^👍\s*2$/);
    await chipB.click();
    await chipA.locator(tid('reaction-count'), { hasText: /^1$/ }).waitFor();
    assert.equal(await chipA.getAttribute('title'), 'Alice');
    await chipB.locator(tid('reaction-count'), { hasText: /^1$/ }).waitFor();
    assert.equal(await chipB.getAttribute('aria-pressed'), 'false');
  });

  it('a mention is emphasised, and highlighted for the one it names', async () => {
    const a = pages.alice;
    const b = pages.bob;
    const text = `@${alice.userId} and @nobody_${run} have a look`;
    await send(b, text);
    const seen = messageWithText(a, 'have a look');
    await seen.locator(tid('mention')).waitFor();
    assert.equal(await seen.getAttribute('data-mentioned'), 'true');
    assert.match(await seen.getAttribute('class'), /msg--mention/);
    assert.deepEqual(await seen.locator(tid('mention')).allTextContents(), [`@${alice.userId}`], 'only a real user is a mention');
    assert.equal(await seen.locator(tid('message-text')).textContent(), text, 'the text itself is unchanged');
    const own = messageWithText(b, 'have a look');
    await own.locator(tid('mention')).waitFor();
    assert.equal(await own.getAttribute('data-mentioned'), null, 'Bob is not the one named');
  });

  it('unread and mention badges, the new-messages line, and reading in one tab clears the other', async () => {
    const b = pages.bob;
    const c = pages.carol;
    // Bob's second tab, signed in through the stored session, stays in the lobby.
    const b2 = await b.context().newPage();
    b2.setDefaultTimeout(STEP_TIMEOUT);
    b2.on('pageerror', (err) => problems.push(`bob's second tab: page error: ${err.message}`));
    const tab = convTab(b, `dm:${carol.userId}`);
    const tab2 = convTab(b2, `dm:${carol.userId}`);
    try {
      await b2.goto(PAGE_BASE);
      await waitConnected(b2);
      await userItem(c, bob.userId).locator(tid('whisper-button')).click();
      await send(c, 'are you there?');
      await tab.locator(tid('conv-unread'), { hasText: /^1$/ }).waitFor();
      await send(c, 'it is about the meeting');
      await tab.locator(tid('conv-unread'), { hasText: /^2$/ }).waitFor();
      assert.equal(await tab.locator(tid('conv-mentions')).count(), 0);
      await send(c, `@${bob.userId} this one is for you`);
      await tab.locator(tid('conv-unread'), { hasText: /^3$/ }).waitFor();
      await tab.locator(tid('conv-mentions'), { hasText: '@1' }).waitFor();
      assert.match(await tab.getAttribute('class'), /tab--mentioned/);
      await tab2.locator(tid('conv-unread'), { hasText: /^3$/ }).waitFor();
      await tab2.locator(tid('conv-mentions'), { hasText: '@1' }).waitFor();
      // Opened, the line sits above the first of the three.
      await tab.click();
      await b.locator(tid('new-divider'), { hasText: 'New messages' }).waitFor();
      const first = b.locator(`${tid('new-divider')} + ${tid('message')} ${tid('message-text')}`);
      assert.equal(await first.textContent(), 'are you there?');
      assert.equal(await b.locator(tid('new-divider')).count(), 1);
      assert.equal(await messageWithText(b, 'this one is for you').getAttribute('data-mentioned'), 'true');
      await tab.locator(tid('conv-unread')).waitFor({ state: 'detached' });
      assert.equal(await tab.locator(tid('conv-mentions')).count(), 0);
      // The other tab hears it was read.
      await tab2.locator(tid('conv-unread')).waitFor({ state: 'detached' });
      assert.equal(await tab2.locator(tid('conv-mentions')).count(), 0);
    } finally {
      // Bob's second connection would keep him online in the steps that follow.
      await b2.close();
    }
    // Nothing new since: opened again, no line.
    await convTab(b, 'room').click();
    await tab.click();
    await messageWithText(b, 'are you there?').waitFor();
    assert.equal(await b.locator(tid('new-divider')).count(), 0);
    await convTab(b, 'room').click();
  });

  it('the conversation list with its unread counts survives a reload, newest whisper first', async () => {
    const b = pages.bob;
    const c = pages.carol;
    await send(c, 'one more thing');
    const tab = convTab(b, `dm:${carol.userId}`);
    await tab.locator(tid('conv-unread'), { hasText: /^1$/ }).waitFor();
    await b.reload();
    await waitConnected(b);
    await tab.locator(tid('conv-unread'), { hasText: /^1$/ }).waitFor();
    await b.locator(tid('room-title'), { hasText: ROOM.title }).waitFor();
    const whispers = b.locator(`${tid('conv-tab')}[data-conv^="dm:"]`);
    assert.deepEqual(await whispers.evaluateAll((tabs) => tabs.map((t) => t.dataset.conv)), [
      `dm:${carol.userId}`,
      `dm:${alice.userId}`,
    ]);
    assert.equal(await convTab(b, `dm:${alice.userId}`).locator(tid('conv-unread')).count(), 0, 'read before the reload');
    assert.match((await tab.textContent()) || '', /Carol/);
    await tab.click();
    await messageWithText(b, 'one more thing').waitFor();
    assert.equal(await messageWithText(b, 'are you there?').count(), 1);
    await tab.locator(tid('conv-unread')).waitFor({ state: 'detached' });
    await convTab(b, 'room').click();
  });

  it('scrolled up, a button jumps back to the latest message', async () => {
    const a = pages.alice;
    const b = pages.bob;
    await a.setViewportSize({ width: 1280, height: 420 });
    try {
      const box = a.locator(tid('messages'));
      const jump = a.locator(tid('jump-latest'));
      const fromEnd = () => box.evaluate((node) => node.scrollHeight - node.scrollTop - node.clientHeight);
      await box.evaluate((node) => {
        node.scrollTop = node.scrollHeight;
      });
      await jump.waitFor({ state: 'hidden' });
      await box.evaluate((node) => {
        node.scrollTop = 0;
      });
      await jump.waitFor();
      assert.equal(await jump.textContent(), 'Jump to latest');
      await send(b, 'news while Alice reads back');
      await jump.filter({ hasText: '1 new' }).waitFor();
      assert.ok((await fromEnd()) > 150, 'a new message does not pull the list down');
      await convTab(a, 'room').locator(tid('conv-unread'), { hasText: /^1$/ }).waitFor();
      await jump.click();
      await jump.waitFor({ state: 'hidden' });
      assert.ok((await fromEnd()) < 60, 'at the bottom');
      assert.ok(await messageWithText(a, 'news while Alice reads back').isVisible());
      await convTab(a, 'room').locator(tid('conv-unread')).waitFor({ state: 'detached' });
    } finally {
      await a.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('on a phone one panel shows at a time, picked from the bar', async () => {
    const c = pages.carol;
    await c.setViewportSize({ width: 390, height: 844 });
    try {
      const nav = c.locator(tid('phone-nav'));
      await nav.waitFor();
      const visible = async () => ({
        conv: await c.locator(tid('messages')).isVisible(),
        people: await c.locator(tid('user-list')).isVisible(),
        rooms: await c.locator(tid('lobby-panel')).isVisible(),
      });
      assert.deepEqual(await visible(), { conv: true, people: false, rooms: false });
      assert.equal(await c.locator(tid('phone-tab-conv')).getAttribute('aria-selected'), 'true');
      await c.locator(tid('phone-tab-people')).click();
      assert.deepEqual(await visible(), { conv: false, people: true, rooms: false });
      assert.equal(await c.locator(tid('phone-tab-people')).getAttribute('aria-selected'), 'true');
      assert.equal(await c.locator(tid('phone-tab-conv')).getAttribute('aria-selected'), 'false');
      await c.locator(tid('phone-tab-rooms')).click();
      assert.deepEqual(await visible(), { conv: false, people: false, rooms: true });
      await c.locator(tid('room-item'), { hasText: ROOM.title }).waitFor();
      // Whispering from the people panel brings the conversation up.
      await c.locator(tid('phone-tab-people')).click();
      await userItem(c, alice.userId).locator(tid('whisper-button')).click();
      assert.deepEqual(await visible(), { conv: true, people: false, rooms: false });
      await c.locator(`${tid('conv-tab')}[data-conv="dm:${alice.userId}"][aria-selected="true"]`).waitFor();
      const box = await c.locator(tid('composer-input')).boundingBox();
      assert.ok(box && box.y + box.height <= 844, 'the composer is on screen');
      // A whisper that arrives while the people are shown is counted on the bar until read.
      const a = pages.alice;
      await send(c, 'on my phone now');
      await convTab(a, `dm:${carol.userId}`).click();
      await c.locator(tid('phone-tab-people')).click();
      await send(a, 'nice, reading you');
      await c.locator(tid('phone-unread'), { hasText: /^1$/ }).waitFor();
      await convTab(c, `dm:${alice.userId}`).locator(tid('conv-unread'), { hasText: /^1$/ }).waitFor({ state: 'attached' });
      await c.locator(tid('phone-tab-conv')).click();
      assert.ok(await messageWithText(c, 'nice, reading you').isVisible());
      await c.locator(tid('phone-unread')).waitFor({ state: 'hidden' });
      await convTab(c, `dm:${alice.userId}`).locator(tid('conv-unread')).waitFor({ state: 'detached' });
      await convTab(a, 'room').click();
      await mkdir(SHOT_DIR, { recursive: true });
      await c.screenshot({ path: path.join(SHOT_DIR, 'phone.png') });
      await convTab(c, 'room').click();
    } finally {
      await c.setViewportSize({ width: 1280, height: 800 });
    }
    // A wide screen shows all three and no bar.
    await c.locator(tid('phone-nav')).waitFor({ state: 'hidden' });
    assert.ok(await c.locator(tid('user-list')).isVisible());
    assert.ok(await c.locator(tid('lobby-panel')).isVisible());
    assert.ok(await c.locator(tid('messages')).isVisible());
  });

  it('the owner changes the room settings, and a full room says so', async () => {
    const a = pages.alice;
    const c = pages.carol;
    await a.locator(tid('room-settings-button')).click();
    await a.locator(tid('settings-capacity')).fill('2');
    await a.locator(tid('settings-submit')).click();
    await a.locator(tid('room-count'), { hasText: '2 of 2' }).waitFor();
    const item = c.locator(tid('room-item'), { hasText: ROOM.title });
    await item.locator(tid('room-item-count'), { hasText: '2/2' }).waitFor();
    await item.locator(tid('room-join')).click();
    await c.locator(tid('join-password')).fill(ROOM.password);
    await c.locator(tid('join-submit')).click();
    await c.locator(tid('join-error'), { hasText: 'This room is full' }).waitFor();
    await c.locator(tid('join-cancel')).click();
    assert.equal(await c.locator(tid('room-panel')).isVisible(), false, 'a failed join leaves Carol in the lobby');
  });

  it('the room view renders (screenshot)', async () => {
    const a = pages.alice;
    await mkdir(SHOT_DIR, { recursive: true });
    const file = path.join(SHOT_DIR, 'room.png');
    await a.screenshot({ path: file });
    const { size } = await stat(file);
    // A blank 1280x800 page is about 5 KB as PNG; the room view is several times that.
    assert.ok(size > 30000, `room.png is only ${size} bytes`);
    const png = await readFile(file);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
  });

  it('a dropped WebSocket reconnects and loses no message', async () => {
    const a = pages.alice;
    const b = pages.bob;
    // Away for longer than a tab waits between two listings of everyone online (5 s), so
    // that Alice's list gets to show Bob gone before he is back.
    await b.evaluate(() => window.chattingDebug.dropSocket({ holdMs: 7000 }));
    await b.locator(`${tid('conn-state')}[data-state="reconnecting"]`).waitFor();
    // Let the server notice Bob's departure before Alice talks.
    await userItem(a, bob.userId).waitFor({ state: 'detached' });
    await send(a, 'sent while Bob was away');
    // Bob writes while offline: the message waits and goes out once after the reconnect.
    await b.locator(tid('composer-input')).fill('written while offline');
    await b.locator(tid('composer-input')).press('Enter');
    await b.locator(tid('message-pending'), { hasText: 'written while offline' }).waitFor();
    await waitConnected(b);
    const missed = messageWithText(b, 'sent while Bob was away');
    await missed.waitFor();
    await b.locator(tid('room-title'), { hasText: ROOM.title }).waitFor();
    await userItem(a, bob.userId).waitFor();
    await send(b, 'back again');
    await messageWithText(a, 'back again').waitFor();
    await messageWithText(a, 'written while offline').waitFor();
    await b.waitForTimeout(300);
    assert.equal(await missed.count(), 1, 'the missed message appears exactly once');
    assert.equal(await messageWithText(a, 'written while offline').count(), 1, 'the queued message arrives once');
    assert.equal(await b.locator(tid('message-pending')).count(), 0);
    assert.equal(await messageWithText(b, 'Hello from Alice').count(), 1, 'older messages are not doubled');
  });

  it('the access token is refreshed with rotation and the session survives', async () => {
    const a = pages.alice;
    if (ACCESS_TTL <= 40) {
      // The client refreshes before expiry on its own.
      await a.waitForFunction(
        (first) => JSON.parse(localStorage.getItem('chatting.session') || '{}').refreshToken !== first,
        aliceFirstRefresh,
        { timeout: ACCESS_TTL * 1000 + 5000 },
      );
    } else {
      await a.evaluate(() => window.chattingDebug.refreshTokens());
    }
    const now = await storedSession(a);
    assert.notEqual(now.refreshToken, aliceFirstRefresh, 'a new refresh token is stored');
    // The new access token works.
    const reuse = await fetch(`${BASE}/auth/me`, { headers: { Authorization: `Bearer ${now.accessToken}` } });
    assert.equal(reuse.status, 200);
    // A reconnect after the refresh uses the new token.
    await a.evaluate(() => window.chattingDebug.dropSocket());
    await waitConnected(a);
    await a.locator(tid('room-title'), { hasText: ROOM.title }).waitFor();
    await send(a, 'still here after a refresh');
    await messageWithText(pages.bob, 'still here after a refresh').waitFor();
  });

  it('a reload restores the session and the room', async () => {
    const b = pages.bob;
    await b.reload();
    await b.locator(tid('chat-view')).waitFor();
    await waitConnected(b);
    await b.locator(tid('me-nick'), { hasText: 'Bobby' }).waitFor();
    await b.locator(tid('room-title'), { hasText: ROOM.title }).waitFor();
    await messageWithText(b, 'Hello from Alice').waitFor();
    assert.equal(await messageWithText(b, 'sent while Bob was away').count(), 1);
    assert.equal(await b.locator(tid('auth-view')).isVisible(), false);
  });

  it('the owner kicks someone, who lands in the lobby and may not come back yet', async () => {
    const a = pages.alice;
    const b = pages.bob;
    assert.equal(await b.locator(tid('kick-button')).count(), 0, 'only the owner gets kick buttons');
    await userItem(a, bob.userId).locator(tid('kick-button')).click();
    // Bob is still online, now in the lobby, and there is nothing more to kick him from.
    await whereIs(a, bob.userId, 'Lobby');
    assert.equal(await userItem(a, bob.userId).locator(tid('kick-button')).count(), 0);
    await b.locator(tid('toast'), { hasText: 'Alice removed you from the room.' }).waitFor();
    await b.locator(tid('room-panel')).waitFor({ state: 'hidden' });
    const item = b.locator(tid('room-item'), { hasText: ROOM.title });
    await item.locator(tid('room-join')).click();
    await b.locator(tid('join-password')).fill(ROOM.password);
    await b.locator(tid('join-submit')).click();
    await b.locator(tid('join-error'), { hasText: 'removed you from this room' }).waitFor();
    await b.locator(tid('join-cancel')).click();
  });

  it('log out ends the session', async () => {
    const a = pages.alice;
    const b = pages.bob;
    const before = await storedSession(b);
    await b.locator(tid('logout-button')).click();
    await b.locator(tid('auth-view')).waitFor();
    assert.equal(await storedSession(b), null);
    await userItem(a, bob.userId).waitFor({ state: 'detached' });
    const refused = await fetch(`${BASE}/auth/refresh`, {
      method: 'POST',
      body: JSON.stringify({ refreshToken: before.refreshToken }),
    });
    assert.equal(refused.status, 401, 'the logged-out refresh token is revoked');
    await b.reload();
    await b.locator(tid('auth-view')).waitFor();
  });

  it('a whisper to someone who logged out is kept for them and read when they come back', async () => {
    const a = pages.alice;
    const b = pages.bob;
    // Alice's whisper tab with Bob stays usable: the message is sent, not refused.
    const errors = a.locator(`${tid('toast')}[data-kind="error"]`);
    const earlier = await errors.allTextContents();
    await a.locator(`${tid('conv-tab')}[data-conv="dm:${bob.userId}"]`).click();
    await send(a, 'call me when you are back');
    // The sender's own chat.in can show the message before the reply settles the pending copy.
    await a.locator(tid('message-pending')).waitFor({ state: 'detached' });
    const fresh = (await errors.allTextContents()).filter((text) => !earlier.includes(text));
    assert.deepEqual(fresh, [], 'no error toast');
    await b.locator(tid('tab-login')).click();
    await b.locator(tid('login-userid')).fill(bob.userId);
    await b.locator(tid('login-password')).fill(bob.password);
    await b.locator(tid('login-submit')).click();
    await waitConnected(b);
    await userItem(b, alice.userId).waitFor();
    // Nothing was pushed to him: his conversation list has it waiting, counted as unread, and
    // opening the tab reads the history.
    const tab = `${tid('conv-tab')}[data-conv="dm:${alice.userId}"]`;
    await b.locator(tab).locator(tid('conv-unread'), { hasText: /^1$/ }).waitFor();
    await b.locator(tab).click();
    await b.locator(`${tab}[aria-selected="true"]`).waitFor();
    const note = messageWithText(b, 'call me when you are back');
    await note.waitFor();
    assert.equal(await note.getAttribute('data-type'), 'whisper');
    assert.deepEqual(await b.locator(`${tid('message')} ${tid('message-text')}`).allTextContents(), [
      'psst, just for you',
      'call me when you are back',
    ]);
  });

  it('every form control has a label', async () => {
    for (const page of Object.values(pages)) {
      const unlabeled = await page.evaluate(() =>
        [...document.querySelectorAll('input, textarea, select')]
          .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
          .map((e) => e.id || e.outerHTML.slice(0, 60)),
      );
      assert.deepEqual(unlabeled, []);
    }
  });

  it('no CSP violation or script error happened', async () => {
    assert.deepEqual(problems, []);
    // ...and the CSP really was in force: an inline script is refused.
    const refused = await pages.alice.evaluate(
      () =>
        new Promise((resolve) => {
          document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective));
          const script = document.createElement('script');
          script.textContent = 'window.inlineRan = true';
          document.body.append(script);
          setTimeout(() => resolve(window.inlineRan ? 'ran' : 'none'), 1000);
        }),
    );
    assert.equal(refused, 'script-src-elem');
  });
});
