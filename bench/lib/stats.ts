/** Latency summaries live in the product (`vireo bench`); benchmarks keep importing them from here. */
export * from '../../src/perf/latency-stats.js';
