// An async iterator over events pushed to it (a transcriber's events, a speaker's chunks): each
// iterator has its own queue, where events wait until read. The producer holds it in
// `iterators` while it is open and calls offer(event), end() or fail(error); an error is thrown
// once, to the reader waiting or to the next read, and ends the iteration.
export function eventIterator(iterators, done = false) {
  const queue = [];
  const waiting = [];
  let error = null;
  const settle = (fn) => {
    iterators.delete(it);
    for (const w of waiting.splice(0)) fn(w);
  };
  const it = {
    offer(event) {
      const w = waiting.shift();
      if (w) w.resolve({ value: event, done: false });
      else queue.push(event);
    },
    end() {
      done = true;
      settle((w) => w.resolve({ value: undefined, done: true }));
    },
    fail(e) {
      error = e;
      settle((w) => {
        error = null;
        done = true;
        w.reject(e);
      });
    },
    next() {
      if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
      if (error) {
        const e = error;
        error = null;
        done = true;
        return Promise.reject(e);
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    return() {
      it.end();
      queue.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  if (!done) iterators.add(it);
  return it;
}
