/**
 * The tracing side of one model version's scheduler reports. For a batch holding traced requests
 * it closes each one's `queue` span at the batch start and emits one `execute` span — a child of
 * the batch's first traced request, linked to every traced request in the batch — with
 * `compute_input`, `compute_infer` and `compute_output` children. Untraced batches cost one check.
 */
import { trace, type Link, type Tracer } from '@opentelemetry/api';
import type { BatchTimings, SchedulerRecorder } from '../scheduler/recorder.js';
import { RequestSpan, epochMs } from './request-span.js';

export class TraceRecorder implements SchedulerRecorder {
  readonly #tracer: Tracer;
  readonly #model: string;
  readonly #version: string;

  constructor(tracer: Tracer, model: string, version: string) {
    this.#tracer = tracer;
    this.#model = model;
    this.#version = version;
  }

  request(): void {}
  pending(): void {}
  busy(): void {}

  batch(timings: BatchTimings, traces?: readonly unknown[]): void {
    if (traces === undefined) return;
    const spans = traces.filter((t): t is RequestSpan => t instanceof RequestSpan);
    if (spans.length === 0) return;
    const start = timings.startNs;
    const links: Link[] = [];
    for (const s of spans) {
      s.closeQueue(start);
      links.push({ context: s.span.spanContext() });
    }
    const inputEnd = start + timings.computeInputNs;
    const inferEnd = inputEnd + timings.computeInferNs;
    const outputEnd = inferEnd + timings.computeOutputNs;
    const execute = this.#tracer.startSpan('execute', {
      startTime: epochMs(start),
      links,
      attributes: {
        'vireo.model': this.#model, 'vireo.model_version': this.#version,
        'vireo.batch_size': timings.batchSize, 'vireo.batch_requests': spans.length,
      },
    }, spans[0]!.context);
    const inside = trace.setSpan(spans[0]!.context, execute);
    const phases: [string, number, number][] = [
      ['compute_input', start, inputEnd], ['compute_infer', inputEnd, inferEnd], ['compute_output', inferEnd, outputEnd],
    ];
    for (const [name, from, to] of phases) this.#tracer.startSpan(name, { startTime: epochMs(from) }, inside).end(epochMs(to));
    execute.end(epochMs(outputEnd));
  }
}
