/**
 * The ONNX Runtime backend, running inside an instance worker. Owns one InferenceSession.
 * Execution providers do not fall back inside onnxruntime, so each requested provider is probed
 * on its own and dropped with a warning when it cannot load; CPU always remains.
 */
import ort from 'onnxruntime-node';
import { fromOrtType } from '../../core/datatypes.js';
import { VireoError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import type { InstanceImplementation, InstanceOptions, LogFn, ModelSignature, SignatureTensor } from '../backend.js';
import { fromOrtTensor, toOrtTensor } from './ort-tensors.js';

type SessionOptions = ort.InferenceSession.SessionOptions;

const GRAPH_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

function graphLevel(level: number | undefined): SessionOptions['graphOptimizationLevel'] {
  if (level === undefined) return 'all';
  // Triton's ORT backend: -1 basic, 0/unset all, 1 extended; Vireo also accepts 0..3 by name order.
  if (level === -1) return 'basic';
  return GRAPH_LEVELS[Math.max(0, Math.min(3, level))] ?? 'all';
}

function signatureOf(metadata: readonly ort.InferenceSession.ValueMetadata[]): SignatureTensor[] {
  return metadata.map((m) => {
    if (!m.isTensor) return { name: m.name, datatype: undefined, rawType: 'non-tensor', dims: [] };
    return {
      name: m.name,
      datatype: fromOrtType(m.type),
      rawType: m.type,
      dims: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    };
  });
}

async function createSession(options: InstanceOptions, log: LogFn): Promise<ort.InferenceSession> {
  const base: SessionOptions = {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: options.interOpThreads,
    graphOptimizationLevel: graphLevel(options.graphOptimizationLevel),
    executionMode: 'sequential',
    extra: {
      session: {
        intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' },
        inter_op: { allow_spinning: options.allowSpinning ? '1' : '0' },
        ...(options.spinBetweenRuns === false ? { force_spinning_stop: '1' } : {}),
      },
    },
  };
  const wanted = options.executionProviders.map((p) => p.toLowerCase()).filter((p) => p !== 'cpu');
  for (const provider of wanted) {
    try {
      const session = await ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: [provider, 'cpu'] });
      log('info', `execution provider ${provider} loaded`);
      return session;
    } catch (error) {
      log('warn', `execution provider ${provider} is not available here (${(error as Error).message.split('\n')[0]}); falling back`);
    }
  }
  if (wanted.length > 0) log('warn', 'running on the CPU execution provider');
  return ort.InferenceSession.create(options.modelPath, { ...base, executionProviders: ['cpu'] });
}

export async function createInstance(options: InstanceOptions, log: LogFn): Promise<InstanceImplementation> {
  let session: ort.InferenceSession;
  try {
    session = await createSession(options, log);
  } catch (error) {
    throw new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', `onnxruntime could not load ${options.modelPath}: ${(error as Error).message}`);
  }
  const signature: ModelSignature = {
    inputs: signatureOf(session.inputMetadata),
    outputs: signatureOf(session.outputMetadata),
  };
  const allOutputs = session.outputNames;

  return {
    signature,
    async execute(inputs: Tensor[], outputs: readonly string[]): Promise<Tensor[]> {
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of inputs) feeds[input.name] = toOrtTensor(input);
      const fetches = outputs.length > 0 ? [...outputs] : allOutputs;
      let results: ort.InferenceSession.ReturnType;
      try {
        results = await session.run(feeds, fetches);
      } catch (error) {
        throw new VireoError('VIREO_ERR_BACKEND_EXECUTE', `onnxruntime failed: ${(error as Error).message}`);
      }
      return fetches.map((name) => fromOrtTensor(name, results[name] as ort.Tensor));
    },
    async close() {
      await session.release();
    },
  };
}
