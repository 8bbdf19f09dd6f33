import type { Consistency } from '../config/types.js';

/** SET_SKEW_MS is how far apart the start times of one multi-volume set may be before it cannot be a single point in time. */
export const SET_SKEW_MS = 60_000;

/** SetMember is what the set judge needs of one member: its id, start time, verdict and the filesystem UUIDs found on it. */
export interface SetMember {
  id: string;
  /** ISO start time of the snapshot, when the provider knows it. */
  startTime?: string;
  consistency: Consistency;
  filesystems: { target: string; uuid?: string }[];
}

/** SetVerdict is a multi-volume snapshot set judged as one unit (all its volumes attached at once). */
export interface SetVerdict {
  key: string;
  members: string[];
  /** The set as one unit: as consistent as its least consistent member, unknown when its members are not one point in time. */
  consistency: Consistency;
  summary: string;
  /** Milliseconds between the earliest and latest member start times. */
  skewMs?: number;
  notes: string[];
}

/** RANK orders consistencies from best to worst. */
const RANK: Consistency[] = ['application-consistent', 'crash-consistent', 'unknown', 'corrupt'];

/** duplicateUuidNotes names filesystem UUIDs carried by more than one member: such members cannot be mounted together (XFS refuses, systemd picks one at random). */
function duplicateUuidNotes(members: SetMember[]): string[] {
  const byUuid = new Map<string, string[]>();
  for (const m of members) for (const f of m.filesystems) if (f.uuid) byUuid.set(f.uuid, [...(byUuid.get(f.uuid) ?? []), `${m.id}:${f.target}`]);
  return [...byUuid].filter(([, where]) => where.length > 1).map(([uuid, where]) => `filesystem UUID ${uuid} appears on ${where.join(' and ')}`);
}

/** judgeSet judges a multi-volume set as one unit: as consistent as its least consistent member, and only if its members are one point in time. */
export function judgeSet(key: string, members: SetMember[]): SetVerdict {
  let consistency = members.reduce<Consistency>((worst, m) => (RANK.indexOf(m.consistency) > RANK.indexOf(worst) ? m.consistency : worst), 'application-consistent');
  const notes: string[] = [];
  const times = members.map((m) => (m.startTime ? Date.parse(m.startTime) : NaN)).filter((t) => !Number.isNaN(t));
  const skewMs = times.length > 1 ? Math.max(...times) - Math.min(...times) : 0;
  if (skewMs > SET_SKEW_MS) {
    notes.push(`members were taken ${Math.round(skewMs / 1000)} s apart, so the set is not one point in time`);
    if (consistency === 'application-consistent' || consistency === 'crash-consistent') consistency = 'unknown';
  }
  notes.push(...duplicateUuidNotes(members));
  const worst = members.filter((m) => m.consistency === consistency).map((m) => m.id);
  const summary =
    `set ${key} (${members.length} volumes) is ${consistency}` +
    (worst.length && worst.length < members.length ? `: because of ${worst.join(', ')}` : '') +
    (notes.length ? `; ${notes.join('; ')}` : '');
  return { key, members: members.map((m) => m.id), consistency, summary, ...(times.length > 1 ? { skewMs } : {}), notes };
}
