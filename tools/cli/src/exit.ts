/**
 * What failed, as an exit code and a message a person can act on (pure).
 */
export const EXIT = { ok: 0, other: 1, usage: 2, badInput: 3, auth: 4, unavailable: 5, interrupted: 130 } as const;

/** A failure the CLI reports: its exit code and what to print. */
export class CliFailure extends Error {
  override name = 'CliFailure';
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

const AUTH_HINT =
  'an API key: `npm start` saves a development key in .diffusevae/dev-key (used by default); make one with `npm run keys -- create --name NAME` and pass it as --key KEY or $DIFFUSEVAE_KEY';
const RETRY_HINT = 'try again in a moment';

/** The exit code for a GraphQL error code (extensions.code) or a failed job's errorCode. */
export function exitCodeFor(code: string | undefined): number {
  switch (code) {
    case 'BAD_USER_INPUT':
      return EXIT.badInput;
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return EXIT.auth;
    case 'SERVICE_UNAVAILABLE':
    case 'RATE_LIMITED':
    case 'RESOURCE_EXHAUSTED':
    case 'DEADLINE_EXCEEDED':
    case 'JOB_FAILED':
      return EXIT.unavailable;
    case 'CANCELLED':
      return EXIT.interrupted;
    default:
      return EXIT.other;
  }
}

export interface GraphQLErrorLike {
  message: string;
  extensions?: Record<string, unknown>;
}

/** The failure a GraphQL error stands for, with its code, message and what to do about it. */
export function failureFromGraphQL(e: GraphQLErrorLike): CliFailure {
  const code = typeof e.extensions?.['code'] === 'string' ? (e.extensions['code'] as string) : undefined;
  const exit = exitCodeFor(code);
  const retryAfter = typeof e.extensions?.['retryAfterMs'] === 'number' ? (e.extensions['retryAfterMs'] as number) : undefined;
  switch (exit) {
    case EXIT.badInput:
      return new CliFailure(exit, `input refused: ${e.message}`);
    case EXIT.auth:
      return new CliFailure(exit, `${code}: ${e.message}\nneeds ${AUTH_HINT}`);
    case EXIT.unavailable:
      return new CliFailure(exit, `${code}: ${e.message}\n${retryAfter !== undefined ? `try again in ${Math.ceil(retryAfter / 1000)} s` : RETRY_HINT}`);
    default:
      return new CliFailure(exit, `${code ?? 'error'}: ${e.message}`);
  }
}

/** A job that ended FAILED or CANCELLED (errorCode CANCELLED: 130; BAD_USER_INPUT: 3; anything else: 5). */
export function failureFromJob(job: { id: string; error?: string | null; errorCode?: string | null }): CliFailure {
  const code = job.errorCode ?? undefined;
  const exit = code === 'CANCELLED' ? EXIT.interrupted : code === 'BAD_USER_INPUT' ? EXIT.badInput : EXIT.unavailable;
  const hint = exit === EXIT.unavailable ? `\n${RETRY_HINT}` : '';
  return new CliFailure(exit, `job ${job.id} failed: ${code ?? 'FAILED'}: ${job.error ?? 'no reason given'}${hint}`);
}

/** HTTP failures without a GraphQL body (the gateway not there, a proxy's error page). */
export function failureFromHttp(status: number, body: string): CliFailure {
  if (status === 401 || status === 403) return new CliFailure(EXIT.auth, `HTTP ${status}: ${body.slice(0, 200)}\nneeds ${AUTH_HINT}`);
  if (status === 429 || status === 502 || status === 503 || status === 504) return new CliFailure(EXIT.unavailable, `HTTP ${status}: ${body.slice(0, 200)}\n${RETRY_HINT}`);
  return new CliFailure(EXIT.other, `HTTP ${status}: ${body.slice(0, 200)}`);
}

export function unreachable(url: string, why: string): CliFailure {
  return new CliFailure(EXIT.unavailable, `cannot reach the gateway at ${url}: ${why}\nis it running (\`npm start\`)? --url sets another one`);
}
