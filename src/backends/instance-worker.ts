/**
 * Entry point of every instance worker thread: loads the named backend, builds one instance and
 * serves execute requests one at a time. Inference blocks this thread, never the main one.
 * Instance code may call other models (BLS): such calls travel to the main thread as `call`
 * messages and come back as `call-result` / `call-failed`. Execute calls (mailbox or port) are
 * served by execute-loop.ts, shared with pool-worker.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { BackendModule, InstanceHost, InstanceImplementation, ModelCall } from './backend.js';
import { SpinPolicy } from './spin-policy.js';
import { ExecuteLoop } from './execute-loop.js';
import { callToWire, contextFromWire } from './sequence-id-marker.js';
import { SharedMailbox, type MailboxResponse } from './shared-mailbox.js';
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
      post({ type: 'call', id, call: callToWire(call) });
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
    await instance.executeStream(message.inputs, message.outputs, contextFromWire(message.context),
      (outputs) => post({ type: 'partial', id: message.id, outputs }, transferList(outputs)), controller.signal);
    post({ type: 'result', id: message.id, outputs: [] });
  } catch (error) {
    post({ type: 'failed', id: message.id, error: VireoError.from(error).toJSON() });
  } finally {
    streams.delete(message.id);
  }
}

function postAnswer(response: MailboxResponse): void {
  if ('outputs' in response) {
    const outputs = toWire(response.outputs);
    post({ type: 'result', id: response.id, outputs }, transferList(outputs));
  } else post({ type: 'failed', id: response.id, error: response.error });
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
      loop.close();
      void instance.close().catch(() => undefined).then(() => {
        post({ type: 'closed' });
        port.close();
      });
      return;
    }
    if (message.type === 'cancel-stream') return streams.get(message.id)?.abort();
    if (message.type === 'execute-stream') return void executeStream(instance, message);
    void loop.executeFromPort({ ...message, inputs: fromWire(message.inputs), context: contextFromWire(message.context) });
  };
  const loop = new ExecuteLoop<HostMessage>({
    port, postAnswer, onMessage,
    execute: (request) => instance.execute(request.inputs, request.outputs, request.context),
  });
  port.removeAllListeners('message');
  port.on('message', onMessage);
  post({ type: 'ready', signature: instance.signature });
  if (init.mailbox) await loop.serveMailbox(new SharedMailbox(init.mailbox), new SpinPolicy(init.options.spinWaitUs ?? 0));
}

void start(workerData as WorkerInit);
