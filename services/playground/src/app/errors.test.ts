import { describe, expect, it } from 'vitest';
import { describeError, errorsFromResponse, fromSubscriptionError, KEY_HELP } from './errors';

describe('errorsFromResponse', () => {
  it('reads message, code, field and retryAfterMs from GraphQL errors', () => {
    const body = { errors: [{ message: 'input.sampler.steps: must be an integer in [1, 1000], got 1200', extensions: { code: 'BAD_USER_INPUT', field: 'input.sampler.steps' } }] };
    expect(errorsFromResponse(200, body)).toEqual([{ message: body.errors[0]!.message, code: 'BAD_USER_INPUT', field: 'input.sampler.steps' }]);
    expect(errorsFromResponse(200, { errors: [{ message: 'busy', extensions: { code: 'RESOURCE_EXHAUSTED', retryAfterMs: 2000 } }] })).toEqual([
      { message: 'busy', code: 'RESOURCE_EXHAUSTED', retryAfterMs: 2000 },
    ]);
  });
  it('401 is UNAUTHENTICATED, with or without a body', () => {
    expect(errorsFromResponse(401, { errors: [{ message: 'no API key' }] })).toEqual([{ message: 'no API key', code: 'UNAUTHENTICATED' }]);
    expect(errorsFromResponse(401, null)[0]!.code).toBe('UNAUTHENTICATED');
  });
  it('other HTTP failures and non-JSON', () => {
    expect(errorsFromResponse(502, null)).toEqual([{ message: 'The gateway answered HTTP 502.', code: 'HTTP_502' }]);
    expect(errorsFromResponse(200, null)[0]!.code).toBe('BAD_RESPONSE');
    expect(errorsFromResponse(200, { data: { x: 1 } })).toEqual([]);
  });
});

describe('fromSubscriptionError', () => {
  it('GraphQL errors, close codes and errors', () => {
    expect(fromSubscriptionError([{ message: 'not found', extensions: { code: 'NOT_FOUND' } }])).toEqual({ message: 'not found', code: 'NOT_FOUND' });
    expect(fromSubscriptionError({ code: 4401, reason: 'Unauthorized' })).toEqual({ message: 'Unauthorized', code: 'UNAUTHENTICATED' });
    expect(fromSubscriptionError({ code: 1006, reason: '' }).code).toBe('CONNECTION_CLOSED');
    expect(fromSubscriptionError(new Error('boom'))).toEqual({ message: 'boom', code: 'NETWORK_ERROR' });
  });
});

describe('describeError', () => {
  it('adds how to get a key to UNAUTHENTICATED', () => {
    expect(describeError({ message: 'no API key', code: 'UNAUTHENTICATED' })).toBe(`no API key — ${KEY_HELP}`);
    expect(KEY_HELP).toContain('npm run keys -- create --name NAME');
    expect(describeError({ message: 'slow down', code: 'RATE_LIMITED', retryAfterMs: 1500 })).toBe('slow down (try again in 2 s)');
  });
});
