import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { KvKeyStore } from '@diffusevae/auth';
import { REPO_ROOT, startNatsServer, startService, type NatsServer, type ServiceProcess } from '@diffusevae/testing';
import { connect } from '@nats-io/transport-node';
import { MODEL_DIR, pngBase64 } from './helpers.js';

// A table of bad inputs sent to the real thing (nats-server, the four services and the gateway, each its own
// process): every one gets a typed error in bounded time, never an internal one, and nothing falls over. Then the
// graphql-http server audits (GraphQL over HTTP conformance) against the same gateway.
// CORPUS_OUT=1 writes what it saw to docs/results/bad-input-corpus.json.

let nats: NatsServer;
const services: Record<string, ServiceProcess> = {};
let gateway: ServiceProcess;
let url: string;
let wsUrl: string;
/** A: the caller of most cases; B: owns a job that A must not see; others for scopes and limits */
const key: Record<'a' | 'b' | 'reader' | 'slow' | 'audit', string> = { a: '', b: '', reader: '', slow: '', audit: '' };
let otherJob: string;

const NAMES = ['encoder', 'vae-decoder', 'refiner', 'scheduler'];
const UNKNOWN_JOB = '0b7e5a52-3c1e-4a57-9a8e-2f0c8d9e1a64';
const MAX_CASE_MS = 10_000;
const MiB = 1024 * 1024;

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  const env = { NATS_URL: nats.url, MODEL_DIR, ORT_THREADS: '1' };
  const started = await Promise.all(NAMES.map((n) => startService(`services/${n}/src/main.ts`, env, { timeoutMs: 120_000 })));
  NAMES.forEach((n, i) => (services[n] = started[i]!));
  const nc = await connect({ servers: nats.url });
  const keys = await KvKeyStore.open(nc);
  const roomy = { requestsPerMinute: 100_000 };
  key.a = (await keys.create('corpus-a', ['submit', 'read'], roomy)).key;
  key.b = (await keys.create('corpus-b', ['submit', 'read'], roomy)).key;
  key.reader = (await keys.create('corpus-reader', ['read'], roomy)).key;
  key.slow = (await keys.create('corpus-slow', ['submit', 'read'], { requestsPerMinute: 1 })).key;
  key.audit = (await keys.create('corpus-audit', ['read'], roomy)).key;
  await nc.close();
  gateway = await startService('services/gateway/src/main.ts', { ...env, PORT: '0', HOST: '127.0.0.1' }, { timeoutMs: 120_000 });
  url = gateway.output().match(/ready on (http\S+)/)![1]!;
  wsUrl = url.replace(/^http/, 'ws');
  const made = await post({ query: `mutation { generate(input: { count: 1, seed: 3, wait: false, sampler: { steps: 2 } }) { id } }` }, key.b);
  otherJob = (made.body as any).data.generate.id;
  expect(otherJob).toMatch(/^[0-9a-f-]{36}$/);
});

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(Object.values(services).map((s) => s.stop()));
  await nats?.stop();
});

// ---------------------------------------------------------------------------------------------------------------
// transports

/** What came back: over HTTP a status and a body; over graphql-ws the socket's close code and the messages. */
interface Outcome {
  status?: number;
  /** graphql-ws: the close code, when the socket closed */
  close?: number;
  closeReason?: string;
  text: string;
  body?: unknown;
}

interface RawRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** send the body in chunks without a content-length */
  chunked?: boolean;
}

/**
 * One HTTP request with exactly these headers (node:http adds only host, and connection), over the global agent's
 * keep-alive connections, as a client's pool would; one not answered in 12 s gives status 0.
 */
function raw(r: RawRequest): Promise<Outcome> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined && !r.chunked) headers['content-length'] = String(Buffer.byteLength(r.body));
    const req = http.request({ host: target.hostname, port: target.port, method: r.method ?? 'POST', path: r.path ?? target.pathname, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, text, body });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => (resolve({ status: 0, text: 'no answer in 12 s' }), req.destroy()), 12_000);
    req.on('close', () => clearTimeout(timer));
    // the server may answer (413) before it has read all of a large body and close the connection: a response that
    // came wins; without one, the connection's failure is the outcome
    req.on('error', (e: NodeJS.ErrnoException) => setTimeout(() => resolve({ status: 0, text: `no answer: ${e.code ?? e.message}` }), 1000));
    if (r.body === undefined) return void req.end();
    if (!r.chunked) return void req.end(r.body);
    const buf = Buffer.from(r.body);
    for (let i = 0; i < buf.length; i += 256 * 1024) req.write(buf.subarray(i, i + 256 * 1024));
    req.end();
  });
}

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const JSON_CT = { 'content-type': 'application/json' };

/** POST application/json with key A (or `k`); `text` is sent as the body instead when given. */
function post(payload: unknown, k = key.a, text?: string): Promise<Outcome> {
  return raw({ headers: { ...JSON_CT, ...bearer(k) }, body: text ?? JSON.stringify(payload) });
}

function get(params: Record<string, string>, headers: Record<string, string> = { 'apollo-require-preflight': 'true' }, k = key.a): Promise<Outcome> {
  const target = new URL(url);
  return raw({ method: 'GET', path: `${target.pathname}?${new URLSearchParams(params)}`, headers: { ...headers, ...bearer(k) } });
}

/**
 * graphql-ws by hand (graphql-transport-ws): connection_init with `connectionParams`, then one subscribe; collects
 * every message until the operation errors or completes, or the socket closes.
 */
function ws(connectionParams: unknown, payload?: { query: string; variables?: unknown; operationName?: string }): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    const messages: unknown[] = [];
    let settled = false;
    const done = (o: Omit<Outcome, 'text'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...o, text: JSON.stringify(messages) + (o.closeReason ?? ''), body: messages });
      socket.close(1000);
    };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
    socket.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; payload?: unknown };
      messages.push(m);
      if (m.type === 'connection_ack') {
        if (payload) socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
        else done({});
      } else if (m.type === 'error' || m.type === 'complete') done({});
    });
    socket.on('close', (code, reason) => done({ close: code, closeReason: reason.toString() }));
    socket.on('error', () => {});
  });
}
const wsA = (payload: { query: string; variables?: unknown; operationName?: string }) => ws(bearer(key.a), payload);

// ---------------------------------------------------------------------------------------------------------------
// inputs

/** A PNG chunk: length, type, data, CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A PNG that declares w×h 8-bit gray pixels but carries a few hundred bytes: a decompression bomb's header. */
function pngHeaderOnly(w: number, h: number): string {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idat = zlib.deflateSync(Buffer.alloc(64 * 1024));
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]).toString('base64');
}

const PNG_28 = pngBase64(28, 28);
const PNG_7 = pngBase64(7, 7);
const PNG_14 = pngBase64(14, 14);
const TRUNCATED_PNG = Buffer.from(PNG_28, 'base64').subarray(0, 40).toString('base64');
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64').toString('base64');
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"/>').toString('base64');

const GEN = `mutation($input: GenerateInput!) { generate(input: $input) { id status } }`;
const SR = `mutation($input: SuperResolveInput!) { superResolve(input: $input) { id status } }`;
const DN = `mutation($input: DenoiseInput!) { denoise(input: $input) { id status } }`;
const RC = `mutation($input: ReconstructInput!) { reconstruct(input: $input) { id status } }`;
const IP = `mutation($input: InterpolateInput!) { interpolate(input: $input) { id status } }`;
const JOB = `query($id: ID!) { job(id: $id) { id kind status manifest } }`;
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { id status } }`;
const PROGRESS = `subscription($id: ID!) { jobProgress(id: $id) { jobId status job { kind manifest } } }`;

/** every mutation of the corpus would be a small job, were it let through: never wait for one */
const gen = (input: Record<string, unknown>) => post({ query: GEN, variables: { input: { seed: 1, wait: false, sampler: { steps: 2 }, ...input } } });
const sampler = (s: Record<string, unknown>) => gen({ sampler: { steps: 2, ...s } });
/** raw JSON for what JSON.stringify cannot write (1e999 parses as Infinity) */
const genRaw = (inputJson: string) => post(undefined, key.a, `{"query":${JSON.stringify(GEN)},"variables":{"input":${inputJson}}}`);
const image = (q: string, input: Record<string, unknown>) => post({ query: q, variables: { input: { seed: 1, wait: false, sampler: { steps: 2 }, ...input } } });
/** A refused request leaves no connection of the pool unusable: the next request is answered. */
async function thenUsable(sent: Promise<Outcome>): Promise<Outcome> {
  const o = await sent;
  const next = await post({ query: '{ models { name } }' });
  if (next.status !== 200) throw new Error(`the request after this one got ${next.status}: ${next.text}`);
  return o;
}
const aliases = (n: number) => `mutation { ${Array.from({ length: n }, (_, i) => `g${i}: generate(input: { seed: ${i}, wait: false, sampler: { steps: 1 } }) { id }`).join(' ')} }`;

// ---------------------------------------------------------------------------------------------------------------
// the corpus

interface Expect {
  /** HTTP status (HTTP cases) */
  status?: number;
  /** graphql-ws: the socket closes with this code (one of these) */
  close?: number | number[];
  /** the first error's extensions.code, one of these */
  code?: string | string[];
  /** the message names this field */
  field?: string;
  /** no error: this root field is null (an unknown or another key's job) */
  nullField?: string;
}

interface Case {
  name: string;
  via: 'post' | 'raw' | 'get' | 'ws';
  send: () => Promise<Outcome>;
  expect: Expect;
}

const CODES = [
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'RESOURCE_EXHAUSTED',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
];
const bad = (field: string): Expect => ({ status: 200, code: 'BAD_USER_INPUT', field });
/** refused while coercing variables: Apollo answers 400 BAD_USER_INPUT naming the variable's path */
const coercion = (field: string): Expect => ({ status: 400, code: 'BAD_USER_INPUT', field });

const cases: Case[] = [
  // --- keys, scopes and limits
  { name: 'HTTP: no key', via: 'raw', send: () => raw({ headers: JSON_CT, body: JSON.stringify({ query: '{ health { status } }' }) }), expect: { status: 401, code: 'UNAUTHENTICATED' } },
  { name: 'HTTP: an unknown key', via: 'raw', send: () => post({ query: '{ health { status } }' }, 'dvae_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), expect: { status: 401, code: 'UNAUTHENTICATED' } },
  { name: 'HTTP: a Basic credential', via: 'raw', send: () => raw({ headers: { ...JSON_CT, authorization: 'Basic YTpi' }, body: JSON.stringify({ query: '{ health { status } }' }) }), expect: { status: 401, code: 'UNAUTHENTICATED' } },
  { name: 'HTTP: a 5,000-character key', via: 'raw', send: () => post({ query: '{ health { status } }' }, 'k'.repeat(5000)), expect: { status: 401, code: 'UNAUTHENTICATED' } },
  { name: 'graphql-ws: no key', via: 'ws', send: () => ws({}, { query: PROGRESS, variables: { id: UNKNOWN_JOB } }), expect: { close: 4401 } },
  { name: 'graphql-ws: a bad key', via: 'ws', send: () => ws(bearer('dvae_nope'), { query: PROGRESS, variables: { id: UNKNOWN_JOB } }), expect: { close: 4401 } },
  { name: 'graphql-ws: a connection payload that is not an object', via: 'ws', send: () => ws('Bearer x', { query: PROGRESS, variables: { id: UNKNOWN_JOB } }), expect: { close: [4400, 4401] } },
  { name: 'a read-only key submits a job', via: 'post', send: () => post({ query: GEN, variables: { input: { wait: false } } }, key.reader), expect: { status: 403, code: 'FORBIDDEN' } },
  {
    name: 'a key over its requests per minute',
    via: 'post',
    send: async () => (await post({ query: '{ models { name } }' }, key.slow), post({ query: '{ models { name } }' }, key.slow)),
    expect: { status: 429, code: 'RATE_LIMITED' },
  },

  // --- numbers: count, seed, steps, eta, temperature, latentTemperature, sigma, scale, points
  { name: 'count 0', via: 'post', send: () => gen({ count: 0 }), expect: bad('input.count') },
  { name: 'count -1', via: 'post', send: () => gen({ count: -1 }), expect: bad('input.count') },
  { name: 'count 65', via: 'post', send: () => gen({ count: 65 }), expect: bad('input.count') },
  { name: 'count 1.5', via: 'post', send: () => gen({ count: 1.5 }), expect: coercion('input.count') },
  { name: 'count "NaN"', via: 'post', send: () => gen({ count: 'NaN' }), expect: coercion('input.count') },
  { name: 'count 1e999 (Infinity)', via: 'post', send: () => genRaw('{"count":1e999,"wait":false}'), expect: coercion('input.count') },
  { name: 'count 2^31', via: 'post', send: () => gen({ count: 2 ** 31 }), expect: coercion('input.count') },
  { name: 'count 99999999999 inline', via: 'post', send: () => post({ query: 'mutation { generate(input: { count: 99999999999, wait: false }) { id } }' }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' } },
  { name: 'seed -1', via: 'post', send: () => gen({ seed: -1 }), expect: bad('input.seed') },
  { name: 'seed 2^31', via: 'post', send: () => gen({ seed: 2 ** 31 }), expect: coercion('input.seed') },
  { name: 'seed 0.5', via: 'post', send: () => gen({ seed: 0.5 }), expect: coercion('input.seed') },
  { name: 'seed "Infinity"', via: 'post', send: () => gen({ seed: 'Infinity' }), expect: coercion('input.seed') },
  { name: 'seed -1e999 (-Infinity)', via: 'post', send: () => genRaw('{"seed":-1e999,"wait":false}'), expect: coercion('input.seed') },
  { name: 'steps 0', via: 'post', send: () => sampler({ steps: 0 }), expect: bad('input.sampler.steps') },
  { name: 'steps -5', via: 'post', send: () => sampler({ steps: -5 }), expect: bad('input.sampler.steps') },
  { name: 'steps 1001', via: 'post', send: () => sampler({ steps: 1001 }), expect: bad('input.sampler.steps') },
  { name: 'steps 2.5', via: 'post', send: () => sampler({ steps: 2.5 }), expect: coercion('input.sampler.steps') },
  { name: 'steps 1e999 (Infinity)', via: 'post', send: () => genRaw('{"wait":false,"sampler":{"steps":1e999}}'), expect: coercion('input.sampler.steps') },
  { name: 'count × steps over MAX_IMAGE_STEPS (64 × 1000)', via: 'post', send: () => gen({ count: 64, sampler: { steps: 1000 } }), expect: bad('input.sampler.steps') },
  { name: 'eta -0.1', via: 'post', send: () => sampler({ eta: -0.1 }), expect: bad('input.sampler.eta') },
  { name: 'eta 1.5', via: 'post', send: () => sampler({ eta: 1.5 }), expect: bad('input.sampler.eta') },
  { name: 'eta "NaN"', via: 'post', send: () => sampler({ eta: 'NaN' }), expect: coercion('input.sampler.eta') },
  { name: 'eta 1e999 (Infinity)', via: 'post', send: () => genRaw('{"wait":false,"sampler":{"steps":2,"eta":1e999}}'), expect: coercion('input.sampler.eta') },
  { name: 'eta 1e999 inline', via: 'post', send: () => post({ query: 'mutation { generate(input: { wait: false, sampler: { steps: 2, eta: 1e999 } }) { id } }' }), expect: { code: ['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED'], field: 'eta' } },
  { name: 'temperature 0', via: 'post', send: () => sampler({ temperature: 0 }), expect: bad('input.sampler.temperature') },
  { name: 'temperature 2.5', via: 'post', send: () => sampler({ temperature: 2.5 }), expect: bad('input.sampler.temperature') },
  { name: 'temperature -1e999 (-Infinity)', via: 'post', send: () => genRaw('{"wait":false,"sampler":{"steps":2,"temperature":-1e999}}'), expect: coercion('input.sampler.temperature') },
  { name: 'latentTemperature 0', via: 'post', send: () => gen({ latentTemperature: 0 }), expect: bad('input.latentTemperature') },
  { name: 'latentTemperature 3', via: 'post', send: () => gen({ latentTemperature: 3 }), expect: bad('input.latentTemperature') },
  { name: 'latentTemperature "Infinity"', via: 'post', send: () => gen({ latentTemperature: 'Infinity' }), expect: coercion('input.latentTemperature') },
  { name: 'latentTemperature 1e999 (Infinity)', via: 'post', send: () => genRaw('{"wait":false,"latentTemperature":1e999}'), expect: coercion('input.latentTemperature') },
  { name: 'sigma 0', via: 'post', send: () => image(DN, { image: PNG_28, sigma: 0 }), expect: bad('input.sigma') },
  { name: 'sigma -0.5', via: 'post', send: () => image(DN, { image: PNG_28, sigma: -0.5 }), expect: bad('input.sigma') },
  { name: 'sigma 1.5', via: 'post', send: () => image(DN, { image: PNG_28, sigma: 1.5 }), expect: bad('input.sigma') },
  { name: 'sigma "NaN"', via: 'post', send: () => image(DN, { image: PNG_28, sigma: 'NaN' }), expect: coercion('input.sigma') },
  { name: 'scale 3', via: 'post', send: () => image(SR, { image: PNG_7, scale: 3 }), expect: bad('input.scale') },
  { name: 'scale 0', via: 'post', send: () => image(SR, { image: PNG_7, scale: 0 }), expect: bad('input.scale') },
  { name: 'scale -4', via: 'post', send: () => image(SR, { image: PNG_7, scale: -4 }), expect: bad('input.scale') },
  { name: 'scale 2.5', via: 'post', send: () => image(SR, { image: PNG_7, scale: 2.5 }), expect: coercion('input.scale') },
  { name: 'points 1', via: 'post', send: () => image(IP, { from: { seed: 1 }, to: { seed: 2 }, points: 1 }), expect: bad('input.points') },
  { name: 'points 65', via: 'post', send: () => image(IP, { from: { seed: 1 }, to: { seed: 2 }, points: 65 }), expect: bad('input.points') },
  { name: 'points "NaN"', via: 'post', send: () => image(IP, { from: { seed: 1 }, to: { seed: 2 }, points: 'NaN' }), expect: coercion('input.points') },

  // --- enums, unknown fields, nulls
  { name: 'unknown enum: sampler.kind EULER', via: 'post', send: () => sampler({ kind: 'EULER' }), expect: coercion('input.sampler.kind') },
  { name: 'enum in the wrong case: timestepSpacing "leading"', via: 'post', send: () => sampler({ timestepSpacing: 'leading' }), expect: coercion('input.sampler.timestepSpacing') },
  { name: 'enum as a number: varianceType 1', via: 'post', send: () => sampler({ varianceType: 1 }), expect: coercion('input.sampler.varianceType') },
  { name: 'unknown enum inline: kind: EULER', via: 'post', send: () => post({ query: 'mutation { generate(input: { wait: false, sampler: { kind: EULER } }) { id } }' }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED', field: 'EULER' } },
  { name: 'unknown input field: input.foo', via: 'post', send: () => gen({ foo: 1 }), expect: coercion('foo') },
  { name: 'unknown input field: input.sampler.bar', via: 'post', send: () => sampler({ bar: true }), expect: coercion('bar') },
  { name: 'unknown argument inline', via: 'post', send: () => post({ query: 'mutation { generate(input: { wait: false }, priority: 1) { id } }' }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED', field: 'priority' } },
  { name: 'null for a required field: image', via: 'post', send: () => image(RC, { image: null }), expect: coercion('input.image') },
  { name: 'a 5,000-character field name', via: 'post', send: () => gen({ ['f'.repeat(5000)]: 1 }), expect: { status: 400, code: 'BAD_USER_INPUT' } },

  // --- images
  { name: 'image: empty string', via: 'post', send: () => image(RC, { image: '' }), expect: bad('input.image') },
  { name: 'image: not base64', via: 'post', send: () => image(RC, { image: '!!! not base64 !!!' }), expect: bad('input.image') },
  { name: 'image: random bytes', via: 'post', send: () => image(RC, { image: randomBytes(512).toString('base64') }), expect: bad('input.image') },
  { name: 'image: a truncated PNG', via: 'post', send: () => image(RC, { image: TRUNCATED_PNG }), expect: bad('input.image') },
  { name: 'image: a PNG declaring 100000×100000 pixels (bomb)', via: 'post', send: () => image(RC, { image: pngHeaderOnly(100_000, 100_000) }), expect: bad('input.image') },
  { name: 'image: a PNG declaring 1025×1 pixels', via: 'post', send: () => image(DN, { image: pngHeaderOnly(1025, 1) }), expect: bad('input.image') },
  { name: 'image: 2 MiB of base64 (over 1 MiB decoded)', via: 'post', send: () => image(RC, { image: randomBytes(1.5 * MiB).toString('base64') }), expect: bad('input.image') },
  { name: 'image: 5,000 characters of "A"', via: 'post', send: () => image(RC, { image: 'A'.repeat(5000) }), expect: bad('input.image') },
  { name: 'image: a GIF', via: 'post', send: () => image(RC, { image: GIF }), expect: bad('input.image') },
  { name: 'image: an SVG', via: 'post', send: () => image(RC, { image: SVG }), expect: bad('input.image') },
  { name: 'image: a number', via: 'post', send: () => image(RC, { image: 12345 }), expect: coercion('input.image') },
  { name: 'superResolve ×4 of a 28×28 PNG (wants 7×7)', via: 'post', send: () => image(SR, { image: PNG_28, scale: 4 }), expect: bad('input.image') },
  { name: 'superResolve ×2 of a 7×7 PNG (wants 14×14)', via: 'post', send: () => image(SR, { image: PNG_7, scale: 2 }), expect: bad('input.image') },
  { name: 'denoise of a 7×7 PNG (wants 28×28)', via: 'post', send: () => image(DN, { image: PNG_7, sigma: 0.1 }), expect: bad('input.image') },
  { name: 'reconstruct of a 14×14 PNG (wants 28×28)', via: 'post', send: () => image(RC, { image: PNG_14 }), expect: bad('input.image') },
  { name: 'interpolate from an image of the wrong size', via: 'post', send: () => image(IP, { from: { image: PNG_7 }, to: { seed: 2 } }), expect: bad('input.from.image') },
  { name: 'interpolate from both a seed and an image', via: 'post', send: () => image(IP, { from: { seed: 1, image: PNG_28 }, to: { seed: 2 } }), expect: bad('input.from') },
  { name: 'interpolate to neither', via: 'post', send: () => image(IP, { from: { seed: 1 }, to: {} }), expect: bad('input.to') },
  { name: 'interpolate in the DDPM latent without at', via: 'post', send: () => image(IP, { space: 'DDPM_LATENT', from: { seed: 1 }, to: { seed: 2 } }), expect: bad('input.at') },
  { name: 'interpolate in the DDPM latent from an image', via: 'post', send: () => image(IP, { space: 'DDPM_LATENT', at: { seed: 3 }, from: { image: PNG_28 }, to: { seed: 2 } }), expect: bad('input.from.image') },
  { name: 'interpolate in the VAE latent with at', via: 'post', send: () => image(IP, { at: { seed: 3 }, from: { seed: 1 }, to: { seed: 2 } }), expect: bad('input.at') },

  // --- job ids
  { name: 'job: an id that is no UUID', via: 'post', send: () => post({ query: JOB, variables: { id: 'not-a-uuid' } }), expect: bad('id') },
  { name: 'job: an empty id', via: 'post', send: () => post({ query: JOB, variables: { id: '' } }), expect: bad('id') },
  { name: 'job: a NATS wildcard id', via: 'post', send: () => post({ query: JOB, variables: { id: 'jobs.*.>' } }), expect: bad('id') },
  { name: 'job: a 5,000-character id', via: 'post', send: () => post({ query: JOB, variables: { id: 'a'.repeat(5000) } }), expect: bad('id') },
  { name: 'job: a 100,000-character id', via: 'post', send: () => post({ query: JOB, variables: { id: 'a'.repeat(100_000) } }), expect: bad('id') },
  { name: 'job: an id of the wrong type (object)', via: 'post', send: () => post({ query: JOB, variables: { id: { $ne: null } } }), expect: coercion('$id') },
  { name: 'job: an unknown UUID', via: 'post', send: () => post({ query: JOB, variables: { id: UNKNOWN_JOB } }), expect: { status: 200, nullField: 'job' } },
  { name: "job: another key's job", via: 'post', send: () => post({ query: JOB, variables: { id: otherJob } }), expect: { status: 200, nullField: 'job' } },
  { name: 'cancelJob: an id that is no UUID', via: 'post', send: () => post({ query: CANCEL, variables: { id: '../../etc/passwd' } }), expect: bad('id') },
  { name: 'cancelJob: a 100,000-character id', via: 'post', send: () => post({ query: CANCEL, variables: { id: 'b'.repeat(100_000) } }), expect: bad('id') },
  { name: 'cancelJob: an unknown UUID', via: 'post', send: () => post({ query: CANCEL, variables: { id: UNKNOWN_JOB } }), expect: { status: 200, code: 'NOT_FOUND' } },
  { name: "cancelJob: another key's job", via: 'post', send: () => post({ query: CANCEL, variables: { id: otherJob } }), expect: { status: 200, code: 'NOT_FOUND' } },
  { name: 'jobProgress: an id that is no UUID', via: 'ws', send: () => wsA({ query: PROGRESS, variables: { id: 'no-such-job' } }), expect: { code: 'BAD_USER_INPUT', field: 'id' } },
  { name: 'jobProgress: a 100,000-character id', via: 'ws', send: () => wsA({ query: PROGRESS, variables: { id: 'c'.repeat(100_000) } }), expect: { code: 'BAD_USER_INPUT', field: 'id' } },
  { name: 'jobProgress: an unknown UUID', via: 'ws', send: () => wsA({ query: PROGRESS, variables: { id: UNKNOWN_JOB } }), expect: { code: 'NOT_FOUND' } },
  { name: "jobProgress: another key's job", via: 'ws', send: () => wsA({ query: PROGRESS, variables: { id: otherJob } }), expect: { code: 'NOT_FOUND' } },
  { name: 'jobProgress: an id of the wrong type', via: 'ws', send: () => wsA({ query: PROGRESS, variables: { id: [1, 2] } }), expect: { code: 'BAD_USER_INPUT', field: '$id' } },
  { name: 'jobProgress: no id variable', via: 'ws', send: () => wsA({ query: PROGRESS }), expect: { code: 'BAD_USER_INPUT', field: '$id' } },
  { name: 'jobProgress: a syntax error', via: 'ws', send: () => wsA({ query: 'subscription { jobProgress(id: ' }), expect: { code: 'GRAPHQL_PARSE_FAILED' } },
  { name: 'jobProgress: an unknown field', via: 'ws', send: () => wsA({ query: `subscription { jobProgress(id: "${UNKNOWN_JOB}") { secret } }` }), expect: { code: 'GRAPHQL_VALIDATION_FAILED', field: 'secret' } },
  { name: 'graphql-ws: 20 aliases', via: 'ws', send: () => wsA({ query: `subscription { jobProgress(id: "${UNKNOWN_JOB}") { ${Array.from({ length: 20 }, (_, i) => `a${i}: jobId`).join(' ')} } }` }), expect: { code: 'GRAPHQL_VALIDATION_FAILED', field: 'Aliases limit' } },
  { name: 'graphql-ws: an unknown operationName', via: 'ws', send: () => wsA({ query: PROGRESS, variables: { id: UNKNOWN_JOB }, operationName: 'Nope' }), expect: { code: 'OPERATION_RESOLUTION_FAILURE' } },
  { name: 'graphql-ws: a document over the token limit', via: 'ws', send: () => wsA({ query: `subscription { ${'jobProgress(id: "x") { jobId } '.repeat(300)} }` }), expect: { code: 'GRAPHQL_PARSE_FAILED' } },

  // --- documents: aliases, depth, cost, directives, fragments, operations, variables
  { name: 'a syntax error', via: 'post', send: () => post({ query: 'mutation { generate(input: { ' }), expect: { status: 400, code: 'GRAPHQL_PARSE_FAILED' } },
  { name: '20 aliases', via: 'post', send: () => post({ query: aliases(20) }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' } },
  { name: '1,000 aliases', via: 'post', send: () => post({ query: aliases(1000) }), expect: { status: 400, code: 'GRAPHQL_PARSE_FAILED' } },
  { name: 'a costly query (1,500 fields)', via: 'post', send: () => post({ query: `{ models { ${'name '.repeat(1500)} } }` }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' } },
  { name: 'a deep selection (20 levels)', via: 'post', send: () => post({ query: `{ ${'a { '.repeat(20)}b${' }'.repeat(20)} }` }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' } },
  { name: 'a selection 1,000 levels deep (token limit)', via: 'post', send: () => post({ query: `{ ${'a { '.repeat(1000)}b${' }'.repeat(1000)} }` }), expect: { status: 400, code: 'GRAPHQL_PARSE_FAILED' } },
  { name: '40 directives', via: 'post', send: () => post({ query: `{ health { status ${'@include(if: true) '.repeat(40)} } }` }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' } },
  { name: 'a fragment cycle', via: 'post', send: () => post({ query: `query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }` }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' } },
  { name: 'an unknown field', via: 'post', send: () => post({ query: '{ secrets { key } }' }), expect: { status: 400, code: 'GRAPHQL_VALIDATION_FAILED', field: 'secrets' } },
  { name: 'an unknown operationName', via: 'post', send: () => post({ query: 'query A { health { status } }', operationName: 'B' }), expect: { status: 400, code: 'OPERATION_RESOLUTION_FAILURE' } },
  { name: 'two operations and no operationName', via: 'post', send: () => post({ query: 'query A { health { status } } query B { models { name } }' }), expect: { status: 400, code: 'OPERATION_RESOLUTION_FAILURE' } },
  { name: 'a missing required variable', via: 'post', send: () => post({ query: JOB }), expect: coercion('$id') },
  { name: 'variables of the wrong type (input: a string)', via: 'post', send: () => post({ query: GEN, variables: { input: 'generate everything' } }), expect: coercion('$input') },
  { name: 'deeply nested variables (5,000 levels)', via: 'post', send: () => post(undefined, key.a, `{"query":${JSON.stringify(GEN)},"variables":{"input":{"sampler":${'{"kind":'.repeat(5000)}1${'}'.repeat(5000)}}}}`), expect: { status: 400, code: 'BAD_USER_INPUT' } },
  { name: 'a subscription over HTTP', via: 'post', send: () => post({ query: PROGRESS, variables: { id: UNKNOWN_JOB } }), expect: { status: 400, code: 'BAD_REQUEST' } },

  // --- the HTTP envelope
  { name: 'a batched request (JSON array)', via: 'raw', send: () => post([{ query: '{ health { status } }' }, { query: '{ models { name } }' }]), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'content-type text/plain', via: 'raw', send: () => raw({ headers: { 'content-type': 'text/plain', ...bearer(key.a) }, body: JSON.stringify({ query: '{ health { status } }' }) }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'content-type application/x-www-form-urlencoded', via: 'raw', send: () => raw({ headers: { 'content-type': 'application/x-www-form-urlencoded', ...bearer(key.a) }, body: 'query=%7B%20health%20%7B%20status%20%7D%20%7D' }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'content-type multipart/form-data', via: 'raw', send: () => raw({ headers: { 'content-type': 'multipart/form-data; boundary=x', ...bearer(key.a) }, body: '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{ health { status } }\r\n--x--' }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'no content-type', via: 'raw', send: () => raw({ headers: bearer(key.a), body: JSON.stringify({ query: '{ health { status } }' }) }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'bad JSON', via: 'raw', send: () => post(undefined, key.a, '{"query": "{ health { status } }"'), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'an empty body', via: 'raw', send: () => post(undefined, key.a, ''), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'a JSON null body', via: 'raw', send: () => post(null), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'a JSON string body', via: 'raw', send: () => post('{ health { status } }'), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'no query', via: 'raw', send: () => post({ variables: {} }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'query is a number', via: 'raw', send: () => post({ query: 5 }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'variables is a string', via: 'raw', send: () => post({ query: '{ health { status } }', variables: 'x' }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'extensions is a string', via: 'raw', send: () => post({ query: '{ health { status } }', extensions: 'x' }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'a body over 8 MiB (content-length)', via: 'raw', send: () => thenUsable(post(undefined, key.a, `{"query":"${'x'.repeat(9 * MiB)}"}`)), expect: { status: 413, code: 'BAD_REQUEST' } },
  { name: 'a body over 8 MiB (chunked)', via: 'raw', send: () => thenUsable(raw({ headers: { ...JSON_CT, ...bearer(key.a) }, body: `{"query":"${'x'.repeat(9 * MiB)}"}`, chunked: true })), expect: { status: 413, code: 'BAD_REQUEST' } },
  { name: 'persisted query: an unknown hash', via: 'raw', send: () => post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }), expect: { status: 200, code: 'PERSISTED_QUERY_NOT_FOUND' } },
  { name: 'persisted query: a hash that does not match the query', via: 'raw', send: () => post({ query: '{ health { status } }', extensions: { persistedQuery: { version: 1, sha256Hash: 'b'.repeat(64) } } }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'GET: a mutation', via: 'get', send: () => get({ query: 'mutation { generate(input: { wait: false, sampler: { steps: 1 } }) { id } }' }), expect: { status: 405, code: 'BAD_REQUEST' } },
  { name: 'GET: without the CSRF preflight header', via: 'get', send: () => get({ query: '{ health { status } }' }, {}), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'GET: no query', via: 'get', send: () => get({ variables: '{}' }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'GET: variables that are not JSON', via: 'get', send: () => get({ query: JOB, variables: '{id:' }), expect: { status: 400, code: 'BAD_REQUEST' } },
  { name: 'PUT', via: 'raw', send: () => raw({ method: 'PUT', headers: { ...JSON_CT, ...bearer(key.a) }, body: JSON.stringify({ query: '{ health { status } }' }) }), expect: { status: 405, code: 'BAD_REQUEST' } },
  { name: 'an unknown path', via: 'raw', send: () => raw({ path: '/graphql/../admin', headers: { ...JSON_CT, ...bearer(key.a) }, body: '{}' }), expect: { status: 404, code: 'NOT_FOUND' } },
];

// ---------------------------------------------------------------------------------------------------------------

interface Seen {
  name: string;
  via: Case['via'];
  status?: number;
  close?: number;
  code?: string;
  message?: string;
  ms: number;
}
const seen: Seen[] = [];
interface AuditNote {
  id: string;
  name: string;
  status: string;
  reason: string;
  /** what the gateway answered */
  response: string;
}
const auditSummary: { ok: number; notice: number; warn: number; error: number; warnings: AuditNote[] } = {
  ok: 0,
  notice: 0,
  warn: 0,
  error: 0,
  warnings: [],
};

type GqlError = { message: string; extensions?: Record<string, unknown> };
/** The errors an outcome carries: a GraphQL response's, or over graphql-ws those of its error or next messages. */
function errorsOf(o: Outcome): GqlError[] {
  const b = o.body as any;
  if (Array.isArray(b)) return b.flatMap((m) => (m.type === 'error' ? m.payload : m.type === 'next' ? (m.payload.errors ?? []) : [])) as GqlError[];
  return (b?.errors ?? []) as GqlError[];
}

const LEAKS = /INTERNAL_SERVER_ERROR|Internal server error|stacktrace|\/work\/|node_modules|\.ts:\d|\.js:\d|\n\s+at |\bat [\w.<>]+ \(/;

describe('bad-input corpus', () => {
  it('has at least 60 cases with distinct names', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const t0 = performance.now();
      const o = await c.send();
      const ms = Math.round(performance.now() - t0);
      const errors = errorsOf(o);
      const first = errors[0];
      const code = first?.extensions?.['code'] as string | undefined;
      seen.push({ name: c.name, via: c.via, ...(o.status !== undefined ? { status: o.status } : {}), ...(o.close !== undefined ? { close: o.close } : {}), ...(code ? { code } : {}), ...(first ? { message: first.message.slice(0, 300) } : {}), ms });
      const shown = `${c.name}: ${o.status ?? `close ${o.close}`} ${o.text.slice(0, 600)}`;
      expect(ms, shown).toBeLessThan(MAX_CASE_MS);
      expect(o.text, shown).not.toMatch(LEAKS);
      if (c.expect.status !== undefined) expect(o.status, shown).toBe(c.expect.status);
      if (c.expect.close !== undefined) {
        expect([c.expect.close].flat(), shown).toContain(o.close);
        return;
      }
      if (c.via === 'ws') expect(o.close, `${shown}: the socket stays open`).toBeUndefined();
      if (c.expect.nullField) {
        expect(errors, shown).toEqual([]);
        expect((o.body as any).data, shown).toEqual({ [c.expect.nullField]: null });
        return;
      }
      // a typed error, from the known set, naming the field
      expect(first, shown).toBeDefined();
      expect(CODES, shown).toContain(code);
      if (c.expect.code) expect([c.expect.code].flat(), shown).toContain(code);
      if (c.expect.field) expect(first!.message, shown).toContain(c.expect.field);
      // a refused mutation submits nothing: its field is null, never a job
      const data = (o.body as any)?.data;
      if (data) for (const v of Object.values(data)) expect(v, shown).toBeNull();
    });
  }

  it("another key's job never shows its data", () => {
    for (const s of seen.filter((s) => /another key's job/.test(s.name))) expect(s.code ?? 'null').toMatch(/^(NOT_FOUND|null)$/);
  });
});

describe('graphql-http server audits', () => {
  it('no audit fails (warnings recorded)', async () => {
    const fetchFn = (input: string | URL | Request, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${key.audit}`);
      return fetch(input, { ...init, headers });
    };
    const results: AuditResult[] = [];
    for (const audit of serverAudits({ url, fetchFn })) results.push(await audit.fn());
    for (const r of results) {
      auditSummary[r.status]++;
      if (r.status === 'ok') continue;
      const body = await r.response.text().catch(() => '');
      auditSummary.warnings.push({ id: r.id, name: r.name, status: r.status, reason: r.reason, response: `${r.response.status} ${body.slice(0, 160)}` });
    }
    const errors = results.filter((r) => r.status === 'error');
    expect(errors.map((r) => `${r.name}: ${'reason' in r ? r.reason : ''}`)).toEqual([]);
    console.log(`graphql-http audits: ${auditSummary.ok} ok, ${auditSummary.warn} warn, ${auditSummary.notice} notice, ${auditSummary.error} error`);
    for (const w of auditSummary.warnings) console.log(`  ${w.status}: ${w.name} — ${w.reason}: ${w.response}`);
  });
});

describe('after the corpus and the audits', () => {
  it('every service process and the gateway are still running', async () => {
    const gone = Symbol('still running');
    for (const [name, p] of [...Object.entries(services), ['gateway', gateway] as const]) {
      const state = await Promise.race([p.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r(gone), 50))]);
      expect(state, `${name} exited:\n${p.output().slice(-2000)}`).toBe(gone);
    }
  });

  it('the gateway logged no unexpected error', () => {
    expect(gateway.output()).not.toMatch(/unexpected error|http handler failed|Internal error occurred|Please check your implementation/);
  });

  it('health is ok, one instance of each service', async () => {
    const r = await post({ query: '{ health { status services { name instances } } }' });
    const h = (r.body as any).data.health;
    expect(h.status).toBe('ok');
    expect(h.services.map((s: { instances: number }) => s.instances)).toEqual([1, 1, 1, 1]);
  });

  it('a normal generate job succeeds; its progress streams over graphql-ws', async () => {
    const r = await post({ query: `mutation { generate(input: { count: 2, seed: 7, sampler: { steps: 4 } }) { id status images { width height } } }` });
    expect((r.body as any).errors).toBeUndefined();
    const job = (r.body as any).data.generate;
    expect(job).toMatchObject({ status: 'SUCCEEDED', images: [{ width: 28, height: 28 }, { width: 28, height: 28 }] });
    // a finished job: one event, then complete
    const o = await wsA({ query: PROGRESS, variables: { id: job.id } });
    expect(o.close).toBeUndefined();
    expect(o.body).toEqual([
      { type: 'connection_ack' },
      { id: '1', type: 'next', payload: { data: { jobProgress: { jobId: job.id, status: 'SUCCEEDED', job: { kind: 'GENERATE', manifest: expect.objectContaining({ seed: 7 }) } } } } },
      { id: '1', type: 'complete' },
    ]);
  });
});

afterAll(() => {
  if (!process.env['CORPUS_OUT']) return;
  const codes: Record<string, number> = {};
  for (const s of seen) {
    const k = s.code ?? (s.close !== undefined ? `close ${s.close}` : 'no error (null)');
    codes[k] = (codes[k] ?? 0) + 1;
  }
  const out = {
    generatedBy: 'CORPUS_OUT=1 npx vitest run --project gateway test/corpus.test.ts',
    at: new Date().toISOString(),
    cases: seen.length,
    maxLatencyMs: Math.max(...seen.map((s) => s.ms)),
    boundMs: MAX_CASE_MS,
    codes,
    audits: auditSummary,
    results: seen,
  };
  const file = path.join(REPO_ROOT, 'docs/results/bad-input-corpus.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
});
