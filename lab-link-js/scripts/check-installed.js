// Exits 0 when node_modules holds exactly the versions package-lock.json
// pins (what `npm ci` installs), else 1 naming the first difference.
// `cargo xtask setup` runs it to decide whether `npm ci` is needed.

import { readFileSync } from 'node:fs';

/** @param {string} file */
function packages(file) {
  try {
    return JSON.parse(readFileSync(new URL(file, new URL('../', import.meta.url)), 'utf8')).packages ?? {};
  } catch {
    return undefined;
  }
}

const locked = packages('package-lock.json');
const installed = packages('node_modules/.package-lock.json');
if (locked === undefined) {
  console.error('lab-link-js/package-lock.json is missing');
  process.exit(1);
}
if (installed === undefined) {
  console.error('lab-link-js/node_modules is not installed');
  process.exit(1);
}
for (const [path, entry] of Object.entries(locked)) {
  if (path === '' || entry.optional) continue;
  if (installed[path]?.version !== entry.version) {
    console.error(`${path}: locked ${entry.version}, installed ${installed[path]?.version ?? 'nothing'}`);
    process.exit(1);
  }
}
console.log(`lab-link-js: ${Object.keys(locked).length - 1} node packages as locked`);
