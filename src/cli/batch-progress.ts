/**
 * Progress of `vireo batch`: on a terminal a cli-progress bar (rows, rows/s, ETA, errors) on
 * stderr; elsewhere (a Kubernetes pod, CI) one structured log line every few seconds, which log
 * collectors can parse; or nothing. Rows resumed from an earlier run count as done from the start.
 */
import { SingleBar } from 'cli-progress';
import type { BatchObserver } from '../batch/job-stats.js';
import type { Logger } from '../logging/logger.js';

export interface BatchProgress {
  observer: BatchObserver | undefined;
  stop(): void;
}

export function batchProgress(mode: 'bar' | 'log' | 'none', options: { logger: Logger; intervalSeconds: number; shard: { index: number; count: number } }): BatchProgress {
  if (mode === 'none') return { observer: undefined, stop: () => undefined };
  let estimate = 0;
  let done = 0;
  let resumed = 0;
  let errors = 0;
  let batches = 0;
  let batchRows = 0;
  // The rate counts from the job's start (models loaded), as the summary's rows/s does.
  let started = performance.now();
  const rate = () => done / Math.max(1e-3, (performance.now() - started) / 1000);

  if (mode === 'bar') {
    const bar = new SingleBar({
      format: 'vireo batch |{bar}| {percentage}% {value}/{total} rows | {rate} rows/s | ETA {eta_formatted} | {errors} errors',
      stream: process.stderr,
      etaBuffer: 50,
      hideCursor: true,
    });
    let running = false;
    const update = () => bar.update(resumed + done, { rate: rate().toFixed(0), errors });
    return {
      observer: {
        started(rows) {
          started = performance.now();
          estimate = Math.round(rows);
          bar.start(Math.max(estimate, resumed), resumed, { rate: '0', errors });
          running = true;
        },
        resumed(rows, failed) {
          resumed += rows;
          errors += failed;
        },
        part(rows, failed) {
          done += rows;
          errors += failed;
          // The total of a text file is an estimate: it grows if the file holds more.
          if (resumed + done > bar.getTotal()) bar.setTotal(resumed + done);
          update();
        },
      },
      stop() {
        if (running) bar.stop();
        running = false;
      },
    };
  }

  const log = () => options.logger.info({
    progress: { shard: `${options.shard.index}/${options.shard.count}`, rows: done, resumedRows: resumed, estimatedRows: estimate, errors, rowsPerSecond: Math.round(rate()), meanBatchRows: batches === 0 ? 0 : Math.round((batchRows / batches) * 10) / 10 },
  }, 'batch progress');
  const timer = setInterval(log, options.intervalSeconds * 1000);
  timer.unref();
  return {
    observer: {
      started(rows) {
        started = performance.now();
        estimate = Math.round(rows);
        log();
      },
      resumed(rows, failed) {
        resumed += rows;
        errors += failed;
      },
      batch(rows) {
        batches++;
        batchRows += rows;
      },
      part(rows, failed) {
        done += rows;
        errors += failed;
      },
    },
    stop() {
      clearInterval(timer);
      log();
    },
  };
}
