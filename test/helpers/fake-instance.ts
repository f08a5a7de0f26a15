/**
 * A ModelInstance (src/backends/backend.ts contract) for scheduler tests: records every batch it
 * receives and answers OUTPUT = 2 × INPUT (FP32), either at once or when the test releases it.
 */
import type { ModelInstance, ModelSignature } from '../../src/backends/backend.js';
import type { Tensor } from '../../src/core/tensor.js';

export interface RecordedBatch {
  /** The first value of each row of INPUT, in batch order: tests tag each request by it. */
  tags: number[];
  shape: number[];
}

export class FakeInstance implements ModelInstance {
  readonly signature: ModelSignature = {
    inputs: [{ name: 'INPUT', datatype: 'FP32', rawType: 'float32', dims: [-1, -1] }],
    outputs: [{ name: 'OUTPUT', datatype: 'FP32', rawType: 'float32', dims: [-1, -1] }],
  };
  readonly batches: RecordedBatch[] = [];
  running = 0;
  maxRunning = 0;
  alive = true;
  #gates: { release: () => void; fail: (e: unknown) => void }[] = [];

  /** manual: each batch waits for release(); otherwise it completes on the next tick. */
  constructor(readonly manual = false) {}

  async execute(inputs: Tensor[]): Promise<Tensor[]> {
    const input = inputs[0]!;
    const data = input.data as Float32Array;
    const rows = input.shape[0]!;
    const width = rows === 0 ? 0 : data.length / rows;
    this.batches.push({ tags: Array.from({ length: rows }, (_, i) => data[i * width]!), shape: [...input.shape] });
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.manual) await new Promise<void>((release, fail) => this.#gates.push({ release, fail }));
      else await new Promise((r) => setImmediate(r));
    } finally {
      this.running--;
    }
    return [{ name: 'OUTPUT', datatype: 'FP32', shape: [...input.shape], data: data.map((v) => v * 2) }];
  }

  /** Lets the oldest waiting batch finish (or fail). */
  release(error?: unknown): void {
    const gate = this.#gates.shift();
    if (!gate) throw new Error('no batch is waiting');
    if (error) gate.fail(error);
    else gate.release();
  }

  get waiting(): number {
    return this.#gates.length;
  }

  async close(): Promise<void> {}
}

/** One request's input: `items` rows of `width` values, every value of row i equal to tag + i. */
export function fakeInput(tag: number, items = 1, width = 2): Tensor[] {
  const data = new Float32Array(items * width);
  for (let i = 0; i < items; i++) data.fill(tag + i, i * width, (i + 1) * width);
  return [{ name: 'INPUT', datatype: 'FP32', shape: [items, width], data }];
}

/** Waits until `condition` holds, polling on timers (generous: the machine may be loaded). */
export async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
