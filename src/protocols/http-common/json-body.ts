/** A request body as JSON: fastify parsed application/json already; any other content type arrives as a Buffer. */
import { DEFAULT_JSON_LIMITS, parseBoundedJson, type JsonLimits } from './json-limits.js';

export function jsonBody(body: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): unknown {
  if (!Buffer.isBuffer(body)) return body;
  return parseBoundedJson(body, limits);
}
