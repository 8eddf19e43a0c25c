// The patch-apply benchmark (bench/apply.js) measures what it says and
// catches a wrong document.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { benchDocument, CASES, measure } from '../bench/apply.js';

test('every case runs, counts its operations and ends on the right document', () => {
  assert.deepEqual(CASES.map((c) => c.name), ['replace 1 op per patch', 'replace 1000 ops per patch', 'add + remove a channel']);
  for (const benchCase of CASES) {
    const result = measure(benchCase, 0.05);
    assert.ok(result.patches > 0, benchCase.name);
    const ratio = result.opsPerSecond / result.patchesPerSecond;
    assert.ok(Math.abs(ratio - benchCase.patch(0).length) < 1e-6, `${benchCase.name}: ${ratio} ops per patch`);
  }
});

test('a case\'s check refuses a document the patches did not make', () => {
  const untouched = benchDocument();
  const wrong = benchDocument(7);
  assert.deepEqual(CASES.map((c) => c.check(untouched, 2)), [false, false, true]);
  assert.deepEqual(CASES.map((c) => c.check(wrong, 8)), [false, true, false]);
  assert.equal(CASES[1].check(wrong, 9), false);
});
