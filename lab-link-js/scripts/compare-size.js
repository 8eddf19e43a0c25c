// The runtime's size beside the Python reference's browser runtime (the
// `js/` folder of lab-link 0.5.0's repository, github.com/sansseriff/lab-link,
// at the commit that made 0.5.0), both measured as scripts/build.js
// measures ours: the package's main entry bundled by esbuild, minified,
// then gzip -9. Adapters (React, Svelte) are left out on both sides.
//
//   node scripts/compare-size.js PATH/TO/lab-link/js
//
// The reference is only read and measured here, never copied.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

import { minifiedSize } from './build.js';

const PACKAGE = fileURLToPath(new URL('../', import.meta.url));

/**
 * The sizes of ours and of the reference at `referenceDir`.
 *
 * @param {string} referenceDir the reference's `js/` folder
 */
export async function compareSizes(referenceDir) {
  const entry = 'src/index.ts';
  if (!existsSync(resolve(referenceDir, entry))) {
    throw new Error(`${referenceDir} has no ${entry}: give the js/ folder of lab-link 0.5.0's repository`);
  }
  return {
    ours: await minifiedSize(PACKAGE, 'src/index.js'),
    reference: await minifiedSize(resolve(referenceDir), entry),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [referenceDir] = process.argv.slice(2);
  if (referenceDir === undefined) {
    console.error('usage: node scripts/compare-size.js PATH/TO/lab-link/js');
    process.exit(2);
  }
  try {
    const { ours, reference } = await compareSizes(referenceDir);
    console.log('| runtime | minified | minified+gzip -9 |');
    console.log('|---|---|---|');
    console.log(`| lab-link-js | ${ours.minified} | ${ours.gzipped} |`);
    console.log(`| lab-link 0.5.0 (js/) | ${reference.minified} | ${reference.gzipped} |`);
  } catch (error) {
    console.error(`compare-size: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
}
