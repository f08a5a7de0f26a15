/** pino, JSON by default and pretty on a terminal; the one logger every layer is handed. */
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** File descriptor logs go to: 1 (stdout, the default) or 2 (stderr, when stdout carries results). */
  destination?: 1 | 2;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  const destination = options.destination ?? 1;
  const settings = {
    name: 'vireo',
    level: options.level ?? 'info',
    base: undefined,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', destination } } } : {}),
  };
  // Synchronous writes: logs are rare (request logging is debug only), and an asynchronous stream
  // flushes itself at exit with a loop that retries a broken pipe forever (sonic-boom 4.2's flushSync:
  // `vireo serve | head` never exited on SIGTERM). Synchronously, a broken pipe is an 'error', and
  // pino's destination then stops writing to it.
  return pretty ? pino(settings) : pino(settings, pino.destination({ dest: destination, sync: true }));
}

/** A logger that drops everything: for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
