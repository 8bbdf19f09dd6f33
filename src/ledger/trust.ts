import { chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { within } from '../util/paths.js';
import type { ResourceRecord } from './resources.js';

/**
 * Trust rules of `gc` (DESIGN.md §8): it acts only on ledgers this user wrote. A ledger is trusted when its
 * state directory and runs/ directory are owned by the current euid and closed to group and others (0700), and
 * the file itself is a regular file (not a symlink) owned by the euid and not group/other-writable. A trusted
 * ledger's records are still checked one by one: local paths must lie under a scratch root, processes need a
 * pid above 1 and their recorded start ticks, cloud ids must look like cloud ids.
 */

/** euid is the user gc runs as (root in production). */
function euid(): number {
  return process.geteuid?.() ?? process.getuid?.() ?? 0;
}

/** StateDirCheck is what checking (or creating) a state directory found. */
export interface StateDirCheck {
  /** Why nothing in it may be trusted (owned by another user, not a directory, ...); undefined when it is ours. */
  refused?: string;
  /** What was fixed on the way (a directory of ours that was open to others, chmod 0700). */
  warnings: string[];
}

/**
 * secureDir makes sure dir is a directory owned by the euid with mode 0700: it creates it 0700 when missing,
 * tightens a looser one of ours with a warning (only warns when `fix` is false) if it holds nothing but ledgers, and
 * refuses one owned by someone else, a shared one (sticky, or holding other things: never chmod /tmp or /var/lib
 * named by mistake), or not a directory. A tightened directory is trusted: each file in it is checked on its own.
 */
export function secureDir(dir: string, opts: { create: boolean; fix?: boolean }): StateDirCheck {
  const warnings: string[] = [];
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return { refused: `${dir}: ${(e as Error).message}`, warnings };
    if (!opts.create) return { warnings };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700); // the umask may have taken bits away, never added: this only makes sure
    st = lstatSync(dir);
  }
  if (st.isSymbolicLink()) {
    // A symlinked state directory (e.g. /var/lib/snapdrill -> /srv/...) is judged by what it points to.
    try {
      st = statSync(realpathSync(dir));
    } catch (e) {
      return { refused: `${dir}: ${(e as Error).message}`, warnings };
    }
  }
  if (!st.isDirectory()) return { refused: `${dir} is not a directory`, warnings };
  if (st.uid !== euid()) return { refused: `${dir} is owned by uid ${st.uid}, not by uid ${euid()} that runs snapdrill: nothing in it is trusted`, warnings };
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    // Tighten only a directory that is snapdrill's alone: never a shared one named by mistake (/tmp, /var/lib).
    const foreign = (st.mode & 0o1000) !== 0 ? ['(sticky: a shared directory)'] : readdirSync(dir).filter((n) => n !== 'runs' && !n.endsWith('.jsonl'));
    if (foreign.length) return { refused: `${dir} is mode ${mode} and holds more than snapdrill's ledgers (${foreign.slice(0, 3).join(', ')}): use a state directory of its own`, warnings };
    if (opts.fix === false) warnings.push(`${dir} is mode ${mode}; gc sets it to 0700 (only snapdrill's user may write ledgers)`);
    else {
      chmodSync(dir, 0o700);
      warnings.push(`${dir} was mode ${mode}; set to 0700 (only snapdrill's user may write ledgers)`);
    }
  }
  return { warnings };
}

/** TrustedFile is a ledger's text, read from a file that passed the ownership checks, or why it was refused. */
export type TrustedFile = { text: string } | { refused: string };

/** readTrustedFile reads file without following a symlink, and only if it is a regular file of the euid that group and others cannot write. */
export function readTrustedFile(file: string): TrustedFile {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { refused: code === 'ELOOP' ? `${file} is a symbolic link` : `${file}: ${(e as Error).message}` };
  }
  try {
    // fstat of the open file: what is checked is what is read, even if the name is swapped meanwhile.
    const st = fstatSync(fd);
    if (!st.isFile()) return { refused: `${file} is not a regular file` };
    if (st.uid !== euid()) return { refused: `${file} is owned by uid ${st.uid}, not by uid ${euid()} that runs snapdrill` };
    if ((st.mode & 0o022) !== 0) return { refused: `${file} is writable by ${st.mode & 0o020 ? 'its group' : 'other users'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})` };
    return { text: readFileSync(fd, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

/** strictlyUnder is true when p lies below dir, not at dir itself. */
function strictlyUnder(dir: string, p: string): boolean {
  return p !== dir && within(dir, p);
}

/** realOrSelf resolves symlinks in p as far as p exists (a removed leaf keeps its name). */
function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(realOrSelf(parent), path.basename(p));
  }
}

/** ScratchRoot is a directory gc may remove things below. */
export interface ScratchRoot {
  /** As given (absolute). */
  path: string;
  /** With symlinks resolved. */
  real: string;
}

/**
 * scratchRoots keeps the roots gc may act below: absolute, not `/`, and (when they exist) not writable by group
 * or others unless sticky (like /var/tmp, where only the owner of an entry may rename it), so nobody else can slip a
 * symlink into a recorded path. Refused roots are returned with the reason.
 */
export function scratchRoots(candidates: string[]): { roots: ScratchRoot[]; refused: string[] } {
  const roots: ScratchRoot[] = [];
  const refused: string[] = [];
  for (const c of new Set(candidates.filter(Boolean))) {
    if (!path.isAbsolute(c)) {
      refused.push(`scratch root ${c} is not an absolute path`);
      continue;
    }
    const p = path.resolve(c);
    const real = realOrSelf(p);
    if (real === '/' || p === '/') {
      refused.push(`scratch root ${c} is the root directory`);
      continue;
    }
    let st;
    try {
      st = statSync(real);
    } catch {
      roots.push({ path: p, real }); // nothing there: nothing to remove under it either
      continue;
    }
    if (!st.isDirectory()) refused.push(`scratch root ${c} is not a directory`);
    else if (st.uid !== euid() && st.uid !== 0) refused.push(`scratch root ${c} is owned by uid ${st.uid}`);
    else if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) refused.push(`scratch root ${c} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`);
    else roots.push({ path: p, real });
  }
  return { roots, refused };
}

/** pathRefusal says why a recorded local path may not be touched, or undefined when it lies below a scratch root. */
function pathRefusal(what: string, p: unknown, roots: ScratchRoot[]): string | undefined {
  if (typeof p !== 'string' || !path.isAbsolute(p) || p.includes('\0')) return `${what} ${JSON.stringify(p)} is not an absolute path`;
  if (path.resolve(p) !== p) return `${what} ${p} is not a normalized path`;
  if (!roots.length) return `${what} ${p}: no scratch root to check it against (pass --scratch-dir)`;
  const real = realOrSelf(p);
  const root = roots.find((r) => strictlyUnder(r.path, p));
  if (!root) return `${what} ${p} is outside the scratch root${roots.length > 1 ? 's' : ''} ${roots.map((r) => r.path).join(', ')} (pass --scratch-dir if the run used another one)`;
  if (!strictlyUnder(root.real, real)) return `${what} ${p} resolves to ${real}, outside the scratch root ${root.path}`;
  return undefined;
}

const CLOUD_ID: Record<string, RegExp> = { 'aws-instance': /^i-[0-9a-f]{8,32}$/, 'aws-volume': /^vol-[0-9a-f]{8,32}$/, 'aws-image': /^ami-[0-9a-f]{8,32}$/ };
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * recordRefusal says why gc must not act on one record of a trusted ledger, or undefined when it may: local paths
 * below a scratch root, processes with a pid above 1 (never gc itself) and their start ticks, well-formed cloud ids.
 */
export function recordRefusal(r: ResourceRecord, roots: ScratchRoot[]): string | undefined {
  if (!r || typeof r !== 'object') return 'not a resource record';
  switch (r.kind) {
    case 'scratch-dir':
      return pathRefusal('scratch directory', r.path, roots);
    case 'mount':
      return pathRefusal('mount point', r.mountpoint, roots);
    case 'loop':
      if (r.device !== undefined && (typeof r.device !== 'string' || !/^\/dev\/loop\d+$/.test(r.device))) return `loop device ${JSON.stringify(r.device)} is not a /dev/loopN`;
      return pathRefusal('loop backing file', r.backingFile, roots);
    case 'process':
      if (!Number.isSafeInteger(r.pid) || r.pid <= 1) return `process record with pid ${JSON.stringify(r.pid)}: only pids above 1 are signalled`;
      if (r.pid === process.pid) return `process record names gc itself (pid ${r.pid})`;
      if (typeof r.startTicks !== 'string' || !/^\d+$/.test(r.startTicks)) return `process ${r.pid} was recorded without its start time, so a recycled pid cannot be told apart`;
      return undefined;
    case 'aws-instance':
    case 'aws-volume':
    case 'aws-image':
      if (typeof r.id !== 'string' || !CLOUD_ID[r.kind]!.test(r.id)) return `${r.kind} id ${JSON.stringify(r.id)} is malformed`;
      return typeof r.region === 'string' && REGION.test(r.region) ? undefined : `region ${JSON.stringify(r.region)} is malformed`;
    case 'aws-attachment':
      if (typeof r.volumeId !== 'string' || !CLOUD_ID['aws-volume']!.test(r.volumeId) || typeof r.instanceId !== 'string' || !CLOUD_ID['aws-instance']!.test(r.instanceId)) return 'attachment record with malformed ids';
      return typeof r.region === 'string' && REGION.test(r.region) ? undefined : `region ${JSON.stringify(r.region)} is malformed`;
    default:
      return `unknown resource kind ${JSON.stringify((r as { kind?: unknown }).kind)}`;
  }
}
