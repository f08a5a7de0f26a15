// Bounded malloc arenas for the long-running commands (issue 13, defect 7). glibc gives every thread
// that allocates its own malloc arena; worker threads and onnxruntime's session threads come and go
// with model loads, and their arenas keep RSS growing over load/unload cycles. MALLOC_ARENA_MAX=2
// bounds that, but glibc reads it once, when the process starts: so `vireo serve` and `vireo batch`
// replace their own process image (process.execve, Node >= 22.15 / 23.11: same PID, same argv and
// stdio, no second process) with MALLOC_ARENA_MAX=2 added, before anything else is loaded.
//
// Left alone: a MALLOC_ARENA_MAX already set (the user's choice; also what stops a second re-exec),
// VIREO_MALLOC_ARENA_MAX=keep (opt out), other platforms and libcs (musl has no per-thread arenas),
// and Node versions without process.execve.

const COMMANDS = new Set(['serve', 'batch']);
export const BOUNDED_ARENAS = '2';

/** Whether this process would re-exec itself: the decision, apart from the call (tests read it). */
export function shouldBoundArenas(argv = process.argv, env = process.env) {
  if (!COMMANDS.has(argv[2] ?? '')) return false;
  if (process.platform !== 'linux' || typeof process.execve !== 'function') return false;
  if (env.MALLOC_ARENA_MAX !== undefined || env.VIREO_MALLOC_ARENA_MAX === 'keep') return false;
  const report = process.report?.getReport?.();
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

export function boundMallocArenas() {
  if (!shouldBoundArenas()) return;
  // Node's own options (process.execArgv) and NODE_OPTIONS (in the environment) carry over.
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, MALLOC_ARENA_MAX: BOUNDED_ARENAS });
}
