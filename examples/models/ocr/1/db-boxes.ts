/**
 * PaddleOCR's DB post-processing over the detector's probability map: threshold into a bitmap,
 * take each connected text region, score it by its mean probability, expand ("unclip") it by
 * area × ratio / perimeter as the DB paper does, and scale it back to the original image.
 * Regions are axis-aligned rectangles: enough for horizontal text; upside-down lines are fixed by
 * the orientation classifier afterwards.
 */

export interface TextBox { x0: number; y0: number; x1: number; y1: number; score: number }

export interface DbOptions {
  threshold: number;
  boxThreshold: number;
  unclipRatio: number;
  minSize: number;
  maxCandidates: number;
}

export function dbBoxes(prob: Float32Array, width: number, height: number, scaleX: number, scaleY: number, limits: { width: number; height: number }, options: DbOptions): TextBox[] {
  const labels = new Int32Array(width * height);
  const stack: number[] = [];
  const boxes: TextBox[] = [];
  let next = 0;
  for (let start = 0; start < labels.length && next < options.maxCandidates; start++) {
    if (labels[start] !== 0 || prob[start]! <= options.threshold) continue;
    next++;
    labels[start] = next;
    stack.push(start);
    let minX = width, minY = height, maxX = -1, maxY = -1;
    while (stack.length > 0) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      // 8-connectivity, as OpenCV's findContours sees a region.
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (labels[q] === 0 && prob[q]! > options.threshold) {
            labels[q] = next;
            stack.push(q);
          }
        }
      }
    }
    const w = maxX - minX + 1;
    const h = maxY - minY + 1;
    if (Math.min(w, h) < options.minSize) continue;
    let sum = 0;
    for (let y = minY; y <= maxY; y++) for (let x = minX; x <= maxX; x++) sum += prob[y * width + x]!;
    const score = sum / (w * h);
    if (score < options.boxThreshold) continue;
    const distance = (w * h * options.unclipRatio) / (2 * (w + h));
    if (Math.min(w, h) + 2 * distance < options.minSize + 2) continue;
    boxes.push({
      x0: clamp((minX - distance) * scaleX, limits.width),
      y0: clamp((minY - distance) * scaleY, limits.height),
      x1: clamp((maxX + 1 + distance) * scaleX, limits.width),
      y1: clamp((maxY + 1 + distance) * scaleY, limits.height),
      score,
    });
  }
  return boxes;
}

function clamp(v: number, max: number): number {
  return Math.round(Math.min(Math.max(v, 0), max));
}

/**
 * Reading order: boxes whose vertical centres are within half the mean box height form a line,
 * lines from top to bottom, boxes in a line from left to right.
 */
export function groupLines(boxes: readonly TextBox[]): TextBox[][] {
  if (boxes.length === 0) return [];
  const meanHeight = boxes.reduce((s, b) => s + (b.y1 - b.y0), 0) / boxes.length;
  const lines: { centre: number; boxes: TextBox[] }[] = [];
  for (const box of [...boxes].sort((a, b) => a.y0 - b.y0)) {
    const centre = (box.y0 + box.y1) / 2;
    const line = lines.find((l) => Math.abs(l.centre - centre) < meanHeight / 2);
    if (line) line.boxes.push(box);
    else lines.push({ centre, boxes: [box] });
  }
  for (const line of lines) line.boxes.sort((a, b) => a.x0 - b.x0);
  return lines.sort((a, b) => a.centre - b.centre).map((l) => l.boxes);
}
