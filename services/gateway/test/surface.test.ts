import { makeExecutableSchema } from '@graphql-tools/schema';
import { parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SURFACE } from '../src/config.js';
import { typeDefs } from '../src/schema.js';
import { corsHeaders, originAllowed, validationRules, withoutSuggestions } from '../src/surface.js';

const schema = makeExecutableSchema({ typeDefs });
const check = (query: string, surface = {}) => validate(schema, parse(query), [...specifiedRules, ...validationRules({ ...DEFAULT_SURFACE, ...surface })]).map((e) => e.message);

describe('document limits', () => {
  it('depth', () => {
    expect(check(`{ models { files { role } } }`, { maxDepth: 3 })).toEqual([]);
    expect(check(`{ models { files { role } } }`, { maxDepth: 2 })[0]).toMatch(/depth limit of 2 exceeded/i);
  });
  it('aliases', () => {
    expect(check(`{ a: models { name } b: models { name } }`, { maxAliases: 2 })).toEqual([]);
    expect(check(`{ a: models { name } b: models { name } c: models { name } }`, { maxAliases: 2 })[0]).toMatch(/aliases limit of 2 exceeded/i);
  });
  it('directives', () => {
    expect(check(`{ models @skip(if: false) @include(if: true) { name } }`, { maxDirectives: 1 })[0]).toMatch(/directives limit of 1 exceeded/i);
  });
  it('cost', () => {
    expect(check(`{ models { name dataset files { role sha256 } } }`, { maxCost: 5 })[0]).toMatch(/cost limit of 5 exceeded/i);
  });
  it('introspection only when on (the default outside production)', () => {
    expect(check(`{ __schema { queryType { name } } }`)).toEqual([]);
    expect(check(`{ __schema { queryType { name } } }`, { introspection: false })[0]).toMatch(/introspection/i);
  });
  it('the default limits take every query the schema allows', () => {
    const q = `subscription { jobProgress(id: "x") { jobId status progress { step steps timestep etaMs } preview { png } job { id images { png width height } stage1 { png } manifest } } }`;
    expect(check(q)).toEqual([]);
  });
});

describe('origins', () => {
  it('no Origin (not a browser) and the same origin always pass; others only when listed', () => {
    expect(originAllowed(undefined, 'gw:4000', [])).toBe(true);
    expect(originAllowed('http://gw:4000', 'gw:4000', [])).toBe(true);
    expect(originAllowed('https://evil.example', 'gw:4000', [])).toBe(false);
    expect(originAllowed('https://app.example.com', 'gw:4000', ['https://app.example.com'])).toBe(true);
    expect(originAllowed('null', 'gw:4000', [])).toBe(false);
    expect(originAllowed('https://x', 'gw:4000', ['*'])).toBe(true);
  });
  it('CORS headers go only to listed origins', () => {
    expect(corsHeaders('https://evil.example', 'gw', ['https://app.example.com'])).toEqual({ vary: 'Origin' });
    expect(corsHeaders('https://app.example.com', 'gw', ['https://app.example.com'])['access-control-allow-origin']).toBe('https://app.example.com');
    expect(corsHeaders('https://app.example.com', 'gw', [])).toEqual({ vary: 'Origin' });
    // a page may send its own x-request-id and read the one it gets back
    const listed = corsHeaders('https://app.example.com', 'gw', ['https://app.example.com']);
    expect(listed['access-control-allow-headers']).toMatch(/\bx-request-id\b/);
    expect(listed['access-control-expose-headers']).toBe('x-request-id');
  });
});

it('field suggestions are dropped', () => {
  expect(withoutSuggestions('Cannot query field "modles" on type "Query". Did you mean "models"?')).toBe('Cannot query field "modles" on type "Query".');
});
