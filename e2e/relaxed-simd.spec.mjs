// Chromium runs relaxed SIMD, so the package loads its relaxed-SIMD builds there by default,
// single-threaded and on the cross-origin-isolated page alike; they must give exactly what the
// plain SIMD128 builds give (4-bit products go through another kernel, src/kernels/gemm_relaxed.c).
import { test, expect, openHarness } from './fixtures.mjs';

async function tokensBothWays(page) {
  return page.evaluate(async () => {
    const { frames } = await harness.sttVectors();
    const out = {};
    for (const format of ['q4', 'q8'])
      for (const relaxedSimd of [undefined, false]) {
        const model = await harness.loadStt({ format, relaxedSimd });
        const { tokens } = await harness.asrOnCodes(model, frames);
        out[`${format}-${relaxedSimd === false ? 'plain' : 'default'}`] = { relaxed: model.engine.relaxedSimd, threaded: model.engine.threaded, tokens };
        await model.dispose();
      }
    return out;
  });
}

for (const [name, url, threaded] of [['a plain page', '/e2e/pages/harness.html', false], ['the /coi/ page', '/coi/e2e/pages/harness.html', true]]) {
  test(`on ${name} the relaxed-SIMD build is the default and matches the plain build`, async ({ page }) => {
    await openHarness(page, url);
    const out = await tokensBothWays(page);
    for (const format of ['q4', 'q8']) {
      const relaxed = out[`${format}-default`], plain = out[`${format}-plain`];
      expect(relaxed.relaxed, `${format} default build`).toBe(true);
      expect(plain.relaxed, `${format} with relaxedSimd: false`).toBe(false);
      expect(relaxed.threaded).toBe(threaded);
      expect(relaxed.tokens.length).toBeGreaterThan(10);
      expect(relaxed.tokens).toEqual(plain.tokens);
    }
  });
}
