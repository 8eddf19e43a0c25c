// Starts the demo instrument (our server) for the interop tests: the
// binary of the workspace, on 127.0.0.1 and a free port, stopped by the
// test. It is built first (a no-op when it is fresh).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
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
 * The running demo: its HTTP base URL, and `stop`.
 *
 * @param {string[]} [args] more flags for `lab-link-demo`
 * @returns {Promise<{ url: string, stop: () => Promise<void> }>}
 */
export async function startDemo(args = []) {
  build();
  const child = spawn(`${ROOT}target/debug/lab-link-demo`, ['--host', '127.0.0.1', '--port', '0', ...args], {
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
  throw new Error(`lab-link-demo ended without its listening line:\n${log.join('')}`);
}
