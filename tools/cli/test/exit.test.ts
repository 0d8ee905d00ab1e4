import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, failureFromGraphQL, failureFromHttp, failureFromJob, unreachable } from '../src/exit.js';

describe('exit codes', () => {
  it('map the API codes to what failed', () => {
    expect(exitCodeFor('BAD_USER_INPUT')).toBe(3);
    expect(exitCodeFor('UNAUTHENTICATED')).toBe(4);
    expect(exitCodeFor('FORBIDDEN')).toBe(4);
    for (const c of ['SERVICE_UNAVAILABLE', 'RATE_LIMITED', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED']) expect(exitCodeFor(c)).toBe(5);
    expect(exitCodeFor('INTERNAL_SERVER_ERROR')).toBe(1);
    expect(exitCodeFor(undefined)).toBe(1);
    expect(EXIT.usage).toBe(2);
  });
  it('messages: the field, how to get a key, the retry hint', () => {
    const bad = failureFromGraphQL({ message: 'input.sampler.steps: must be an integer in [1, 1000], got 5000', extensions: { code: 'BAD_USER_INPUT' } });
    expect(bad).toMatchObject({ exitCode: 3, message: expect.stringContaining('input.sampler.steps: must be an integer in [1, 1000], got 5000') });
    expect(failureFromGraphQL({ message: 'no API key', extensions: { code: 'UNAUTHENTICATED' } })).toMatchObject({ exitCode: 4, message: expect.stringMatching(/npm run keys -- create --name NAME[\s\S]*DIFFUSEVAE_KEY/) });
    expect(failureFromGraphQL({ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfterMs: 2500 } })).toMatchObject({ exitCode: 5, message: 'RATE_LIMITED: slow down\ntry again in 3 s' });
    expect(failureFromGraphQL({ message: 'boom' })).toMatchObject({ exitCode: 1, message: 'error: boom' });
    expect(failureFromJob({ id: 'j', error: 'refiner: no responders', errorCode: 'SERVICE_UNAVAILABLE' })).toMatchObject({ exitCode: 5, message: expect.stringMatching(/^job j failed: SERVICE_UNAVAILABLE: refiner: no responders\ntry again/) });
    expect(failureFromJob({ id: 'j', error: 'cancelled', errorCode: 'CANCELLED' }).exitCode).toBe(130);
    expect(failureFromHttp(401, 'nope').exitCode).toBe(4);
    expect(failureFromHttp(503, 'down').exitCode).toBe(5);
    expect(failureFromHttp(500, 'x').exitCode).toBe(1);
    expect(unreachable('http://h/graphql', 'ECONNREFUSED')).toMatchObject({ exitCode: 5, message: expect.stringMatching(/ECONNREFUSED[\s\S]*npm start/) });
  });
});
