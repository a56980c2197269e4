// The browser of the tests and benchmarks: Debian's headless Chromium (/usr/bin/chromium; no
// browser is downloaded), without the GPU process's extras or background traffic.
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
