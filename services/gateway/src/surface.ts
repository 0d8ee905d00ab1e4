/**
 * What the GraphQL surface lets through, in one place for both transports (Apollo over HTTP, graphql-ws):
 * document limits (graphql-armor's depth, alias, directive and cost rules, graphql-js's token limit while parsing),
 * introspection, and the browser origins allowed by CORS and on WebSocket upgrades.
 */
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext, type ValidationRule } from 'graphql';
import type { SurfaceConfig } from './config.js';

/** Validation rules past graphql-js's own: refused before anything runs (no job is submitted). */
export function validationRules(s: SurfaceConfig): ValidationRule[] {
  // reported as validation errors (GRAPHQL_VALIDATION_FAILED, HTTP 400), not thrown, and without armor's
  // "Syntax Error: " prefix (the document parsed; it is over a limit)
  const report = {
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, e: GraphQLError) => ctx?.reportError(new GraphQLError(`${e.message.replace(/^Syntax Error: /, '')} (see the gateway's limits)`))],
  };
  return [
    maxDepthRule({ n: s.maxDepth, ignoreIntrospection: true, ...report }),
    maxAliasesRule({ n: s.maxAliases, ...report }),
    maxDirectivesRule({ n: s.maxDirectives, ...report }),
    costLimitRule({ maxCost: s.maxCost, ignoreIntrospection: true, ...report }),
    ...(s.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ] as ValidationRule[];
}

export function parseOptions(s: SurfaceConfig): { maxTokens: number } {
  return { maxTokens: s.maxTokens };
}

/**
 * May a browser page from `origin` call us? Requests without an Origin (not from a browser) and same-origin ones
 * (the page served by this gateway) always may; others only when listed in CORS_ORIGINS (or it is `*`).
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (!origin) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** CORS response headers for a request from `origin` (none for a same-origin or non-browser request, or a refused origin). */
export function corsHeaders(origin: string | undefined, host: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (!origin || !allowed.length || !originAllowed(origin, host, allowed)) return { vary: 'Origin' };
  return {
    'access-control-allow-origin': allowed.includes('*') ? '*' : origin,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': 'authorization, content-type, apollo-require-preflight, x-apollo-operation-name, x-request-id',
    // a page may read the request id of its request (to quote it to an operator: the access log has it)
    'access-control-expose-headers': 'x-request-id',
    'access-control-max-age': '600',
    vary: 'Origin',
  };
}

/** graphql-js suggests field and type names ("Did you mean …?"): with introspection off, that would leak the schema. */
export function withoutSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, '');
}
