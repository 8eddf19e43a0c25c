// Interop with the Python reference lab-link 0.5.0: this client against
// the reference's demo (bench/python/demo.py, level 1, as 0.5.0 speaks
// no more), and the reference's Python client beside this client on our
// demo, each sending commands and both ending on the same state.

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

import { CommandError } from '../src/index.js';

import { REFERENCE_PYTHON, startDemo, startReference } from './demo.js';
import { assertStreamsAgree, bias, client, closeClients, connect, dropAndReconnect, problemKinds, serverState, until } from './helpers.js';

afterEach(closeClients);

describe('against the Python reference demo (lab-link 0.5.0, level 1)', { timeout: 60_000 }, () => {
  /** @type {import('./demo.js').RunningDemo} */
  let reference;
  before(async () => {
    reference = await startReference();
  });
  after(async () => {
    await reference?.stop();
  });

  test('snapshot, commands, their errors and reset', async () => {
    const lab = client(reference.url);
    const problems = problemKinds(lab);
    await lab.connect();
    assert.deepEqual(lab.state, await serverState(reference.url));
    /** @type {unknown[]} */
    const seen = [];
    lab.subscribe('/channels/1/bias_voltage', (value) => seen.push(value));

    assert.deepEqual(await lab.commands.set_channel({ channel: 1, value: 1.2346 }), { channel: 1, value: 1.235 });
    assert.equal(bias(lab, 1), 1.235);
    await lab.command('set_label', { key: 'a/b~c', value: 'x' });
    assert.equal(/** @type {any} */ (lab.state).labels['a/b~c'], 'x');
    assert.deepEqual(await lab.command('set_all', { value: -2 }), { count: 4 });
    assert.deepEqual([0, 1, 2, 3].map((channel) => bias(lab, channel)), [-2, -2, -2, -2]);

    await assert.rejects(lab.command('set_channel', { channel: 9, value: 1 }), (error) => {
      assert.ok(error instanceof CommandError);
      assert.deepEqual([error.code, error.display, error.path], ['invalid_channel', 'inline', '/channels/9']);
      return true;
    });
    await assert.rejects(lab.commands.set_channel({ channel: 0, value: 12 }), (error) =>
      error instanceof CommandError && error.code === 'out_of_range' && error.path === '/channels/0/bias_voltage');
    await assert.rejects(lab.command('simulate_timeout'), (error) =>
      error instanceof CommandError && error.code === 'hardware_timeout' && error.display === 'banner' && error.detail === 'UDP timeout after 5.0 s');
    await assert.rejects(lab.command('nope'), (error) => error instanceof CommandError && error.code === 'unknown_command');
    // Progress needs level 2, which 0.5.0 does not speak: refused here,
    // before anything is sent.
    await assert.rejects(lab.command('set_enabled', { enabled: true }, { onProgress: () => {} }), (error) =>
      error instanceof CommandError && error.code === 'level_2_required');

    // 0.5.0 resets with one replace of the whole document.
    await lab.command('reset');
    assert.deepEqual(lab.state, await serverState(reference.url));
    assert.deepEqual(seen, [0, 1.235, -2, 0]);
    assert.deepEqual(problems, []);
  });

  test('two clients agree while the acquisition runs, streams included', async () => {
    const [one, two] = await Promise.all([connect(reference.url), connect(reference.url)]);
    const problems = [...problemKinds(one), ...problemKinds(two)];
    await one.command('set_channel', { channel: 0, value: 5 });
    await one.command('start_acquisition', { rate_hz: 200 });
    await until(() => (one.stream('trace')?.data.length ?? 0) === 256 && (two.stream('counts')?.data.length ?? 0) > 20, 'stream updates');
    await one.command('stop_acquisition');
    await two.command('set_enabled', { enabled: true });
    await until(() => one.version === two.version, 'the same version');
    assert.deepEqual(one.state, two.state);
    assert.deepEqual(one.state, await serverState(reference.url));
    // 0.5.0 sends the trace as float32 binary frames.
    const trace = one.stream('trace')?.data;
    assert.ok(trace instanceof Float32Array);
    assert.ok(Array.from(trace).some((sample) => Math.abs(sample) > 0.5), 'a trace with the 5 V channel\'s amplitude');
    await assertStreamsAgree(one, two);
    await one.command('reset');
    assert.deepEqual(problems, []);
  });

  test('a dropped socket reconnects with a fresh snapshot', async () => {
    // 0.5.0 ignores `?since=` and answers with a snapshot, which the
    // client takes as a new start rather than a resume.
    assert.deepEqual(await dropAndReconnect(reference.url), { resumed: [false], newSocket: true });
  });
});

describe('the Python 0.5.0 client and this client on our demo at once', { timeout: 60_000 }, () => {
  /** @type {import('./demo.js').RunningDemo} */
  let demo;
  before(async () => {
    demo = await startDemo();
  });
  after(async () => {
    await demo?.stop();
  });

  test('commands from each reach both, and both end on the server\'s state', async () => {
    const lab = await connect(demo.url);
    const problems = problemKinds(lab);
    const python = pythonClient(`${demo.url.replace(/^http/, 'ws')}/sync/ws`, [
      { command: 'set_channel', params: { channel: 2, value: -3.21 }, requestId: 'py-1' },
      { command: 'add_channel', params: { name: 'from python' }, requestId: 'py-2' },
      { command: 'set_label', params: { key: 'written by', value: 'python' }, requestId: 'py-3' },
      { command: 'set_channel', params: { channel: 9, value: 1 }, requestId: 'py-4' },
    ]);
    try {
      await python.until('commands_done');
      const raised = python.events.filter((event) => event.event === 'raised');
      assert.deepEqual(raised.map((event) => [event.requestId, event.code, event.path]), [['py-4', 'invalid_channel', '/channels/9']]);
      await until(() => /** @type {any} */ (lab.state).labels['written by'] === 'python', 'the Python client\'s commands in this replica');
      assert.equal(bias(lab, 2), -3.21);

      assert.deepEqual(await lab.command('set_active', { channel: 4, active: true }), { channel: 4, active: true });
      await lab.command('set_label', { key: 'written by', value: 'js' });
      assert.deepEqual(await lab.command('remove_channel', { channel: 0 }), { removed: 'ch0' });

      const final = await python.finalAt(lab.version);
      assert.equal(final.version, lab.version);
      assert.deepEqual(final.replica, lab.state);
      assert.deepEqual(lab.state, await serverState(demo.url));
      const state = /** @type {any} */ (lab.state);
      assert.deepEqual(state.channels.map((/** @type {any} */ channel) => channel.name), ['ch1', 'ch2', 'ch3', 'from python']);
      assert.deepEqual([state.channels[1].bias_voltage, state.channels[3].active, state.labels], [-3.21, true, { 'written by': 'js' }]);
      // The Python client applied this client's commands as patches.
      const commands = python.events.filter((event) => event.event === 'patch').map((event) => event.command);
      for (const command of ['set_active', 'set_label', 'remove_channel']) assert.ok(commands.includes(command), `${command} in ${commands}`);
      assert.deepEqual(problems, []);
    } finally {
      await python.stop();
    }
  });
});

/**
 * The Python reference client (lab-link 0.5.0) running `plan` against
 * `wsUrl` through lab-link/tests/python/command_interop.py, which reports
 * what it sees as JSON lines.
 *
 * @param {string} wsUrl
 * @param {Array<{ command: string, params?: object, requestId: string }>} plan
 */
function pythonClient(wsUrl, plan) {
  const script = fileURLToPath(new URL('../../lab-link/tests/python/command_interop.py', import.meta.url));
  const child = spawn(REFERENCE_PYTHON, [script, wsUrl, '--plan', JSON.stringify(plan), '--timeout', '20'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  /** @type {Array<Record<string, any>>} */
  const events = [];
  /** @type {string[]} */
  const stderr = [];
  child.stderr.on('data', (chunk) => stderr.push(String(chunk)));
  child.on('error', (error) => stderr.push(`cannot run ${REFERENCE_PYTHON} (run \`cargo xtask setup\`): ${error}`));
  createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line)));
  const exited = once(child, 'exit');

  /** @param {string} name */
  const until = async (name) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = events.find((event) => event.event === name);
      if (found) return found;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the Python client reported no ${name} (exit ${child.exitCode}):\n${stderr.join('')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {
    events,
    until,
    /** Tells the client the version to reach and returns its `final` report. @param {number} version */
    finalAt: async (version) => {
      child.stdin.end(`${version}\n`);
      const final = await until('final');
      const [code] = await exited;
      assert.equal(code, 0, stderr.join(''));
      return final;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
