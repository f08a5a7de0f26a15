/**
 * Triton's repeat backend (repeat_int32) as a decoupled handler: for each element i of IN it
 * waits DELAY[i] ms and sends {OUT: IN[i], IDX: i}; after the last it waits WAIT ms and ends the
 * stream. A cancelled stream stops at once (the delay is abortable).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HandlerRequest, HandlerResponse, StreamContext } from '../../../../src/backends/handler/handler-api.js';

/** Longest delay or wait honoured, so a request cannot hold a stream open for hours. */
const MAX_DELAY_MS = 60_000;

function badInput(message: string): Error {
  return Object.assign(new Error(message), { code: 'VIREO_ERR_INPUT_DATA' });
}

export async function* stream(request: HandlerRequest, { signal }: StreamContext): AsyncGenerator<HandlerResponse> {
  const values = request.inputs.IN!.data as Int32Array;
  const delays = request.inputs.DELAY!.data as Uint32Array;
  const wait = (request.inputs.WAIT!.data as Uint32Array)[0]!;
  if (delays.length !== values.length) throw badInput(`DELAY has ${delays.length} elements, IN has ${values.length}: give one delay per value`);
  for (let i = 0; i < values.length; i++) {
    await sleep(Math.min(delays[i]!, MAX_DELAY_MS), undefined, { signal });
    yield { outputs: { OUT: { data: Int32Array.of(values[i]!) }, IDX: { data: Uint32Array.of(i) } } };
  }
  await sleep(Math.min(wait, MAX_DELAY_MS), undefined, { signal });
}
