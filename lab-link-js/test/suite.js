// Reads the JSON Patch conformance suite from the Rust core's copy, for
// the Node and the Chromium runs of conformance.js.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { SUITE_FILES } from './conformance.js';

/** The folder of the suite's files. */
export const SUITE_DIR = fileURLToPath(new URL('../../lab-link-core/tests/data/json-patch/', import.meta.url));

/**
 * Every file of the suite, parsed: file name → its cases.
 *
 * @returns {Record<string, import('./conformance.js').SuiteCase[]>}
 */
export function readSuite() {
  /** @type {Record<string, import('./conformance.js').SuiteCase[]>} */
  const files = {};
  for (const [file] of SUITE_FILES) {
    try {
      files[file] = JSON.parse(readFileSync(SUITE_DIR + file, 'utf8'));
    } catch (error) {
      throw new Error(
        `cannot read the JSON Patch conformance suite ${SUITE_DIR}${file}: ` +
          `restore it with \`git checkout -- lab-link-core/tests/data/json-patch\` (${error})`,
      );
    }
  }
  return files;
}
