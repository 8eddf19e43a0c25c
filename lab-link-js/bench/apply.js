// Throughput of lab-link-js's patch engine: patches applied to the
// 1,000-channel benchmark document (the state of lab-link/benches/state.rs:
// `enabled`, 1,000 channels of name, bias_voltage and active, and the
// acquisition), each result kept as the next document, as a replica does.
//
//     node lab-link-js/bench/apply.js [--quick] [--seconds S] [--out FILE]
//
// Prints a table of operations per second and writes it as JSON to
// target/bench/js.json (or --out). `cargo xtask bench` runs it with the
// microbenchmarks; `--quick` (0.2 s per case) only checks that it works.
// Exits 1 when a result is wrong: a fast wrong answer is a failure.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { applyPatch, jsonEqual } from '../src/patch.js';

const CHANNELS = 1000;

/** The benchmark document with every bias at `bias`. */
export function benchDocument(bias = 0) {
  return {
    enabled: false,
    channels: Array.from({ length: CHANNELS }, (_, i) => ({ name: `ch${i}`, bias_voltage: bias, active: false })),
    acquisition: { running: false, rate_hz: 10, count: 0 },
  };
}

/**
 * One benchmark case: `patch(round)` is the patch of that round, `check`
 * tells whether the document after `rounds` rounds is right.
 *
 * @typedef {object} BenchCase
 * @property {string} name
 * @property {(round: number) => import('../src/patch.js').PatchOperation[]} patch
 * @property {(doc: any, rounds: number) => boolean} check
 */

/** @type {BenchCase[]} */
export const CASES = [
  {
    // What a replica sees most: one set_channel, one replace.
    name: 'replace 1 op per patch',
    patch: (round) => [{ op: 'replace', path: `/channels/${round % CHANNELS}/bias_voltage`, value: round / 1000 }],
    check: (doc, rounds) => doc.channels[(rounds - 1) % CHANNELS].bias_voltage === (rounds - 1) / 1000,
  },
  {
    // One commit that sets every channel (lab-link/benches/state.rs's
    // commit_1000_ops): the containers on the paths are copied once.
    name: 'replace 1000 ops per patch',
    patch: (round) => Array.from({ length: CHANNELS }, (_, i) => ({ op: 'replace', path: `/channels/${i}/bias_voltage`, value: round })),
    check: (doc, rounds) => jsonEqual(doc, benchDocument(rounds - 1)),
  },
  {
    // A channel added at the end and removed again: the array changes length.
    name: 'add + remove a channel',
    patch: (round) => [
      { op: 'add', path: '/channels/-', value: { name: `extra${round}`, bias_voltage: 0, active: true } },
      { op: 'remove', path: `/channels/${CHANNELS}` },
    ],
    check: (doc) => jsonEqual(doc, benchDocument()),
  },
];

/**
 * Runs `benchCase` for about `seconds` after a warm-up; returns its
 * figures, or throws when the document ends wrong.
 *
 * @param {BenchCase} benchCase
 * @param {number} seconds
 */
export function measure(benchCase, seconds) {
  const original = benchDocument();
  const before = JSON.stringify(original);
  // Patches are made before timing, so that only applying is measured.
  const patches = Array.from({ length: 512 }, (_, round) => benchCase.patch(round));
  const opsPerPatch = patches[0].length;
  /** @type {unknown} */
  let doc = original;
  let rounds = 0;
  const warmUpEnd = performance.now() + Math.min(200, seconds * 250);
  while (performance.now() < warmUpEnd) doc = applyPatch(doc, patches[rounds++ % patches.length]);
  doc = original;
  rounds = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    // The clock is read once per batch of patches, not per patch.
    for (let i = 0; i < 16; i++) doc = applyPatch(doc, patches[rounds++ % patches.length]);
    now = performance.now();
  }
  const elapsed = (now - start) / 1000;
  // Patches repeat every 512 rounds: the last one applied is round
  // (rounds - 1) modulo 512's.
  const lastRound = (rounds - 1) % patches.length;
  if (!benchCase.check(doc, lastRound + 1)) throw new Error(`${benchCase.name}: the document after ${rounds} patches is wrong`);
  if (JSON.stringify(original) !== before) throw new Error(`${benchCase.name}: the original document was changed`);
  return {
    name: benchCase.name,
    patches: rounds,
    seconds: elapsed,
    opsPerSecond: (rounds * opsPerPatch) / elapsed,
    patchesPerSecond: rounds / elapsed,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      out: { type: 'string', default: fileURLToPath(new URL('../../target/bench/js.json', import.meta.url)) },
    },
  });
  const seconds = values.seconds !== undefined ? Number(values.seconds) : values.quick ? 0.2 : 3;
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, not ${values.seconds}`);
  console.log(`lab-link-js patch apply, ${CHANNELS}-channel document, ${seconds} s per case (node ${process.version})`);
  console.log('| case | ops/s | patches/s |');
  console.log('|---|---|---|');
  const results = [];
  for (const benchCase of CASES) {
    const result = measure(benchCase, seconds);
    results.push(result);
    console.log(`| ${result.name} | ${Math.round(result.opsPerSecond).toLocaleString('en')} | ${Math.round(result.patchesPerSecond).toLocaleString('en')} |`);
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify({ node: process.version, channels: CHANNELS, seconds, results }, null, 2)}\n`);
  console.log(`results: ${values.out}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`lab-link-js bench: ${error.message}`);
    process.exit(1);
  });
}
