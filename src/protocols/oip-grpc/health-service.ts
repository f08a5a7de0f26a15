/**
 * The standard `grpc.health.v1.Health` service (grpc-health-check's proto), answered from the
 * facade at the moment of the call: the empty service name and `inference.GRPCInferenceService`
 * follow server readiness, a model name follows that model's readiness. Check of an unknown name
 * is NOT_FOUND; Watch reports SERVICE_UNKNOWN for it and keeps watching, as the health protocol
 * says. Watchers are re-evaluated on one shared timer and told only about changes.
 */
import { status as GrpcStatus, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';
import { VireoError } from '../../core/errors.js';
import type { InferenceServer } from '../../server/inference-server.js';

export { healthServiceDefinition };

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export const SERVER_SERVICE_NAMES = new Set(['', 'inference.GRPCInferenceService']);

/** How often watched statuses are re-evaluated (the facade has no change events). */
const WATCH_INTERVAL_MS = 1000;

interface Watcher { service: string; last: ServingStatus; call: ServerWritableStream<unknown, unknown> }

export class HealthService {
  readonly #server: InferenceServer;
  readonly #watchers = new Set<Watcher>();
  #timer: NodeJS.Timeout | undefined;

  constructor(server: InferenceServer) {
    this.#server = server;
  }

  /** Never throws: it runs in handlers and on a timer. A model that cannot be looked up is not serving. */
  statusOf(service: string): ServingStatus {
    if (SERVER_SERVICE_NAMES.has(service)) return this.#server.isReady() ? 'SERVING' : 'NOT_SERVING';
    try {
      return this.#server.modelReady(service) ? 'SERVING' : 'NOT_SERVING';
    } catch (error) {
      return VireoError.from(error).status === 'NOT_FOUND' ? 'SERVICE_UNKNOWN' : 'NOT_SERVING';
    }
  }

  handlers(): UntypedServiceImplementation {
    return {
      Check: (call: ServerUnaryCall<{ service: string }, unknown>, callback: sendUnaryData<unknown>) => {
        const status = this.statusOf(call.request.service);
        if (status === 'SERVICE_UNKNOWN') callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        else callback(null, { status });
      },
      Watch: (call: ServerWritableStream<{ service: string }, unknown>) => {
        const watcher: Watcher = { service: call.request.service, last: this.statusOf(call.request.service), call };
        call.write({ status: watcher.last });
        this.#watchers.add(watcher);
        call.once('cancelled', () => this.#remove(watcher));
        this.#timer ??= setInterval(() => this.#poll(), WATCH_INTERVAL_MS).unref();
      },
      List: (_call: unknown, callback: sendUnaryData<unknown>) => {
        const names = new Set(['', ...this.#server.repositoryIndex().map((m) => m.name)]);
        const statuses: Record<string, { status: ServingStatus }> = {};
        for (const name of names) statuses[name] = { status: this.statusOf(name) };
        callback(null, { statuses });
      },
    };
  }

  /** Shutdown: every watcher hears NOT_SERVING and its stream ends. */
  close(): void {
    for (const watcher of [...this.#watchers]) {
      watcher.call.write({ status: 'NOT_SERVING' });
      watcher.call.end();
      this.#remove(watcher);
    }
  }

  #poll(): void {
    for (const watcher of this.#watchers) {
      const status = this.statusOf(watcher.service);
      if (status === watcher.last) continue;
      watcher.last = status;
      watcher.call.write({ status });
    }
  }

  #remove(watcher: Watcher): void {
    this.#watchers.delete(watcher);
    if (this.#watchers.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
