import type { LintFinding } from '../../boot/types.js';
import type { BootCfgFact } from './facts.js';

/** CmdlineLine is one kernel command line in a boot-loader file: a grub.cfg linux line, a BLS options line, grubenv kernelopts, or /etc/default/grub. */
export interface CmdlineLine {
  file: string;
  n: number;
  text: string;
  /** In /etc/default/grub: not booted as is, written into grub.cfg by the next update-grub. */
  isDefault: boolean;
  /** The last root= (the one the kernel takes), without variables. */
  root?: string;
  /** The last init=. */
  init?: string;
}

/** GrubSearch is a grub.cfg line that makes GRUB look for a filesystem by UUID. */
export interface GrubSearch {
  file: string;
  n: number;
  text: string;
  uuid: string;
}

const isGrubCfg = (file: string) => /\/(grub\.cfg|menu\.lst|grub\.conf)$/.test(file);

function isCmdline(file: string, t: string): boolean {
  if (isGrubCfg(file)) return /^(linux|linux16|linuxefi|kernel)\s/.test(t);
  if (file.startsWith('/boot/loader/entries/')) return /^options\s/.test(t);
  if (/grubenv$/.test(file)) return t.startsWith('kernelopts=');
  return file.startsWith('/etc/default/grub') && /^GRUB_CMDLINE_LINUX(_DEFAULT)?=/.test(t);
}

/** cmdlines lists every kernel command line of the boot-loader configuration, in file order. */
export function cmdlines(cfgs: BootCfgFact[]): CmdlineLine[] {
  return cfgs.flatMap((cfg) =>
    cfg.lines.flatMap((l) => {
      const t = l.text.trim();
      if (!isCmdline(cfg.file, t)) return [];
      const root = [...t.matchAll(/(?:^|[\s"'=])root=([^\s"']+)/g)].at(-1)?.[1];
      const init = [...t.matchAll(/(?:^|[\s"'])init=([^\s"']+)/g)].at(-1)?.[1];
      return [{ file: cfg.file, n: l.n, text: t, isDefault: cfg.file.startsWith('/etc/default/grub'), ...(root && !root.includes('$') ? { root } : {}), ...(init ? { init } : {}) }];
    }),
  );
}

/** grubSearches lists grub.cfg's "search --fs-uuid ... UUID" and "search.fs_uuid UUID" lines. */
export function grubSearches(cfgs: BootCfgFact[]): GrubSearch[] {
  return cfgs.filter((c) => isGrubCfg(c.file)).flatMap((cfg) =>
    cfg.lines.flatMap((l) => {
      const t = l.text.trim();
      const words = t.split(/\s+/);
      let uuid: string | undefined;
      if (words[0] === 'search.fs_uuid') uuid = words[1];
      else if (words[0] === 'search' && words.some((w) => w === '--fs-uuid' || w === '-u')) uuid = words.slice(1).filter((w) => !w.startsWith('-')).at(-1);
      return uuid && !uuid.includes('$') ? [{ file: cfg.file, n: l.n, text: t, uuid }] : [];
    }),
  );
}

/** mergeRepeats keeps one finding per key: a problem repeated on several lines (every menu entry) adds its line to the first one's evidence, up to 5 lines. */
export function mergeRepeats<T>(items: T[], key: (x: T) => string, evidence: (x: T) => string, build: (x: T) => LintFinding): LintFinding[] {
  const seen = new Map<string, LintFinding>();
  for (const x of items) {
    const prev = seen.get(key(x));
    // The last evidence line is the restored set: a repeated line goes before it.
    if (prev && prev.evidence.length < 6) prev.evidence.splice(prev.evidence.length - 1, 0, evidence(x));
    if (!prev) seen.set(key(x), build(x));
  }
  return [...seen.values()];
}
