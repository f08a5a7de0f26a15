/**
 * One FIFO per priority level (index 0 most urgent), each with its queue policy, and behind each
 * level's FIFO the requests of that level delayed by a timeout (Triton's DELAY action).
 * Invariant: `size` counts only PENDING requests.
 */
import type { PendingRequest } from './pending-request.js';

export interface QueuePolicy {
  timeoutAction: 'REJECT' | 'DELAY';
  defaultTimeoutUs: number;
  allowTimeoutOverride: boolean;
  /** 0 = unbounded. */
  maxQueueSize: number;
  /** The server option the bound came from, when no configuration set it (named in the error). */
  maxQueueSizeOption?: string;
  /** No queue policy was written for the level: a request's own timeout applies as given. */
  unconfigured?: boolean;
}

/** Triton's ModelQueuePolicy as written in a model configuration. */
export interface QueuePolicyConfig {
  timeout_action: 'REJECT' | 'DELAY';
  default_timeout_microseconds: number;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

export const DEFAULT_POLICY: QueuePolicy = { timeoutAction: 'REJECT', defaultTimeoutUs: 0, allowTimeoutOverride: false, maxQueueSize: 0, unconfigured: true };

export function toQueuePolicy(config: QueuePolicyConfig | undefined): QueuePolicy {
  if (!config) return DEFAULT_POLICY;
  return {
    timeoutAction: config.timeout_action,
    defaultTimeoutUs: config.default_timeout_microseconds,
    allowTimeoutOverride: config.allow_timeout_override,
    maxQueueSize: config.max_queue_size,
  };
}

/**
 * A FIFO with lazy removal: entries that left it (dispatched, failed, or moved to the delayed FIFO)
 * stay in the array and are skipped. Invariant: `live` counts the entries `holds` accepts.
 */
class Fifo {
  items: PendingRequest[] = [];
  head = 0;
  live = 0;

  constructor(readonly forDelayed: boolean) {}

  holds(request: PendingRequest): boolean {
    return request.state === 'PENDING' && request.delayed === this.forDelayed;
  }

  push(request: PendingRequest): void {
    this.items.push(request);
    this.live++;
  }

  /** Drops dead entries at the front and compacts once the dead prefix dominates. */
  compact(): void {
    while (this.head < this.items.length && !this.holds(this.items[this.head]!)) this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class PriorityQueues {
  /** Per level: its FIFO, then its delayed FIFO (DELAY action), in dispatch order. */
  readonly #fifos: Fifo[];
  readonly #delayed: Fifo[];
  readonly #order: Fifo[];
  readonly policies: readonly QueuePolicy[];
  /** The earliest queue deadline among waiting requests, or earlier (ns). */
  #nextDeadline = Infinity;

  constructor(policies: readonly QueuePolicy[]) {
    this.policies = policies;
    this.#fifos = policies.map(() => new Fifo(false));
    this.#delayed = policies.map(() => new Fifo(true));
    this.#order = this.#fifos.flatMap((fifo, level) => [fifo, this.#delayed[level]!]);
  }

  get size(): number {
    let total = 0;
    for (const f of this.#order) total += f.live;
    return total;
  }

  /** Live requests of levels [first, end). */
  sizeIn(first: number, end: number): number {
    let total = 0;
    for (let i = 2 * first; i < 2 * end; i++) total += this.#order[i]!.live;
    return total;
  }

  /** max_queue_size counts every request waiting at the level, delayed ones included (as Triton does). */
  isFull(level: number): boolean {
    const max = this.policies[level]!.maxQueueSize;
    return max > 0 && this.#fifos[level]!.live + this.#delayed[level]!.live >= max;
  }

  push(request: PendingRequest): void {
    this.#fifoOf(request).push(request);
    if (request.deadlineNs < this.#nextDeadline) this.#nextDeadline = request.deadlineNs;
  }

  /**
   * Applies the queue timeouts due at `now`: Triton's DELAY action moves a request behind its level,
   * REJECT hands it to `timedOut` (which must `forget` it). Returns the next deadline (ns; Infinity:
   * none). The scan costs O(queued), so it is skipped until the earliest known deadline is due.
   */
  expire(now: number, timedOut: (request: PendingRequest) => void): number {
    if (now < this.#nextDeadline) return this.#nextDeadline;
    let next = Infinity;
    for (const request of this.pending()) {
      if (request.deadlineNs > now) {
        next = Math.min(next, request.deadlineNs);
        continue;
      }
      if (this.policies[request.level]!.timeoutAction === 'DELAY') this.delay(request);
      else timedOut(request);
    }
    this.#nextDeadline = next;
    return next;
  }

  /** A request left the PENDING state (dispatched, cancelled, expired): keep the counts true. */
  forget(request: PendingRequest): void {
    this.#fifoOf(request).live--;
  }

  /** Live requests (of levels [first, end)) in dispatch order: by level, FIFO within a level, a level's delayed ones after it. */
  *pending(first = 0, end = this.policies.length): Generator<PendingRequest> {
    for (let f = 2 * first; f < 2 * end; f++) {
      const fifo = this.#order[f]!;
      if (fifo.live === 0) continue;
      fifo.compact();
      for (let i = fifo.head; i < fifo.items.length; i++) {
        const r = fifo.items[i]!;
        if (fifo.holds(r)) yield r;
      }
    }
  }

  /**
   * Triton's DELAY action: the expired request now waits behind every request of its level that
   * has not timed out, but still before lower levels (model_config.proto, TimeoutAction DELAY).
   * The old entry stays behind and is skipped (it no longer `holds`), so the move costs O(1).
   */
  delay(request: PendingRequest): void {
    this.#fifos[request.level]!.live--;
    request.delayed = true;
    request.deadlineNs = Infinity;
    this.#delayed[request.level]!.push(request);
  }

  #fifoOf(request: PendingRequest): Fifo {
    return (request.delayed ? this.#delayed : this.#fifos)[request.level]!;
  }
}

/**
 * The queue timeout of one request, in µs (0 = none). Triton's rule (model_config.proto,
 * allow_timeout_override): a request may shorten its level's default timeout, never lengthen it.
 * A model with no queue policy at all honours the request's own timeout: asking for one is then
 * the only way to get one, and silently ignoring it would surprise more than it protects.
 */
export function queueTimeoutUs(policy: QueuePolicy, requestedUs: number | undefined): number {
  const requested = requestedUs ?? 0;
  if (requested <= 0) return policy.defaultTimeoutUs;
  if (policy.unconfigured) return requested;
  if (!policy.allowTimeoutOverride) return policy.defaultTimeoutUs;
  return policy.defaultTimeoutUs === 0 ? requested : Math.min(requested, policy.defaultTimeoutUs);
}
