/**
 * Option parsing shared by the `vireo` commands: every option of `serve` and `batch` is also an
 * environment variable (`--max-queue-size` → `VIREO_MAX_QUEUE_SIZE`), and values are checked here so a
 * bad one is commander's usage error, not a failure later.
 */
import { InvalidArgumentError, Option } from 'commander';

/** The environment variable of an option: VIREO_ and its name in upper case, dashes as underscores. */
export const env = (name: string) => `VIREO_${name.replace(/-/g, '_').toUpperCase()}`;

/** An option that an environment variable can set too (see `env`). */
export function option(flags: string, description: string, name: string): Option {
  return new Option(flags, description).env(env(name));
}

export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** Repeatable option; each value (an environment value too) may list several, separated by commas. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

/**
 * Repeatable option of paths or globs; each value (an environment value too) may list several, one per
 * line. Not commas, nor the path delimiter: a file name may hold a comma or a colon, and a glob's
 * alternatives are separated by commas (`*.{png,jpg}`); no path or glob holds a newline.
 */
export function collectLines(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(/\r?\n/).map((v) => v.trim()).filter(Boolean)];
}
