/**
 * Waits for a promise at most `ms`: resolves true once it settles (either way) in time, false when
 * the time runs out first. For shutdown paths that must not hang on one part that never answers; the
 * promise itself is left running (a rejection after the bound is dropped, not unhandled).
 */
export async function endsWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
