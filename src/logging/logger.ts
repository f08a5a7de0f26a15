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
  return pretty || destination === 1 ? pino(settings) : pino(settings, pino.destination(destination));
}

/** A logger that drops everything: for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
