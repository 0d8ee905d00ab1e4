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
  | 'INTERNAL_SERVER_ERROR';

export const STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CANCELLED: 499,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

const BY_STATUS = new Map(Object.entries(STATUS).map(([k, v]) => [v, k as ErrorCode]));

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
    /** RESOURCE_EXHAUSTED: when to try again */
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
}
