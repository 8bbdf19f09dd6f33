import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { execFile } from '../util/exec.js';
import { within } from '../util/paths.js';

/** ResourceRecord describes something a run created on this machine, in enough detail to remove it without the run. */
export type ResourceRecord =
  | { kind: 'scratch-dir'; path: string }
  | { kind: 'loop'; backingFile: string; device?: string }
  | { kind: 'mount'; mountpoint: string }
  /**
   * A process this run started. It is signalled only while pid still carries startTicks (a recycled pid never is);
   * `group` says it was spawned detached (setsid): it leads a session and process group of its own, which only its
   * descendants can be in, so they are signalled with it.
   */
  | { kind: 'process'; pid: number; startTicks?: string; what: string; group?: boolean }
  /** Cloud resources carry their region, and their account in a fleet run (gc -c FLEET reaches it through that account's role). */
  | { kind: 'aws-instance'; id: string; region: string; account?: string }
  | { kind: 'aws-volume'; id: string; region: string; account?: string }
  | { kind: 'aws-attachment'; volumeId: string; instanceId: string; region: string; account?: string }
  /** An AMI registered from a snapshot for a boot test (deregistering it leaves the snapshot alone). */
  | { kind: 'aws-image'; id: string; region: string; account?: string };

/** CloudRecord is a resource in a cloud account; releasing it needs that cloud's client. */
export type CloudRecord = Extract<ResourceRecord, { kind: `aws-${string}` }>;

/** ReleaseOptions say in what situation a resource is released. */
export interface ReleaseOptions {
  /**
   * The whole run is being settled (its final teardown, or gc after a kill): nothing of ours uses the resource any
   * more and helpers are terminated first, so a volume is detached by force instead of waiting for a busy detach.
   */
  settle?: boolean;
  /**
   * A busy mount is detached lazily (freed when its last user goes) instead of failing; the run's own teardown does
   * that (default). gc does not: a mount still busy after the recorded processes ended is held by something the run
   * did not record, so gc reports it, names who holds it, and leaves it for the operator rather than hide it.
   */
  lazyUnmount?: boolean;
}

/**
 * CloudReleaser removes one cloud resource; it is idempotent (gone already is success). The provider of the run
 * supplies it (Provider.releaseCloud): the ledger of a run, and gc with -c CONFIG, are handed it explicitly.
 */
export type CloudReleaser = (r: CloudRecord, opts: ReleaseOptions) => Promise<void>;

/** settleOrder sorts the records of a run for its final teardown: helper instances first (terminating one frees every volume attached to it), then everything newest first. */
export function settleOrder<T extends { id: number; resource: ResourceRecord }>(records: T[]): T[] {
  const rank = (r: T) => (r.resource?.kind === 'aws-instance' ? 0 : 1);
  return [...records].sort((a, b) => rank(a) - rank(b) || b.id - a.id);
}

/** describeResource renders a record in one line for logs and `gc` output. */
export function describeResource(r: ResourceRecord): string {
  switch (r.kind) {
    case 'scratch-dir':
      return `scratch directory ${r.path}`;
    case 'loop':
      return `loop device ${r.device ?? '(pending)'} on ${r.backingFile}`;
    case 'mount':
      return `mount at ${r.mountpoint}`;
    case 'process':
      return `process ${r.pid} (${r.what})`;
    case 'aws-instance':
      return `EC2 instance ${r.id} (${where(r)})`;
    case 'aws-volume':
      return `EBS volume ${r.id} (${where(r)})`;
    case 'aws-attachment':
      return `attachment of ${r.volumeId} to ${r.instanceId} (${where(r)})`;
    case 'aws-image':
      return `AMI ${r.id} (${where(r)})`;
  }
}

/** where is a cloud record's place as messages show it: its region, after its account in a fleet run. */
function where(r: CloudRecord): string {
  return r.account ? `${r.account} ${r.region}` : r.region;
}

/** ProcessStat is what /proc/PID/stat says about a process that identifies it and its group. */
interface ProcessStat {
  startTicks: string;
  pgrp: number;
  session: number;
}

/** processStat reads a process's start time and process group from /proc. */
function processStat(pid: number): ProcessStat | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses; fields after the last ')' are positional (state is field 3).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { startTicks: rest[19]!, pgrp: Number(rest[2]), session: Number(rest[3]) };
  } catch {
    return undefined;
  }
}

/** processStartTicks reads a process's start time from /proc so a recycled pid is never mistaken for ours. */
export function processStartTicks(pid: number): string | undefined {
  return processStat(pid)?.startTicks;
}

/** processRecord describes a process just spawned for the ledger; `group` when it was spawned detached (its own process group). */
export function processRecord(pid: number, what: string, opts: { group?: boolean } = {}): Extract<ResourceRecord, { kind: 'process' }> {
  const ticks = processStartTicks(pid);
  return { kind: 'process', pid, what, ...(ticks ? { startTicks: ticks } : {}), ...(opts.group ? { group: true } : {}) };
}

/** isSameProcessAlive is true when pid runs and, if startTicks is known, is the very process that was recorded. */
export function isSameProcessAlive(pid: number, startTicks?: string): boolean {
  const now = processStartTicks(pid);
  if (now === undefined) return false;
  return startTicks === undefined || now === startTicks;
}

interface MountEntry {
  mountpoint: string;
  source: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** currentMounts lists this machine's mounts from /proc/self/mountinfo. */
export function currentMounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left!.split(' ');
    const r = (right ?? '').split(' ');
    out.push({ mountpoint: unescapeMount(f[4]!), source: unescapeMount(r[1] ?? '') });
  }
  return out;
}

const isMounted = (mountpoint: string) => currentMounts().some((m) => m.mountpoint === mountpoint);

/**
 * unmount removes the mount at mountpoint. It is idempotent and safe against races: not mounted (any more) is
 * success, whoever unmounted it, and a path that is a symlink or goes through one is refused, so a path swapped
 * meanwhile can never name another mount.
 */
async function unmount(mountpoint: string, lazyIfBusy = true): Promise<void> {
  if (!isMounted(mountpoint)) return;
  let real: string;
  try {
    real = lstatSync(mountpoint).isSymbolicLink() ? '' : realpathSync(mountpoint);
  } catch {
    if (!isMounted(mountpoint)) return;
    throw new Error(`umount ${mountpoint}: the mount point cannot be examined`);
  }
  if (real !== mountpoint) throw new Error(`umount ${mountpoint}: refused, the path resolves elsewhere (${real || 'a symbolic link'})`);
  const r = await execFile('umount', [mountpoint], { timeoutMs: 60_000 });
  if (r.exitCode === 0 || !isMounted(mountpoint)) return;
  if (!lazyIfBusy) {
    const users = processesUsing(mountpoint).map((pid) => `${pid} (${commandOf(pid)})`);
    throw new Error(`${mountpoint} is busy${users.length ? `, used by ${users.join(', ')}` : ''}: not a process this run recorded, so gc leaves it; stop it, then run gc again`);
  }
  // A lazy unmount detaches the tree now and frees it when the last user goes; better than leaving it.
  const lazy = await execFile('umount', ['-l', mountpoint], { timeoutMs: 60_000 });
  if (lazy.exitCode !== 0 && isMounted(mountpoint)) throw new Error(`umount ${mountpoint}: ${(r.stderr || lazy.stderr).trim()}`);
}

/** commandOf names a process for a message (its command line, cut short, without control characters). */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').trim().slice(0, 80);
  } catch {
    return 'gone';
  }
}

/** unmountMatching unmounts, deepest first, every mount whose mountpoint or source satisfies the predicate (lazily when busy, unless lazyIfBusy is false). */
export async function unmountMatching(pred: (m: MountEntry) => boolean, lazyIfBusy = true): Promise<string[]> {
  const targets = currentMounts()
    .filter(pred)
    .map((m) => m.mountpoint)
    .sort((a, b) => b.length - a.length);
  for (const mp of targets) await unmount(mp, lazyIfBusy);
  return targets;
}

interface LoopEntry {
  name: string;
  backFile: string;
}

/** loopDevices lists attached loop devices and their backing files. */
export async function loopDevices(): Promise<LoopEntry[]> {
  const r = await execFile('losetup', ['-J', '-l', '-O', 'NAME,BACK-FILE'], { timeoutMs: 30_000 });
  if (r.exitCode !== 0 || !r.stdout.trim()) return [];
  const parsed = JSON.parse(r.stdout) as { loopdevices?: { name: string; 'back-file': string | null }[] };
  return (parsed.loopdevices ?? []).map((d) => ({
    name: d.name,
    backFile: (d['back-file'] ?? '').replace(/ \(deleted\)$/, ''),
  }));
}

/** detachLoop removes partitions and the loop device, unmounting anything mounted from it first. */
export async function detachLoop(device: string, lazyIfBusy = true): Promise<void> {
  await unmountMatching((m) => m.source === device || m.source.startsWith(`${device}p`), lazyIfBusy);
  await execFile('partx', ['-d', device], { timeoutMs: 30_000 });
  const backing = (await loopDevices()).find((l) => l.name === device)?.backFile;
  const r = await execFile('losetup', ['-d', device], { timeoutMs: 30_000 });
  // losetup -d of a busy device succeeds and only sets autoclear: the device stays until its last user goes.
  const attached = async () => (await loopDevices()).some((l) => l.name === device && l.backFile === backing);
  let still = await attached();
  // A probe (udev, blkid) holding the device for a moment only defers the detach: give it a second.
  for (let i = 0; still && !lazyIfBusy && r.exitCode === 0 && i < 10; i++) {
    await new Promise((res) => setTimeout(res, 100));
    still = await attached();
  }
  if (r.exitCode !== 0 && still) throw new Error(`losetup -d ${device}: ${r.stderr.trim()}`);
  if (still && !lazyIfBusy) {
    throw new Error(`${device} is still in use (a mount in another mount namespace, or an open file) by something this run did not record, so gc leaves it (it goes when its last user does); stop that, then run gc again`);
  }
}

/**
 * processesUsing lists pids whose working directory, root, executable or open files are under dir. It observes
 * (tests, diagnostics); it never chooses what to signal: the harness kills only the pids and groups it recorded.
 */
export function processesUsing(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const links: string[] = [];
    for (const l of ['cwd', 'root', 'exe']) {
      try {
        links.push(readlinkSync(`/proc/${pid}/${l}`));
      } catch {
        /* gone or not ours to read */
      }
    }
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          links.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
        } catch {
          /* closed meanwhile */
        }
      }
    } catch {
      /* gone */
    }
    if (links.some((l) => l.startsWith('/') && l !== '/' && within(dir, l.replace(/ \(deleted\)$/, '')))) out.push(pid);
  }
  return out;
}

/**
 * stopProcess ends a recorded process, TERM then KILL, only while its pid still carries the recorded start ticks.
 * When the record says it was spawned as a session and group leader (`group`) and it still leads them, its process
 * group and the other members of its session (its descendants: a session can be left, never joined) are ended too;
 * they are noted while the leader is verified, so those that outlive it are still ended by pid and start time.
 */
async function stopProcess(r: Extract<ResourceRecord, { kind: 'process' }>): Promise<void> {
  if (!Number.isSafeInteger(r.pid) || r.pid <= 1 || r.pid === process.pid || !r.startTicks) return; // nothing identifies it safely
  const leader = processStat(r.pid);
  if (!leader || leader.startTicks !== r.startTicks) return;
  const asGroup = r.group === true && leader.pgrp === r.pid;
  const members = asGroup ? sessionMembers(r.pid) : [];
  const alive = () => [{ pid: r.pid, startTicks: r.startTicks! }, ...members].filter((m) => isSameProcessAlive(m.pid, m.startTicks));
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (isSameProcessAlive(r.pid, r.startTicks)) process.kill(asGroup ? -r.pid : r.pid, sig);
    } catch {
      /* gone */
    }
    for (const m of members) {
      try {
        if (isSameProcessAlive(m.pid, m.startTicks)) process.kill(m.pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 30 && alive().length; i++) await new Promise((res) => setTimeout(res, 100));
  if (alive().length) signal('SIGKILL');
}

/** sessionMembers lists the processes (pid and start ticks) in the process group or session led by leader, other than the leader. */
function sessionMembers(leader: number): { pid: number; startTicks: string }[] {
  const out: { pid: number; startTicks: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === leader || pid <= 1 || pid === process.pid) continue;
    const st = processStat(pid);
    if (st && (st.pgrp === leader || st.session === leader)) out.push({ pid, startTicks: st.startTicks });
  }
  return out;
}

/**
 * releaseResource removes one recorded resource; it is idempotent so `gc` can retry it. A cloud resource needs
 * `cloud`, the releaser of the provider that created it; without one it is an error naming how to get one.
 */
export async function releaseResource(r: ResourceRecord, opts: ReleaseOptions = {}, cloud?: CloudReleaser): Promise<void> {
  const lazy = opts.lazyUnmount ?? true;
  switch (r.kind) {
    case 'aws-instance':
    case 'aws-volume':
    case 'aws-attachment':
    case 'aws-image':
      if (!cloud) throw new Error(`cannot remove ${describeResource(r)} without AWS access: run "snapdrill gc -c CONFIG" with the run's aws config`);
      await cloud(r, opts);
      return;
    case 'process':
      await stopProcess(r);
      return;
    case 'mount':
      await unmountMatching((m) => m.mountpoint === r.mountpoint, lazy);
      return;
    case 'loop': {
      const devices = new Set<string>();
      if (r.device) devices.add(r.device);
      for (const l of await loopDevices()) if (l.backFile === r.backingFile) devices.add(l.name);
      for (const d of devices) {
        const still = (await loopDevices()).find((l) => l.name === d);
        // Only detach a recorded device if it still belongs to our file: loop numbers are reused.
        if (still && still.backFile === r.backingFile) await detachLoop(d, lazy);
      }
      return;
    }
    case 'scratch-dir': {
      // Processes are not looked for by path: the run recorded the ones it started (and their sandboxes), released before this.
      await unmountMatching((m) => within(r.path, m.mountpoint), lazy);
      for (const l of await loopDevices()) if (within(r.path, l.backFile)) await detachLoop(l.name, lazy);
      const still = currentMounts().find((m) => within(r.path, m.mountpoint));
      // Never remove a tree something is still mounted in: the removal would go into that filesystem.
      if (still) throw new Error(`${still.mountpoint} is still mounted: ${r.path} is left in place`);
      if (existsSync(r.path)) rmSync(r.path, { recursive: true, force: true });
      return;
    }
  }
}
