// `cargo xtask codegen-ts` on the demo's schema: the declarations
// type-check a correct use and refuse a wrong param type. Also checks that
// the committed declarations of the runtime (types/) are up to date.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startDemo } from './demo.js';

const PACKAGE = fileURLToPath(new URL('../', import.meta.url));
const ROOT = join(PACKAGE, '..');
const TSC = join(PACKAGE, 'node_modules/typescript/bin/tsc');
/** Inside the package, so that `import 'lab-link-js'` resolves to itself. */
const OUT = join(PACKAGE, '.codegen-test');

/**
 * @param {string} program
 * @param {string[]} args
 * @param {string} cwd
 */
function run(program, args, cwd) {
  const result = spawnSync(program, args, { cwd, encoding: 'utf8', timeout: 600_000 });
  if (result.error) throw new Error(`cannot run ${program} (is it installed?): ${result.error}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * Type-checks one TypeScript file strictly.
 *
 * @param {string} file
 */
function typeCheck(file) {
  return run('node', [TSC, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', '--types', 'node', file], OUT);
}

test('generated declarations type a correct client and refuse a wrong param', () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT);
  const generated = run('cargo', ['run', '-q', '-j', '2', '-p', 'xtask', '--', 'codegen-ts', '--schema', join(ROOT, 'lab-link-demo/tests/expected/schema.json'), '--out', join(OUT, 'demo')], ROOT);
  assert.equal(generated.status, 0, generated.output);

  writeFileSync(join(OUT, 'good.ts'), `
import { createClient, schemaHash, type State } from './demo/index.js';

export async function use(): Promise<number> {
  const client = createClient({ url: 'http://127.0.0.1:8000' });
  const hash: string = schemaHash;
  const { value } = await client.commands.set_channel({ channel: 0, value: 1.25 });
  const { index } = await client.command('add_channel', { name: 'ch4' });
  await client.commands.reset();
  await client.commands.set_label({ key: 'a/b', value: null });
  const state: State | undefined = client.state;
  const bias: number | undefined = state?.channels[0]?.bias_voltage;
  const trace: Float32Array | number[] | undefined = client.stream('trace')?.data;
  client.subscribeStream('histogram', (stream) => stream.data.reduce((a, b) => a + b, 0));
  return value + index + (bias ?? 0) + (trace?.length ?? 0) + hash.length;
}
`);
  const good = typeCheck('good.ts');
  assert.equal(good.status, 0, good.output);

  const wrong = {
    'a string where the channel index goes': `await client.commands.set_channel({ channel: 'zero', value: 1 });`,
    'a missing param': `await client.commands.set_channel({ channel: 0 });`,
    'an unknown command': `await client.commands.set_chanel({ channel: 0, value: 1 });`,
    'a result field that does not exist': `(await client.commands.set_enabled({ enabled: true })).value;`,
    'a stream that does not exist': `client.stream('nope');`,
  };
  for (const [what, line] of Object.entries(wrong)) {
    writeFileSync(join(OUT, 'bad.ts'), `import { createClient } from './demo/index.js';\nconst client = createClient();\n${line}\nexport {};\n`);
    const bad = typeCheck('bad.ts');
    assert.notEqual(bad.status, 0, `${what} compiled: ${line}`);
    assert.match(bad.output, /bad\.ts\(3,/, `${what}: the error is not on the line: ${bad.output}`);
  }
  rmSync(OUT, { recursive: true, force: true });
});

test('--url reads the schema from a running server', async () => {
  const demo = await startDemo();
  const out = mkdtempSync(join(tmpdir(), 'lab-link-js-codegen-'));
  try {
    const codegen = (/** @type {string[]} */ ...source) =>
      run('cargo', ['run', '-q', '-j', '2', '-p', 'xtask', '--', 'codegen-ts', ...source, '--out', join(out, source[0] ?? '')], ROOT);
    const fromUrl = codegen('--url', `${demo.url}/sync/schema`);
    assert.equal(fromUrl.status, 0, fromUrl.output);
    const fromFile = codegen('--schema', join(ROOT, 'lab-link-demo/tests/expected/schema.json'));
    assert.equal(fromFile.status, 0, fromFile.output);
    const read = (/** @type {string} */ dir) => readFileSync(join(out, dir, 'index.d.ts'), 'utf8');
    assert.equal(read('--url'), read('--schema'));
    const missing = codegen('--url', `${demo.url}/nope`);
    assert.notEqual(missing.status, 0);
    assert.match(missing.output, /answered `HTTP\/1.1 404/);
  } finally {
    await demo.stop();
    rmSync(out, { recursive: true, force: true });
  }
});

test('the committed declarations in types/ match the sources', () => {
  const out = mkdtempSync(join(tmpdir(), 'lab-link-js-types-'));
  try {
    const emitted = run('node', [TSC, '-p', 'tsconfig.types.json', '--outDir', out], PACKAGE);
    assert.equal(emitted.status, 0, emitted.output);
    const files = readdirSync(out).sort();
    assert.deepEqual(files, readdirSync(join(PACKAGE, 'types')).sort());
    for (const file of files) {
      assert.equal(readFileSync(join(PACKAGE, 'types', file), 'utf8'), readFileSync(join(out, file), 'utf8'), `types/${file} is stale: run \`npm run types\` in lab-link-js`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
