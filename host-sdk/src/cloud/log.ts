/**
 * Structured cloud log. Events are short names ('auth.declined', 'mqtt.rejected'); fields
 * are plain values and NEVER secrets: no seeds, no keys, no signatures, no pay-code
 * digits, no PINs, no templates. `redact()` is applied to every field set as a guard.
 */
export interface CloudLogger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

const SECRET_KEYS = /seed|signature|private|^pin|template(?!sha256)|paycode|password|secret|token|^key$/i;

/** Drops secret-looking fields and stringifies bigints. */
export function redact(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_KEYS.test(k)) {
      out[k] = '[redacted]';
      continue;
    }
    out[k] = typeof v === 'bigint' ? v.toString() : v;
  }
  return out;
}

export const silentLogger: CloudLogger = { info() {}, warn() {}, error() {} };

/** JSON lines on a writer (stderr by default). */
export function jsonLogger(write: (line: string) => void = (l) => process.stderr.write(l), ns = 'handset:cloud'): CloudLogger {
  const emit = (level: string) => (event: string, fields?: Record<string, unknown>) =>
    write(`${JSON.stringify({ t: new Date().toISOString(), ns, level, event, ...redact(fields) })}\n`);
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** Keeps entries in memory (tests check what was logged - and that no secret was). */
export function memoryLogger(): CloudLogger & {
  entries: Array<{ level: string; event: string; fields: Record<string, unknown> }>;
} {
  const entries: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
  const push = (level: string) => (event: string, fields?: Record<string, unknown>) => {
    entries.push({ level, event, fields: redact(fields) });
  };
  return { entries, info: push('info'), warn: push('warn'), error: push('error') };
}
