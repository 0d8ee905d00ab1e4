/**
 * Error codes shared by services and the gateway. The gateway returns them as GraphQL `extensions.code`;
 * services send them in headers next to the micro protocol's numeric Nats-Service-Error-Code.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'SERVICE_UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'CANCELLED'
  | 'NOT_FOUND'
  | 'INTERNAL_SERVER_ERROR'
  /** the gateway: no API key, or not a valid one */
  | 'UNAUTHENTICATED'
  /** the gateway: the key lacks the scope this operation needs */
  | 'FORBIDDEN'
  /** the gateway: past one of the key's limits (requests, image-steps per minute, concurrent jobs) */
  | 'RATE_LIMITED';

export const STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CANCELLED: 499,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
};

// the first code of each status: a service's 429 is RESOURCE_EXHAUSTED (only the gateway limits keys)
const BY_STATUS = new Map<number, ErrorCode>();
for (const [k, v] of Object.entries(STATUS)) if (!BY_STATUS.has(v)) BY_STATUS.set(v, k as ErrorCode);

export function codeForStatus(status: number): ErrorCode {
  return BY_STATUS.get(status) ?? 'INTERNAL_SERVER_ERROR';
}

/** An expected failure: what went wrong, with the field at fault when the caller's input is. */
export class PlatformError extends Error {
  override name = 'PlatformError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    /** RESOURCE_EXHAUSTED, RATE_LIMITED: when to try again */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** A failure that may pass when tried again (elsewhere, or a moment later): no replica answered, or not in time. */
  static isTransient(e: unknown): boolean {
    return e instanceof PlatformError && (e.code === 'SERVICE_UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED');
  }

  static badInput(field: string, message: string): PlatformError {
    return new PlatformError('BAD_USER_INPUT', `${field}: ${message}`, field);
  }

  /** A refine stopped because a later try of the same request started (on any scheduler): that try goes on. */
  static takenOver(): PlatformError {
    return new PlatformError('CANCELLED', TAKEN_OVER);
  }

  /** Whether `e` is takenOver() (also after a trip over NATS, which keeps the code and the message). */
  static isTakenOver(e: unknown): boolean {
    return e instanceof PlatformError && e.code === 'CANCELLED' && e.message === TAKEN_OVER;
  }
}

const TAKEN_OVER = 'a later try of this request took over';
