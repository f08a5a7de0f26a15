/**
 * Entry point of every instance worker thread: loads the named backend, builds one instance and
 * serves execute requests one at a time. Inference blocks this thread, never the main one.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VireoError } from '../core/errors.js';
import type { BackendModule, InstanceImplementation } from './backend.js';
import { transferList, type HostMessage, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

const BACKENDS: Record<string, () => Promise<BackendModule>> = {
  onnx: () => import('./onnx/onnx-instance.js'),
};

if (!parentPort) throw new Error('instance-worker must run in a worker thread');
const port = parentPort;
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function start(init: WorkerInit): Promise<void> {
  let instance: InstanceImplementation;
  try {
    const load = BACKENDS[init.backend];
    if (!load) throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `unknown backend "${init.backend}"`);
    const backend = await load();
    instance = await backend.createInstance(init.options, (level, message) => post({ type: 'log', level, message }));
  } catch (error) {
    post({ type: 'init-failed', error: VireoError.from(error).toJSON() });
    return;
  }
  port.on('message', async (message: HostMessage) => {
    if (message.type === 'close') {
      await instance.close().catch(() => undefined);
      post({ type: 'closed' });
      port.close();
      return;
    }
    try {
      const outputs = await instance.execute(message.inputs, message.outputs);
      post({ type: 'result', id: message.id, outputs }, transferList(outputs));
    } catch (error) {
      post({ type: 'failed', id: message.id, error: VireoError.from(error).toJSON() });
    }
  });
  post({ type: 'ready', signature: instance.signature });
}

void start(workerData as WorkerInit);
