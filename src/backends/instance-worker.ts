/**
 * Entry point of every instance worker thread: loads the named backend, builds one instance and
 * serves execute requests one at a time. Inference blocks this thread, never the main one.
 * Instance code may call other models (BLS): such calls travel to the main thread as `call`
 * messages and come back as `call-result` / `call-failed`.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { BackendModule, InstanceHost, InstanceImplementation, ModelCall } from './backend.js';
import { SpinPolicy } from './spin-policy.js';
import { SharedMailbox, type MailboxRequest, type MailboxResponse } from './shared-mailbox.js';
import { fromWire, toWire, transferList, type HostMessage, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

const BACKENDS: Record<string, () => Promise<BackendModule>> = {
  onnx: () => import('./onnx/onnx-instance.js'),
  typescript: () => import('./handler/handler-instance.js'),
};

if (!parentPort) throw new Error('instance-worker must run in a worker thread');
const port = parentPort;
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

interface Call { resolve: (outputs: Tensor[]) => void; reject: (error: VireoError) => void }
const calls = new Map<number, Call>();
let nextCall = 1;

const host: InstanceHost = {
  callModel(call: ModelCall): Promise<Tensor[]> {
    const id = nextCall++;
    return new Promise((resolve, reject) => {
      calls.set(id, { resolve, reject });
      // Inputs are copied, not moved: the caller may still hold and reuse them.
      post({ type: 'call', id, call });
    });
  },
};

function settleCall(message: Extract<HostMessage, { type: 'call-result' | 'call-failed' }>): void {
  const call = calls.get(message.id);
  if (!call) return;
  calls.delete(message.id);
  if (message.type === 'call-result') call.resolve(message.outputs);
  else call.reject(VireoError.from(message.error));
}

/** Decoupled streams running, by id, so a `cancel-stream` can abort one. */
const streams = new Map<number, AbortController>();

async function executeStream(instance: InstanceImplementation, message: Extract<HostMessage, { type: 'execute-stream' }>): Promise<void> {
  const controller = new AbortController();
  streams.set(message.id, controller);
  try {
    if (!instance.executeStream) throw new VireoError('VIREO_ERR_INTERNAL', 'this model is not decoupled');
    await instance.executeStream(message.inputs, message.outputs, message.context,
      (outputs) => post({ type: 'partial', id: message.id, outputs }, transferList(outputs)), controller.signal);
    post({ type: 'result', id: message.id, outputs: [] });
  } catch (error) {
    post({ type: 'failed', id: message.id, error: VireoError.from(error).toJSON() });
  } finally {
    streams.delete(message.id);
  }
}

/** Executes running on the event loop (arrived over the port); the mailbox loop parks async meanwhile. */
let inflight = 0;
let closing = false;

async function run(instance: InstanceImplementation, request: MailboxRequest): Promise<MailboxResponse> {
  const started = performance.now();
  try {
    const outputs = await instance.execute(request.inputs, request.outputs, request.context);
    return { id: request.id, outputs, executeMs: performance.now() - started };
  } catch (error) {
    return { id: request.id, error: VireoError.from(error).toJSON() };
  }
}

function postAnswer(response: MailboxResponse): void {
  if ('outputs' in response) {
    const outputs = toWire(response.outputs);
    post({ type: 'result', id: response.id, outputs }, transferList(outputs));
  } else post({ type: 'failed', id: response.id, error: response.error });
}

async function executeFromPort(instance: InstanceImplementation, message: Extract<HostMessage, { type: 'execute' }>): Promise<void> {
  inflight++;
  try {
    postAnswer(await run(instance, { ...message, inputs: fromWire(message.inputs) }));
  } finally {
    inflight--;
  }
}

async function executeFromMailbox(instance: InstanceImplementation, mailbox: SharedMailbox, request: MailboxRequest): Promise<void> {
  const response = await run(instance, request);
  if (mailbox.answer(response)) return;
  postAnswer(response);
  mailbox.answeredByPort();
}

/**
 * Serves the mailbox: parks the thread in Atomics.wait while nothing is running, which wakes far
 * faster than a MessagePort. Port messages are drained here too (the host rings after each), since
 * a parked thread runs no event loop.
 */
async function serveMailbox(instance: InstanceImplementation, mailbox: SharedMailbox, spin: SpinPolicy, onMessage: (m: HostMessage) => void): Promise<void> {
  while (!closing) {
    const seen = mailbox.doorbell();
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) onMessage(m.message as HostMessage);
    if (closing) break;
    const request = mailbox.take();
    if (request) {
      spin.arrived(performance.now());
      await executeFromMailbox(instance, mailbox, request);
      spin.answered(performance.now());
    } else if (inflight > 0) {
      await mailbox.parkAsync(seen);
    } else {
      mailbox.park(seen, spin.spinMs(mailbox.hostInflightPeak()));
      // Let anything else queued on this thread's event loop run now and then.
      if (mailbox.doorbell() === seen) await nextLoopTurn();
    }
  }
}

async function start(init: WorkerInit): Promise<void> {
  let instance: InstanceImplementation;
  // Registered before loading so a BLS call made by initialize() is answered.
  port.on('message', (message: HostMessage) => {
    if (message.type === 'call-result' || message.type === 'call-failed') settleCall(message);
  });
  try {
    const load = BACKENDS[init.backend];
    if (!load) throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `unknown backend "${init.backend}"`);
    const backend = await load();
    instance = await backend.createInstance(init.options, (level, message) => post({ type: 'log', level, message }), host);
  } catch (error) {
    post({ type: 'init-failed', error: VireoError.from(error).toJSON() });
    return;
  }
  const onMessage = (message: HostMessage) => {
    if (message.type === 'call-result' || message.type === 'call-failed') return settleCall(message);
    if (message.type === 'close') {
      closing = true;
      void instance.close().catch(() => undefined).then(() => {
        post({ type: 'closed' });
        port.close();
      });
      return;
    }
    if (message.type === 'cancel-stream') return streams.get(message.id)?.abort();
    if (message.type === 'execute-stream') return void executeStream(instance, message);
    void executeFromPort(instance, message);
  };
  port.removeAllListeners('message');
  port.on('message', onMessage);
  post({ type: 'ready', signature: instance.signature });
  if (init.mailbox) await serveMailbox(instance, new SharedMailbox(init.mailbox), new SpinPolicy(init.options.spinWaitUs ?? 0), onMessage);
}

void start(workerData as WorkerInit);
