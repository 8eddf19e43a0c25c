// Starts a server of the demo contract for the interop tests, on
// 127.0.0.1 and a free port, stopped by the test: the demo instrument (our
// server, the binary of the workspace, built first: a no-op when it is
// fresh) or the Python reference demo (bench/python/demo.py on lab-link
// 0.5.0, in the virtualenv `cargo xtask setup` makes at target/py-venv).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** How long the demo may take to print its listening line. */
const START_TIMEOUT_MS = 30_000;

/** Builds the demo binary once per test process; cargo must be on PATH. */
let built = false;
function build() {
  if (built) return;
  const cargo = spawnSync('cargo', ['build', '-q', '-j', '2', '-p', 'lab-link-demo', '--bin', 'lab-link-demo'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 600_000,
  });
  if (cargo.error || cargo.status !== 0) {
    throw new Error(`could not build the demo with cargo (install Rust, with cargo on PATH): ${cargo.error ?? `exit ${cargo.status}`}`);
  }
  built = true;
}

/**
 * A running server of the demo contract: its HTTP base URL, and `stop`.
 *
 * @typedef {{ url: string, stop: () => Promise<void> }} RunningDemo
 */

/**
 * Starts our demo instrument.
 *
 * @param {string[]} [args] more flags for `lab-link-demo`
 * @returns {Promise<RunningDemo>}
 */
export async function startDemo(args = []) {
  build();
  return start(`${ROOT}target/debug/lab-link-demo`, ['--host', '127.0.0.1', '--port', '0', ...args]);
}

/** The Python of the reference's virtualenv. */
export const REFERENCE_PYTHON = `${ROOT}target/py-venv/bin/python`;

/**
 * Starts the Python reference demo.
 *
 * @returns {Promise<RunningDemo>}
 */
export async function startReference() {
  if (!existsSync(REFERENCE_PYTHON)) {
    throw new Error(`the Python reference needs the virtualenv at ${REFERENCE_PYTHON}: run \`cargo xtask setup\` (it installs bench/python/requirements.txt)`);
  }
  return start(REFERENCE_PYTHON, [`${ROOT}bench/python/demo.py`, '--host', '127.0.0.1', '--port', '0']);
}

/**
 * Runs `program` and waits for its listening line.
 *
 * @param {string} program
 * @param {string[]} args
 * @returns {Promise<RunningDemo>}
 */
async function start(program, args) {
  const child = spawn(program, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {string[]} */
  const log = [];
  child.stderr.on('data', (chunk) => log.push(String(chunk)));
  const lines = createInterface({ input: child.stdout });
  const timeout = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  try {
    for await (const line of lines) {
      const url = line.match(/^lab-link demo listening on (http:\/\/\S+)$/)?.[1];
      if (url) {
        return {
          url,
          stop: async () => {
            if (child.exitCode === null) {
              child.kill('SIGTERM');
              await once(child, 'exit');
            }
          },
        };
      }
    }
  } finally {
    clearTimeout(timeout);
  }
  throw new Error(`${program} ended without its listening line:\n${log.join('')}`);
}
