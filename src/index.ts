/** Vireo's programmatic API: start a server in-process, and the core types it speaks. */
export { startServer, type RunningServer, type ServeOptions } from './app/start-server.js';
export { createLogger, silentLogger, type Logger } from './logging/logger.js';
export { VireoError, ERROR_CODES, type ErrorCode, type ErrorStatus } from './core/errors.js';
export type { DataType } from './core/datatypes.js';
export type { Tensor, TensorData } from './core/tensor.js';
export type { InferRequest, InferResponse, ModelMetadata, ServerMetadata, ModelIndexEntry } from './core/inference.js';
export type { InferenceServer } from './server/inference-server.js';
