import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { gql, launchBrowser, launchPlatform, openPage, type Platform } from './harness';

// The GraphiQL explorer at /graphql, opened from the launcher's link, in chromium: all of it from this machine, the
// key handed over to the request headers, a query run from the editor.
let platform: Platform;
let browser: Browser;

beforeAll(async () => {
  platform = await launchPlatform();
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
});

describe('explorer', () => {
  it('opens from the printed link, moves the key into the headers and runs { models { name } }', async () => {
    const { models } = await gql<{ models: { name: string }[] }>(platform, '{ models { name } }');
    const modelName = models[0]!.name;
    expect(platform.explorerUrl).toBe(`${platform.url}#key=${platform.key}`);

    const w = await openPage(browser, platform);
    try {
      const { page } = w;
      await page.goto(platform.explorerUrl);
      const operationEditor = page.getByRole('region', { name: 'Operation Editor' });
      const run = page.getByRole('button', { name: /^Execute query/ });
      await run.waitFor({ timeout: 60_000 });
      // monaco is up (its text area takes input) and the schema came (the Docs of the query type are available)
      await operationEditor.locator('.monaco-editor').first().waitFor({ timeout: 60_000 });

      // the fragment left the address bar; the key is in the headers editor
      expect(page.url()).toBe(platform.url);
      expect(page.url()).not.toContain('#');
      expect(page.url()).not.toContain(platform.key);
      const headersTool = page.locator('.graphiql-editor-tool');
      await expect.poll(() => headersTool.textContent(), { timeout: 30_000 }).toContain(platform.key);

      // the query, typed into the operation editor (insertText: no auto-closed braces) once it shows the default
      // document (typed earlier, GraphiQL's own value would replace it), and run with ▶
      const editorText = async () => ((await operationEditor.locator('.view-lines').first().textContent()) ?? '').replace(/\u00a0/g, ' ');
      await expect.poll(editorText, { timeout: 30_000 }).toContain('query Models');
      await expect
        .poll(
          async () => {
            await operationEditor.locator('.view-lines').first().click();
            await page.keyboard.press('ControlOrMeta+A');
            await page.keyboard.press('Delete');
            await page.keyboard.insertText('{ models { name } }');
            return (await editorText()).trim();
          },
          { timeout: 30_000, interval: 500 },
        )
        .toBe('{ models { name } }');
      // GraphiQL takes the editor's text into its state after a short debounce: a ▶ before that still sees the six
      // operations of the starting document and opens a menu instead of running; close it and press again
      const isOurs = (r: { method(): string; url(): string; postData(): string | null }) =>
        r.method() === 'POST' && new URL(r.url()).pathname === '/graphql' && (r.postData() ?? '').includes('models { name }');
      let request: Awaited<ReturnType<typeof page.waitForRequest>> | undefined;
      for (let attempt = 0; attempt < 6 && !request; attempt++) {
        const sent = page.waitForRequest(isOurs, { timeout: 5000 }).catch(() => undefined);
        await run.click();
        request = await sent;
        if (!request) await page.keyboard.press('Escape');
      }
      if (!request) throw new Error('▶ sent no { models { name } } request in 6 tries');
      expect(await request.headerValue('authorization')).toBe(`Bearer ${platform.key}`);
      const response = await request.response();
      expect(response!.status()).toBe(200);
      expect(await response!.json()).toEqual({ data: { models: models } });

      const result = page.getByRole('region', { name: 'Result Window' });
      await expect.poll(() => result.textContent(), { timeout: 30_000 }).toContain(modelName);
      expect(await result.textContent()).toContain('"models"');

      expect(w.offMachine()).toEqual([]);
      expect(w.errors).toEqual([]);
      expect(w.requests.length).toBeGreaterThan(0);
    } finally {
      await w.close();
    }
  });

  it("the harness is not blind: it sees a CSP violation, a console error and a request to another host", async () => {
    const w = await openPage(browser, platform);
    try {
      const { page } = w;
      await page.goto(platform.explorerUrl);
      await page.getByRole('button', { name: /^Execute query/ }).waitFor({ timeout: 60_000 });
      expect(w.errors).toEqual([]);
      expect(w.offMachine()).toEqual([]);
      // an image from elsewhere: refused by the page's CSP (img-src), reported
      await page.evaluate(`(() => { const i = document.createElement('img'); i.src = 'http://192.0.2.1/x.png'; document.body.append(i); })()`);
      await expect.poll(() => w.errors.join('\n')).toMatch(/CSP violation: img-src blocked http:\/\/192\.0\.2\.1/);
      await page.evaluate(`console.error('an error on purpose')`);
      await expect.poll(() => w.errors.join('\n')).toContain('an error on purpose');
      // a navigation CSP does not stop: recorded as a request off the machine (no such host: it fails at once)
      await page.goto('http://127.0.0.2:9/nothing-here').catch(() => {});
      expect(w.offMachine()).toContain('http://127.0.0.2:9/nothing-here');
    } finally {
      await w.close();
    }
  });
});
