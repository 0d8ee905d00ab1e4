import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryKeyStore } from '@diffusevae/auth';
import { ModelSet } from '@diffusevae/models';
import { localStages } from '@diffusevae/pipeline';
import { createGateway, quietLogger, type Gateway } from '../src/index.js';
import { contentSecurityPolicy, IMMUTABLE, listSite, REVALIDATE } from '../src/static-site.js';
import { gql, MODEL_DIR } from './helpers.js';

// The pages (a build of services/playground, here a stand-in folder with the same layout) served by the gateway
// beside the API: content types, caching, ETags, nothing outside the folder, the explorer for a browser's GET.
const DIR = mkdtempSync(path.join(tmpdir(), 'site-'));
mkdirSync(path.join(DIR, 'assets'));
writeFileSync(path.join(DIR, 'index.html'), '<!doctype html><title>playground</title>');
writeFileSync(path.join(DIR, 'graphql.html'), '<!doctype html><title>explorer</title>');
writeFileSync(path.join(DIR, 'assets', 'app-3f2a.js'), 'console.log(1)');
writeFileSync(path.join(DIR, 'assets', 'app-3f2a.css'), 'body{}');
writeFileSync(path.join(DIR, 'assets', 'notes.unknown'), 'not a web type');
writeFileSync(path.join(DIR, '.source-digest'), 'abc');

let models: ModelSet;
const gateways: Gateway[] = [];
let base: string;
let key: string;

async function start(surface: Record<string, unknown>): Promise<string> {
  const keys = new MemoryKeyStore();
  key = (await keys.create('page-user', ['submit', 'read'])).key;
  const gw = await createGateway({ stages: localStages(models), manifest: models.manifest, port: 0, host: '127.0.0.1', log: quietLogger(), auth: { keys }, surface });
  gateways.push(gw);
  return new URL('/', gw.url).href.replace(/\/$/, '');
}

beforeAll(async () => {
  models = await ModelSet.load(MODEL_DIR, ['decoder', 'refiner']);
  base = await start({ playgroundDir: DIR });
});
afterAll(async () => {
  for (const gw of gateways) await gw.stop();
  await models?.release();
  rmSync(DIR, { recursive: true, force: true });
});

describe('the listing', () => {
  it('lists the files of known types under their URL paths, / as index.html, hidden files and unknown types left out', () => {
    const site = listSite(DIR);
    expect([...site.keys()].sort()).toEqual(['/', '/assets/app-3f2a.css', '/assets/app-3f2a.js', '/graphql.html', '/index.html']);
    expect(site.get('/assets/app-3f2a.js')).toMatchObject({ type: 'text/javascript; charset=utf-8', cacheControl: IMMUTABLE });
    expect(site.get('/')).toMatchObject({ type: 'text/html; charset=utf-8', cacheControl: REVALIDATE });
    expect(listSite(path.join(DIR, 'missing')).size).toBe(0);
  });

  it('the pages may reach this origin only (and its WebSocket)', () => {
    const csp = contentSecurityPolicy('gw.example:4000');
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self' ws://gw.example:4000 wss://gw.example:4000");
    expect(csp).toContain("frame-ancestors 'none'");
  });
});

describe('served by the gateway', () => {
  it('GET / is the playground: HTML, revalidated, with the policy; the hashed assets are immutable', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<title>playground</title>');

    const js = await fetch(`${base}/assets/app-3f2a.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe(IMMUTABLE);
    expect(await js.text()).toBe('console.log(1)');
    expect((await fetch(`${base}/assets/app-3f2a.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('answers 304 to a matching If-None-Match, and HEAD without a body', async () => {
    const first = await fetch(`${base}/`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    const again = await fetch(`${base}/`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const head = await fetch(`${base}/assets/app-3f2a.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('14');
    expect(await head.text()).toBe('');
  });

  it('nothing outside the folder, no hidden file, no unknown type: 404 as before', async () => {
    for (const p of ['/../package.json', '/%2e%2e/%2e%2e/package.json', '/.source-digest', '/assets/notes.unknown', '/assets/', '/nope.js']) {
      const r = await fetch(`${base}${p}`);
      expect(r.status, p).toBe(404);
      expect(((await r.json()) as any).errors[0].extensions.code).toBe('NOT_FOUND');
    }
    // a POST to a page is not a page
    expect((await fetch(`${base}/`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('a browser GET of /graphql is the explorer page (no key needed); the API at the same path still asks for one', async () => {
    const page = await fetch(`${base}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>explorer</title>');
    expect((await gql(`${base}/graphql`, '{ models { name } }')).status).toBe(401);
    expect((await gql(`${base}/graphql`, '{ models { name } }', undefined, undefined, key)).data?.models[0].name).toBe(models.manifest.name);
  });

  it('a rebuild while the gateway runs (new hashed names) is picked up', async () => {
    writeFileSync(path.join(DIR, 'assets', 'app-9c1d.js'), 'console.log(2)');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await (await fetch(`${base}/assets/app-9c1d.js`)).text()).toBe('console.log(2)');
  });

  it('not built: / says how to build it; PLAYGROUND=0 leaves / out but keeps the explorer; EXPLORER=0 leaves the explorer out', async () => {
    const unbuilt = await start({ playgroundDir: path.join(DIR, 'missing') });
    const r = await fetch(`${unbuilt}/`);
    expect(r.status).toBe(503);
    expect(await r.text()).toContain('npm run build:web');

    const noPlayground = await start({ playgroundDir: DIR, playground: false });
    expect((await fetch(`${noPlayground}/`)).status).toBe(404);
    expect((await fetch(`${noPlayground}/graphql`, { headers: { accept: 'text/html' } })).status).toBe(200);
    expect((await fetch(`${noPlayground}/assets/app-3f2a.js`)).status).toBe(200);

    const noExplorer = await start({ playgroundDir: DIR, explorer: false });
    expect((await fetch(`${noExplorer}/`)).status).toBe(200);
    expect((await fetch(`${noExplorer}/graphql.html`)).status).toBe(404);
    const landing = await fetch(`${noExplorer}/graphql`, { headers: { accept: 'text/html' } });
    expect(await landing.text()).not.toContain('<title>explorer</title>');
  });
});
