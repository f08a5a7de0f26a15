/**
 * Entry point of an execution-pool worker thread: hosts the instances ("slots") of any number of
 * models, so Vireo's modules and the backend are loaded once per thread rather than once per
 * instance. Calls run one at a time on this thread (onnxruntime's run blocks it), so the host
 * sends a slot here only while that is acceptable (execution-pool.ts decides). Inference blocks
 * this thread, never the main one.
 *
 * Calls arrive through the worker's one-slot SharedMailbox (the fast path: the thread parks in
 * Atomics.wait) or over the port; the host rings the mailbox after every port message because a
 * parked thread runs no event loop.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { VireoError } from '../core/errors.js';
import type { BackendModule, InstanceHost, InstanceImplementation } from './backend.js';
import { SpinPolicy } from './spin-policy.js';
import { SharedMailbox, type MailboxRequest, type MailboxResponse } from './shared-mailbox.js';
import { transferList } from './worker-protocol.js';
import type { PoolHostMessage, PoolWorkerInit, PoolWorkerMessage } from './pool-protocol.js';

/** Backends a pool worker can host: code that keeps no state between calls and makes no BLS calls. */
const BACKENDS: Record<string, () => Promise<BackendModule>> = {
  onnx: () => import('./onnx/onnx-instance.js'),
};

if (!parentPort) throw new Error('pool-worker must run in a worker thread');
const port = parentPort;
const init = workerData as PoolWorkerInit;
const post = (message: PoolWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const noCalls: InstanceHost = {
  callModel: () => Promise.reject(new VireoError('VIREO_ERR_UNIMPLEMENTED', 'this instance cannot call other models')),
};

/** Slots by number; a slot still opening holds its promise so a close waits for it. */
const slots = new Map<number, Promise<InstanceImplementation | undefined>>();
/** Work running on the event loop (port calls, opens, closes); the mailbox loop parks async meanwhile. */
let inflight = 0;

async function counted<T>(work: () => Promise<T>): Promise<T> {
  inflight++;
  try {
    return await work();
  } finally {
    inflight--;
  }
}
let closing = false;

async function open(message: Extract<PoolHostMessage, { type: 'open' }>): Promise<InstanceImplementation | undefined> {
  try {
    const load = BACKENDS[message.backend];
    if (!load) throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `backend "${message.backend}" cannot run in a pool worker`);
    const backend = await load();
    const log = (level: 'info' | 'warn' | 'error', text: string) => post({ type: 'log', slot: message.slot, level, message: text });
    const instance = await backend.createInstance(message.options, log, noCalls);
    post({ type: 'opened', slot: message.slot, signature: instance.signature });
    return instance;
  } catch (error) {
    slots.delete(message.slot);
    post({ type: 'open-failed', slot: message.slot, error: VireoError.from(error).toJSON() });
    return undefined;
  }
}

async function run(request: MailboxRequest): Promise<MailboxResponse> {
  const started = performance.now();
  try {
    const instance = await slots.get(request.slot ?? -1);
    if (!instance) throw new VireoError('VIREO_ERR_WORKER_DIED', `instance ${request.slot} is not open in this worker`);
    const outputs = await instance.execute(request.inputs, request.outputs, request.context);
    return { id: request.id, outputs, executeMs: performance.now() - started };
  } catch (error) {
    return { id: request.id, error: VireoError.from(error).toJSON() };
  }
}

function postAnswer(response: MailboxResponse): void {
  if ('outputs' in response) post({ type: 'result', id: response.id, outputs: response.outputs, executeMs: response.executeMs ?? 0 }, transferList(response.outputs));
  else post({ type: 'failed', id: response.id, error: response.error });
}


async function closeSlot(slot: number): Promise<void> {
  const instance = await slots.get(slot);
  slots.delete(slot);
  await instance?.close().catch(() => undefined);
  post({ type: 'slot-closed', slot });
}

function onMessage(message: PoolHostMessage): void {
  switch (message.type) {
    case 'open':
      slots.set(message.slot, counted(() => open(message)));
      return;
    case 'execute':
      void counted(async () => postAnswer(await run(message)));
      return;
    case 'close-slot':
      void counted(() => closeSlot(message.slot));
      return;
    case 'close':
      closing = true;
      void Promise.all([...slots.keys()].map(closeSlot)).then(() => port.close());
  }
}

/**
 * Serves the mailbox: parks the thread while nothing is running, which wakes far faster than a
 * MessagePort, after a short adaptive spin (spin-policy.ts). Port messages are drained here too.
 */
async function serveMailbox(mailbox: SharedMailbox, spin: SpinPolicy): Promise<void> {
  while (!closing) {
    const seen = mailbox.doorbell();
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) onMessage(m.message as PoolHostMessage);
    if (closing) break;
    const request = mailbox.take();
    if (request) {
      spin.arrived(performance.now());
      const response = await run(request);
      if (!mailbox.answer(response)) {
        postAnswer(response);
        mailbox.answeredByPort();
      }
      spin.answered(performance.now());
    } else if (inflight > 0) {
      // Calls over the port, opens and closes need the event loop: wait without blocking it.
      await mailbox.parkAsync(seen);
    } else {
      mailbox.park(seen, spin.spinMs(mailbox.hostInflightPeak()));
      // Let anything else queued on this thread's event loop (session creation) run now and then.
      if (mailbox.doorbell() === seen) await nextLoopTurn();
    }
  }
}

port.on('message', onMessage);
void serveMailbox(new SharedMailbox(init.mailbox), new SpinPolicy(init.spinWaitUs));
