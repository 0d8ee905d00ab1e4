/**
 * The explorer page (Apollo's embedded Sandbox) with the caller's API key filled in from the URL's fragment:
 * `…/graphql#key=dvae_…` opens the explorer with `authorization: Bearer dvae_…` in its shared headers, so the
 * link `npm start` prints is one click from a first query. A fragment never reaches the server (nor its logs or
 * a proxy's); the page removes it from the address bar before the Sandbox starts.
 */
import type { ApolloServerPlugin } from '@apollo/server';

const ENDPOINT_LINE = 'var initialEndpoint = window.location.href;';
const START_LINE = 'new window.EmbeddedSandbox(';

const READ_KEY = `var presetKey = new URLSearchParams(window.location.hash.slice(1)).get('key');
  if (presetKey) history.replaceState(null, '', window.location.pathname + window.location.search);
  `;
const USE_KEY = `if (presetKey) embeddedSandboxConfig.initialState = Object.assign({}, embeddedSandboxConfig.initialState, { sharedHeaders: { authorization: 'Bearer ' + presetKey } });
  `;

/** Apollo's Sandbox page, reading `#key=` first; throws if the page no longer has the lines it hooks into. */
export function withKeyFromFragment(html: string): string {
  if (!html.includes(ENDPOINT_LINE) || !html.includes(START_LINE)) {
    throw new Error('explorer: the Sandbox page changed; update services/gateway/src/explorer.ts');
  }
  return html.replace(ENDPOINT_LINE, READ_KEY + ENDPOINT_LINE).replace(START_LINE, USE_KEY + START_LINE);
}

/** Wraps a landing-page plugin (ApolloServerPluginLandingPageLocalDefault) so its page takes the key from `#key=`. */
export function keyFromFragment(inner: ApolloServerPlugin): ApolloServerPlugin {
  return {
    async serverWillStart(ctx) {
      const listener = await inner.serverWillStart?.(ctx);
      const render = listener?.renderLandingPage;
      if (!listener || !render) return listener;
      return {
        ...listener,
        async renderLandingPage() {
          const page = await render.call(listener);
          const html = page.html;
          return { html: async () => withKeyFromFragment(typeof html === 'string' ? html : await html()) };
        },
      };
    },
  };
}
