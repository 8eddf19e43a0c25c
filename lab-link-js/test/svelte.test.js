// The Svelte store in a Svelte 5 component, compiled by Svelte's compiler
// here and rendered on the server (no DOM).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compile } from 'svelte/compiler';
import { render } from 'svelte/server';

import { connected } from './fake-socket.js';

const COMPONENT = `
<script>
  import { labLinkStore } from '../src/svelte.js';
  let { client } = $props();
  const enabled = labLinkStore(client, (c) => c.state?.enabled);
  const channels = labLinkStore(client, (c) => c.state?.channels ?? []);
</script>
<p>{$enabled ? 'on' : 'off'}: {#each $channels as channel}<i>{channel.bias}</i>{/each}</p>
`;

test('a component reads the store with $store', async () => {
  const { js } = compile(COMPONENT, { generate: 'server', filename: 'Panel.svelte' });
  // Inside the package, so that the compiled module's `svelte/…` imports resolve.
  const dir = mkdtempSync(join(fileURLToPath(new URL('../', import.meta.url)), '.svelte-test-'));
  try {
    const file = join(dir, 'Panel.js');
    writeFileSync(file, js.code.replaceAll("'../src/svelte.js'", `'${pathToFileURL(fileURLToPath(new URL('../src/svelte.js', import.meta.url)))}'`));
    const Panel = (await import(pathToFileURL(file).href)).default;
    const { client, socket } = await connected();
    const html = () => render(Panel, { props: { client } }).body.replace(/<!--[^>]*-->/g, '');
    assert.equal(html(), '<p>off: <i>0</i><i>0</i></p>');
    socket.receive({ type: 'patch', patch: [{ op: 'replace', path: '/enabled', value: true }, { op: 'replace', path: '/channels/1/bias', value: 4 }], version: 6 });
    assert.equal(html(), '<p>on: <i>0</i><i>4</i></p>');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
