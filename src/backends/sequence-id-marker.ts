/**
 * The "this sequence_id was a number" marker, carried across threads. Parameters hold a uint64
 * `sequence_id` beyond 2^53 as its decimal text and mark it numeric with a symbol key
 * (core/inference.ts), which structured cloning drops. Without help, a handler's request — and a BLS
 * call it forwards its parameters with — would name a string id on the far side: another sequence
 * than the client's, and one an integer CORRID control refuses. Triton keeps the id's type with the
 * request wherever it runs (a uint64 or a string correlation id), so Vireo's threads must too.
 *
 * The sender writes the marker as a plain field of its message, the receiver puts the symbol back.
 * Messages without a marked id (nearly all) cross unchanged. A BLS call carries its marker as any
 * message does (core/sequence-id-wire.ts); an execute call's context names its marked requests by index.
 */
import { hasNumericSequenceId, markNumericSequenceId } from '../core/inference.js';
import { markerFromWire, markerToWire } from '../core/sequence-id-wire.js';
import type { ExecuteContext, ModelCall } from './backend.js';

/** An execute call's context on the wire: which requests' parameters were marked, by index. */
type WireContext = ExecuteContext & { numericSequenceIds?: number[] };

export function contextToWire(context: ExecuteContext | undefined): ExecuteContext | undefined {
  const parameters = context?.parameters;
  if (!parameters) return context;
  let marked: number[] | undefined;
  for (let i = 0; i < parameters.length; i++) {
    const own = parameters[i];
    if (own && hasNumericSequenceId(own)) (marked ??= []).push(i);
  }
  if (!marked) return context;
  const wire: WireContext = { ...context, numericSequenceIds: marked };
  return wire;
}

export function contextFromWire(context: ExecuteContext | undefined): ExecuteContext | undefined {
  for (const i of (context as WireContext | undefined)?.numericSequenceIds ?? []) {
    const own = context!.parameters?.[i];
    if (own) markNumericSequenceId(own);
  }
  return context;
}

export function callToWire(call: ModelCall): ModelCall {
  return markerToWire(call, call.parameters);
}

export function callFromWire(call: ModelCall): ModelCall {
  markerFromWire(call, call.parameters);
  return call;
}
