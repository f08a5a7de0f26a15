/**
 * Metric families for the request path whose series are plain objects ("cells") held directly by
 * their recorder: an increment is a field addition and an observation a bucket search, with no
 * label hashing or validation per call (prom-client's label children hash their labels on every
 * inc/observe). The families implement the metric shape prom-client's Registry reads — name,
 * help, type, labelNames, get() — so exposition, escaping and content type stay prom-client's.
 *
 * Invariant: a cell's labels are fixed at creation; a family exposes exactly its live cells.
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;
interface Value { value: number; labels: Labels; metricName?: string }

abstract class Family<C extends { labels: Labels }> {
  readonly aggregator = 'sum';
  readonly #cells = new Set<C>();
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[], registry: Registry) {
    registry.registerMetric(this as never);
  }

  protected add(cell: C): C {
    this.#cells.add(cell);
    return cell;
  }

  remove(cell: C): void {
    this.#cells.delete(cell);
  }

  protected abstract values(cell: C, out: Value[]): void;

  async get(): Promise<{ name: string; help: string; type: string; values: Value[]; aggregator: string }> {
    const values: Value[] = [];
    for (const cell of this.#cells) this.values(cell, values);
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class ValueCell {
  value = 0;
  constructor(readonly labels: Labels) {}
}

export class CounterFamily extends Family<ValueCell> {
  readonly type = 'counter';
  cell(labels: Labels): ValueCell {
    return this.add(new ValueCell(labels));
  }
  protected values(cell: ValueCell, out: Value[]): void {
    out.push({ value: cell.value, labels: cell.labels });
  }
}

export class GaugeFamily extends Family<ValueCell> {
  readonly type = 'gauge';
  cell(labels: Labels): ValueCell {
    return this.add(new ValueCell(labels));
  }
  protected values(cell: ValueCell, out: Value[]): void {
    out.push({ value: cell.value, labels: cell.labels });
  }
}

export class HistogramCell {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly labels: Labels, readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) { // first bound >= value
      const mid = (lo + hi) >>> 1;
      if (bounds[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]!++;
    this.sum += value;
    this.count++;
  }
}

export class HistogramFamily extends Family<HistogramCell> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];
  readonly #le: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
    this.#bounds = [...bounds].sort((a, b) => a - b);
    this.#le = [...this.#bounds.map(String), '+Inf'];
  }

  cell(labels: Labels): HistogramCell {
    return this.add(new HistogramCell(labels, this.#bounds));
  }

  protected values(cell: HistogramCell, out: Value[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.#le.length; i++) {
      cumulative += cell.counts[i]!;
      out.push({ value: cumulative, labels: { ...cell.labels, le: this.#le[i]! }, metricName: `${this.name}_bucket` });
    }
    out.push({ value: cell.sum, labels: cell.labels, metricName: `${this.name}_sum` });
    out.push({ value: cell.count, labels: cell.labels, metricName: `${this.name}_count` });
  }
}
