/**
 * One FIFO per priority level (index 0 most urgent), each with its queue policy. Removal of
 * cancelled or expired requests is lazy: they stay in the array, marked FAILED, and are skipped.
 * Invariant: `size` counts only PENDING requests.
 */
import type { PendingRequest } from './pending-request.js';

export interface QueuePolicy {
  timeoutAction: 'REJECT' | 'DELAY';
  defaultTimeoutUs: number;
  allowTimeoutOverride: boolean;
  /** 0 = unbounded. */
  maxQueueSize: number;
}

/** Triton's ModelQueuePolicy as written in a model configuration. */
export interface QueuePolicyConfig {
  timeout_action: 'REJECT' | 'DELAY';
  default_timeout_microseconds: number;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

export const DEFAULT_POLICY: QueuePolicy = { timeoutAction: 'REJECT', defaultTimeoutUs: 0, allowTimeoutOverride: false, maxQueueSize: 0 };

export function toQueuePolicy(config: QueuePolicyConfig | undefined): QueuePolicy {
  if (!config) return DEFAULT_POLICY;
  return {
    timeoutAction: config.timeout_action,
    defaultTimeoutUs: config.default_timeout_microseconds,
    allowTimeoutOverride: config.allow_timeout_override,
    maxQueueSize: config.max_queue_size,
  };
}

class Fifo {
  items: PendingRequest[] = [];
  head = 0;
  live = 0;

  push(request: PendingRequest): void {
    this.items.push(request);
    this.live++;
  }

  /** Drops dead entries at the front and compacts once the dead prefix dominates. */
  compact(): void {
    while (this.head < this.items.length && this.items[this.head]!.state !== 'PENDING') this.head++;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class PriorityQueues {
  readonly #fifos: Fifo[];
  /** Delayed requests (DELAY action) wait here, behind every level. */
  readonly #delayed = new Fifo();
  readonly policies: readonly QueuePolicy[];

  constructor(policies: readonly QueuePolicy[]) {
    this.policies = policies;
    this.#fifos = policies.map(() => new Fifo());
  }

  get size(): number {
    let total = this.#delayed.live;
    for (const f of this.#fifos) total += f.live;
    return total;
  }

  isFull(level: number): boolean {
    const max = this.policies[level]!.maxQueueSize;
    return max > 0 && this.#fifos[level]!.live >= max;
  }

  push(request: PendingRequest): void {
    (request.delayed ? this.#delayed : this.#fifos[request.level]!).push(request);
  }

  /** A request left the PENDING state (dispatched, cancelled, expired): keep the counts true. */
  forget(request: PendingRequest): void {
    (request.delayed ? this.#delayed : this.#fifos[request.level]!).live--;
  }

  /** Live requests in dispatch order: by level, FIFO within a level, delayed ones last. */
  *pending(): Generator<PendingRequest> {
    for (const fifo of [...this.#fifos, this.#delayed]) {
      fifo.compact();
      for (let i = fifo.head; i < fifo.items.length; i++) {
        const r = fifo.items[i]!;
        if (r.state === 'PENDING') yield r;
      }
    }
  }

  /** Moves a request to the delayed queue (Triton's DELAY on timeout). */
  delay(request: PendingRequest): void {
    this.forget(request);
    request.delayed = true;
    request.deadlineNs = Infinity;
    // The old entry stays behind as a duplicate reference; mark it skipped by moving it explicitly.
    const fifo = this.#fifos[request.level]!;
    const index = fifo.items.indexOf(request, fifo.head);
    if (index >= 0) fifo.items.splice(index, 1);
    this.#delayed.push(request);
  }
}
