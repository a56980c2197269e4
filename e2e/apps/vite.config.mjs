// Vite build of the test app (e2e/apps/src). BASE is the path the app is served under.
// worker.format 'es': the engine's worker is a module worker that imports the engine lazily.
export default {
  base: process.env.BASE ?? '/',
  logLevel: 'warn',
  worker: { format: 'es' },
  build: { emptyOutDir: true },
};
