/**
 * A progress line for long CLI runs: on a terminal it is rewritten in place and a finished step is
 * printed as a permanent line; elsewhere (CI logs, pipes) only the finished steps are printed.
 */
export interface ProgressLine {
  update(text: string): void;
  done(text: string): void;
}

export function progressLine(stream: NodeJS.WriteStream, enabled = true): ProgressLine {
  const tty = enabled && stream.isTTY === true;
  let shown = false;
  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return {
    update(text) {
      if (!tty) return;
      clear();
      stream.write(text.slice(0, Math.max(20, (stream.columns ?? 120) - 1)));
      shown = true;
    },
    done(text) {
      clear();
      if (enabled && text) stream.write(`${text}\n`);
    },
  };
}

/** `[#####.....] 5/10` */
export function bar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
