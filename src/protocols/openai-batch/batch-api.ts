/**
 * Opens the batch API over a `--batch-dir`: the file and job stores, the runner (which resumes
 * unfinished jobs), and the HTTP routes. Without a batch directory there is no batch API at all.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchJobsSnapshot } from '../../core/observability.js';
import type { Logger } from '../../logging/logger.js';
import type { InferenceServer } from '../../server/inference-server.js';
import { callerOf } from '../http-common/access-guard.js';
import type { HttpRoutes } from '../http-common/http-server.js';
import { BatchFiles } from './batch-files.js';
import { batchRoutes } from './batch-routes.js';
import { BatchRunner } from './batch-runner.js';
import { BatchObjects } from './batch-objects.js';
import { makeDirectories } from '../../core/make-directories.js';
import { VireoError } from '../../core/errors.js';

export interface BatchApiOptions {
  server: InferenceServer;
  logger: Logger;
  dir: string;
  maxFileBytes: number;
  maxLines: number;
  maxJobs: number;
  maxDiskBytes: number;
  /** Requests committed together (a cancel or stop takes effect between parts). */
  partRequests?: number;
  /** How long a stop waits for the running job before closing its thread (default 5 s, batch-runner.ts). */
  stopWaitMs?: number;
}

export interface OpenBatchApi {
  routes: HttpRoutes;
  runner: BatchRunner;
  /** Starts (or resumes) running jobs; call once the models are loaded. */
  start(): Promise<void>;
  snapshot(): BatchJobsSnapshot;
  close(): Promise<void>;
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

export async function openBatchApi(options: BatchApiOptions): Promise<OpenBatchApi> {
  await makeDirectories(options.dir).catch((error: Error) => {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `--batch-dir ${options.dir} cannot be made: ${error.message}`);
  });
  const files = new BatchFiles(options.dir, { maxFileBytes: options.maxFileBytes, maxDiskBytes: options.maxDiskBytes });
  await files.open(await directoryBytes(options.dir));
  const runner = new BatchRunner({
    server: options.server, files, objects: new BatchObjects(options.dir), logger: options.logger.child({ component: 'batch' }),
    partRequests: options.partRequests ?? 256, maxLines: options.maxLines, stopWaitMs: options.stopWaitMs,
  });
  return {
    routes: batchRoutes({
      files, runner, maxFileBytes: options.maxFileBytes, maxJobs: options.maxJobs,
      // The control rule (token, or loopback with a local Host; never cross-site), as for every control route.
      authorize: (request) => options.server.access.authorizeControl(callerOf(request)),
    }),
    runner,
    start: () => runner.start(),
    snapshot: () => ({ jobs: runner.countByStatus(), requestsCompleted: runner.completed, requestsFailed: runner.failed, storageBytes: files.usedBytes }),
    close: () => runner.close(),
  };
}
