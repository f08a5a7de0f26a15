/**
 * A `vireo batch` job's own Prometheus families, beside the server's per-version ones (which the
 * job's scheduler fills as in `vireo serve`): rows by outcome, resumed rows, parts, rows per batch,
 * and busy seconds per stage. docs/batch.md lists them. The methods match the batch frontend's
 * observer (src/batch/job-stats.ts) structurally, so metrics/ does not import batch/.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { BATCH_SIZE_BUCKETS } from './buckets.js';

export class BatchJobMetrics {
  readonly #rows: Counter<'model' | 'outcome'>;
  readonly #resumed: Counter<'model'>;
  readonly #parts: Counter<'model'>;
  readonly #batchRows: Histogram<'model'>;
  readonly #stages: Counter<'model' | 'stage'>;
  readonly #model: string;

  constructor(registry: Registry, model: string) {
    this.#model = model;
    const registers = [registry];
    this.#rows = new Counter({ name: 'vireo_batch_rows_total', help: 'Rows a batch job committed, by outcome (success or error).', labelNames: ['model', 'outcome'], registers });
    this.#resumed = new Counter({ name: 'vireo_batch_resumed_rows_total', help: 'Rows of parts an earlier run had committed, skipped by this run.', labelNames: ['model'], registers });
    this.#parts = new Counter({ name: 'vireo_batch_parts_total', help: 'Output parts this run committed.', labelNames: ['model'], registers });
    this.#batchRows = new Histogram({ name: 'vireo_batch_rows_per_batch', help: 'Rows per batch the job sent to the model.', labelNames: ['model'], buckets: [...BATCH_SIZE_BUCKETS], registers });
    this.#stages = new Counter({ name: 'vireo_batch_stage_seconds_total', help: 'Busy seconds per stage: read, decode, infer, encode, commit (stages overlap).', labelNames: ['model', 'stage'], registers });
  }

  batch(rows: number): void {
    this.#batchRows.observe({ model: this.#model }, rows);
  }

  part(rows: number, errors: number): void {
    this.#rows.inc({ model: this.#model, outcome: 'success' }, rows - errors);
    if (errors > 0) this.#rows.inc({ model: this.#model, outcome: 'error' }, errors);
    this.#parts.inc({ model: this.#model });
  }

  resumed(rows: number): void {
    this.#resumed.inc({ model: this.#model }, rows);
  }

  stage(stage: string, seconds: number): void {
    this.#stages.inc({ model: this.#model, stage }, seconds);
  }
}
