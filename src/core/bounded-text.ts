/**
 * Client-supplied text quoted in an error message, cut to a bounded length: an error must never
 * grow with the request (a 10 MB input name would otherwise come back as a 10 MB error body).
 */
export const QUOTED_TEXT_LIMIT = 200;

export function clip(text: string, max = QUOTED_TEXT_LIMIT): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
