/**
 * Preloaded into a process (`node --import <this file>`, e.g. `tsx bench/batch-threads.ts
 * --node-args=--import=./bench/lib/heap-sampling-preload.mjs`): samples the main thread's allocations
 * for the whole run, the collected objects included (V8's sampling heap profiler keeps only live ones
 * unless told otherwise), and at exit prints to stderr the MB allocated in all and the allocation sites
 * that took the most, each as its innermost named frames. Garbage a job makes, not what it keeps.
 */
import { Session } from 'node:inspector';

const TOP_SITES = 15;
const FRAMES = 4;

const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });

process.on('exit', () => {
  // The session is this thread's own: the callback runs before post returns.
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) return void process.stderr.write(`heap sampling: ${error.message}\n`);
    const parent = new Map();
    const node = new Map();
    const walk = (n, up) => {
      node.set(n.id, n);
      parent.set(n.id, up);
      for (const child of n.children) walk(child, n);
    };
    walk(result.profile.head, undefined);
    const bySite = new Map();
    let total = 0;
    for (const sample of result.profile.samples) {
      total += sample.size;
      const frames = [];
      for (let n = node.get(sample.nodeId); n && frames.length < FRAMES; n = parent.get(n.id)) {
        const { functionName, url, lineNumber } = n.callFrame;
        if (functionName || url) frames.push(`${functionName || '(anonymous)'} ${url.split('/').slice(-1)[0]}:${lineNumber + 1}`);
      }
      const site = frames.join(' < ');
      bySite.set(site, (bySite.get(site) ?? 0) + sample.size);
    }
    const top = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP_SITES);
    process.stderr.write(`heap sampling: ${(total / 1e6).toFixed(1)} MB allocated\n${top.map(([site, bytes]) => `${(bytes / 1e6).toFixed(2).padStart(8)} MB  ${site}`).join('\n')}\n`);
  });
});
