/**
 * The streaming OCR example: a decoupled handler that yields one response per text line, as soon
 * as the line is read (the pipeline is ../../ocr/1/model.ts's). A client that goes away stops the
 * reading at the next line.
 */
import type { HandlerContext, HandlerRequest, HandlerResponse, StreamContext } from '../../../../src/backends/handler/handler-api.js';
import { initialize as initializeOcr, readLines } from '../../ocr/1/model.js';
import { badInput } from '../../ocr/1/image-ops.js';

export async function initialize(context: HandlerContext): Promise<void> {
  await initializeOcr(context);
}

export async function* stream(request: HandlerRequest, { signal }: StreamContext): AsyncGenerator<HandlerResponse> {
  const images = request.inputs.image!.data as Uint8Array[];
  if (images.length !== 1) throw badInput(`input "image" must hold exactly one image, got ${images.length}`);
  for await (const line of readLines(images[0]!)) {
    if (signal.aborted) return;
    yield { outputs: { line: { data: [JSON.stringify(line)] } } };
  }
}
