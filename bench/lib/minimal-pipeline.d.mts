/** Types of minimal-pipeline.mjs (plain JavaScript, shared with its worker threads). */
export interface MinimalPipelineJob {
  csvPath: string;
  outPath: string;
  modelPath: string;
  input: string;
  output: string;
  width: number;
  batch: number;
  sessions: number;
}
export function runMinimalPipeline(job: MinimalPipelineJob): Promise<{ rows: number; seconds: number; rowsPerSecond: number }>;
