// webpack 5 build of the test app (e2e/apps/src). publicPath 'auto': the bundle finds its
// assets next to itself, so one build is served at the root and under a sub-path.
import path from 'node:path';

export default function config({ app, out }) {
  return {
    mode: 'production',
    context: app,
    entry: './main.js',
    output: { path: out, publicPath: 'auto', clean: true },
    target: 'web',
    performance: { hints: false },
    infrastructureLogging: { level: 'warn' },
    resolve: { modules: [path.join(app, 'node_modules'), 'node_modules'] },
  };
}
