// dist/lab-link.js, which the demo embeds, is the bundle of the sources,
// and the bundle works as one module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { bundle, OUTPUT } from '../scripts/build.js';

test('the committed bundle is up to date', async () => {
  const { text, gzipped } = await bundle();
  assert.ok(readFileSync(OUTPUT, 'utf8') === text, 'lab-link-js/dist/lab-link.js is stale: run `npm run build` in lab-link-js');
  // The runtime stays small: the figure is in the book's "Browser clients".
  assert.ok(gzipped < 12_000, `${gzipped} bytes minified+gzip`);
});

test('the bundle exports the runtime', async () => {
  const runtime = await import(new URL('../dist/lab-link.js', import.meta.url).href);
  assert.equal(typeof runtime.LabLinkClient, 'function');
  assert.deepEqual(runtime.applyPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }]), { a: 2 });
});
