/**
 * Entry point of an execution-pool worker thread: hosts the instances ("slots") of any number of
 * models, so Vireo's modules and the backend are loaded once per thread rather than once per
 * instance. Calls run one at a time on this thread (onnxruntime's run blocks it), so the host
 * sends a slot here only while that is acceptable (execution-pool.ts decides). Inference blocks
 * this thread, never the main one.
 *
 * Calls arrive through the worker's one-slot SharedMailbox (the fast path: the thread parks in
 * Atomics.wait) or over the port; the host rings the mailbox after every port message because a
 * parked thread runs no event loop. The mailbox loop and the answer's shape are execute-loop.ts's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { BackendModule, InstanceHost, InstanceImplementation } from './backend.js';
import { lowerThisThread } from '../core/thread-priority.js';
import { SpinPolicy } from './spin-policy.js';
import { ExecuteLoop } from './execute-loop.js';
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
// Set before any session exists so the threads onnxruntime starts inherit it (thread-priority.ts).
// Where that is refused the work still runs, only without yielding to real-time threads.
if (init.nice) lowerThisThread(init.nice, true);
const post = (message: PoolWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

const noCalls: InstanceHost = {
  callModel: () => Promise.reject(new VireoError('VIREO_ERR_UNIMPLEMENTED', 'this instance cannot call other models')),
};

/** Slots by number; a slot still opening holds its promise so a close waits for it. */
const slots = new Map<number, Promise<InstanceImplementation | undefined>>();

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

async function execute(request: MailboxRequest): Promise<Tensor[]> {
  const instance = await slots.get(request.slot ?? -1);
  if (!instance) throw new VireoError('VIREO_ERR_WORKER_DIED', `instance ${request.slot} is not open in this worker`);
  return instance.execute(request.inputs, request.outputs, request.context);
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
      slots.set(message.slot, loop.counted(() => open(message)));
      return;
    case 'execute':
      void loop.executeFromPort(message);
      return;
    case 'close-slot':
      void loop.counted(() => closeSlot(message.slot));
      return;
    case 'close':
      loop.close();
      void Promise.all([...slots.keys()].map(closeSlot)).then(() => port.close());
  }
}

const loop = new ExecuteLoop<PoolHostMessage>({ port, execute, postAnswer, onMessage });
port.on('message', onMessage);
void loop.serveMailbox(new SharedMailbox(init.mailbox), new SpinPolicy(init.spinWaitUs));
