/** What the scheduler tells a backend about a batch besides its tensors (handlers need it). */
import type { ExecuteContext } from '../backends/backend.js';
import type { PendingRequest } from './pending-request.js';

/** What a backend may know of the batch's requests; the earliest timeout bounds its execution. */
export function executeContext(requests: readonly PendingRequest[], now: number): ExecuteContext {
  let deadline = Infinity;
  for (const r of requests) if (!r.delayed) deadline = Math.min(deadline, r.deadlineNs);
  return {
    items: requests.map((r) => r.items),
    parameters: requests.map((r) => r.parameters),
    timeoutMs: deadline === Infinity ? undefined : Math.max(1, (deadline - now) / 1e6),
  };
}
