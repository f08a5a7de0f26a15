/**
 * Entry point of every instance worker thread: loads the named backend, builds one instance and
 * serves execute requests one at a time. Inference blocks this thread, never the main one.
 * Instance code may call other models (BLS): such calls travel to the main thread as `call`
 * messages and come back as `call-result` / `call-failed`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { BackendModule, InstanceHost, InstanceImplementation, ModelCall } from './backend.js';
import { transferList, type HostMessage, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

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
  port.on('message', async (message: HostMessage) => {
    if (message.type === 'call-result' || message.type === 'call-failed') return;
    if (message.type === 'close') {
      await instance.close().catch(() => undefined);
      post({ type: 'closed' });
      port.close();
      return;
    }
    try {
      const outputs = await instance.execute(message.inputs, message.outputs, message.context);
      post({ type: 'result', id: message.id, outputs }, transferList(outputs));
    } catch (error) {
      post({ type: 'failed', id: message.id, error: VireoError.from(error).toJSON() });
    }
  });
  post({ type: 'ready', signature: instance.signature });
}

void start(workerData as WorkerInit);
