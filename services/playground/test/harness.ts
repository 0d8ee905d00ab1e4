/**
 * The browser tests' harness: `npm start`'s launcher for real (one per test file, on a free port, with a fresh state
 * folder), Debian's chromium driven by playwright-core, and a page wrapper that records every request the page (and
 * its workers) makes and every console error, page error and CSP violation, so that a test can say "no request left
 * the machine" and "no console error". Nothing here imports the services or tools: the page is a client like any other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODEL_DIR = process.env.MODEL_DIR || path.join(ROOT, 'models/fmnist');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export interface Platform {
  /** the gateway's GraphQL URL (http://localhost:PORT/graphql) */
  url: string;
  /** http://localhost:PORT */
  origin: string;
  /** the development key the banner printed */
  key: string;
  /** the playground link of the banner: http://localhost:PORT/#key=dvae_… */
  playgroundUrl: string;
  /** the explorer link of the banner: http://localhost:PORT/graphql#key=dvae_… */
  explorerUrl: string;
  /** everything the launcher printed so far */
  output: () => string;
  /** SIGTERM, wait for the launcher to stop everything, remove the state folder */
  stop: () => Promise<void>;
}

/**
 * Starts the platform as `npm start` does (tools/launcher/src/main.ts under tsx) and waits for its banner. The
 * launcher builds the pages first when their sources changed since the last build.
 */
export async function launchPlatform(env: Record<string, string> = {}, timeoutMs = 200_000): Promise<Platform> {
  const state = mkdtempSync(path.join(tmpdir(), 'playground-test-state-'));
  const child: ChildProcess = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'tools/launcher/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', MODEL_DIR, PORT: '0', ORT_THREADS: '1', DIFFUSEVAE_STATE_DIR: state, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('exit', () => r());
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    }
    // PLAYGROUND_TEST_LOG=file: the launcher's whole output (the gateway's log), to read after a failure
    if (process.env.PLAYGROUND_TEST_LOG) writeFileSync(process.env.PLAYGROUND_TEST_LOG, out);
    rmSync(state, { recursive: true, force: true });
  };

  const until = Date.now() + timeoutMs;
  const pattern = /Open the playground with the key filled in:\s*\n\s*(\S+#key=(dvae_\S+))\s*\n\s*or the GraphQL explorer:\s*\n\s*(\S+#key=\S+)/;
  let m: RegExpMatchArray | null = null;
  while (!(m = out.match(pattern))) {
    // the banner came without the links that carry a key (AUTH=none, or NATS_URL: the launcher makes no key)
    const noKey = out.includes('Ctrl-C stops everything.');
    if (noKey || child.exitCode !== null || child.signalCode !== null || Date.now() > until) {
      await stop();
      throw new Error(`no playground link in the launcher's output:\n${out}`);
    }
    await sleep(100);
  }
  const url = out.match(/DiffuseVAE gateway ready: (\S+)/)![1]!;
  return { url, origin: new URL(url).origin, key: m[2]!, playgroundUrl: m[1]!, explorerUrl: m[3]!, output: () => out, stop };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Debian's chromium, headless, without the background requests a browser makes on its own. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * Reports each CSP violation as a console error (chromium logs most of them, but not all: a report-only header or a
 * worker's violation would only fire the event).
 */
const CSP_REPORTER = `
  (() => {
    const report = (e) => console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' in ' + e.sourceFile + ':' + e.lineNumber);
    (typeof document !== 'undefined' ? document : self).addEventListener('securitypolicyviolation', report);
  })();
`;

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** every request URL, the page's and its workers' (WebSockets included) */
  requests: string[];
  /** console messages of type error, page errors (uncaught) and CSP violations */
  errors: string[];
  /** the requests whose host is not the gateway's (data: and blob: URLs are on the machine) */
  offMachine: () => string[];
  close: () => Promise<void>;
}

/** A new context and page whose requests and errors are recorded from the first one on. */
export async function openPage(browser: Browser, platform: Platform, viewport = { width: 1280, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  await context.addInitScript({ content: CSP_REPORTER });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  page.on('websocket', (ws) => requests.push(ws.url()));
  page.on('worker', (w) => requests.push(w.url()));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console.error: ${msg.text()} (${msg.location().url}:${msg.location().lineNumber})`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  context.on('weberror', (e) => {
    const msg = `web error: ${e.error().message}`;
    if (!errors.includes(msg)) errors.push(msg);
  });
  const host = new URL(platform.origin).host;
  const offMachine = () =>
    requests.filter((u) => {
      if (u.startsWith('data:') || u.startsWith('blob:')) return false;
      try {
        return new URL(u).host !== host;
      } catch {
        return true;
      }
    });
  return { page, context, requests, errors, offMachine, close: () => context.close() };
}

/** A GraphQL request to the gateway with the key; throws on errors. */
export async function gql<T = any>(platform: Platform, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await fetch(platform.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${platform.key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

/** Polls until `check` returns a value that is not undefined/false, or throws with the last value seen. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await sleep(everyMs);
  }
}

// ---- PNG ----------------------------------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The width and height in a PNG's IHDR, from its bytes, its base64 or a data:image/png;base64 URL. */
export function pngSize(png: Buffer | string): { width: number; height: number } {
  const bytes = typeof png === 'string' ? Buffer.from(png.replace(/^data:image\/png;base64,/, ''), 'base64') : png;
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.subarray(12, 16).toString('latin1') !== 'IHDR') {
    throw new Error('not a PNG');
  }
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** An 8-bit grayscale PNG of `pixel(x, y)` (0..255). */
export function encodeGrayPng(width: number, height: number, pixel: (x: number, y: number) => number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = Math.max(0, Math.min(255, Math.round(pixel(x, y))));
  }
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// ---- the playground's current job, as the page shows it ---------------------------------------------------------

export interface JobUiLog {
  /** each new text of data-testid="job-status", in order */
  statuses: string[];
  /** each new [aria-valuenow, aria-valuemax] of the progressbar(s), in order */
  progress: [number, number][];
}

/**
 * Records, in the page, every change of the job status and of the progressbar (a MutationObserver: nothing between
 * two polls is missed, however short a job). Idempotent; `resetJobUi` empties the log.
 */
export async function recordJobUi(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    if (window.__dvaeLog) return;
    const log = { statuses: [], progress: [] };
    window.__dvaeLog = log;
    const look = () => {
      const s = document.querySelector('[data-testid="job-status"]');
      const text = s ? (s.textContent || '').trim() : '';
      if (s && log.statuses[log.statuses.length - 1] !== text) log.statuses.push(text);
      for (const p of document.querySelectorAll('[role="progressbar"], progress')) {
        const now = Number(p.getAttribute('aria-valuenow'));
        const max = Number(p.getAttribute('aria-valuemax'));
        const last = log.progress[log.progress.length - 1];
        if (p.hasAttribute('aria-valuenow') && (!last || last[0] !== now || last[1] !== max)) log.progress.push([now, max]);
      }
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
    look();
  })()`);
}

export async function jobUiLog(page: Page): Promise<JobUiLog> {
  return page.evaluate<JobUiLog>('window.__dvaeLog ? JSON.parse(JSON.stringify(window.__dvaeLog)) : { statuses: [], progress: [] }');
}

export async function resetJobUi(page: Page): Promise<void> {
  await page.evaluate('window.__dvaeLog && (window.__dvaeLog.statuses = [], window.__dvaeLog.progress = [])');
}
