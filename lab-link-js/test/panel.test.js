// The generated panel's reading of /schema: kinds, labels, units, cards,
// the command that edits a field, and the checks before sending. The DOM
// side is tested in Chromium (lab-link-demo/tests/panel.rs).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bindings, cards, check, describe, fieldsOf, formatValue, resolve } from '../panel/schema.js';
import { extent, plotKind } from '../panel/plot.js';

/** A state schema as schemars writes it, with lab-link's annotations. */
const STATE = {
  type: 'object',
  properties: {
    enabled: { type: 'boolean', title: 'Output', group: 'Source', order: 0 },
    channels: { type: 'array', items: { $ref: '#/$defs/Channel' } },
    labels: { type: 'object', additionalProperties: { type: 'string' }, title: 'Labels', group: 'Labels' },
    acquisition: { description: 'The acquisition.', $ref: '#/$defs/Acquisition' },
    spare: { anyOf: [{ $ref: '#/$defs/Acquisition' }, { type: 'null' }] },
    limit_a: { type: ['number', 'null'], unit: 'A', precision: 3 },
    mode: { $ref: '#/$defs/Mode', group: 'Source', order: 1 },
    count: { type: 'integer', minimum: 0, readOnly: true },
  },
  $defs: {
    Channel: {
      type: 'object',
      properties: {
        name: { type: 'string', readOnly: true, order: 0 },
        bias_voltage: { type: 'number', title: 'Bias voltage', unit: 'V', precision: 3, minimum: -10, maximum: 10, order: 1 },
      },
    },
    Acquisition: { type: 'object', properties: { rate_hz: { type: 'number', exclusiveMinimum: 0, maximum: 1000, unit: 'Hz' } } },
    Mode: { oneOf: [{ type: 'string', const: 'constant_voltage', description: 'Hold the voltage.' }, { type: 'string', const: 'constant_current' }] },
  },
};

/**
 * @param {string} name
 * @returns {import('../panel/schema.js').Field}
 */
const field = (name) => describe(STATE, name, STATE.properties[/** @type {keyof typeof STATE.properties} */ (name)]);

test('each value gets its kind, label, unit and precision', () => {
  const check = (/** @type {string} */ name, /** @type {object} */ expected) => {
    const { node: _, ...described } = field(name);
    assert.deepEqual(described, { ...described, ...expected }, name);
  };
  check('enabled', { kind: 'boolean', label: 'Output', group: 'Source', nullable: false });
  check('channels', { kind: 'table', label: 'Channels' });
  check('labels', { kind: 'map', label: 'Labels' });
  check('acquisition', { kind: 'object', description: 'The acquisition.' });
  check('spare', { kind: 'object', nullable: true });
  check('limit_a', { kind: 'number', nullable: true, unit: 'A', precision: 3, label: 'Limit a' });
  check('mode', { kind: 'enum', options: ['constant_voltage', 'constant_current'], order: 1 });
  check('count', { kind: 'integer', readOnly: true });
  const channel = fieldsOf(STATE, resolve(STATE, STATE.properties.channels.items));
  assert.deepEqual(channel.map((f) => [f.name, f.kind, f.unit]), [['name', 'string', undefined], ['bias_voltage', 'number', 'V']]);
});

test('top-level fields are grouped into cards', () => {
  assert.deepEqual(
    cards(STATE).map(({ title, fields }) => [title, fields.map((f) => f.name)]),
    [
      ['Source', ['enabled', 'mode']],
      ['Channels', ['channels']],
      ['Labels', ['labels']],
      ['Acquisition', ['acquisition']],
      ['Spare', ['spare']],
      ['General', ['limit_a', 'count']],
    ],
  );
});

test('edits bindings map a field to its command with the path params filled', () => {
  const bindingOf = bindings({
    set_channel: {
      params: { properties: { channel: { type: 'integer' }, value: { type: 'number', maximum: 10 } } },
      edits: [{ path: '/channels/{channel}/bias_voltage', value: 'value' }],
    },
    set_label: { params: { properties: { key: { type: 'string' }, value: { type: ['string', 'null'] } } }, edits: [{ path: '/labels/{key}', value: 'value' }] },
    reset: { params: {}, edits: [] },
  });
  assert.deepEqual(bindingOf(['channels', '2', 'bias_voltage']), {
    command: 'set_channel',
    valueParam: 'value',
    params: { channel: 2 },
    valueSchema: { type: 'number', maximum: 10 },
  });
  assert.deepEqual(bindingOf(['labels', 'sample/id'])?.params, { key: 'sample/id' });
  assert.equal(bindingOf(['channels', '2', 'name']), undefined);
  assert.equal(bindingOf(['enabled']), undefined);
});

test('the checks mirror the server: limits, integers, enums, required', () => {
  const bias = fieldsOf(STATE, STATE.$defs.Channel)[1];
  assert.equal(check(bias, 9.5), null);
  assert.equal(check(bias, 12), 'must be at most 10 V');
  assert.equal(check(bias, -10.5), 'must be at least -10 V');
  assert.equal(check(bias, Number.NaN), 'must be a number');
  assert.equal(check(bias, null), 'is required');
  assert.equal(check(field('count'), 1.5), 'must be a whole number');
  const rate = fieldsOf(STATE, STATE.$defs.Acquisition)[0];
  assert.equal(check(rate, 0), 'must be above 0 Hz');
  assert.equal(check(field('mode'), 'pulsed'), 'must be one of constant_voltage, constant_current');
  assert.equal(check(field('mode'), 'constant_current'), null);
  assert.equal(check(field('limit_a'), null), null, 'an Option may be null');
  assert.equal(check(bias, null, { required: false }), null, 'an optional param may be left out');
});

test('values are shown with their precision', () => {
  assert.equal(formatValue({ precision: 3 }, 1.5), '1.500');
  assert.equal(formatValue({}, 1.5), '1.5');
  assert.equal(formatValue({}, null), '—');
  assert.equal(formatValue({}, true), 'on');
  assert.equal(formatValue({}, [1, 2]), '[1,2]');
});

test('streams are plotted by mode', () => {
  assert.equal(plotKind({ mode: 'append' }), 'line');
  assert.equal(plotKind({ mode: 'replace' }), 'trace');
  assert.equal(plotKind({ mode: 'int_delta' }), 'histogram');
  assert.deepEqual(extent([3, 1, Number.NaN, 2], false), [1, 3]);
  assert.deepEqual(extent([3, 5], true), [0, 5]);
  assert.deepEqual(extent([2, 2], false), [1, 3]);
  assert.deepEqual(extent([], false), [0, 1]);
});
