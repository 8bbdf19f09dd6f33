import type { Evidence, Excerpt, FilesystemFinding, FsState, Hint } from './types.js';

/** FsIdentity is what a finding repeats of the filesystem it judges, as discovery found it. */
export interface FsIdentity {
  target: string;
  device: string;
  sizeBytes?: number;
  fstype?: string;
  uuid?: string;
  label?: string;
}

/** FsVerdictPart is the judged part of a finding; newFsFinding starts it as unknown, with nothing said yet. */
export interface FsVerdictPart {
  state: FsState;
  summary: string;
  evidence: Evidence[];
  hints: Hint[];
  excerpts: Excerpt[];
}

/** newFsFinding is the one way a filesystem finding is made: the target's identity, then the verdict (unknown and empty unless given). */
export function newFsFinding(t: FsIdentity, verdict: Partial<FsVerdictPart> = {}): FilesystemFinding {
  return {
    target: t.target,
    device: t.device,
    ...(t.sizeBytes !== undefined ? { sizeBytes: t.sizeBytes } : {}),
    ...(t.fstype ? { fstype: t.fstype } : {}),
    ...(t.uuid ? { uuid: t.uuid } : {}),
    ...(t.label ? { label: t.label } : {}),
    state: verdict.state ?? 'unknown',
    summary: verdict.summary ?? '',
    evidence: verdict.evidence ?? [],
    hints: verdict.hints ?? [],
    excerpts: verdict.excerpts ?? [],
  };
}

/** MOUNTABLE are the filesystem states whose (replayed) scratch copy is mounted to look for databases. */
const MOUNTABLE = new Set<string>(['clean', 'frozen', 'replayed']);

/** LINTABLE are the states the pre-boot lint looks at (read-only, no replay): a corrupt root may still boot, and the boot test says. */
const LINTABLE = new Set<string>([...MOUNTABLE, 'corrupt']);

/** isMountable says whether a filesystem in this state (undefined: not checked) is mounted to look for databases. */
export function isMountable(state: FsState | undefined): boolean {
  return state !== undefined && MOUNTABLE.has(state);
}

/** isLintable says whether the pre-boot lint looks at a filesystem in this state (undefined: not checked). */
export function isLintable(state: FsState | undefined): boolean {
  return state !== undefined && LINTABLE.has(state);
}
