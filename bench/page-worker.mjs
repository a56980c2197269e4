let modulePromise;
self.onmessage = async ({ data }) => {
  const { id, module, fn, args } = data;
  try {
    modulePromise ??= import(module).then((m) => m.default());
    const M = await modulePromise;
    if (typeof M[fn] !== 'function') throw new Error(`the benchmark module has no ${fn}()`);
    self.postMessage({ id, result: M[fn](...args) });
  } catch (e) {
    self.postMessage({ id, error: String(e?.message ?? e) });
  }
};
