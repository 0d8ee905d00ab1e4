/**
 * The explorer at /graphql: GraphiQL 5, bundled whole (monaco and its web workers included, no CDN, no fonts from
 * the network), talking to the gateway on the same origin. See fetcher.ts (HTTP + graphql-ws with the editor's
 * headers) and key.ts (the `#key=` hand-off).
 */
// Monaco's editor, JSON and GraphQL web workers, built by Vite as separate chunks (graphiql's documented setup).
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './explorer.css';

import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { DEFAULT_DOCUMENT, DEFAULT_VARIABLES } from './default-document';
import { createExplorerFetcher } from './fetcher';
import { headersFor, takePresetKey } from './key';

// Before the first render: the fragment leaves the address bar at once.
const presetHeaders = headersFor(takePresetKey());
// The headers editor's text (GraphiQL's initial and per-tab headers); the fetcher sends the same headers for the
// schema request, which GraphiQL makes before that editor exists.
const headers = presetHeaders && JSON.stringify(presetHeaders, null, 2);
const fetcher = createExplorerFetcher({ fallbackHeaders: presetHeaders });

// GraphiQL fills the variables editor from initialVariables, not from defaultTabs; passing it on a later visit would
// open an extra tab each time, so only the first visit (no tabs saved by GraphiQL yet) gets the example variables.
function firstVisit(): boolean {
  try {
    return window.localStorage.getItem('graphiql:tabState') === null;
  } catch {
    return true;
  }
}
const initialVariables = firstVisit() ? DEFAULT_VARIABLES : undefined;

function Explorer() {
  return (
    <GraphiQL
      fetcher={fetcher}
      defaultTabs={[{ query: DEFAULT_DOCUMENT, variables: DEFAULT_VARIABLES, headers: headers ?? null }]}
      initialVariables={initialVariables}
      initialHeaders={headers}
      defaultHeaders={headers}
      defaultEditorToolsVisibility={headers ? 'headers' : true}
    >
      <GraphiQL.Logo>
        <span className="dvae-logo">
          DiffuseVAE
          <a href="/" title="Back to the playground">
            ← playground
          </a>
        </span>
      </GraphiQL.Logo>
    </GraphiQL>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Explorer />
  </StrictMode>,
);
