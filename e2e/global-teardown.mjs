import fs from 'node:fs';

export default function globalTeardown() {
  if (process.env.KYUTAI_E2E_TMP) fs.rmSync(process.env.KYUTAI_E2E_TMP, { recursive: true, force: true });
}
