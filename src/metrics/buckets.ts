/**
 * Histogram buckets, in seconds: 100 µs to 10 s in 1-2.5-5 steps, so a p99 read with
 * histogram_quantile stays within one step of the true value across five decades.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005,
  0.001, 0.0025, 0.005,
  0.01, 0.025, 0.05,
  0.1, 0.25, 0.5,
  1, 2.5, 5, 10,
];

/** Batch sizes: exact for small batches, then powers of two up to Triton's usual maximum. */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256];
