/**
 * Client-supplied text quoted in an error message, cut to a bounded length: an error must never
 * grow with the request (a 10 MB input name would otherwise come back as a 10 MB error body).
 */
export const QUOTED_TEXT_LIMIT = 200;

export function clip(text: string, max = QUOTED_TEXT_LIMIT): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Longest error message any frontend sends, quoted client text already clipped. */
export const ERROR_MESSAGE_LIMIT = 4096;

const LONG_QUOTE = new RegExp(`"([^"]{${QUOTED_TEXT_LIMIT + 1},})"`, 'g');

/**
 * An error message with every quoted string over QUOTED_TEXT_LIMIT clipped (messages quote client
 * strings: input names, model names, paths) and the whole cut to ERROR_MESSAGE_LIMIT, so the
 * answer to a request never grows with it.
 */
export function boundedMessage(message: string): string {
  if (message.length <= QUOTED_TEXT_LIMIT) return message;
  return clip(message.replace(LONG_QUOTE, (_quote, inner: string) => `"${clip(inner)}"`), ERROR_MESSAGE_LIMIT);
}
