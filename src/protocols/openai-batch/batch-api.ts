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

/**
 * The bytes the storage limit counts, as a running server counts them: uploaded and output files
 * (`files/*.data`) and the answers jobs have committed (`batches/<id>/parts/`, manifests aside).
 * Objects, manifests and batch states are small and not counted, here or while running.
 */
async function countedBytes(dir: string): Promise<number> {
  const sizes = async (folder: string, counted: (name: string) => boolean): Promise<number> => {
    let total = 0;
    for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      if (entry.isFile() && counted(entry.name)) total += (await stat(join(folder, entry.name)).catch(() => ({ size: 0 }))).size;
    }
    return total;
  };
  let total = await sizes(join(dir, 'files'), (name) => name.endsWith('.data'));
  for (const batch of await readdir(join(dir, 'batches'), { withFileTypes: true }).catch(() => [])) {
    if (batch.isDirectory()) total += await sizes(join(dir, 'batches', batch.name, 'parts'), (name) => !name.endsWith('.manifest.json') && !name.includes('.tmp-'));
  }
  return total;
}

export async function openBatchApi(options: BatchApiOptions): Promise<OpenBatchApi> {
  await makeDirectories(options.dir).catch((error: Error) => {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `--batch-dir ${options.dir} cannot be made: ${error.message}`);
  });
  const files = new BatchFiles(options.dir, { maxFileBytes: options.maxFileBytes, maxDiskBytes: options.maxDiskBytes });
  await files.open(await countedBytes(options.dir));
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
    snapshot: () => ({ jobs: runner.table.countByStatus(), requestsCompleted: runner.completed, requestsFailed: runner.failed, rows: runner.table.rowCounts(), storageBytes: files.usedBytes }),
    close: () => runner.close(),
  };
}
