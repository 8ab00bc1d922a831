// Modules: named parameters, buffers and children, PyTorch-style, so checkpoints can use PyTorch's
// state_dict names (parameters, then buffers, then children, depth first).
import type { Tensor } from '../tensor.js';

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.ownParams.set(name, t);
    return t;
  }
  protected buffer(name: string, t: Tensor): Tensor {
    this.ownBuffers.set(name, t);
    return t;
  }
  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }
  parameters(): Tensor[] { return this.namedParameters().map(([, t]) => t); }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownBuffers) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Parameters and buffers in PyTorch state_dict order. */
  stateDict(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix + n, t]);
    for (const [n, t] of this.ownBuffers) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.stateDict(`${prefix}${n}.`));
    return out;
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.children) out.push(...m.namedModules(`${prefix}${n}.`));
    return out;
  }

  train(mode = true): this {
    this.training = mode;
    for (const m of this.children.values()) m.train(mode);
    return this;
  }
  eval(): this { return this.train(false); }

  /** Release every parameter, gradient and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) { t.grad?.dispose(); t.grad = null; t.dispose(); }
  }
}
