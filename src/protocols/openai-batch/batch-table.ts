/**
 * The batch jobs a server keeps, every status, by id: what the routes list and look up, what the
 * metrics count, and what bounds the jobs in flight. The runner (batch-runner.ts) adds jobs and moves
 * them through their states; their objects are shared, so a lookup sees the state as it is now.
 */
import { TERMINAL, type BatchObject, type BatchStatus } from './batch-objects.js';

export class BatchTable {
  readonly #batches = new Map<string, BatchObject>();

  set(batch: BatchObject): void {
    this.#batches.set(batch.id, batch);
  }

  delete(id: string): void {
    this.#batches.delete(id);
  }

  get(id: string): BatchObject | undefined {
    return this.#batches.get(id);
  }

  /** Newest first. */
  list(): BatchObject[] {
    return [...this.#batches.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
  }

  /** Jobs not yet in a final state. */
  get active(): number {
    let n = 0;
    for (const batch of this.#batches.values()) if (!TERMINAL.has(batch.status)) n++;
    return n;
  }

  /** Whether an input file is read by a job that has not finished. */
  reads(fileId: string): boolean {
    for (const batch of this.#batches.values()) if (batch.input_file_id === fileId && !TERMINAL.has(batch.status)) return true;
    return false;
  }

  /** The request counts of every job kept, summed. */
  rowCounts(): { total: number; completed: number; failed: number } {
    const sum = { total: 0, completed: 0, failed: 0 };
    for (const { request_counts: counts } of this.#batches.values()) {
      sum.total += counts.total;
      sum.completed += counts.completed;
      sum.failed += counts.failed;
    }
    return sum;
  }

  countByStatus(): Map<BatchStatus, number> {
    const counts = new Map<BatchStatus, number>();
    for (const batch of this.#batches.values()) counts.set(batch.status, (counts.get(batch.status) ?? 0) + 1);
    return counts;
  }
}
