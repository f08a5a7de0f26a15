/** `vireo/client`: Open Inference Protocol clients for Vireo (and any OIP / Triton server). */
export { HttpInferenceClient, type HttpClientOptions } from './http-client.js';
export { makeInferResult, outputStrings } from './infer-result.js';
export {
  InferenceClientError,
  type DataType, type InferenceClient, type InferInput, type InferOptions, type InferOutput, type InferResult,
  type ModelMetadata, type NumericArray, type Parameters, type RequestedOutput, type ServerMetadata,
} from './types.js';
export { GrpcInferenceClient, GrpcInferStream, type GrpcClientOptions, type GrpcInferOptions } from './grpc-client.js';
