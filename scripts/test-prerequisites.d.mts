// Types of test-prerequisites.mjs for the TypeScript tests that check its decisions.
export interface Prerequisite {
  name: string;
  neededBy: string;
  packages: string[];
  probe: string[];
  php?: boolean;
}
export type Decision =
  | { action: 'none' }
  | { action: 'install'; packages: string[]; say: string }
  | { action: 'stop'; packages: string[]; say: string };
export const PREREQUISITES: Prerequisite[];
export const NO_INSTALL_VARIABLE: string;
export function missingPrerequisites(options?: { env?: NodeJS.ProcessEnv; php?: boolean }): Prerequisite[];
export function installCommand(packages: string[]): string;
export function decide(
  missing: Prerequisite[],
  options?: { env?: NodeJS.ProcessEnv; uid?: number },
): Decision;
export function install(packages: string[], env?: NodeJS.ProcessEnv): boolean;
