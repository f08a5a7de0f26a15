/**
 * A ModelInstance whose implementation runs in its own worker thread. Tensors cross as
 * transferable ArrayBuffers (moved, not copied, when the tensor owns its buffer whole).
 * If the worker dies, the batch it was running fails with VIREO_ERR_WORKER_DIED and every later
 * call fails the same way; the owner decides whether to replace the instance (RestartingInstance).
 * A batch that runs past its time bound fails with VIREO_ERR_REQUEST_TIMEOUT and the worker is
 * terminated: code stuck in a loop cannot be interrupted any other way.
 */
import { Worker } from 'node:worker_threads';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { processInflight } from '../core/inflight-requests.js';
import { callTimeLimit, type ExecuteContext, type InstanceOptions, type LogFn, type ModelCall, type ModelInstance, type ModelSignature } from './backend.js';
import { spawnWorkerEntry } from '../core/esm-bundle.js';
import { workerResourceLimits } from './worker-heap.js';
import { compileHandler } from './handler/handler-bundle.js';
import { callFromWire, contextToWire } from './sequence-id-marker.js';
import { SharedMailbox } from './shared-mailbox.js';
import { AnswerSpin } from './spin-policy.js';
import { fromWire, toWire, transferList, type HostMessage, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(runningFromSource ? './instance-worker.ts' : './instance-worker.js', import.meta.url);

/** Backends whose instances take execute calls through a SharedMailbox (handlers keep the port: their calls interleave with BLS traffic). */
const MAILBOX_BACKENDS = new Set(['onnx']);

function spawnWorker(workerData: WorkerInit, heapLimitMb: number | undefined): Worker {
  return spawnWorkerEntry(WORKER_URL, { workerData, resourceLimits: workerResourceLimits(heapLimitMb) });
}

interface Pending { resolve: (outputs: Tensor[]) => void; reject: (error: VireoError) => void; partial?: (outputs: Tensor[]) => void }

export interface WorkerServices {
  /** Answers the instance's calls to other models (BLS); without it such calls fail. */
  callModel?: (call: ModelCall) => Promise<Tensor[]>;
  /** Upper bound on one batch's execution, whatever the requests' own timeouts (0: none). */
  executeTimeoutMs?: number;
  /** Told once when the worker ends other than by close(). */
  onDeath?: (error: VireoError) => void;
  /**
   * Bound on the worker's JavaScript heap (V8 old generation), in MB: code that allocates without
   * bound ends its own worker (replaced like any dead one), never the process. None: V8's default.
   */
  heapLimitMb?: number;
}

export class WorkerInstance implements ModelInstance {
  readonly signature: ModelSignature;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #dead: VireoError | undefined;
  #closing: Promise<void> | undefined;
  readonly #services: WorkerServices;
  readonly #mailbox: SharedMailbox | undefined;
  readonly #answerSpin = new AnswerSpin();

  private constructor(worker: Worker, signature: ModelSignature, services: WorkerServices, mailbox: SharedMailbox | undefined) {
    this.#worker = worker;
    this.signature = signature;
    this.#services = services;
    this.#mailbox = mailbox;
  }

  /** Starts a worker and resolves once its instance is ready (or rejects with why it is not). */
  static async start(backend: string, options: InstanceOptions, log: LogFn, services: WorkerServices = {}): Promise<WorkerInstance> {
    // A handler is compiled here, once, so its worker imports plain JavaScript (handler-bundle.ts).
    const compiled = backend === 'typescript' && options.handler && !options.handler.compiled ? await compileHandler(options.modelPath) : undefined;
    return WorkerInstance.#start(backend, compiled ? { ...options, handler: { ...options.handler!, compiled } } : options, log, services);
  }

  static #start(backend: string, options: InstanceOptions, log: LogFn, services: WorkerServices): Promise<WorkerInstance> {
    const mailbox = MAILBOX_BACKENDS.has(backend) ? new SharedMailbox() : undefined;
    const init: WorkerInit = { backend, options, mailbox: mailbox?.buffer };
    const worker = spawnWorker(init, services.heapLimitMb);
    return new Promise((resolve, reject) => {
      let instance: WorkerInstance | undefined;
      const fail = (error: VireoError) => {
        if (instance) instance.#die(error);
        else reject(error);
      };
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            instance = new WorkerInstance(worker, message.signature, services, mailbox);
            resolve(instance);
            break;
          case 'init-failed':
            void worker.terminate();
            reject(VireoError.from(message.error));
            break;
          case 'log':
            log(message.level, message.message);
            break;
          case 'call':
            answerCall(worker, mailbox, message.id, callFromWire(message.call), services);
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

  execute(inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<Tensor[]> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    const limit = callTimeLimit(context, this.#services.executeTimeoutMs);
    return new Promise<Tensor[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => clearTimeout(timer);
      this.#pending.set(id, { resolve: (o) => { done(); resolve(o); }, reject: (e) => { done(); reject(e); } });
      if (limit !== undefined) {
        timer = setTimeout(() => {
          this.#die(new VireoError('VIREO_ERR_REQUEST_TIMEOUT', `the model did not finish the request within ${Math.round(limit)} ms; its instance is being restarted`));
          void this.#worker.terminate();
        }, limit);
      }
      if (this.#mailbox?.trySend({ id, inputs, outputs, context }, processInflight.recentPeak())) {
        void this.#mailbox.receive(this.#answerSpin.spinMs(processInflight.current), () => this.#dead !== undefined).then((response) => {
          if (!response) return;
          if (response.executeMs !== undefined) this.#answerSpin.observe(response.executeMs);
          this.#settle('error' in response ? { type: 'failed', id: response.id, error: response.error } : { type: 'result', id: response.id, outputs: response.outputs });
        });
      } else {
        const wire = toWire(inputs);
        this.#post({ type: 'execute', id, inputs: wire, outputs, context: contextToWire(context) }, transferList(wire));
      }
    });
  }

  /** A decoupled stream: partial responses arrive as `partial` messages, the end as `result`. */
  executeStream(inputs: Tensor[], outputs: readonly string[], context: ExecuteContext | undefined, onResponse: (outputs: Tensor[]) => void, signal: AbortSignal): Promise<void> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      const cancel = () => this.#post({ type: 'cancel-stream', id });
      const done = () => signal.removeEventListener('abort', cancel);
      this.#pending.set(id, { resolve: () => { done(); resolve(); }, reject: (e) => { done(); reject(e); }, partial: onResponse });
      signal.addEventListener('abort', cancel, { once: true });
      this.#post({ type: 'execute-stream', id, inputs, outputs, context: contextToWire(context) }, transferList(inputs));
      if (signal.aborted) cancel();
    });
  }

  /** Every port message rings the mailbox too: a worker parked on it runs no event loop. */
  #post(message: HostMessage, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(message, transfer);
    this.#mailbox?.ring();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#dead) return;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#post({ type: 'close' });
    // A worker stuck in native code cannot answer; do not let it hold shutdown forever.
    const timer = setTimeout(() => void this.#worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  }

  #settle(message: WorkerMessage): void {
    if (message.type === 'partial') {
      this.#pending.get(message.id)?.partial?.(message.outputs);
      return;
    }
    if (message.type !== 'result' && message.type !== 'failed') return;
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.type === 'result') pending.resolve(fromWire(message.outputs));
    else pending.reject(VireoError.from(message.error));
  }

  #die(error: VireoError): void {
    if (this.#dead) return;
    this.#dead = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    if (!this.#closing) this.#services.onDeath?.(error);
  }
}

/** Runs a BLS call on the main thread and posts its outcome back to the worker that made it. */
function answerCall(worker: Worker, mailbox: SharedMailbox | undefined, id: number, call: ModelCall, services: WorkerServices): void {
  const reply = (message: HostMessage, transfer: ArrayBuffer[] = []) => {
    try {
      worker.postMessage(message, transfer);
      mailbox?.ring();
    } catch {
      // the worker is gone; nobody waits for this answer any more
    }
  };
  if (!services.callModel) {
    reply({ type: 'call-failed', id, error: { code: 'VIREO_ERR_UNIMPLEMENTED', message: 'this instance cannot call other models' } });
    return;
  }
  services.callModel(call).then(
    (outputs) => reply({ type: 'call-result', id, outputs }),
    (error) => reply({ type: 'call-failed', id, error: VireoError.from(error).toJSON() }),
  );
}
