import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameQueue } from '../../web/src/frame-queue.js';

test('bounded: the oldest frame is dropped, returned for recycling, and counted', () => {
  const q = new FrameQueue(3);
  for (let i = 0; i < 3; i++) assert.equal(q.push(i), null);
  assert.equal(q.push(3), 0);
  assert.equal(q.push(4), 1);
  assert.equal(q.dropped, 2);
  assert.equal(q.pushed, 5);
  assert.equal(q.length, 3);
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [2, 3, 4, undefined]);
});

test('stays FIFO over many pushes and shifts (internal compaction)', () => {
  const q = new FrameQueue(2000);  // grows to 1667: never full
  const out = [];
  for (let i = 0; i < 5000; i++) {
    q.push(i);
    if (i % 3 !== 0) out.push(q.shift());
  }
  while (q.length) out.push(q.shift());
  assert.deepEqual(out, Array.from({ length: 5000 }, (_, i) => i));
  assert.equal(q.dropped, 0);
  assert.throws(() => new FrameQueue(0), RangeError);
  assert.equal(new FrameQueue(Infinity).capacity, Infinity);
});
