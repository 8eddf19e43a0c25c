// Headless Chromium for the tests: Debian's `chromium` driven through
// `chromedriver` over WebDriver's HTTP protocol, as the demo's browser
// tests drive it, never a browser downloaded by a test tool. `cargo xtask
// setup` installs both. The page is served by a small static server of
// this process, so modules load from an http origin.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { createInterface } from 'node:readline';

/** How long chromedriver and Chromium may take to start. */
const START_TIMEOUT_MS = 30_000;

const CONTENT_TYPES = /** @type {Record<string, string>} */ ({
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.html': 'text/html',
});

/**
 * Serves the files under each folder of `mounts` (URL prefix such as
 * `/src/` → folder) on 127.0.0.1 and a free port, and an empty page at
 * `/`. Paths that leave their folder are not found.
 *
 * @param {Record<string, string>} mounts
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function serveFiles(mounts) {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>lab-link-js</title>');
      return;
    }
    for (const [prefix, folder] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(folder, path.slice(prefix.length)));
      if (file.startsWith(normalize(folder + sep)) && statSync(file, { throwIfNoEntry: false })?.isFile()) {
        response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
        createReadStream(file).pipe(response);
        return;
      }
    }
    response.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * A headless Chromium session: `goto(url)`, `run(script)` evaluating an
 * async function body in the page, and `close()`.
 *
 * @typedef {object} Chromium
 * @property {(url: string) => Promise<void>} goto
 * @property {(script: string) => Promise<unknown>} run
 * @property {() => Promise<void>} close
 */

/**
 * Starts chromedriver and a headless Chromium session.
 *
 * @returns {Promise<Chromium>}
 */
export async function openChromium() {
  for (const tool of ['chromium', 'chromedriver']) {
    const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `\`${tool}\` is not installed: the Chromium tests need Debian's packages chromium and ` +
          'chromium-driver (`cargo xtask setup` installs them as root: apt-get install -y chromium chromium-driver)',
      );
    }
  }
  const port = await freePort();
  // Its own process group, with the Chromium it starts, so that close()
  // ends them all even when the session is stuck.
  const driver = spawn('chromedriver', [`--port=${port}`], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const stopDriver = async () => {
    if (driver.exitCode === null && driver.signalCode === null && driver.pid !== undefined) {
      process.kill(-driver.pid, 'SIGKILL');
      await once(driver, 'exit');
    }
  };
  try {
    await readyLine(driver);
    const base = `http://127.0.0.1:${port}`;
    const created = /** @type {{ sessionId: string }} */ (
      await webdriver('POST', `${base}/session`, {
        capabilities: {
          alwaysMatch: {
            browserName: 'chrome',
            'goog:chromeOptions': {
              binary: '/usr/bin/chromium',
              args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'],
            },
          },
        },
      })
    );
    const session = `${base}/session/${created.sessionId}`;
    return {
      goto: async (url) => {
        await webdriver('POST', `${session}/url`, { url });
      },
      // WebDriver's async script gets a callback as its last argument; the
      // body's promise is handed to it as { ok } or { error }.
      run: async (script) => {
        const outcome = /** @type {{ ok?: unknown, error?: string }} */ (
          await webdriver('POST', `${session}/execute/async`, {
            script: `const done = arguments[arguments.length - 1];
              (async () => { ${script} })().then((ok) => done({ ok }), (error) => done({ error: String(error && error.stack || error) }));`,
            args: [],
          })
        );
        if (outcome.error !== undefined) throw new Error(`in Chromium: ${outcome.error}`);
        return outcome.ok;
      },
      close: async () => {
        try {
          await webdriver('DELETE', session);
        } finally {
          await stopDriver();
        }
      },
    };
  } catch (error) {
    await stopDriver();
    throw error;
  }
}

/**
 * Resolves once chromedriver says it started.
 *
 * @param {import('node:child_process').ChildProcess} driver
 */
async function readyLine(driver) {
  if (!driver.stdout) throw new Error('chromedriver has no stdout');
  const lines = createInterface({ input: driver.stdout });
  const timeout = setTimeout(() => lines.close(), START_TIMEOUT_MS);
  try {
    for await (const line of lines) {
      if (line.includes('started successfully')) {
        // Keep reading, so that a full pipe never blocks chromedriver.
        driver.stdout.resume();
        return;
      }
    }
  } finally {
    clearTimeout(timeout);
  }
  throw new Error(`chromedriver did not start within ${START_TIMEOUT_MS} ms`);
}

/**
 * One WebDriver request; returns the response's `value`.
 *
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]
 */
async function webdriver(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const reply = /** @type {{ value: any }} */ (await response.json());
  if (!response.ok) throw new Error(`WebDriver ${method} ${url}: ${response.status} ${JSON.stringify(reply.value)}`);
  return reply.value;
}

/** A port free on 127.0.0.1 a moment ago. */
async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  server.close();
  await once(server, 'close');
  return port;
}
