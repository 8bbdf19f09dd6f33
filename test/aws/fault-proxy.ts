/**
 * Fault-injecting HTTP proxy in front of moto (DESIGN.md §6): forwards every request to the upstream
 * endpoint unless a rule matches, and then delays it, answers it itself (throttling, EC2/SSM errors,
 * scripted SSM answers) or edits moto's answer. Records every call so tests can count API calls.
 *
 * Operation names: EC2 (AWS query protocol) sends `Action=DescribeVolumes` in a form-encoded POST body;
 * SSM (JSON protocol) sends `X-Amz-Target: AmazonSSM.SendCommand`; EBS direct (REST-JSON) is recognised
 * by method and path (StartSnapshot, PutSnapshotBlock, ...). Anything else is named `METHOD /path`.
 *
 * Rule evaluation: rules are tried in the order they were added. Every rule whose action (and optional
 * `when`) matches and whose probability draw succeeds fires: its `times` is decremented (the rule is
 * removed when it reaches 0), its `delayMs` is added, its `transform` is queued. The first firing rule with
 * `respond` ends the evaluation: the proxy answers itself and never contacts upstream. Probability draws
 * come from a seeded PRNG (option `seed`), so a run with the same requests in the same order is identical.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Protocol = 'query' | 'json' | 'rest' | 'unknown';

/** What a rule sees of a request. */
export interface ProxiedRequest {
  /** Operation name, e.g. `DescribeVolumes`, `SendCommand`, `PutSnapshotBlock`. */
  action: string;
  protocol: Protocol;
  method: string;
  /** Path and query string as received. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Form fields of a query-protocol body (EC2), e.g. `params.get('VolumeId.1')`. */
  params: URLSearchParams;
  /** Parsed JSON body for the JSON protocol (SSM), else undefined. */
  json: unknown;
}

export interface CannedResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface Rule {
  /** Operation name, a RegExp tested against it, or '*' for every request. */
  action: string | RegExp | '*';
  /** Extra predicate on the request (e.g. only one VolumeId). */
  when?: (req: ProxiedRequest) => boolean;
  /** Fire this many times, then the rule expires. Default: forever. */
  times?: number;
  /** Fire with this probability (seeded PRNG, deterministic). Default 1. */
  probability?: number;
  /** Wait this long before answering (before forwarding, or before the canned answer). */
  delayMs?: number;
  /** Answer this instead of forwarding. A function gets the request (e.g. to pick EC2 or SSM error format). */
  respond?: CannedResponse | ((req: ProxiedRequest) => CannedResponse | Promise<CannedResponse>);
  /** Edit moto's answer body (status and headers are kept; content-length is recomputed). */
  transform?: (upstreamBody: string, req: ProxiedRequest) => string;
}

/** Options every ready-made rule helper accepts. */
export type RuleOptions = Pick<Rule, 'times' | 'probability' | 'delayMs' | 'when'>;

export interface ProxyCall {
  action: string;
  /** Date.now() when the request arrived (before any delay). */
  at: number;
  /** 'forwarded' (moto answered, maybe transformed) or 'injected' (a rule answered). */
  outcome?: 'forwarded' | 'injected';
  /** HTTP status sent back to the client. */
  status?: number;
  /** Form fields of an EC2 (query-protocol) request. */
  params?: URLSearchParams;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request seen, in arrival order. */
  readonly calls: ProxyCall[];
  /** Rules still active (expired ones are removed). */
  readonly rules: readonly Rule[];
  /** Adds rules at the end of the list; returns the proxy for chaining. */
  addRule(...rules: Rule[]): FaultProxy;
  clearRules(): void;
  /** Number of calls seen for an action ('*' or omitted: all). */
  count(action?: string | RegExp): number;
  /** Forgets recorded calls (rules are kept). */
  clearCalls(): void;
  /** clearRules + clearCalls (call between tests). */
  reset(): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** PRNG seed for `probability` rules. Default 1. */
  seed?: number;
}

/** mulberry32: small, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// EBS direct APIs (REST-JSON), by method and path.
const EBS_ROUTES: Array<[string, RegExp, string]> = [
  ['POST', /^\/snapshots\/completion\/[^/]+$/, 'CompleteSnapshot'],
  ['POST', /^\/snapshots$/, 'StartSnapshot'],
  ['GET', /^\/snapshots\/[^/]+\/changedblocks$/, 'ListChangedBlocks'],
  ['GET', /^\/snapshots\/[^/]+\/blocks$/, 'ListSnapshotBlocks'],
  ['GET', /^\/snapshots\/[^/]+\/blocks\/[^/]+$/, 'GetSnapshotBlock'],
  ['PUT', /^\/snapshots\/[^/]+\/blocks\/[^/]+$/, 'PutSnapshotBlock'],
];

/** operationOf names the AWS operation of a request (see the module comment). */
export function operationOf(
  method: string,
  url: string,
  headers: http.IncomingHttpHeaders,
  body: string,
): { action: string; protocol: Protocol; params: URLSearchParams; json: unknown } {
  const target = headers['x-amz-target'];
  const targetStr = Array.isArray(target) ? target[0] : target;
  if (targetStr) {
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : {};
    } catch {
      json = undefined;
    }
    return { action: targetStr.slice(targetStr.lastIndexOf('.') + 1), protocol: 'json', params: new URLSearchParams(), json };
  }
  const u = new URL(url, 'http://proxy.invalid');
  const ctype = String(headers['content-type'] ?? '');
  const params = ctype.includes('application/x-www-form-urlencoded') || /(^|&)Action=/.test(body)
    ? new URLSearchParams(body)
    : new URLSearchParams();
  const action = params.get('Action') ?? u.searchParams.get('Action');
  if (action) return { action, protocol: 'query', params, json: undefined };
  for (const [m, re, name] of EBS_ROUTES) {
    if (m === method && re.test(u.pathname)) return { action: name, protocol: 'rest', params, json: undefined };
  }
  return { action: `${method} ${u.pathname}`, protocol: 'unknown', params, json: undefined };
}

function actionMatches(pattern: Rule['action'] | undefined, action: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  if (typeof pattern === 'string') return pattern === action;
  pattern.lastIndex = 0;
  return pattern.test(action);
}

// Hop-by-hop headers (and the ones we recompute) are never copied across.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length']);

function copyHeaders(h: http.IncomingHttpHeaders | http.IncomingMessage['headers']): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** startFaultProxy starts the proxy on a free 127.0.0.1 port in front of `upstream` (e.g. moto's endpoint). */
export async function startFaultProxy(upstream: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const up = new URL(upstream);
  if (up.protocol !== 'http:') throw new Error(`fault proxy: only http upstreams are supported, got ${upstream}`);
  const random = seededRandom(options.seed ?? 1);
  const rules: Rule[] = [];
  const calls: ProxyCall[] = [];
  const agent = new http.Agent({ keepAlive: true });

  const forward = (req: http.IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const headers = copyHeaders(req.headers);
      headers.host = up.host;
      headers['content-length'] = String(body.length);
      const out = http.request(
        { protocol: up.protocol, hostname: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent },
        (res) => {
          readBody(res).then((b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }), reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const raw = await readBody(req);
    const body = raw.toString('utf8');
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const op = operationOf(method, url, req.headers, body);
    const call: ProxyCall = { action: op.action, at: Date.now(), ...(op.protocol === 'query' ? { params: op.params } : {}) };
    calls.push(call);
    const preq: ProxiedRequest = { ...op, method, url, headers: req.headers, body };

    let delay = 0;
    let canned: CannedResponse | undefined;
    const transforms: NonNullable<Rule['transform']>[] = [];
    for (const rule of [...rules]) {
      if (!actionMatches(rule.action, op.action)) continue;
      if (rule.when && !rule.when(preq)) continue;
      if (rule.probability !== undefined && rule.probability < 1 && !(random() < rule.probability)) continue;
      if (rule.times !== undefined) {
        rule.times -= 1;
        if (rule.times <= 0) rules.splice(rules.indexOf(rule), 1);
      }
      delay += rule.delayMs ?? 0;
      if (rule.transform) transforms.push(rule.transform);
      if (rule.respond) {
        canned = typeof rule.respond === 'function' ? await rule.respond(preq) : rule.respond;
        break;
      }
    }
    if (delay > 0) await sleep(delay);

    if (canned) {
      const b = Buffer.from(canned.body, 'utf8');
      call.outcome = 'injected';
      call.status = canned.status;
      res.writeHead(canned.status, { ...canned.headers, 'content-length': String(b.length) });
      res.end(b);
      return;
    }
    const answer = await forward(req, raw);
    let outBody = answer.body;
    if (transforms.length > 0) {
      let text = outBody.toString('utf8');
      for (const t of transforms) text = t(text, preq);
      outBody = Buffer.from(text, 'utf8');
    }
    call.outcome = 'forwarded';
    call.status = answer.status;
    res.writeHead(answer.status, { ...copyHeaders(answer.headers), 'content-length': String(outBody.length) });
    res.end(outBody);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A proxy bug or an unreachable upstream must be loud: answer 502 with the reason.
      const msg = `fault proxy error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(msg);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let stopped: Promise<void> | undefined;
  const proxy: FaultProxy = {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    rules,
    addRule(...more: Rule[]) {
      for (const r of more) {
        if (r.times !== undefined && !(r.times > 0)) throw new Error(`fault proxy rule: times must be > 0 (got ${r.times})`);
        rules.push({ ...r });
      }
      return proxy;
    },
    clearRules() {
      rules.splice(0);
    },
    count(action?: string | RegExp) {
      return calls.filter((c) => actionMatches(action, c.action)).length;
    },
    clearCalls() {
      calls.splice(0);
    },
    reset() {
      rules.splice(0);
      calls.splice(0);
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return stopped;
    },
  };
  return proxy;
}

// ---------------------------------------------------------------------------------------------
// Ready-made rules.

let requestCounter = 0;
/** Deterministic request ids for injected answers. */
function requestId(): string {
  requestCounter += 1;
  return `00000000-0000-4000-8000-${requestCounter.toString(16).padStart(12, '0')}`;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** ec2ErrorResponse is the body EC2 (query protocol) sends for an error. */
export function ec2ErrorResponse(code: string, message: string, status = 400): CannedResponse {
  return {
    status,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(code)}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${requestId()}</RequestID></Response>`,
  };
}

/** ssmErrorResponse is the body SSM (JSON 1.1 protocol) sends for an error. */
export function ssmErrorResponse(type: string, message: string, status = 400): CannedResponse {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId() },
    body: JSON.stringify({ __type: type, message }),
  };
}

/**
 * throttle answers like the service would when throttling: EC2's `RequestLimitExceeded` (HTTP 503, XML)
 * for query-protocol requests, SSM's `ThrottlingException` (HTTP 400, JSON) for JSON-protocol ones.
 * The format is picked per request, so `throttle('*', ...)` works for both services (EBS direct APIs get
 * a REST-JSON ThrottlingException).
 */
export function throttle(action: Rule['action'], opts: RuleOptions = {}): Rule {
  return {
    ...opts,
    action,
    respond: (req) => {
      if (req.protocol === 'json') return ssmErrorResponse('ThrottlingException', 'Rate exceeded', 400);
      if (req.protocol === 'rest') {
        // EBS direct APIs (REST-JSON): the error type travels in a header.
        const r = ssmErrorResponse('ThrottlingException', 'Rate exceeded', 400);
        return { ...r, headers: { ...r.headers, 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException' } };
      }
      return ec2ErrorResponse('RequestLimitExceeded', 'Request limit exceeded.', 503);
    },
  };
}

/** ec2Error answers an EC2 action with an EC2 error (e.g. IncorrectState, VolumeInUse, InvalidSnapshot.NotFound, UnauthorizedOperation). */
export function ec2Error(action: Rule['action'], code: string, message: string, status = 400, opts: RuleOptions = {}): Rule {
  return { ...opts, action, respond: () => ec2ErrorResponse(code, message, status) };
}

/** ssmError answers an SSM action with an SSM error (e.g. InvalidInstanceId, InvocationDoesNotExist). */
export function ssmError(action: Rule['action'], type: string, message: string, status = 400, opts: RuleOptions = {}): Rule {
  return { ...opts, action, respond: () => ssmErrorResponse(type, message, status) };
}

/** A scripted JSON answer: the object itself, or a function of the request returning it. */
export type ScriptedBody = object | ((req: ProxiedRequest) => object | Promise<object>);

/**
 * ssmJson scripts an SSM JSON answer (HTTP 200). `bodyObject` may be a function of the request, e.g. to
 * echo the CommandId/InstanceId. For a sequence, add several rules with `times: 1` (or use ssmSequence).
 */
export function ssmJson(action: Rule['action'], bodyObject: ScriptedBody, opts: RuleOptions = {}): Rule {
  return {
    ...opts,
    action,
    respond: async (req) => ({
      status: 200,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId() },
      body: JSON.stringify(typeof bodyObject === 'function' ? await bodyObject(req) : bodyObject),
    }),
  };
}

/**
 * ssmSequence scripts successive answers to one SSM action: each body answers once, in order; the last
 * one keeps answering (unless `repeatLast: false`, after which requests reach moto again).
 */
export function ssmSequence(
  action: Rule['action'],
  bodies: ScriptedBody[],
  opts: Omit<RuleOptions, 'times'> & { repeatLast?: boolean } = {},
): Rule[] {
  const { repeatLast = true, ...rest } = opts;
  return bodies.map((b, i) => ssmJson(action, b, i === bodies.length - 1 && repeatLast ? rest : { ...rest, times: 1 }));
}

/** ec2Xml scripts a full EC2 XML answer (HTTP 200), e.g. a DescribeInstanceStatus reporting `impaired`. */
export function ec2Xml(action: Rule['action'], xml: string | ((req: ProxiedRequest) => string), opts: RuleOptions = {}): Rule {
  return {
    ...opts,
    action,
    respond: (req) => ({
      status: 200,
      headers: { 'content-type': 'text/xml;charset=UTF-8' },
      body: typeof xml === 'function' ? xml(req) : xml,
    }),
  };
}

/** delay forwards the request after `ms` milliseconds. */
export function delay(action: Rule['action'], ms: number, opts: Omit<RuleOptions, 'delayMs'> = {}): Rule {
  return { ...opts, action, delayMs: ms };
}

/** Reachability-detail status that goes with an overall status check status. */
const CHECK_DETAIL: Record<string, string> = { ok: 'passed', impaired: 'failed', initializing: 'initializing', 'insufficient-data': 'insufficient-data' };

function setStatusCheck(xml: string, tag: 'systemStatus' | 'instanceStatus', status: string): string {
  const detail = CHECK_DETAIL[status] ?? status;
  return xml.replace(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'), (_m, inner: string) => {
    const edited = inner.replace(/(<details>[\s\S]*?<\/details>)|<status>[^<]*<\/status>/g, (m: string, details?: string) =>
      details ? details.replace(/<status>[^<]*<\/status>/g, `<status>${detail}</status>`) : `<status>${status}</status>`,
    );
    return `<${tag}>${edited}</${tag}>`;
  });
}

/**
 * instanceStatusChecks edits moto's DescribeInstanceStatus answer (moto reports every running instance ok at
 * once): the system and/or instance status check become `system` / `instance` (ok, impaired, initializing,
 * insufficient-data), their reachability detail following (passed, failed, initializing, ...).
 */
export function instanceStatusChecks(checks: { system?: string; instance?: string }, opts: RuleOptions = {}): Rule {
  return {
    ...opts,
    action: 'DescribeInstanceStatus',
    transform: (body) => {
      let out = body;
      if (checks.system) out = setStatusCheck(out, 'systemStatus', checks.system);
      if (checks.instance) out = setStatusCheck(out, 'instanceStatus', checks.instance);
      return out;
    },
  };
}

/** consoleOutput scripts GetConsoleOutput (moto returns one canned Xen boot log): `text` is sent base64-encoded, for the instance asked about. */
export function consoleOutput(text: string, opts: RuleOptions = {}): Rule {
  return ec2Xml(
    'GetConsoleOutput',
    (req) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId()}</requestId>` +
      `<instanceId>${xmlEscape(req.params.get('InstanceId') ?? '')}</instanceId><timestamp>${new Date().toISOString()}</timestamp>` +
      `<output>${Buffer.from(text, 'utf8').toString('base64')}</output></GetConsoleOutputResponse>`,
    opts,
  );
}

/** consoleScreenshot scripts GetConsoleScreenshot (moto does not implement it: HTTP 500 with an HTML page) with a base64 JPEG. */
export function consoleScreenshot(jpegBase64: string, opts: RuleOptions = {}): Rule {
  return ec2Xml(
    'GetConsoleScreenshot',
    (req) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<GetConsoleScreenshotResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId()}</requestId>` +
      `<instanceId>${xmlEscape(req.params.get('InstanceId') ?? '')}</instanceId><imageData>${jpegBase64}</imageData></GetConsoleScreenshotResponse>`,
    opts,
  );
}

/** A valid 8×8 grey baseline JPEG (SOI, JFIF, DQT, SOF0, DHT, SOS, one block, EOI), made by hand. */
export const JPEG_BASE64 =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAAIAAgBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAAA/AD//2Q==';

/** BusyDetachOptions tune detachBusyWhileMounted. */
export interface BusyDetachOptions {
  /** How long after TerminateInstances the instance's volumes still answer VolumeInUse (EC2 frees them once the instance is terminated). Default 2000. */
  freedAfterTerminateMs?: number;
  /** Whether the volume's filesystem is mounted on its helper now (only then does a plain detach stay busy). Default: always. */
  mounted?: (volumeId: string) => boolean;
}

/**
 * detachBusyWhileMounted models a volume whose filesystem is still mounted on a running helper (what a run killed
 * mid-check leaves), which moto cannot: a DetachVolume without Force, while `mounted` says so, is accepted but never
 * completes while the instance runs (the attachment shows `busy`, the volume stays `in-use`); DeleteVolume answers VolumeInUse until
 * the volume is detached by force or its instance is terminated, and for `freedAfterTerminateMs` after the
 * termination. A forced detach, or terminating the instance, frees the volume (moto then detaches it at once).
 * The attachments are learnt from the AttachVolume calls that pass through the proxy.
 */
export function detachBusyWhileMounted(opts: BusyDetachOptions = {}): Rule[] {
  const freedMs = opts.freedAfterTerminateMs ?? 2000;
  const mounted = opts.mounted ?? (() => true);
  const attachedTo = new Map<string, string>();
  const terminatedAt = new Map<string, number>();
  const busy = new Set<string>();
  const volumeOf = (req: ProxiedRequest) => req.params.get('VolumeId') ?? '';
  const running = (vol: string) => attachedTo.has(vol) && !terminatedAt.has(attachedTo.get(vol)!);
  return [
    {
      action: 'AttachVolume',
      transform: (body, req) => {
        attachedTo.set(volumeOf(req), req.params.get('InstanceId') ?? '');
        return body;
      },
    },
    {
      action: 'DetachVolume',
      when: (req) => req.params.get('Force') !== 'true' && running(volumeOf(req)) && mounted(volumeOf(req)),
      respond: (req) => {
        const vol = volumeOf(req);
        busy.add(vol);
        return {
          status: 200,
          headers: { 'content-type': 'text/xml;charset=UTF-8' },
          body:
            `<?xml version="1.0" encoding="UTF-8"?>\n<DetachVolumeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId()}</requestId>` +
            `<volumeId>${xmlEscape(vol)}</volumeId><instanceId>${xmlEscape(attachedTo.get(vol)!)}</instanceId><device>/dev/sdf</device><status>busy</status>` +
            `<attachTime>${new Date().toISOString()}</attachTime></DetachVolumeResponse>`,
        };
      },
    },
    {
      action: 'DetachVolume',
      when: (req) => req.params.get('Force') === 'true',
      transform: (body, req) => {
        busy.delete(volumeOf(req));
        attachedTo.delete(volumeOf(req));
        return body;
      },
    },
    {
      action: 'TerminateInstances',
      transform: (body, req) => {
        for (const [k, v] of req.params) if (/^InstanceId\.\d+$/.test(k) && !terminatedAt.has(v)) terminatedAt.set(v, Date.now());
        for (const vol of [...busy]) if (!running(vol)) busy.delete(vol);
        return body;
      },
    },
    {
      action: 'DeleteVolume',
      when: (req) => {
        const inst = attachedTo.get(volumeOf(req));
        const t = inst === undefined ? undefined : terminatedAt.get(inst);
        return t !== undefined && Date.now() < t + freedMs;
      },
      respond: (req) => ec2ErrorResponse('VolumeInUse', `Volume ${volumeOf(req)} is currently attached to ${attachedTo.get(volumeOf(req))}`),
    },
    {
      // moto still reports the attachment `attached`: a detach that cannot complete shows `busy`. And moto frees the
      // volumes of a terminated instance at once: until EC2 would have, they show `in-use`, their attachment `detaching`.
      action: 'DescribeVolumes',
      transform: (body) => {
        let out = body;
        if (busy.size) {
          out = out.replace(/<attachmentSet>[\s\S]*?<\/attachmentSet>/g, (set) =>
            [...busy].some((vol) => set.includes(`<volumeId>${vol}</volumeId>`)) ? set.replace(/<status>attached<\/status>/g, '<status>busy</status>') : set,
          );
        }
        for (const [vol, inst] of attachedTo) {
          const t = terminatedAt.get(inst);
          if (t === undefined || Date.now() >= t + freedMs) continue;
          out = out.replace(new RegExp(`<item>((?:(?!<item>)[\\s\\S])*?<volumeId>${vol}</volumeId>[\\s\\S]*?)</item>`), (_m, inner: string) =>
            `<item>${inner
              .replace('<status>available</status>', '<status>in-use</status>')
              .replace('<attachmentSet/>', `<attachmentSet><item><volumeId>${vol}</volumeId><instanceId>${inst}</instanceId><device>/dev/sdf</device><status>detaching</status><attachTime>${new Date(t).toISOString()}</attachTime><deleteOnTermination>false</deleteOnTermination></item></attachmentSet>`)}</item>`,
          );
        }
        return out;
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Realistic state delays (issue #12): moto reaches every final state at once; EC2 does not.

/** StateDelays are how long each transition takes, ms (REALISTIC_DELAYS: the figures of issue #12). */
export interface StateDelays {
  /** A created volume is `creating` this long, then `available`. */
  volumeMs: number;
  /** A launched instance is `pending` this long, then `running`. */
  instanceMs: number;
  /** After `running`, both status checks are `initializing` this much longer, then `ok`. */
  statusChecksMs: number;
  /** An attachment is `attaching` this long, then `attached`. */
  attachMs: number;
  /** A detached volume stays `in-use`, its attachment `detaching`, this long (DeleteVolume answers VolumeInUse). */
  detachMs: number;
  /** After SendCommand, GetCommandInvocation answers InvocationDoesNotExist this long. */
  ssmInvocationMs: number;
  /** Then the invocation is `InProgress` this much longer (on top of the command's own run time). */
  ssmInProgressMs: number;
}

/** REALISTIC_DELAYS: volume 2 s, instance 3 s, status checks 4 s more, attach/detach 1 s, SSM 1 s + 0.5 s. */
export const REALISTIC_DELAYS: StateDelays = { volumeMs: 2000, instanceMs: 3000, statusChecksMs: 4000, attachMs: 1000, detachMs: 1000, ssmInvocationMs: 1000, ssmInProgressMs: 500 };

/** mapItems rewrites each top-level `<item>` of the first `<setTag>` element (nested items, e.g. tags, stay inside theirs). */
export function mapItems(xml: string, setTag: string, fn: (item: string) => string): string {
  const open = xml.indexOf(`<${setTag}>`);
  if (open < 0) return xml;
  const start = open + setTag.length + 2;
  const re = /<item>|<\/item>/g;
  re.lastIndex = start;
  let depth = 0;
  let itemStart = -1;
  let out = xml.slice(0, start);
  let copied = start;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[0] === '<item>') {
      if (depth === 0) itemStart = m.index;
      depth++;
    } else {
      depth--;
      if (depth === 0) {
        const end = m.index + m[0].length;
        out += xml.slice(copied, itemStart) + fn(xml.slice(itemStart, end));
        copied = end;
      }
      if (depth < 0) break;
    }
  }
  return out + xml.slice(copied);
}

/** StateClock is what stateDelays learnt from the calls it saw: when each resource changed. */
export interface StateClock {
  readonly delays: StateDelays;
  /** Volume id → CreateVolume time. */
  volumeCreated: Map<string, number>;
  /** Instance id → RunInstances time. */
  instanceLaunched: Map<string, number>;
  /** Volume id → AttachVolume time. */
  attached: Map<string, number>;
  /** Volume id → DetachVolume time, instance and device. */
  detached: Map<string, { at: number; instanceId: string; device: string }>;
  /** instanceRunning says whether an instance launched through the proxy is past `pending` (unknown ones are). */
  instanceRunning(instanceId: string): boolean;
}

const idsIn = (body: string, tag: string) => [...body.matchAll(new RegExp(`<${tag}>([^<]+)</${tag}>`, 'g'))].map((m) => m[1]!);

/** volumeItem applies the volume, attach and detach delays to one DescribeVolumes item. */
function volumeItem(item: string, clock: StateClock, now: number): string {
  const id = /<volumeId>(vol-[0-9a-f]+)<\/volumeId>/.exec(item)?.[1];
  if (!id) return item;
  const d = clock.delays;
  const created = clock.volumeCreated.get(id);
  const attach = clock.attached.get(id);
  const detach = clock.detached.get(id);
  let out = item;
  if (created !== undefined && now < created + d.volumeMs) out = out.replace('<status>available</status>', '<status>creating</status>');
  if (attach !== undefined && now < attach + d.attachMs) out = out.replace(/(<attachmentSet>[\s\S]*?)<status>attached<\/status>/, '$1<status>attaching</status>');
  if (detach && now < detach.at + d.detachMs && /<attachmentSet\/>|<attachmentSet><\/attachmentSet>/.test(out)) {
    out = out
      .replace(/<status>available<\/status>/, '<status>in-use</status>')
      .replace(/<attachmentSet\/>|<attachmentSet><\/attachmentSet>/, `<attachmentSet><item><volumeId>${id}</volumeId><instanceId>${detach.instanceId}</instanceId><device>${detach.device}</device><status>detaching</status><attachTime>${new Date(detach.at).toISOString()}</attachTime><deleteOnTermination>false</deleteOnTermination></item></attachmentSet>`);
  }
  return out;
}

/**
 * stateDelays makes the emulated account take time, as EC2 does (moto reaches every final state at once), judged from
 * when the proxy saw each resource created, attached or detached: DescribeVolumes shows `creating`, `attaching`,
 * `detaching` (volume `in-use`); DescribeInstances and DescribeInstanceStatus show `pending`, then `initializing`
 * status checks; DeleteVolume of a volume still detaching answers VolumeInUse. SSM delays are the scripted helper's
 * (world.ts), which reads the same delays. Add the rules after any throttling rule (throttled calls change nothing).
 */
export function stateDelays(delays: StateDelays = REALISTIC_DELAYS): { rules: Rule[]; clock: StateClock } {
  const clock: StateClock = {
    delays,
    volumeCreated: new Map(),
    instanceLaunched: new Map(),
    attached: new Map(),
    detached: new Map(),
    instanceRunning: (id) => Date.now() >= (clock.instanceLaunched.get(id) ?? 0) + delays.instanceMs,
  };
  const phase = (id: string, now: number): 'pending' | 'initializing' | 'ok' | undefined => {
    const t = clock.instanceLaunched.get(id);
    if (t === undefined) return undefined;
    return now < t + delays.instanceMs ? 'pending' : now < t + delays.instanceMs + delays.statusChecksMs ? 'initializing' : 'ok';
  };
  const pendingState = (xml: string) => xml.replace(/<instanceState><code>16<\/code><name>running<\/name><\/instanceState>/, '<instanceState><code>0</code><name>pending</name></instanceState>');
  const rules: Rule[] = [
    { action: 'CreateVolume', transform: (b) => (idsIn(b, 'volumeId').slice(0, 1).forEach((id) => clock.volumeCreated.set(id, Date.now())), b) },
    { action: 'RunInstances', transform: (b) => (new Set(idsIn(b, 'instanceId')).forEach((id) => clock.instanceLaunched.set(id, Date.now())), b) },
    {
      action: 'AttachVolume',
      transform: (b, req) => {
        const vol = req.params.get('VolumeId') ?? '';
        clock.attached.set(vol, Date.now());
        clock.detached.delete(vol);
        return b;
      },
    },
    {
      action: 'DetachVolume',
      transform: (b, req) => {
        const vol = req.params.get('VolumeId') ?? '';
        const instanceId = /<instanceId>([^<]+)<\/instanceId>/.exec(b)?.[1];
        if (instanceId) clock.detached.set(vol, { at: Date.now(), instanceId, device: /<device>([^<]+)<\/device>/.exec(b)?.[1] ?? '/dev/sdf' });
        return b;
      },
    },
    {
      action: 'DeleteVolume',
      when: (req) => {
        const d = clock.detached.get(req.params.get('VolumeId') ?? '');
        return d !== undefined && Date.now() < d.at + delays.detachMs;
      },
      respond: (req) => ec2ErrorResponse('VolumeInUse', `Volume ${req.params.get('VolumeId')} is currently attached to ${clock.detached.get(req.params.get('VolumeId') ?? '')?.instanceId}`),
    },
    { action: 'DescribeVolumes', transform: (b) => mapItems(b, 'volumeSet', (item) => volumeItem(item, clock, Date.now())) },
    {
      action: 'DescribeInstances',
      transform: (b) =>
        mapItems(b, 'reservationSet', (res) =>
          mapItems(res, 'instancesSet', (item) => {
            const id = /<instanceId>(i-[0-9a-f]+)<\/instanceId>/.exec(item.replace(/<networkInterfaceSet>[\s\S]*<\/networkInterfaceSet>/, ''))?.[1];
            return id && phase(id, Date.now()) === 'pending' ? pendingState(item) : item;
          }),
        ),
    },
    {
      action: 'DescribeInstanceStatus',
      transform: (b) =>
        mapItems(b, 'instanceStatusSet', (item) => {
          const id = /<instanceId>(i-[0-9a-f]+)<\/instanceId>/.exec(item)?.[1];
          const p = id ? phase(id, Date.now()) : undefined;
          if (p === 'pending') return setStatusCheck(setStatusCheck(pendingState(item), 'systemStatus', 'initializing'), 'instanceStatus', 'initializing');
          if (p === 'initializing') return setStatusCheck(setStatusCheck(item, 'systemStatus', 'initializing'), 'instanceStatus', 'initializing');
          return item;
        }),
    },
  ];
  return { rules, clock };
}
