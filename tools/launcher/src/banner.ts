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
 * What the launcher prints once everything is up; `url` is the gateway's own (port 0 resolved). With a development
 * key: the key, the explorer link that carries it (in the fragment, which no server sees) and a curl that sends it.
 */
export function banner(url: string, dev?: BannerKey): string {
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
          '  Open the explorer with the key filled in:',
          `    ${url}#key=${dev.key}`,
        ]
      : ['  Open the explorer in a browser at that URL (no API keys: AUTH=none).']),
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
