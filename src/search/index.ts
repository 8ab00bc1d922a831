// One-shot base methods over a space's supernet: DARTS (1st / 2nd order), SNAS, RSPS, GDAS, ProxylessNAS.
export * from './batch.js';
export * from './metrics.js';
export * from './presets.js';
export * from './relax.js';
export * from './method.js';
export { Darts } from './darts.js';
export { Snas } from './snas.js';
export { Rsps } from './rsps.js';
export { Gdas } from './gdas.js';
export { Proxyless } from './proxyless.js';
import { Darts } from './darts.js';
import { Snas } from './snas.js';
import { Rsps } from './rsps.js';
import { Gdas } from './gdas.js';
import { Proxyless } from './proxyless.js';
import type { BaseMethod, BaseMethodOptions } from './method.js';
import { BASE_METHOD_NAMES, isBaseMethodName, type BaseMethodName } from './presets.js';

/** The base method `name` with its spec preset (overridable through `o.hyper`). */
export function createBaseMethod(name: BaseMethodName | string, o: BaseMethodOptions): BaseMethod {
  if (!isBaseMethodName(name)) throw new Error(`unknown base method '${name}' (known: ${BASE_METHOD_NAMES.join(', ')})`);
  switch (name) {
    case 'darts': return new Darts(o, false);
    case 'darts2': return new Darts(o, true);
    case 'snas': return new Snas(o);
    case 'rsps': return new Rsps(o);
    case 'gdas': return new Gdas(o);
    case 'proxyless': return new Proxyless(o);
  }
}
export * from './standalone.js';
// File I/O (Node only) lives in './checkpoints.js', imported directly by Node code.
