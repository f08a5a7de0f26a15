/**
 * The contract of a benchmark section. `npm run bench` (bench/run.ts) runs every module in
 * bench/sections/ that exports `section`, in file-name order; adding a benchmark is adding a file.
 */
export interface BenchContext {
  /** Shorter runs for a smoke check (`--quick`). */
  quick: boolean;
  /** Progress lines (stderr), so stdout stays the report. */
  log: (message: string) => void;
  /** Where results go (bench/results). */
  resultsDir: string;
  /** Load average and core count at start, for the record. */
  machine: MachineInfo;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  loadAverage: number[];
  node: string;
  date: string;
}

export interface SectionResult {
  /** Machine-readable results, written to bench/results/<section>.json. */
  data: unknown;
  /** A markdown report (tables, notes), written to bench/results/<section>.md and printed. */
  markdown: string;
  /** Optional charts: file name (in bench/results) → SVG text. */
  charts?: Record<string, string>;
}

export interface BenchSection {
  name: string;
  description: string;
  run(context: BenchContext): Promise<SectionResult>;
}
