/**
 * The numeric-sequence-id marker (core/inference.ts) as a plain field of a message between threads.
 * The marker is a symbol key, which structured cloning drops: a uint64 `sequence_id` beyond 2^53, held
 * as its decimal text, would arrive as a string id — another sequence than the number's, and one an
 * integer CORRID control refuses. The sender copies the marker into `numericSequenceId` of the message
 * that carries the parameters; the receiver puts the symbol back on the parameters that arrived.
 * A message whose parameters are not marked (nearly all) crosses as it is, not copied.
 *
 * backends/sequence-id-marker.ts uses it for BLS calls, and marks an execute call's requests by index.
 */
import { hasNumericSequenceId, markNumericSequenceId, type Parameters } from './inference.js';

/** A message that may carry the marker of the parameters it holds. */
export type MarkerOnWire<T> = T & { numericSequenceId?: true };

/** `message` as sent: a shallow copy with the marker when `parameters` (its own) are marked. */
export function markerToWire<T extends object>(message: T, parameters: Parameters | undefined): MarkerOnWire<T> {
  if (!parameters || !hasNumericSequenceId(parameters)) return message;
  return { ...message, numericSequenceId: true };
}

/** Marks `parameters` (the received message's own) again when the sender said they were. */
export function markerFromWire(message: MarkerOnWire<object>, parameters: Parameters | undefined): void {
  if (message.numericSequenceId && parameters) markNumericSequenceId(parameters);
}
