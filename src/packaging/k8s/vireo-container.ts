/**
 * The Vireo container as both KServe and plain Kubernetes run it: arguments, ports, probes, resources,
 * security context and the shutdown sequence.
 *
 * Shutdown, so that scale-in and rolling updates lose no request: when a pod is deleted Kubernetes starts
 * removing it from the Service endpoints and runs preStop at the same time. preStop waits `preStopDelay`
 * seconds (the endpoint removal reaches every proxy meanwhile, and traffic keeps being served); then SIGTERM
 * makes Vireo report not-ready, refuse new requests with 503, finish every admitted request and exit, forced
 * after `--drain-timeout`; a forced exit still lets batches already running in onnxruntime finish, for at most
 * FORCED_EXIT_WAIT_SECONDS (docs/lifecycle.md). terminationGracePeriodSeconds covers all three plus a margin,
 * so the kubelet's SIGKILL never cuts a drain or a running batch short. The wait runs in node because a Vireo image may have no shell or sleep.
 *
 * Under Knative none of this may be written: Knative's webhook refuses `lifecycle` on a container and
 * `terminationGracePeriodSeconds` on the pod (knative/serving pkg/apis/serving/fieldmask.go, ContainerMask and
 * PodSpecMask). Knative does the same job itself: it gives the user container a preStop hook that asks the
 * queue-proxy to drain (no new requests reach the pod, in-flight ones finish), and sets the grace period to the
 * revision's timeoutSeconds (knative/serving pkg/reconciler/revision/resources/deploy.go); SIGTERM then turns
 * Vireo's readiness false and Vireo drains what is left. See knativeTimeoutSeconds.
 */
import { FORCED_EXIT_WAIT_SECONDS } from '../../core/shutdown.js';
import { APP_DIR, MODELS_DIR } from '../containerfile.js';
import { KNATIVE_DEFAULT_TIMEOUT_SECONDS, type K8sOptions } from './k8s-options.js';

export const MOUNT_DIR = '/mnt/models';
const GRACE_MARGIN_SECONDS = 5;

export interface Ports { http: number; grpc: number; metrics: number }
/** Vireo's defaults; KServe's runtimes use 8080 (HTTP) and 9000 (gRPC) by convention, see kserve-manifests.ts. */
export const VIREO_PORTS: Ports = { http: 8000, grpc: 8001, metrics: 8002 };

export function terminationGracePeriod(options: K8sOptions): number {
  return Math.ceil(options.preStopDelay + options.drainTimeout + FORCED_EXIT_WAIT_SECONDS + GRACE_MARGIN_SECONDS);
}

/**
 * Knative mode: the revision timeout (also the pod's grace period) must cover Vireo's drain after SIGTERM;
 * undefined when Knative's default of 300 s already does, so the cluster's own default stays in charge.
 */
export function knativeTimeoutSeconds(options: K8sOptions): number | undefined {
  const needed = Math.ceil(options.drainTimeout + FORCED_EXIT_WAIT_SECONDS + GRACE_MARGIN_SECONDS);
  return needed > KNATIVE_DEFAULT_TIMEOUT_SECONDS ? needed : undefined;
}

/**
 * With an oci:// modelcar KServe starts the model image beside Vireo, and /mnt/models becomes a link into it
 * only once that sidecar runs (KServe sets MODEL_INIT_MODE=async for this race). Vireo exits when its
 * repository is missing, so the container waits for the link first, in node (no shell in the image).
 */
export const WAIT_FOR_MODELS = `data:text/javascript,import{existsSync}from"node:fs";const end=Date.now()+300000;while(!existsSync("${'/mnt/models'}")&&Date.now()<end)await new Promise((r)=>setTimeout(r,250));`;

/** Where the models are inside the container: downloaded or mounted at /mnt/models, else baked into the image. */
export function repositoryPath(options: K8sOptions): string {
  return options.storage ? MOUNT_DIR : MODELS_DIR;
}

/** `serve` arguments; `grpc: false` turns Vireo's gRPC server off where nothing could reach it. */
export function vireoArgs(options: K8sOptions, ports: Ports, grpc = true): string[] {
  return [
    `--model-repository=${repositoryPath(options)}`,
    `--http-port=${ports.http}`,
    `--grpc-port=${grpc ? ports.grpc : -1}`,
    `--metrics-port=${ports.metrics}`,
    `--drain-timeout=${options.drainTimeout}`,
    '--log-format=json',
  ];
}

export function resources(options: K8sOptions) {
  const { cpu, memory, cpuLimit, memoryLimit } = options.resources;
  const limits: Record<string, string> = {};
  if (cpuLimit) limits.cpu = cpuLimit;
  limits.memory = memoryLimit ?? memory;
  return { requests: { cpu, memory }, limits };
}

const probe = (path: string, port: number | string, periodSeconds: number, failureThreshold: number) => ({
  httpGet: { path, port },
  periodSeconds,
  timeoutSeconds: 3,
  failureThreshold,
});

export function probes(port: number | string) {
  return {
    // Models load before the server is ready; allow up to 10 minutes for a large repository.
    startupProbe: probe('/v2/health/live', port, 5, 120),
    livenessProbe: probe('/v2/health/live', port, 10, 3),
    readinessProbe: probe('/v2/health/ready', port, 5, 2),
  };
}

/**
 * The same probes over gRPC (grpc.health.v1, service "": server liveness/readiness), for a container whose
 * only routed port is gRPC. Liveness and startup ask the same question as readiness there: the health
 * service has no separate liveness answer, and a draining server must stay alive until it exits.
 */
export function grpcProbes(port: number) {
  const grpcProbe = (periodSeconds: number, failureThreshold: number) => ({ grpc: { port }, periodSeconds, timeoutSeconds: 3, failureThreshold });
  return {
    startupProbe: grpcProbe(5, 120),
    readinessProbe: grpcProbe(5, 2),
  };
}

export function lifecycle(options: K8sOptions) {
  return {
    preStop: { exec: { command: ['node', '-e', `setTimeout(() => {}, ${Math.round(options.preStopDelay * 1000)})`] } },
  };
}

export const securityContext = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** readOnlyRootFilesystem: node and onnxruntime still want a writable /tmp. */
export const tmpVolume = { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } };
export const tmpMount = { name: 'tmp', mountPath: '/tmp' };

export const WORKING_DIR = APP_DIR;
