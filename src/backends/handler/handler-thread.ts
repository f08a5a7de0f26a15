/**
 * Entry point of the shared handler thread: hosts the handler instances (`typescript` backend) of
 * many models, each in a numbered slot, where a thread each costs ≈ 21 MiB (an isolate, Node's
 * bootstrap, the handler's modules, a malloc arena; README, "Many models per server"). Calls of
 * different slots interleave on this event loop: handlers spend most of their time awaiting other
 * models, and one whose code proves to hold the thread long is moved to a thread of its own by the
 * host (shared-handler-instance.ts). Calls to other models (BLS) travel to the main thread as they do
 * from a dedicated handler worker (instance-worker.ts). If this thread dies, the host starts
 * another and reopens its slots (handler-thread-host.ts).
 *
 * Whose code ended the thread: everything a slot runs starts inside `running.run(slot)`, so timers and
 * promises its code creates carry the slot (AsyncLocalStorage), also into an uncaught exception, an
 * unhandled rejection or a process.exit. The slot is reported before the thread ends, and the host
 * fails that slot's call instead of running everybody's again. The slot entered last is also kept in
 * shared memory (an async hook at every callback), so that when a handler blocks the thread — a loop
 * that never ends — the host can tell whose code it is without the thread's help.
 */
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { VireoError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import type { InstanceHost, InstanceImplementation, ModelCall } from '../backend.js';
import { callToWire, contextFromWire } from '../sequence-id-marker.js';
import { fromWire, toWire, transferList } from '../worker-protocol.js';
import { createInstance } from './handler-instance.js';
import type { HandlerHostMessage, HandlerThreadInit, HandlerThreadMessage } from './handler-thread-protocol.js';

if (!parentPort) throw new Error('handler-thread must run in a worker thread');
const port = parentPort;
const post = (message: HandlerThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const running = new AsyncLocalStorage<number>();

/** A hosted instance, and how long its code has held this thread so far. */
interface Slot {
  instance?: InstanceImplementation;
  busyMs: number;
}
const slots = new Map<number, Slot>();

/**
 * Which slot's code runs now, and since when: entered at every callback (an async hook) and at every
 * message a slot is sent, left when it returns. The time adds up to each slot's `busyMs` — what its
 * code held the thread, not what it awaited (other models, timers, sharp's thread pool), which is how
 * the host tells a handler too heavy to share from a slow but idle one.
 */
const entered = new Int32Array((workerData as HandlerThreadInit).running);
let current: Slot | undefined;
let since = 0;
function enter(slot: number): void {
  leave();
  Atomics.store(entered, 0, slot);
  current = slots.get(slot);
  since = performance.now();
}
function leave(): void {
  if (current) current.busyMs += performance.now() - since;
  current = undefined;
}
createHook({ before: () => enter(running.getStore() ?? 0), after: leave }).enable();

/** Runs `work` as slot `slot`'s code. */
function asSlot<T>(slot: number, work: () => T): T {
  return running.run(slot, () => {
    enter(slot);
    try {
      return work();
    } finally {
      leave();
    }
  });
}

const exit = process.exit.bind(process);
process.on('uncaughtException', (error) => {
  post({ type: 'crashed', slot: running.getStore(), reason: `crashed: ${error instanceof Error ? error.message : String(error)}` });
  // The handler's state is unknown now: the thread ends, as an uncaught exception ends a dedicated one.
  exit(1);
});
process.exit = ((code?: number | string | null) => {
  post({ type: 'crashed', slot: running.getStore(), reason: `exited (process.exit(${code ?? ''}) in the model's code)` });
  return exit(code ?? undefined);
}) as typeof process.exit;

interface Call { resolve: (outputs: Tensor[]) => void; reject: (error: VireoError) => void }
const calls = new Map<number, Call>();
let nextCall = 1;
const streams = new Map<number, AbortController>();

function hostOf(slotNumber: number): InstanceHost {
  return {
    callModel(call: ModelCall): Promise<Tensor[]> {
      const id = nextCall++;
      return new Promise<Tensor[]>((resolve, reject) => {
        calls.set(id, { resolve, reject });
        // Inputs are copied, not moved: the caller may still hold and reuse them.
        post({ type: 'call', slot: slotNumber, id, call: callToWire(call) });
      });
    },
  };
}

/** Runs `work` for `slot` and measures its own time: what the slot's code held the thread meanwhile. */
async function measured<T>(slot: Slot, work: () => Promise<T>): Promise<{ value?: T; error?: unknown; ownMs: number }> {
  const before = slot.busyMs + (current === slot ? performance.now() - since : 0);
  const own = () => Math.max(0, slot.busyMs + (current === slot ? performance.now() - since : 0) - before);
  try {
    const value = await work();
    return { value, ownMs: own() };
  } catch (error) {
    return { error, ownMs: own() };
  }
}

async function open(message: Extract<HandlerHostMessage, { type: 'open' }>): Promise<void> {
  const slot: Slot = { busyMs: 0 };
  slots.set(message.slot, slot);
  const log = (level: 'info' | 'warn' | 'error', text: string) => post({ type: 'log', slot: message.slot, level, message: text });
  try {
    slot.instance = await createInstance(message.options, log, hostOf(message.slot));
    post({ type: 'opened', slot: message.slot, signature: slot.instance.signature });
  } catch (error) {
    slots.delete(message.slot);
    post({ type: 'open-failed', slot: message.slot, error: VireoError.from(error).toJSON() });
  }
}

async function execute(message: Extract<HandlerHostMessage, { type: 'execute' }>): Promise<void> {
  const slot = slots.get(message.slot);
  const instance = slot?.instance;
  if (!slot || !instance) {
    post({ type: 'failed', id: message.id, error: new VireoError('VIREO_ERR_INTERNAL', `no handler in slot ${message.slot}`).toJSON(), ownMs: 0 });
    return;
  }
  const outcome = await measured(slot, () => instance.execute(fromWire(message.inputs), message.outputs, contextFromWire(message.context)));
  if (outcome.error !== undefined || !outcome.value) {
    post({ type: 'failed', id: message.id, error: VireoError.from(outcome.error).toJSON(), ownMs: outcome.ownMs });
    return;
  }
  const outputs = toWire(outcome.value);
  post({ type: 'result', id: message.id, outputs, ownMs: outcome.ownMs }, transferList(outputs));
}

async function executeStream(message: Extract<HandlerHostMessage, { type: 'execute-stream' }>): Promise<void> {
  const slot = slots.get(message.slot);
  const controller = new AbortController();
  streams.set(message.id, controller);
  const outcome = await measured(slot ?? { busyMs: 0 }, async () => {
    const instance = slot?.instance;
    if (!instance?.executeStream) throw new VireoError('VIREO_ERR_INTERNAL', 'this model is not decoupled');
    await instance.executeStream(message.inputs, message.outputs, contextFromWire(message.context),
      (outputs) => post({ type: 'partial', id: message.id, outputs }, transferList(outputs)), controller.signal);
  });
  streams.delete(message.id);
  if (outcome.error !== undefined) post({ type: 'failed', id: message.id, error: VireoError.from(outcome.error).toJSON(), ownMs: outcome.ownMs });
  else post({ type: 'result', id: message.id, outputs: [], ownMs: outcome.ownMs });
}

async function closeSlot(slotNumber: number): Promise<void> {
  const instance = slots.get(slotNumber)?.instance;
  slots.delete(slotNumber);
  await instance?.close().catch(() => undefined);
  post({ type: 'slot-closed', slot: slotNumber });
}

function settleCall(message: Extract<HandlerHostMessage, { type: 'call-result' | 'call-failed' }>): void {
  const call = calls.get(message.id);
  if (!call) return;
  calls.delete(message.id);
  if (message.type === 'call-result') call.resolve(message.outputs);
  else call.reject(VireoError.from(message.error));
}

port.on('message', (message: HandlerHostMessage) => {
  switch (message.type) {
    case 'open': return void asSlot(message.slot, () => open(message));
    case 'execute': return void asSlot(message.slot, () => execute(message));
    case 'execute-stream': return void asSlot(message.slot, () => executeStream(message));
    case 'ping': return post({ type: 'pong', id: message.id });
    case 'cancel-stream': return streams.get(message.id)?.abort();
    case 'call-result':
    case 'call-failed': return settleCall(message);
    case 'close-slot': return void asSlot(message.slot, () => closeSlot(message.slot));
  }
});
