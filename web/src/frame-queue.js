// A bounded FIFO of audio frames waiting for inference. When the model falls behind real
// time the queue holds at most `capacity` frames; pushing one more drops the OLDEST (live
// audio: a stale frame is worth less than a fresh one, and latency stays bounded). Every
// drop is counted, and the count travels with the stream's stats and results, so falling
// behind is never silent.
export class FrameQueue {
  constructor(capacity = 25) {
    if (!(capacity >= 1)) throw new RangeError(`frame queue capacity must be >= 1, got ${capacity}`);
    this.capacity = capacity;
    this.items = [];
    this.head = 0;
    this.dropped = 0;
    this.pushed = 0;
  }
  get length() {
    return this.items.length - this.head;
  }
  // Returns the dropped item (so its buffer can be recycled) or null.
  push(item) {
    this.pushed++;
    this.items.push(item);
    if (this.length > this.capacity) {
      this.dropped++;
      return this.shift();
    }
    return null;
  }
  shift() {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact now and then instead of Array.shift() on every frame.
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  clear() {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}
