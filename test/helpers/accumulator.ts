/**
 * The accumulator of the sequence tests: OUTPUT is the running sum of a sequence's INPUTs, kept as
 * implicit state (ACCUMULATOR_IN → ACCUMULATOR_OUT), with START and READY controls; `direct` strategy
 * unless another is given. The model itself is tools/modelgen's accumulatorModel().
 */
import { accumulatorModel } from '../../tools/modelgen/models.js';
import type { ModelFiles } from './repository.js';

export function accumulatorConfig(extra: Record<string, unknown> = {}, strategy: Record<string, unknown> = { direct: {} }) {
  return {
    backend: 'onnx',
    max_batch_size: 4,
    input: [{ name: 'INPUT', data_type: 'TYPE_INT32', dims: [1] }],
    output: [{ name: 'OUTPUT', data_type: 'TYPE_INT32', dims: [1] }],
    sequence_batching: {
      control_input: [
        { name: 'START', control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [0, 1] }] },
        { name: 'READY', control: [{ kind: 'CONTROL_SEQUENCE_READY', int32_false_true: [0, 1] }] },
      ],
      state: [{ input_name: 'ACCUMULATOR_IN', output_name: 'ACCUMULATOR_OUT', data_type: 'TYPE_INT32', dims: [1] }],
      ...strategy,
      ...extra,
    },
  };
}

/** The accumulator as a repository entry (makeRepository). */
export const accumulator = (): ModelFiles => ({ config: accumulatorConfig(), versions: { 1: accumulatorModel() } });
