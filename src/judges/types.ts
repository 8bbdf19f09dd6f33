/** FsState is the closed set of filesystem verdicts (DESIGN.md section 4), plus what could not be decided. */
export type FsState = 'clean' | 'frozen' | 'replayed' | 'corrupt' | 'unreadable' | 'unknown' | 'not-checked';

/** Evidence is one observation that led to a verdict: a stable key, its value, and a sentence for humans. */
export interface Evidence {
  key: string;
  value: string | number | boolean | string[] | null;
  text: string;
}

/** Hint is advice attached to a finding: what it means and the remedy to apply. */
export interface Hint {
  text: string;
  remedy: string;
}

/** Excerpt is a short piece of tool output shown in the report as it was printed. */
export interface Excerpt {
  title: string;
  command?: string;
  exitCode?: number | null;
  text: string;
}

/** FilesystemFinding is the judged state of one filesystem (or of a partition that holds none we can check). */
export interface FilesystemFinding {
  /** Stable name within the snapshot: "disk" for a bare filesystem, "p1", "p2" for partitions. */
  target: string;
  /** The device it was found at during this run (ephemeral: a loop or NVMe name). */
  device: string;
  fstype?: string;
  uuid?: string;
  label?: string;
  sizeBytes?: number;
  state: FsState;
  summary: string;
  evidence: Evidence[];
  hints: Hint[];
  excerpts: Excerpt[];
}

/** FactValue helpers: checks print loosely typed JSON; judges read it defensively. */
export interface ToolRun {
  command?: string;
  exitCode: number;
  output: string;
}

/** asToolRun reads a fact_run value, or undefined when the fact is absent or malformed. */
export function asToolRun(v: unknown): ToolRun | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.exitCode !== 'number') return undefined;
  return { exitCode: o.exitCode, output: typeof o.output === 'string' ? o.output : '', ...(typeof o.command === 'string' ? { command: o.command } : {}) };
}

/** PhaseKind is what a phase spends its time on: the bucket (and colour) it is counted in, whatever its label says. */
export type PhaseKind = 'restore' | 'attach' | 'discover' | 'check' | 'lint' | 'boot' | 'keep' | 'teardown';
