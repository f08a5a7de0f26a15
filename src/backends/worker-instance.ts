/**
 * A ModelInstance whose implementation runs in its own worker thread. Tensors cross as
 * transferable ArrayBuffers (moved, not copied, when the tensor owns its buffer whole).
 * If the worker dies, the batch it was running fails with VIREO_ERR_WORKER_DIED and every later
 * call fails the same way; the owner decides whether to replace the instance.
 */
import { Worker } from 'node:worker_threads';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { InstanceOptions, LogFn, ModelInstance, ModelSignature } from './backend.js';
import { transferList, type HostMessage, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(runningFromSource ? './instance-worker.ts' : './instance-worker.js', import.meta.url);

/** From source the worker registers tsx's loader itself (loader hooks are per thread in Node 20). */
function spawnWorker(workerData: WorkerInit): Worker {
  if (!runningFromSource) return new Worker(WORKER_URL, { workerData });
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

interface Pending { resolve: (outputs: Tensor[]) => void; reject: (error: VireoError) => void }

export class WorkerInstance implements ModelInstance {
  readonly signature: ModelSignature;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #dead: VireoError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(worker: Worker, signature: ModelSignature) {
    this.#worker = worker;
    this.signature = signature;
  }

  /** Starts a worker and resolves once its instance is ready (or rejects with why it is not). */
  static start(backend: string, options: InstanceOptions, log: LogFn): Promise<WorkerInstance> {
    const init: WorkerInit = { backend, options };
    const worker = spawnWorker(init);
    return new Promise((resolve, reject) => {
      let instance: WorkerInstance | undefined;
      const fail = (error: VireoError) => {
        if (instance) instance.#die(error);
        else reject(error);
      };
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            instance = new WorkerInstance(worker, message.signature);
            resolve(instance);
            break;
          case 'init-failed':
            void worker.terminate();
            reject(VireoError.from(message.error));
            break;
          case 'log':
            log(message.level, message.message);
            break;
          default:
            if (instance) instance.#settle(message);
        }
      });
      worker.on('error', (error) => fail(new VireoError('VIREO_ERR_WORKER_DIED', `instance worker crashed: ${error.message}`)));
      worker.on('exit', (code) => fail(new VireoError('VIREO_ERR_WORKER_DIED', `instance worker exited (code ${code})`)));
    });
  }

  get alive(): boolean {
    return this.#dead === undefined;
  }

  execute(inputs: Tensor[], outputs: readonly string[]): Promise<Tensor[]> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const message: HostMessage = { type: 'execute', id, inputs, outputs };
      this.#worker.postMessage(message, transferList(inputs));
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#dead) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    const message: HostMessage = { type: 'close' };
    this.#worker.postMessage(message);
    // A worker stuck in native code cannot answer; do not let it hold shutdown forever.
    const timer = setTimeout(() => void this.#worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  }

  #settle(message: WorkerMessage): void {
    if (message.type !== 'result' && message.type !== 'failed') return;
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.type === 'result') pending.resolve(message.outputs);
    else pending.reject(VireoError.from(message.error));
  }

  #die(error: VireoError): void {
    if (this.#dead) return;
    this.#dead = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
