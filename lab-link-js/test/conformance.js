// The JSON Patch conformance suite (the Rust core's copy, read in place)
// checked against this runtime's patch engine. Plain JavaScript without
// Node's modules, so that the same checks run under Node's test runner
// (patch.test.js) and in Chromium (chromium.test.js).

import { applyPatch, jsonEqual, PatchError } from '../src/patch.js';

/**
 * One case of the suite.
 *
 * @typedef {object} SuiteCase
 * @property {string} [comment]
 * @property {unknown} doc
 * @property {unknown[]} patch
 * @property {unknown} [expected]
 * @property {string} [error]
 * @property {boolean} [disabled]
 */

/**
 * The suite's files and the fewest enabled cases each must hold, so that
 * an emptied file cannot pass.
 *
 * @type {ReadonlyArray<readonly [string, number]>}
 */
export const SUITE_FILES = [['tests.json', 80], ['spec_tests.json', 15]];

/**
 * The test name of the case at `index` of `file`.
 *
 * @param {string} file
 * @param {SuiteCase} suiteCase
 * @param {number} index
 */
export function caseName(file, suiteCase, index) {
  return `${file}/${String(index).padStart(3, '0')} ${suiteCase.comment ?? JSON.stringify(suiteCase.patch).slice(0, 60)}`;
}

/**
 * Checks one enabled case: the patch applies and gives `expected`, or it
 * fails with a `PatchError` when the case names an `error`; either way the
 * input document is unchanged.
 *
 * @param {SuiteCase} suiteCase
 * @returns {string | null} what went wrong, or null when the case passes
 */
export function checkCase(suiteCase) {
  const before = JSON.stringify(suiteCase.doc);
  try {
    const after = applyPatch(suiteCase.doc, suiteCase.patch);
    if (suiteCase.error !== undefined) return `applied, but the suite expects an error (${suiteCase.error}): ${JSON.stringify(after)}`;
    if ('expected' in suiteCase && !jsonEqual(after, suiteCase.expected)) {
      return `got ${JSON.stringify(after)}, expected ${JSON.stringify(suiteCase.expected)}`;
    }
  } catch (error) {
    if (!(error instanceof PatchError)) return `threw ${error}, not a PatchError`;
    if (suiteCase.error === undefined) return `failed: ${error.message}`;
  }
  return JSON.stringify(suiteCase.doc) === before ? null : 'the input document was changed';
}

/**
 * Runs every enabled case of `files` (file name → its cases) and returns
 * each case's outcome by its `caseName`: null when it passed, else what
 * went wrong. Disabled cases are left out, as the Rust runner ignores them.
 *
 * @param {Record<string, SuiteCase[]>} files
 * @returns {Record<string, string | null>}
 */
export function runSuite(files) {
  /** @type {Record<string, string | null>} */
  const outcomes = {};
  for (const [file, cases] of Object.entries(files)) {
    cases.forEach((suiteCase, index) => {
      if (!suiteCase.disabled) outcomes[caseName(file, suiteCase, index)] = checkCase(suiteCase);
    });
  }
  return outcomes;
}
