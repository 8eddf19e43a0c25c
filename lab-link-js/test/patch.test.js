// The JSON Patch conformance suite (conformance.js) under Node, and the
// properties the replica relies on: atomicity and sharing.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { applyPatch, PatchError } from '../src/patch.js';
import { getPointer, parsePointer, PointerError } from '../src/pointer.js';

import { caseName, checkCase, SUITE_FILES } from './conformance.js';
import { readSuite } from './suite.js';

const suite = readSuite();
for (const [file, minimum] of SUITE_FILES) {
  const cases = suite[file];
  test(`${file} has at least ${minimum} enabled cases`, () => {
    assert.ok(cases.filter((c) => !c.disabled).length >= minimum);
  });
  cases.forEach((c, index) => {
    // The suite's own "disabled" cases, as the Rust runner ignores them.
    test(caseName(file, c, index), { skip: c.disabled ? 'disabled in the suite' : false }, () => {
      assert.equal(checkCase(c), null);
    });
  });
}

test('a failing patch changes nothing, even after successful operations', () => {
  const doc = { a: [1, 2], b: { c: 1 } };
  assert.throws(
    () => applyPatch(doc, [{ op: 'add', path: '/a/-', value: 3 }, { op: 'remove', path: '/nope' }]),
    (error) => error instanceof PatchError && error.kind === 'missing' && error.index === 1,
  );
  assert.deepEqual(doc, { a: [1, 2], b: { c: 1 } });
});

test('untouched subtrees keep their identity', () => {
  const doc = { a: { x: 1 }, b: { y: [1] } };
  const after = /** @type {typeof doc} */ (applyPatch(doc, [{ op: 'replace', path: '/a/x', value: 2 }]));
  assert.equal(after.b, doc.b);
  assert.notEqual(after.a, doc.a);
  assert.equal(after.a.x, 2);
});

test('a container copied once per patch is changed in place after', () => {
  const doc = { channels: Array.from({ length: 3 }, () => ({ v: 0 })) };
  const ops = doc.channels.map((_, i) => ({ op: 'replace', path: `/channels/${i}/v`, value: i }));
  const after = /** @type {typeof doc} */ (applyPatch(doc, ops));
  assert.deepEqual(after.channels.map((c) => c.v), [0, 1, 2]);
  assert.deepEqual(doc.channels.map((c) => c.v), [0, 0, 0]);
});

test('"__proto__" is an ordinary member name', () => {
  const after = /** @type {Record<string, unknown>} */ (applyPatch({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]));
  assert.deepEqual(Object.keys(after), ['__proto__']);
  assert.equal(Object.getPrototypeOf(after), Object.prototype);
  assert.equal(/** @type {any} */ ({}).polluted, undefined);
  assert.deepEqual(getPointer(after, '/__proto__'), { polluted: true });
});

test('malformed operations are PatchErrors of kind invalid_operation', () => {
  for (const op of [null, 3, { op: 'frob', path: '' }, { op: 'add', path: 'x', value: 1 }, { op: 'add', path: '/x' }, { op: 'copy', path: '/x' }, { op: 'add', path: '/~2', value: 1 }]) {
    assert.throws(() => applyPatch({}, [op]), (e) => e instanceof PatchError && e.kind === 'invalid_operation', JSON.stringify(op));
  }
  assert.throws(() => applyPatch({}, /** @type {any} */ ('nope')), PatchError);
});

test('pointers unescape ~1 then ~0, and reject other escapes', () => {
  assert.deepEqual(parsePointer('/a~1b/~01'), ['a/b', '~1']);
  assert.throws(() => parsePointer('a'), PointerError);
  assert.throws(() => parsePointer('/a~'), PointerError);
  assert.equal(getPointer([1, 2], '/01'), undefined);
  assert.equal(getPointer([1, 2], '/1'), 2);
});
