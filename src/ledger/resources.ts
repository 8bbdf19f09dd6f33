import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execFile } from '../util/exec.js';

/** ResourceRecord describes something a run created on this machine, in enough detail to remove it without the run. */
export type ResourceRecord =
  | { kind: 'scratch-dir'; path: string }
  | { kind: 'loop'; backingFile: string; device?: string }
  | { kind: 'mount'; mountpoint: string }
  | { kind: 'process'; pid: number; startTicks?: string; what: string }
  | { kind: 'aws-instance'; id: string; region: string }
  | { kind: 'aws-volume'; id: string; region: string }
  | { kind: 'aws-attachment'; volumeId: string; instanceId: string; region: string }
  /** An AMI registered from a snapshot for a boot test (deregistering it leaves the snapshot alone). */
  | { kind: 'aws-image'; id: string; region: string };

/** CloudRecord is a resource in a cloud account; releasing it needs that cloud's client. */
export type CloudRecord = Extract<ResourceRecord, { kind: `aws-${string}` }>;

let cloudReleaser: ((r: CloudRecord) => Promise<void>) | undefined;

/** setCloudReleaser installs the function that removes cloud resources (the AWS provider does, when it starts). */
export function setCloudReleaser(fn: ((r: CloudRecord) => Promise<void>) | undefined): void {
  cloudReleaser = fn;
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
      return `EC2 instance ${r.id} (${r.region})`;
    case 'aws-volume':
      return `EBS volume ${r.id} (${r.region})`;
    case 'aws-attachment':
      return `attachment of ${r.volumeId} to ${r.instanceId} (${r.region})`;
    case 'aws-image':
      return `AMI ${r.id} (${r.region})`;
  }
}

/** processStartTicks reads a process's start time from /proc so a recycled pid is never mistaken for ours. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses; fields after the last ')' are positional.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
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

async function unmount(mountpoint: string): Promise<void> {
  const r = await execFile('umount', [mountpoint], { timeoutMs: 60_000 });
  if (r.exitCode !== 0 && currentMounts().some((m) => m.mountpoint === mountpoint)) {
    // A lazy unmount detaches the tree now and frees it when the last user goes; better than leaving it.
    const lazy = await execFile('umount', ['-l', mountpoint], { timeoutMs: 60_000 });
    if (lazy.exitCode !== 0) throw new Error(`umount ${mountpoint}: ${(r.stderr || lazy.stderr).trim()}`);
  }
}

/** unmountMatching unmounts, deepest first, every mount whose mountpoint or source satisfies the predicate. */
export async function unmountMatching(pred: (m: MountEntry) => boolean): Promise<string[]> {
  const targets = currentMounts()
    .filter(pred)
    .map((m) => m.mountpoint)
    .sort((a, b) => b.length - a.length);
  for (const mp of targets) await unmount(mp);
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
export async function detachLoop(device: string): Promise<void> {
  await unmountMatching((m) => m.source === device || m.source.startsWith(`${device}p`));
  await execFile('partx', ['-d', device], { timeoutMs: 30_000 });
  const r = await execFile('losetup', ['-d', device], { timeoutMs: 30_000 });
  if (r.exitCode !== 0 && (await loopDevices()).some((l) => l.name === device)) {
    throw new Error(`losetup -d ${device}: ${r.stderr.trim()}`);
  }
}

/** processesUsing lists pids whose working directory, root, executable or open files are under dir. */
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

/** killProcessesUsing stops whatever still uses dir (a database server a killed check left behind): TERM, then KILL. */
export async function killProcessesUsing(dir: string): Promise<number[]> {
  const pids = processesUsing(dir);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 50 && pids.some((p) => isSameProcessAlive(p)); i++) await new Promise((r) => setTimeout(r, 100));
  for (const p of pids) {
    try {
      if (isSameProcessAlive(p)) process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return pids;
}

function within(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** releaseResource removes one recorded resource; it is idempotent so `gc` can retry it. */
export async function releaseResource(r: ResourceRecord): Promise<void> {
  switch (r.kind) {
    case 'aws-instance':
    case 'aws-volume':
    case 'aws-attachment':
    case 'aws-image':
      if (!cloudReleaser) throw new Error(`cannot remove ${describeResource(r)} without AWS access: run "snapdrill gc -c CONFIG" with the run's aws config`);
      await cloudReleaser(r);
      return;
    case 'process': {
      if (!isSameProcessAlive(r.pid, r.startTicks)) return;
      const signalGroup = (sig: NodeJS.Signals) => {
        try {
          process.kill(-r.pid, sig);
        } catch {
          try {
            process.kill(r.pid, sig);
          } catch {
            /* gone */
          }
        }
      };
      signalGroup('SIGTERM');
      for (let i = 0; i < 30 && isSameProcessAlive(r.pid, r.startTicks); i++) await new Promise((res) => setTimeout(res, 100));
      if (isSameProcessAlive(r.pid, r.startTicks)) signalGroup('SIGKILL');
      return;
    }
    case 'mount':
      await unmountMatching((m) => m.mountpoint === r.mountpoint);
      return;
    case 'loop': {
      const devices = new Set<string>();
      if (r.device) devices.add(r.device);
      for (const l of await loopDevices()) if (l.backFile === r.backingFile) devices.add(l.name);
      for (const d of devices) {
        const still = (await loopDevices()).find((l) => l.name === d);
        // Only detach a recorded device if it still belongs to our file: loop numbers are reused.
        if (still && still.backFile === r.backingFile) await detachLoop(d);
      }
      return;
    }
    case 'scratch-dir': {
      await killProcessesUsing(r.path);
      await unmountMatching((m) => within(r.path, m.mountpoint));
      for (const l of await loopDevices()) if (within(r.path, l.backFile)) await detachLoop(l.name);
      if (existsSync(r.path)) rmSync(r.path, { recursive: true, force: true });
      return;
    }
  }
}
