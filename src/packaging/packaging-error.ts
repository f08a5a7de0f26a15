/**
 * A refused packaging request (bad option combination, missing model, failed build step). Packaging runs
 * in the CLI, never behind a protocol, so it has its own error type rather than a VireoError code: the CLI
 * prints the message and exits non-zero.
 */
export class PackagingError extends Error {
  override readonly name = 'PackagingError';
}
