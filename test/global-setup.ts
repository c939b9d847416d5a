// Builds dist/gdrive-backup.mjs once before the suites: CLI and service tests run it as a subprocess.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
