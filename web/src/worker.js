// Entry point of the package's Web Worker: the engine (WebAssembly) lives here, so inference
// never blocks the page. All it does is run a Host on the worker's message port.
import { Host } from './host/host.js';

const host = new Host((message, transfer) => self.postMessage(message, transfer));
self.onmessage = (event) => host.handle(event.data);
