// The test fixtures in tests/data/ (the same checkpoints and vectors the C++ tests read).
import fs from 'node:fs';

export const data = new URL('../data/', import.meta.url);
export const read = (p) => fs.readFileSync(new URL(p, data));
export const vectors = (dir) => JSON.parse(read(`${dir}/vectors.json`));
