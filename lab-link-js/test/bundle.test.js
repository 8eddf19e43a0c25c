// dist/lab-link.js, which the demo embeds, is the bundle of the sources,
// and the bundle works as one module; the size comparison with the
// Python reference's runtime measures the same way.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { bundle, OUTPUT } from '../scripts/build.js';
import { compareSizes } from '../scripts/compare-size.js';

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

test('compare-size measures a TypeScript package as it measures ours', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-link-size-'));
  try {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src/index.ts'), 'import { b } from "./b.js";\nexport const a: number = b + 1;\n');
    writeFileSync(join(dir, 'src/b.ts'), 'export const b: number = 41;\n');
    const { ours, reference } = await compareSizes(dir);
    const { minified, gzipped } = await bundle();
    assert.deepEqual(ours, { minified, gzipped });
    // Both modules bundled, the types gone.
    assert.ok(reference.minified > 10 && reference.minified < 60, `${reference.minified} bytes`);
    await assert.rejects(compareSizes(join(dir, 'src')), /has no src\/index\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
