/**
 * Greedy CTC decoding of PaddleOCR's recogniser output: per time step the most likely class;
 * repeats collapse, class 0 is the blank, class k is dictionary line k − 1, and the class after
 * the dictionary is a space. Confidence is the mean probability of the characters kept.
 */

export function loadDictionary(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return [...lines, ' '];
}

export function ctcDecode(probs: Float32Array, offset: number, steps: number, classes: number, dictionary: readonly string[]): { text: string; confidence: number } {
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const base = offset + t * classes;
    let best = 0;
    let bestP = probs[base]!;
    for (let c = 1; c < classes; c++) {
      const p = probs[base + c]!;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += dictionary[best - 1] ?? '';
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept > 0 ? sum / kept : 0 };
}
