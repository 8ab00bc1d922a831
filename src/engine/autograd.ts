// The backward pass: reverse topological order over recorded GradNodes, gradient accumulation.
//
// NAS cells are DAGs with heavy fan-out (a node's output feeds every later edge), so a tensor's
// gradient is the sum of contributions from all its consumers; the topological order guarantees all
// of them have arrived before the tensor's own rule runs. Each rule runs once and then releases the
// storages it saved, so peak memory falls as backward proceeds.
//
// Aliasing: a rule may return its input gradient `dy` itself (add, reshape). Such a gradient shares
// storage with others, so before adding into a gradient in place we copy it unless it is the sole
// owner of its storage (refCount 1).
import { Tensor, keep, noGrad } from './tensor.js';
import { addGradInPlace, sumOfScaled } from './ops/fused.js';

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative post-order DFS: deep supernets would overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.graphReleased) {
        throw new Error(`autograd: backward through '${t.node!.op}' reaches a tensor whose graph an earlier backward ` +
          'already consumed (its saved values are freed); recompute the forward pass');
      }
      if (!visited.has(next) && (next.node || next.requiresGrad)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/** A gradient we may add into in place: the sole owner of its storage. */
function owned(g: Tensor): Tensor {
  if (g.shared.refCount === 1) return g;
  const copy = Tensor.empty(g.backend, g.shape);
  g.backend.copy(g.storage, copy.storage, g.size);
  g.dispose();
  return copy;
}

function accumulate(into: Tensor, g: Tensor): Tensor {
  // Both deferred w·dy (ops/fused.ts): one pass makes their sum real.
  const both = sumOfScaled(into, g);
  if (both) {
    into.dispose();
    g.dispose();
    return both;
  }
  // Either may be a deferred w·dy, added without being stored: add into the one that
  // is a real storage we own, so a deferred one is never made real just to be added to.
  if (into.deferred && !g.deferred && g.shared.refCount === 1) [into, g] = [g, into];
  const acc = owned(into);
  addGradInPlace(acc, g);
  g.dispose();
  return acc;
}

/**
 * Back-propagate from `root` (a scalar loss unless `seed` gives dL/droot). Leaf tensors with
 * `requiresGrad` receive `.grad` (added to an existing one: call zeroGrad between steps). The graph
 * is consumed: every node's saved storages are released.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.node && !root.requiresGrad) {
    throw new Error('backward: the root tensor does not depend on any tensor that requires grad');
  }
  if (!seed && root.size !== 1) {
    throw new Error(`backward: root has shape [${root.shape.join(', ')}]; pass a seed gradient for non-scalars`);
  }
  noGrad(() => {
    const order = topoOrder(root);
    const grads = new Map<Tensor, Tensor>();
    const start = seed ? seed.detach() : Tensor.full(root.backend, root.shape, 1);
    grads.set(root, start);
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (node) {
        t.node = null;
        t.graphReleased = true;
        const inputs = node.inputs;
        const offered: (Tensor | null)[] = [];
        // a rule may add into an input's gradient in place (conv input gradients do): offered when
        // that gradient is a real storage nothing else shares, and the input appears once
        const inputGrads = node.run(g, (i) => {
          const input = inputs[i];
          const prev = grads.get(input);
          if (!prev || prev.deferred || prev.shared.refCount !== 1 || inputs.indexOf(input) !== inputs.lastIndexOf(input)) return null;
          return prev;
        }, (i) => {
          // a leaf's first gradient may be written straight into its place in the optimizer's
          // gradient arena (its GradHome): offered when nothing has collected a gradient for it yet
          const input = inputs[i];
          if (!input.gradHome || input.node || !input.requiresGrad || input.grad || grads.has(input) || offered[i] ||
            inputs.indexOf(input) !== inputs.lastIndexOf(input)) return null;
          const home = input.gradHome.take();
          if (home) offered[i] = home;
          return home;
        });
        offered.forEach((h, i) => { if (h && inputGrads[i] !== h) h.dispose(); });
        for (let i = 0; i < node.inputs.length; i++) {
          let gi = inputGrads[i];
          const input = node.inputs[i];
          if (gi && gi === grads.get(input)) continue; // accumulated in place by the rule
          if (!gi || !(input.node || input.requiresGrad)) {
            // an op may hand the incoming gradient itself to several inputs (add): g is disposed below
            if (gi && gi !== g) gi.dispose();
            continue;
          }
          if (gi === g) gi = g.detach(); // own handle: g is disposed below
          if (gi.size !== input.size) {
            throw new Error(`autograd: '${node.op}' returned a gradient of shape [${gi.shape.join(', ')}] ` +
              `for an input of shape [${input.shape.join(', ')}]`);
          }
          const prev = grads.get(input);
          grads.set(input, prev ? accumulate(prev, gi) : gi);
        }
      }
      if (t.requiresGrad && !node) {
        // a leaf: hand the gradient over (reshaped to the leaf's shape)
        let leafGrad = g.shape.length === t.shape.length && g.shape.every((d, i) => d === t.shape[i]) ? g : g.reshape(t.shape);
        if (leafGrad !== g) g.dispose();
        if (t.grad) {
          t.grad = keep(accumulate(t.grad, leafGrad));
        } else {
          t.grad = keep(owned(leafGrad));
        }
      } else {
        g.dispose();
      }
    }
    for (const g of grads.values()) g.dispose();
  });
}
