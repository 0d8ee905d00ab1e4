/** The playground at /: see App.tsx (state), api.ts (the GraphQL client) and the pure units next to them. */
import './styles.css';

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { keyFromHash, loadStoredKey, storeKey } from './key';

/** `#key=…` fills the key (and is stored, then stripped from the address bar before anything renders). */
function takeInitialKey(): string | null {
  let storage: Storage | undefined;
  try {
    storage = window.localStorage;
  } catch {
    storage = undefined;
  }
  const { key, rest } = keyFromHash(window.location.hash);
  if (key) {
    storeKey(storage, key);
    history.replaceState(history.state, '', window.location.pathname + window.location.search + rest);
    return key;
  }
  return loadStoredKey(storage);
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App initialKey={takeInitialKey()} />
  </StrictMode>,
);
