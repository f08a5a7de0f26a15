/** A request body as JSON: fastify parsed application/json already; any other content type arrives as a Buffer. */
import { VireoError } from '../../core/errors.js';
import { parseJson } from './exact-json.js';

export function jsonBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) return body;
  try {
    return parseJson(body.toString('utf8'));
  } catch (error) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}
