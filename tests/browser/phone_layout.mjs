// Measures phone pages in headless Chromium, emulating a phone screen through the DevTools
// protocol (the command-line --window-size cannot go below 500 px). For each width and path
// it prints one JSON line: the page's scroll width against the screen (the layout viewport), the elements sticking
// out on the right, and the visible tap targets lower than 44 px (a radio button counts by its label). With SHOTS=<dir> it also
// saves a full-page screenshot per page and width. On pages with the three number boxes it
// also types, pastes and deletes in them and reports what they hold (enrol.js at work).
//
// node tests/browser/phone_layout.mjs <chromium> <base-url> <cookie name=value|-> <w1,w2,…> <path>…
// Needs Node 18+ and nothing else: Chromium is driven over --remote-debugging-pipe.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [chromium, base, cookie, widthList, ...paths] = process.argv.slice(2);
const widths = widthList.split(',').map(Number);
const profile = mkdtempSync(join(tmpdir(), 'myna-phone-'));
const browser = spawn(chromium, [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`,
  '--remote-debugging-pipe', 'about:blank',
], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });

const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
let nextId = 1;
const waiting = new Map();
const listeners = [];
let buffer = Buffer.alloc(0);
fromBrowser.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  let end;
  while ((end = buffer.indexOf(0)) >= 0) {
    const message = JSON.parse(buffer.subarray(0, end).toString('utf8'));
    buffer = buffer.subarray(end + 1);
    if (message.id && waiting.has(message.id)) {
      const { resolve, reject } = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) { reject(new Error(JSON.stringify(message.error))); } else { resolve(message.result); }
    } else if (message.method) {
      listeners.forEach((l) => l(message));
    }
  }
});

function send(method, params = {}, sessionId) {
  const id = nextId++;
  toBrowser.write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

function once(method, sessionId) {
  return new Promise((resolve) => {
    const l = (m) => {
      if (m.method === method && m.sessionId === sessionId) {
        listeners.splice(listeners.indexOf(l), 1);
        resolve(m.params);
      }
    };
    listeners.push(l);
  });
}

// Runs in the page: what sticks out on the right, and which tap targets are too small.
const probe = `(() => {
  const screen = document.documentElement.clientWidth; // the layout viewport: device-width
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  const visible = (e) => { const s = getComputedStyle(e); const r = e.getBoundingClientRect();
    return s.visibility !== 'hidden' && s.display !== 'none' && r.width > 1 && r.height > 1; };
  const all = [...document.body.querySelectorAll('*')].filter(visible);
  const wide = all.filter((e) => e.getBoundingClientRect().right > screen + 0.5).map(name);
  const targets = all.filter((e) => e.matches('a, button, input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, summary, label.btn, label.inline'));
  const small = targets.filter((e) => e.getBoundingClientRect().height < 44 && !e.closest('.purpose-list'))
    .map((e) => name(e) + ' ' + Math.round(e.getBoundingClientRect().height) + 'px');
  return JSON.stringify({ scrollWidth: document.documentElement.scrollWidth, screenWidth: screen, wide, small });
})()`;

const evaluate = async (expression, sessionId) =>
  (await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)).result.value;

// On a page with the three number boxes: what typing, pasting and Backspace do to them
// (real key and text input through the protocol; a paste is a ClipboardEvent with its data).
async function numberBoxes(sessionId) {
  const state = `JSON.stringify({ values: [...document.querySelectorAll('.number-boxes input')].map((b) => b.value),
    focused: [...document.querySelectorAll('.number-boxes input')].indexOf(document.activeElement) })`;
  const reset = `document.querySelectorAll('.number-boxes input').forEach((b) => { b.value = ''; });`;
  const paste = (box, text) => `(() => { const b = document.querySelectorAll('.number-boxes input')[${box}];
    b.focus(); const data = new DataTransfer(); data.setData('text/plain', ${JSON.stringify(text)});
    b.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true })); })()`;
  const focus = (box) => `document.querySelectorAll('.number-boxes input')[${box}].focus()`;
  const key = async (k, code) => {
    for (const type of ['rawKeyDown', 'keyUp']) {
      await send('Input.dispatchKeyEvent', { type, key: k, code: k, windowsVirtualKeyCode: code }, sessionId);
    }
  };
  const out = {};
  await evaluate(reset, sessionId);
  await evaluate(paste(1, '6214 9832 0257'), sessionId);
  out.pasted = JSON.parse(await evaluate(state, sessionId));
  await evaluate(reset, sessionId);
  await evaluate(paste(0, '6214983202571'), sessionId);
  out.pastedTooLong = JSON.parse(await evaluate(state, sessionId));
  await evaluate(reset, sessionId);
  await evaluate(focus(0), sessionId);
  for (const c of '62149') { await send('Input.insertText', { text: c }, sessionId); }
  out.typed = JSON.parse(await evaluate(state, sessionId));
  await key('Backspace', 8);
  await key('Backspace', 8);
  out.backspaced = JSON.parse(await evaluate(state, sessionId));
  return out;
}

async function main() {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  if (cookie !== '-') {
    const [name, value] = cookie.split('=');
    await send('Network.enable', {}, sessionId);
    await send('Network.setCookie', { name, value, url: base }, sessionId);
  }
  for (const width of widths) {
    await send('Emulation.setDeviceMetricsOverride',
      { width, height: 844, deviceScaleFactor: 1, mobile: true }, sessionId);
    for (const path of paths) {
      const loaded = once('Page.loadEventFired', sessionId);
      await send('Page.navigate', { url: base + path }, sessionId);
      await loaded;
      const measured = JSON.parse(await evaluate(probe, sessionId));
      if (process.env.SHOTS) {
        const shot = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
        const file = join(process.env.SHOTS, `${width}${path.replace(/[^a-z0-9]+/gi, '_')}.png`);
        writeFileSync(file, Buffer.from(shot.data, 'base64'));
      }
      if (await evaluate('document.querySelectorAll(".number-boxes input").length === 3', sessionId)) {
        measured.numberBoxes = await numberBoxes(sessionId);
      }
      console.log(JSON.stringify({ path, width, ...measured }));
    }
  }
}

const deadline = setTimeout(() => { console.error('timed out'); browser.kill(); process.exit(2); }, 240000);
// Chromium's helper processes may still write to the profile for a moment after it exits.
function removeProfile() {
  try { rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }); } catch (e) { /* tmp */ }
}
toBrowser.on('error', () => {}); // the pipe closes when Chromium does
main().then(() => 0, (e) => { console.error(String(e)); return 1; }).then((code) => {
  clearTimeout(deadline);
  browser.on('exit', () => { removeProfile(); process.exit(code); });
  send('Browser.close').catch(() => {});
  setTimeout(() => browser.kill(), 5000).unref();
});
