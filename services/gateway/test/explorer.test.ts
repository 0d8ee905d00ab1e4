import vm from 'node:vm';
import type { ApolloServerPlugin, GraphQLServerContext } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { describe, expect, it } from 'vitest';
import { keyFromFragment, withKeyFromFragment } from '../src/explorer.js';

async function page(plugin: ApolloServerPlugin): Promise<string> {
  const listener = await plugin.serverWillStart!({} as GraphQLServerContext);
  const { html } = await listener!.renderLandingPage!();
  return typeof html === 'string' ? html : html();
}

/** Runs the page's inline scripts as a browser at `href` would; returns what the Sandbox was started with. */
function open(html: string, href: string): { config: any; addressBar: string } {
  const url = new URL(href);
  let addressBar = href;
  let config: any;
  const window = {
    location: {
      get href() {
        return addressBar;
      },
      hash: url.hash,
      pathname: url.pathname,
      search: url.search,
    },
    EmbeddedSandbox: class {
      constructor(c: unknown) {
        config = c;
      }
    },
  };
  const history = { replaceState: (_s: unknown, _t: string, to: string) => (addressBar = new URL(to, href).href) };
  const inline = [...html.matchAll(/<script nonce="[^"]*">([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
  expect(inline.length).toBeGreaterThan(0);
  for (const code of inline) vm.runInNewContext(code, { window, history, URLSearchParams, Object });
  return { config, addressBar };
}

describe('the explorer page', () => {
  it('starts the Sandbox with the key from #key= in its shared headers, and takes the key out of the address bar', async () => {
    const html = await page(keyFromFragment(ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })));
    const { config, addressBar } = open(html, 'http://127.0.0.1:4000/graphql#key=dvae_0123456789ab_secret');
    expect(config.initialState.sharedHeaders).toEqual({ authorization: 'Bearer dvae_0123456789ab_secret' });
    expect(config.initialEndpoint).toBe('http://127.0.0.1:4000/graphql');
    expect(addressBar).toBe('http://127.0.0.1:4000/graphql');
  });

  it('without a key it is Apollo’s page as it was', async () => {
    const html = await page(keyFromFragment(ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })));
    const { config, addressBar } = open(html, 'http://127.0.0.1:4000/graphql');
    expect(config.initialState.sharedHeaders).toBeUndefined();
    expect(config.initialEndpoint).toBe('http://127.0.0.1:4000/graphql');
    expect(addressBar).toBe('http://127.0.0.1:4000/graphql');
  });

  it('fails loudly if Apollo’s page no longer has the lines it hooks into', () => {
    expect(() => withKeyFromFragment('<html>something else</html>')).toThrow(/explorer\.ts/);
  });
});
