// Runs the blocks of the book's chapter "Browser clients" against the
// demo: `js` blocks as modules (as in a page: the global WebSocket and
// location set), the `jsx` block rendered by react-dom/server, the
// `svelte` block compiled and rendered, the `ts` block type-checked
// against declarations generated from the demo's schema. Blocks tagged
// `ignore` are shown, not run.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { compile } from 'svelte/compiler';
import { render } from 'svelte/server';
import WebSocket from 'ws';

import { LabLinkClient } from '../src/index.js';
import { startDemo } from './demo.js';

const PACKAGE = fileURLToPath(new URL('../', import.meta.url));
const ROOT = join(PACKAGE, '..');
const CHAPTER = join(ROOT, 'docs/src/browser-clients.md');
/** Inside the package, so that `lab-link-js` imports resolve to it. */
const OUT = join(PACKAGE, '.docs-test');

const blocks = [...readFileSync(CHAPTER, 'utf8').matchAll(/^```([a-z]+)([^\n]*)\n([\s\S]*?)^```$/gm)]
  .map(([, lang, flags, code], index) => ({ lang, flags, code: /** @type {string} */ (code), index }))
  .filter((block) => ['js', 'jsx', 'svelte', 'ts'].includes(/** @type {string} */ (block.lang)) && !/ignore/.test(block.flags ?? ''));

/** @type {{ url: string, stop: () => Promise<void> }} */
let demo;
const authDir = mkdtempSync(join(tmpdir(), 'lab-link-js-docs-'));
before(async () => {
  // Access control on, the test being the instrument computer (loopback).
  demo = await startDemo(['--auth', join(authDir, 'auth.sqlite')]);
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT);
  Object.assign(globalThis, { WebSocket, location: { origin: demo.url } });
});
after(async () => {
  await demo?.stop();
  rmSync(OUT, { recursive: true, force: true });
  rmSync(authDir, { recursive: true, force: true });
});

test('the chapter has blocks of each kind', () => {
  assert.deepEqual([...new Set(blocks.map((block) => block.lang))].sort(), ['js', 'jsx', 'svelte', 'ts']);
});

for (const block of blocks) {
  test(`browser-clients.md block ${block.index} (${block.lang})`, { timeout: 60_000 }, async () => {
    const file = join(OUT, `block-${block.index}`);
    if (block.lang === 'js') {
      /** @type {unknown[][]} */
      const warnings = [];
      const warn = console.warn;
      const log = console.log;
      console.warn = (...args) => warnings.push(args);
      console.log = () => {};
      try {
        writeFileSync(`${file}.mjs`, block.code);
        await import(pathToFileURL(`${file}.mjs`).href);
      } finally {
        console.warn = warn;
        console.log = log;
      }
      assert.deepEqual(warnings, [], 'the block reported problems');
    } else if (block.lang === 'jsx') {
      const { code } = await transform(block.code, { loader: 'jsx', jsx: 'automatic', format: 'esm' });
      writeFileSync(`${file}.mjs`, code);
      const { App } = await import(pathToFileURL(`${file}.mjs`).href);
      const client = await connected();
      assert.match(renderToString(createElement(App, { client })), /<p>ch<!-- -->0<!-- -->: <!-- -->0<!-- --> V/);
      client.close();
    } else if (block.lang === 'svelte') {
      const { js } = compile(block.code, { generate: 'server', filename: 'Block.svelte' });
      writeFileSync(`${file}.mjs`, js.code);
      const Component = (await import(pathToFileURL(`${file}.mjs`).href)).default;
      const client = await connected();
      const html = render(Component, { props: { client } }).body.replace(/<!--[^>]*-->/g, '');
      assert.match(html, /<p>Output off<\/p>/);
      assert.match(html, /<button>ch3: 0 V<\/button>/);
      client.close();
    } else {
      const codegen = spawnSync('cargo', ['run', '-q', '-j', '2', '-p', 'xtask', '--', 'codegen-ts', '--url', `${demo.url}/sync/schema`, '--out', join(OUT, 'lab')], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
      assert.equal(codegen.status, 0, `${codegen.stdout}${codegen.stderr}`);
      writeFileSync(`${file}.ts`, block.code);
      const tsc = spawnSync('node', [join(PACKAGE, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', '--types', 'node', `${file}.ts`], { cwd: OUT, encoding: 'utf8' });
      assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
    }
  });
}

async function connected() {
  const client = new LabLinkClient({ url: demo.url, WebSocket: /** @type {any} */ (WebSocket) });
  await client.connect();
  return client;
}
