// lab-link-js: the browser runtime of lab-link.
//
// A `LabLinkClient` holds a checked replica of a lab-link server's state
// (snapshot, then versioned JSON Patch messages), runs commands, keeps
// streams, reconnects with resume, and reports every frame it cannot use
// as a `problem` event instead of throwing.

export { LabLinkClient, AuthError } from './client.js';
export { CommandError } from './errors.js';
export { applyPatch, jsonEqual, PatchError } from './patch.js';
export { escapeToken, formatPointer, getPointer, parsePointer, PointerError } from './pointer.js';
export { decodeBinaryFrame, FrameError, TAG_F32, TAG_F64 } from './frames.js';

/**
 * @typedef {import('./client.js').ClientOptions} ClientOptions
 * @typedef {import('./client.js').ClientEvents} ClientEvents
 * @typedef {import('./client.js').CommandOptions} CommandOptions
 * @typedef {import('./client.js').CommandHandle} CommandHandle
 * @typedef {import('./client.js').Progress} Progress
 * @typedef {import('./client.js').CommandProgress} CommandProgress
 * @typedef {import('./client.js').RunningCommand} RunningCommand
 * @typedef {import('./client.js').RunningChange} RunningChange
 * @typedef {import('./client.js').Problem} Problem
 * @typedef {import('./client.js').ReconnectOptions} ReconnectOptions
 * @typedef {import('./streams.js').StreamState} StreamState
 * @typedef {import('./patch.js').PatchOperation} PatchOperation
 */
