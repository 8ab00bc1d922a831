// SearchSpace.describeSize: the network size in each space's own words for run headers and protocol
// texts. NB201 and DARTS keep the words runs printed before (C=8 N=1, C 8 N 1); MobileNet names its
// width multiplier (C = 32·width_mult, N unused); a space without the method falls back to C and N.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getSpace, describeSize, type SearchSpace } from '../../src/spaces/registry.js';
import { defaultSearchConfig } from '../../src/nas/config.js';

test('NB201 and DARTS: C and N as before; MobileNet: the width multiplier', () => {
  for (const name of ['nb201', 'darts', 'darts-none']) {
    assert.is(describeSize(getSpace(name), { C: 8, N: 1 }), 'C=8 N=1');
    assert.is(describeSize(getSpace(name), { C: 16, N: 5 }, ' '), 'C 16 N 5');
  }
  const mb = getSpace('mobilenet');
  assert.is(describeSize(mb, { C: 8, N: 1 }), 'width=0.25');
  assert.is(describeSize(mb, { C: 32, N: 1 }, ' '), 'width 1');
  const q = defaultSearchConfig({ space: 'mobilenet', preset: 'quick' });
  assert.is(describeSize(mb, { C: q.channels, N: q.cells }), `width=${q.channels / 32}`);
  // a plug-in without the method
  const bare = { ...getSpace('nb201'), describeSize: undefined } as unknown as SearchSpace;
  assert.is(describeSize(bare, { C: 4, N: 2 }, ' '), 'C 4 N 2');
});

test.run();
