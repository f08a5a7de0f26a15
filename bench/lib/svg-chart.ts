/** The charts moved into the product (`vireo bench` draws them too); benchmarks keep importing them from here. */
export * from '../../src/perf/svg-chart.js';
