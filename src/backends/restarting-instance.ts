/**
 * Keeps one instance slot alive: when its worker dies (a crash, an exit, or a batch that ran past
 * its time bound) the batch it was running has already failed with the worker's error, and a new
 * worker is started in its place. Batches that arrive during the restart wait for it; if the
 * restart fails they fail with VIREO_ERR_WORKER_DIED and the next batch tries again.
 */
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ExecuteContext, LogFn, ModelInstance, ModelSignature } from './backend.js';
import type { WorkerServices } from './worker-instance.js';

/** Starts one worker-backed instance; `onDeath` must be passed on to the worker's services. */
export type InstanceFactory = (onDeath: NonNullable<WorkerServices['onDeath']>) => Promise<ModelInstance & { readonly alive: boolean }>;

export class RestartingInstance implements ModelInstance {
  #current: ModelInstance & { readonly alive: boolean };
  #restarting: Promise<void> | undefined;
  #closed = false;
  #restarts = 0;
  readonly #factory: InstanceFactory;
  readonly #log: LogFn;

  private constructor(first: ModelInstance & { readonly alive: boolean }, factory: InstanceFactory, log: LogFn) {
    this.#current = first;
    this.#factory = factory;
    this.#log = log;
  }

  static async start(factory: InstanceFactory, log: LogFn): Promise<RestartingInstance> {
    let self: RestartingInstance | undefined;
    const onDeath = (error: VireoError) => {
      if (self) self.#onDeath(error);
    };
    const first = await factory(onDeath);
    self = new RestartingInstance(first, factory, log);
    return self;
  }

  get signature(): ModelSignature {
    return this.#current.signature;
  }

  /** Workers started to replace dead ones so far. */
  get restarts(): number {
    return this.#restarts;
  }

  async execute(inputs: Tensor[], outputs: readonly string[], context?: ExecuteContext): Promise<Tensor[]> {
    if (this.#restarting) await this.#restarting;
    if (!this.#current.alive && !this.#closed) await this.#restart();
    return this.#current.execute(inputs, outputs, context);
  }

  async executeStream(inputs: Tensor[], outputs: readonly string[], context: ExecuteContext | undefined, onResponse: (outputs: Tensor[]) => void, signal: AbortSignal): Promise<void> {
    if (this.#restarting) await this.#restarting;
    if (!this.#current.alive && !this.#closed) await this.#restart();
    if (!this.#current.executeStream) throw new VireoError('VIREO_ERR_INTERNAL', 'this instance does not stream responses');
    return this.#current.executeStream(inputs, outputs, context, onResponse, signal);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#restarting?.catch(() => undefined);
    await this.#current.close();
  }

  #onDeath(error: VireoError): void {
    if (this.#closed) return;
    this.#log('error', `instance worker died (${error.message}); starting a new one`);
    void this.#restart().catch(() => undefined);
  }

  #restart(): Promise<void> {
    this.#restarting ??= (async () => {
      try {
        const next = await this.#factory((error) => this.#onDeath(error));
        if (this.#closed) {
          await next.close();
          return;
        }
        this.#current = next;
        this.#restarts++;
        this.#log('info', 'instance worker restarted');
      } catch (error) {
        const reason = VireoError.from(error).message;
        this.#log('error', `instance worker could not be restarted: ${reason}`);
        throw new VireoError('VIREO_ERR_WORKER_DIED', `the instance's worker died and could not be restarted: ${reason}`);
      } finally {
        this.#restarting = undefined;
      }
    })();
    return this.#restarting;
  }
}
