/** The first request a user can paste. */
export const SAMPLE_MUTATION =
  'mutation { generate(input: { count: 4, seed: 42, sampler: { kind: DDIM, steps: 25 } }) { id status images { width height png } manifest } }';

/** What the launcher prints once everything is up; `url` is the gateway's own (port 0 resolved). */
export function banner(url: string): string {
  const body = JSON.stringify({ query: SAMPLE_MUTATION });
  return [
    '',
    `DiffuseVAE gateway ready: ${url}`,
    '',
    '  Paste into the GraphQL sandbox at that URL, or run from a shell:',
    `    curl -s ${url} -H 'content-type: application/json' -d '${body}'`,
    '',
    `  ${SAMPLE_MUTATION}`,
    '',
    '  Ctrl-C stops everything.',
    '',
  ].join('\n');
}
