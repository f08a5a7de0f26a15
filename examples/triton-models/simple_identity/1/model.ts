/**
 * Triton's simple_identity: each request's INPUT0 comes back as OUTPUT0, element by element, bytes
 * untouched (an ONNX string tensor could not carry the NUL bytes Triton's string examples send).
 */
import type { HandlerRequest, HandlerResponse } from '../../../../src/backends/handler/handler-api.js';

export function execute(requests: HandlerRequest[]): HandlerResponse[] {
  return requests.map((request) => {
    const input = request.inputs.INPUT0!;
    return { outputs: { OUTPUT0: { datatype: 'BYTES', shape: input.shape, data: input.data } } };
  });
}
