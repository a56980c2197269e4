// A small static file server for the demo and the browser tests.
//
//   node scripts/serve.mjs [--root DIR] [--port N] [--host H]      (defaults: repo root, 8080, 127.0.0.1)
//
// Serves DIR with the MIME types WebAssembly needs (.wasm application/wasm, .mjs/.js
// text/javascript: browsers refuse module scripts and streaming compilation otherwise).
// Every path is also reachable under /coi/: the same file, plus Cross-Origin-Opener-Policy
// and Cross-Origin-Embedder-Policy headers. Those make the page cross-origin isolated, which
// is what gives it SharedArrayBuffer and so the pthreads build of the engine.
//
// For a built app (dist/ of Vite or webpack): --isolate sends those headers with every file
// (a bundled app asks for its worker and assets by absolute paths, outside /coi/: without
// the header there, Chromium refuses the worker), --base /app/ serves DIR under that path,
// and --index '' turns off the redirect to the demo (a folder's index.html is served).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wav': 'audio/wav',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.model': 'application/octet-stream',
};

const COI_PREFIX = '/coi';

// Returns an http.Server (not listening yet) serving `root`.
export function createStaticServer({ root, index = '/web/demo/', isolate = false, base: mount = '/' } = {}) {
  const base = path.resolve(root);
  const prefix = `/${mount.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let pathname = decodeURIComponent(url.pathname);
    const coi = pathname === COI_PREFIX || pathname.startsWith(COI_PREFIX + '/');
    if (coi) pathname = pathname.slice(COI_PREFIX.length) || '/';
    const isolated = coi || isolate;
    // CORS open: pages served from another port (or origin) may read models from here.
    const headers = { 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' };
    if (prefix) {
      if (pathname !== prefix && !pathname.startsWith(prefix + '/')) {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end(`not found: ${pathname} (this server serves under ${prefix}/)`);
        return;
      }
      pathname = pathname.slice(prefix.length) || '/';
    }
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    if (pathname === '/' && index) {
      res.writeHead(302, { ...headers, Location: (coi ? COI_PREFIX : '') + prefix + index });
      res.end();
      return;
    }
    // path.join normalises "..", so compare against the root to refuse escapes.
    let file = path.join(base, pathname);
    if (file !== base && !file.startsWith(base + path.sep)) {
      res.writeHead(403, headers).end('forbidden');
      return;
    }
    fs.stat(file, (err, stat) => {
      if (!err && stat.isDirectory()) {
        if (!pathname.endsWith('/')) {
          res.writeHead(301, { ...headers, Location: (coi ? COI_PREFIX : '') + prefix + pathname + '/' + url.search });
          res.end();
          return;
        }
        file = path.join(file, 'index.html');
      }
      fs.stat(file, (err2, st) => {
        if (err2 || !st.isFile()) {
          res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end(`not found: ${pathname}`);
          return;
        }
        headers['Content-Type'] = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
        headers['Content-Length'] = st.size;
        res.writeHead(200, headers);
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        fs.createReadStream(file).pipe(res);
      });
    });
  });
}

// Starts a server; resolves with {server, url} once it listens (port 0 picks a free port).
export function serve({ root, port = 8080, host = '127.0.0.1', index, isolate, base } = {}) {
  const server = createStaticServer({ root, index, isolate, base });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({ server, url: `http://${host}:${address.port}` });
    });
  });
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i].replace(/^--/, '').split('=');
    out[key] = inline ?? (key === 'isolate' ? true : argv[++i]);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = parseArgs(process.argv.slice(2));
  const root = args.root ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const port = Number(args.port ?? process.env.PORT ?? 8080);
  const host = args.host ?? process.env.HOST ?? '127.0.0.1';
  const options = { root, port, host, isolate: !!args.isolate, base: args.base ?? '/', index: args.index ?? (args.root ? '' : undefined) };
  serve(options).then(
    ({ url }) => {
      console.log(`kyutai-wasm: serving ${root}${options.isolate ? ' (cross-origin isolated)' : ''}`);
      if (args.root) console.log(`  ${url}${options.base}`);
      else console.log(`  demo (single thread):      ${url}/web/demo/\n  demo (threads, isolated):  ${url}${COI_PREFIX}/web/demo/`);
      console.log('  Ctrl-C to stop');
    },
    (e) => {
      console.error(`kyutai-wasm: cannot listen on ${host}:${port}: ${e.message}` +
        (e.code === 'EADDRINUSE' ? ' (set PORT=... to use another port)' : ''));
      process.exit(1);
    },
  );
}
