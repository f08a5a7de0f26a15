/**
 * Bounds of `vireo serve`'s shutdown, shared by the server (src/cli/serve-command.ts) and the Kubernetes
 * manifests that must give it time (src/packaging/k8s/vireo-container.ts): after SIGTERM the drain lasts at
 * most --drain-timeout; a forced exit then still waits for batches already executing in onnxruntime (ending
 * the process inside a session aborts it), at most this long, before exiting regardless.
 */
export const FORCED_EXIT_WAIT_SECONDS = 10;
