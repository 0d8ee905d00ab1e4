/** The first request a user can paste. */
export const SAMPLE_MUTATION =
  'mutation { generate(input: { count: 4, seed: 42, sampler: { kind: DDIM, steps: 25 } }) { id status images { width height png } manifest } }';

export interface BannerKey {
  key: string;
  /** where it is saved, relative to the repository root */
  file: string;
  /** made on this start (else: the one saved last time) */
  created: boolean;
}

/**
 * What the launcher prints once everything is up; `url` is the gateway's GraphQL URL (port 0 resolved). With a
 * development key: the key, the playground and explorer links that carry it (in the fragment, which no server
 * sees) and a curl that sends it.
 */
export function banner(url: string, dev?: BannerKey, mode: 'keys' | 'none' = dev ? 'keys' : 'none'): string {
  const page = new URL('/', url).href;
  const body = JSON.stringify({ query: SAMPLE_MUTATION });
  const auth = dev ? ` -H 'authorization: Bearer ${dev.key}'` : '';
  return [
    '',
    `DiffuseVAE gateway ready: ${url}`,
    '',
    ...(dev
      ? [
          `  Development API key (${dev.created ? 'new' : 'the same as last time'}; saved in ${dev.file}; \`npm run keys -- list\` shows every key):`,
          `    ${dev.key}`,
          '',
          '  Open the playground with the key filled in:',
          `    ${page}#key=${dev.key}`,
          '  or the GraphQL explorer:',
          `    ${url}#key=${dev.key}`,
        ]
      : mode === 'none'
        ? [`  Open the playground at ${page} or the GraphQL explorer at ${url} (no API keys: AUTH=none).`]
        : [
            `  Open the playground at ${page} or the GraphQL explorer at ${url}. Every request needs an API key: with`,
            '  NATS_URL the launcher makes none; `npm run keys -- create --name NAME` (same NATS_URL) prints one, then',
            `  open ${page}#key=<the key>.`,
          ]),
    '',
    '  Or from a shell:',
    `    curl -s ${url} -H 'content-type: application/json'${auth} -d '${body}'`,
    '',
    `  ${SAMPLE_MUTATION}`,
    '',
    '  Ctrl-C stops everything.',
    '',
  ].join('\n');
}
