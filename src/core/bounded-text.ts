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

/**
 * An error message with every quoted string over QUOTED_TEXT_LIMIT clipped (messages quote client
 * strings: input names, model names, paths) and the whole cut to ERROR_MESSAGE_LIMIT, so the
 * answer to a request never grows with it. A scan, not a regular expression: V8's backtracking
 * stack overflowed on a quoted string of 8 million characters (a 500 instead of the 400 it described).
 */
export function boundedMessage(message: string): string {
  if (message.length <= QUOTED_TEXT_LIMIT) return message;
  let out = '';
  let at = 0;
  // Quotes pair up from the left: "…" and "…"; text between pairs is kept as it is.
  while (at < message.length && out.length <= ERROR_MESSAGE_LIMIT) {
    const open = message.indexOf('"', at);
    const close = open < 0 ? -1 : message.indexOf('"', open + 1);
    if (close < 0) {
      out += message.slice(at, at + ERROR_MESSAGE_LIMIT + 1);
      break;
    }
    out += `${message.slice(at, Math.min(open, at + ERROR_MESSAGE_LIMIT + 1))}"${clip(message.slice(open + 1, close))}"`;
    at = close + 1;
  }
  return clip(out, ERROR_MESSAGE_LIMIT);
}
