// The JSON Patch conformance suite (conformance.js) run by the runtime's
// patch engine in headless Chromium, one Node test per case, so that the
// browser's results are counted beside the Node ones.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { openChromium, serveFiles } from './chromium.js';
import { caseName, SUITE_FILES } from './conformance.js';
import { readSuite, SUITE_DIR } from './suite.js';

const RUNTIME_DIR = fileURLToPath(new URL('../', import.meta.url));

describe('the conformance suite in Chromium', { timeout: 120_000 }, () => {
  const suite = readSuite();
  /** @type {Record<string, string | null>} */
  let outcomes = {};
  /** @type {string} */
  let userAgent = '';
  /** @type {Array<() => Promise<void>>} */
  const cleanups = [];

  before(async () => {
    const files = await serveFiles({ '/src/': `${RUNTIME_DIR}src`, '/test/': `${RUNTIME_DIR}test`, '/suite/': SUITE_DIR });
    cleanups.push(files.close);
    const chromium = await openChromium();
    cleanups.push(chromium.close);
    await chromium.goto(files.url);
    // The page fetches the suite itself and runs it with the modules as
    // they are on disk.
    const result = /** @type {{ outcomes: Record<string, string | null>, userAgent: string }} */ (
      await chromium.run(`
        const { runSuite } = await import('/test/conformance.js');
        const files = {};
        for (const file of ${JSON.stringify(SUITE_FILES.map(([file]) => file))}) {
          files[file] = await (await fetch('/suite/' + file)).json();
        }
        return { outcomes: runSuite(files), userAgent: navigator.userAgent };`)
    );
    outcomes = result.outcomes;
    userAgent = result.userAgent;
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('the page runs in Chromium, every enabled case of the suite', () => {
    assert.match(userAgent, /HeadlessChrome\//);
    for (const [file, minimum] of SUITE_FILES) {
      const enabled = suite[file].filter((c) => !c.disabled).length;
      assert.ok(enabled >= minimum, `${file}: ${enabled} enabled cases`);
    }
    const expected = Object.entries(suite).flatMap(([file, cases]) => cases.map((c, index) => (c.disabled ? [] : [caseName(file, c, index)])).flat());
    assert.deepEqual(Object.keys(outcomes).sort(), expected.sort());
  });

  for (const [file, cases] of Object.entries(suite)) {
    cases.forEach((c, index) => {
      const name = caseName(file, c, index);
      test(`chromium: ${name}`, { skip: c.disabled ? 'disabled in the suite' : false }, () => {
        assert.ok(name in outcomes, 'Chromium reported nothing for this case');
        assert.equal(outcomes[name], null);
      });
    });
  }
});
