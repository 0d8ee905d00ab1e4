/**
 * The browser pages, served from the playground's build (services/playground/dist, PLAYGROUND_DIR): the playground
 * at `/` and the GraphQL explorer for a browser's GET of /graphql. Static files only, from a listing of the build
 * folder (nothing outside it can be named), with their content types, ETags and caching: Vite's hashed files under
 * /assets/ are immutable for a year, the pages are revalidated on every load. A Content-Security-Policy keeps the
 * pages to this origin: no script, style, font or connection may come from, or go to, another host.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:web` writes the pages, seen from this file (in the source tree). */
export const DEFAULT_PLAYGROUND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../playground/dist');

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** The policy of every page: this origin only (its WebSocket included), images also as data: and blob: URLs. */
export function contentSecurityPolicy(host: string | undefined): string {
  const ws = host ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    // React's style attributes and the editor's injected <style> elements
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${ws}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

export interface StaticFile {
  file: string;
  type: string;
  etag: string;
  cacheControl: string;
  size: number;
}

/** url path → file, for every file under `dir` with a known type (`/index.html` also as `/`). Empty when `dir` is missing. */
export function listSite(dir: string): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(path.join(dir, rel));
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const r = rel ? `${rel}/${name}` : name;
      const file = path.join(dir, r);
      const st = statSync(file);
      if (st.isDirectory()) {
        walk(r);
        continue;
      }
      const type = CONTENT_TYPES[path.extname(name).toLowerCase()];
      if (!type || !st.isFile()) continue;
      const etag = `"${createHash('sha256').update(readFileSync(file)).digest('base64url').slice(0, 22)}"`;
      out.set(`/${r}`, { file, type, etag, size: st.size, cacheControl: r.startsWith('assets/') ? IMMUTABLE : REVALIDATE });
    }
  };
  walk('');
  const index = out.get('/index.html');
  if (index) out.set('/', index);
  return out;
}

export interface StaticSite {
  /** the build folder has the playground (index.html) */
  readonly built: boolean;
  /** answers GET/HEAD of a page or asset; false when `pathname` is none of its files */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
  /** the explorer page (graphql.html) for a browser's GET of the GraphQL path; false when the build has none */
  serveExplorer(req: IncomingMessage, res: ServerResponse): boolean;
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>DiffuseVAE</title>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5">
<h1>The playground is not built</h1><p>Build it with <code>npm run build:web</code> (<code>npm start</code> does it for you), then reload.
The GraphQL API is at <code>/graphql</code> all the same.</p></body></html>`;

/**
 * The pages of `dir`. The listing is read at start and again (at most once a second) when a path is not in it, so a
 * rebuild while the gateway runs (new hashed names) is picked up.
 */
export function staticSite(dir: string, opts: { explorer: boolean }): StaticSite {
  let files = listSite(dir);
  let listedAt = Date.now();
  const lookup = (p: string): StaticFile | undefined => {
    const hit = files.get(p);
    if (hit || Date.now() - listedAt < 1000) return hit;
    files = listSite(dir);
    listedAt = Date.now();
    return files.get(p);
  };

  const send = (req: IncomingMessage, res: ServerResponse, f: StaticFile): void => {
    const headers: Record<string, string> = {
      'content-type': f.type,
      'cache-control': f.cacheControl,
      etag: f.etag,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    if (f.type.startsWith('text/html')) headers['content-security-policy'] = contentSecurityPolicy(req.headers.host);
    if (req.headers['if-none-match'] === f.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(f.file);
    } catch {
      // deleted by a rebuild since the listing: the next request sees the new one
      files = listSite(dir);
      listedAt = Date.now();
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' }).end('the pages are being rebuilt: try again\n');
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  return {
    get built() {
      return lookup('/') !== undefined;
    },
    serve(req, res, pathname) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const f = pathname === '/graphql.html' && !opts.explorer ? undefined : lookup(pathname);
      if (f) {
        send(req, res, f);
        return true;
      }
      if (pathname !== '/') return false;
      res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': REVALIDATE }).end(NOT_BUILT);
      return true;
    },
    serveExplorer(req, res) {
      const f = opts.explorer ? lookup('/graphql.html') : undefined;
      if (!f) return false;
      send(req, res, f);
      return true;
    },
  };
}
