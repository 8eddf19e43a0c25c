// Bundles the runtime into one ES module, dist/lab-link.js, which the demo
// server embeds and serves at /lab-link.js (so the demo runs without
// Node), and measures the minified runtime's size.
//
//   node scripts/build.js          writes dist/lab-link.js, prints the sizes
//   node scripts/build.js --check  fails if dist/lab-link.js is stale

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const PACKAGE = fileURLToPath(new URL('../', import.meta.url));
export const OUTPUT = `${PACKAGE}dist/lab-link.js`;
const BANNER = '// lab-link-js, bundled by `npm run build` in lab-link-js: do not edit.';

/**
 * The bundle as dist/lab-link.js holds it, and the sizes of the minified
 * bundle (bytes, and bytes after gzip -9).
 *
 * @returns {Promise<{ text: string, minified: number, gzipped: number }>}
 */
export async function bundle() {
  const text = await esbuildOnce(PACKAGE, 'src/index.js', false);
  return { text, ...(await minifiedSize(PACKAGE, 'src/index.js')) };
}

/**
 * The size of the module `entry` (relative to `dir`) bundled with
 * everything it imports, minified by esbuild, in bytes and in bytes after
 * gzip -9: how the runtime's size is measured, and how the Python
 * reference's runtime is measured beside it (scripts/compare-size.js).
 *
 * @param {string} dir
 * @param {string} entry JavaScript or TypeScript
 * @returns {Promise<{ minified: number, gzipped: number }>}
 */
export async function minifiedSize(dir, entry) {
  const minified = Buffer.from(await esbuildOnce(dir, entry, true));
  return { minified: minified.length, gzipped: gzipSync(minified, { level: 9 }).length };
}

/**
 * @param {string} dir
 * @param {string} entry
 * @param {boolean} minify
 */
async function esbuildOnce(dir, entry, minify) {
  const result = await build({
    // Paths in the bundle's comments are relative to this, whatever the cwd.
    absWorkingDir: dir,
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify,
    legalComments: 'none',
    banner: minify ? {} : { js: BANNER },
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles ?? [];
  if (!output) throw new Error('esbuild wrote no output');
  return output.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { text, minified, gzipped } = await bundle();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OUTPUT, 'utf8');
    } catch {
      // Missing: stale.
    }
    if (current !== text) {
      console.error('lab-link-js/dist/lab-link.js is stale: run `npm run build` in lab-link-js');
      process.exit(1);
    }
  } else {
    mkdirSync(`${PACKAGE}dist`, { recursive: true });
    writeFileSync(OUTPUT, text);
  }
  console.log(`lab-link-js: ${Buffer.byteLength(text)} bytes bundled, ${minified} bytes minified, ${gzipped} bytes minified+gzip`);
}
