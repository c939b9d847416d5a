/**
 * V8 options every start of `gdrive-backup serve` passes to node (before the bundle's path):
 * the PHP hook (extension/plib/library/ConnectorService.php, NODE_FLAGS, the same list) and the
 * bench's service child. They cannot be set from inside a running process: V8 sizes its heap
 * at start (v8.setFlagsFromString of this one had no effect on the young generation, measured).
 *
 * --max-semi-space-size=1: the young generation's semi-spaces stay at 1 MiB. By default they
 * grow to 8 MiB each (16 MiB of new space) under an upload's streaming churn. Measured with
 * scripts/profile-memory.ts over 2000 MiB, two alternating runs each: peak RSS 102/102 MiB by
 * default, 88/88 MiB with 1, 91/91 MiB with 2; CPU 3.13-3.22 s/GiB in every case (no measurable
 * cost from the more frequent scavenges).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
