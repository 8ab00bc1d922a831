// Flag parsing on node:util parseArgs, with errors that name the flag and say what was expected.
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean; multiple?: boolean }>;

export function parseFlags(command: string, argv: string[], spec: FlagSpec): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: spec as never, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/, '');
    throw new UsageError(`${command}: ${msg} (see \`node run.js ${command} --help\`)`);
  }
}

export function intFlag(values: Record<string, unknown>, name: string, fallback: number, min = 0): number {
  const v = values[name];
  if (v === undefined) return fallback;
  // digits only: Number() would also take '1e1', '0x10', ' 12 ' and '' (0)
  const n = /^[+-]?\d+$/.test(String(v)) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} ${String(v)}: expected an integer >= ${min}`);
  return n;
}

export function numFlag(values: Record<string, unknown>, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  const range = min === -Infinity && max === Infinity ? '' : ` in [${min}, ${max}]`;
  if (String(v).trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} ${String(v)}: expected a number${range}`);
  return n;
}

export function choiceFlag<T extends string>(values: Record<string, unknown>, name: string, choices: readonly T[], fallback: T): T {
  const v = values[name];
  if (v === undefined) return fallback;
  if (!choices.includes(v as T)) throw new UsageError(`--${name} ${String(v)}: expected one of ${choices.join(', ')}`);
  return v as T;
}
