/**
 * Redaction of the configuration an evidence pack carries. The rule, applied to a deep copy:
 *   - a value (of any type) under a key matching SECRET_KEY becomes "[redacted]";
 *   - a string holding a PEM private key block, an AWS session token, or a string shaped like an AWS secret access
 *     key (40 characters of base64 with upper and lower case) becomes "[redacted]";
 *   - in a connection string made only of key=value pairs (libpq `host=db password=x`, ADO `Server=x;Password=y;`),
 *     the values of secret keys (SECRET_KEY, pwd, passwd) become "[redacted]"; SQL (canary queries) is left alone;
 *   - every URL in a string keeps its scheme, host and path; userinfo becomes `[redacted]@`, a query `?[redacted]`, a
 *     fragment `#[redacted]`; a webhook URL (Slack `hooks.slack.com/services/T…/B…/…`, anything with `webhook` or a
 *     `hooks` host or path segment) is a secret in full and becomes "[redacted]".
 * ARNs (SNS topics, KMS keys), ids, paths and queries are not secrets and stay.
 */

/** REDACTED replaces every secret. */
export const REDACTED = '[redacted]';

/** SECRET_KEY matches the names of keys whose values are secrets. */
const SECRET_KEY = /secret|password|token|passphrase|private.?key|credential|authorization|webhook|url.*(token|key)/i;

/** CONNECTION_SECRET_KEY adds the short names connection strings use for passwords. */
const CONNECTION_SECRET_KEY = /^(?:pwd|passwd)$/i;

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** AWS_SESSION_TOKEN: STS session tokens start with one of these base64 prefixes. */
const AWS_SESSION_TOKEN = /(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+=]{16,}/;

/** LONG_BASE64 is a whole string of 100 or more base64 characters: a token of some kind (session tokens are ~400). */
const LONG_BASE64 = /^[A-Za-z0-9/+]{100,}={0,2}$/;

/** URL_IN_TEXT finds URLs (scheme://...) inside a string. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>`]+/gi;

/** PAIR is one key=value of a connection string; the value is quoted or runs to whitespace or `;`. */
const PAIR = /\s*([A-Za-z_][\w.-]*(?: [A-Za-z_][\w.-]*)*)\s*=\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s;'"]*)\s*;?/dy;

/** looksLikeAwsSecretKey: 40 characters of base64 with both cases, as AWS secret access keys are (hex digests are not). */
function looksLikeAwsSecretKey(s: string): boolean {
  return /^[A-Za-z0-9/+]{40}$/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s);
}

/** isWebhook: the whole URL is the credential (Slack, Teams, Discord, Mattermost incoming webhooks). */
function isWebhook(url: URL): boolean {
  return /webhook/i.test(url.host + url.pathname) || /(^|\.)hooks\./i.test(url.hostname) || /\/hooks\//i.test(url.pathname) || /\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\//.test(url.pathname);
}

/** redactUrl keeps a URL's scheme, host and path and redacts the rest; a webhook, or what does not parse but has @, ? or #, in full. */
function redactUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return /[@?#]/.test(u) ? REDACTED : u;
  }
  if (isWebhook(url)) return REDACTED;
  const userinfo = url.username !== '' || url.password !== '';
  if (!userinfo && !url.search && !url.hash) return u;
  return `${url.protocol}//${userinfo ? `${REDACTED}@` : ''}${url.host}${url.pathname}${url.search ? `?${REDACTED}` : ''}${url.hash ? `#${REDACTED}` : ''}`;
}

/** redactConnectionString redacts secret values when the whole string is key=value pairs; otherwise returns it unchanged. */
function redactConnectionString(s: string): string {
  let out = '';
  let at = 0;
  while (at < s.length) {
    PAIR.lastIndex = at;
    const m = PAIR.exec(s);
    if (!m) return s;
    const [start, end] = m.indices![2]!;
    const key = m[1]!;
    out += SECRET_KEY.test(key) || CONNECTION_SECRET_KEY.test(key) ? `${s.slice(at, start)}${REDACTED}${s.slice(end, PAIR.lastIndex)}` : m[0];
    at = PAIR.lastIndex;
  }
  return out;
}

/** redactString applies the string rules of the module comment. */
function redactString(s: string): string {
  if (PEM_PRIVATE_KEY.test(s) || AWS_SESSION_TOKEN.test(s) || LONG_BASE64.test(s.trim()) || looksLikeAwsSecretKey(s.trim())) return REDACTED;
  return redactConnectionString(s).replace(URL_IN_TEXT, redactUrl);
}

/** redactConfig returns a deep copy of a configuration with its secrets replaced by "[redacted]", by the rule of the module comment. */
export function redactConfig(value: unknown): unknown {
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map(redactConfig);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined ? REDACTED : redactConfig(v);
    return out;
  }
  return value;
}
