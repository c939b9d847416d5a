/**
 * What one appendFile costs the PHP hook beyond the upload itself: PHP's curl over the service's
 * unix socket, as `ConnectorClient.php` does it, appending a 1-byte file again and again to one
 * write handle. A 1-byte append sends nothing to Drive (it stays in the unaligned tail), so the
 * round trip is the hook's own overhead: PHP, curl, HTTP over the socket, the route, the tail
 * kept on disk. The script is passed to `php -r`; it prints one JSON line of milliseconds.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PhpAppendFigures {
  calls: number;
  p50Ms: number;
  p99Ms: number;
}

const SCRIPT = String.raw`
declare(strict_types=1);
[$socket, $token, $object, $localFile, $calls] = [$argv[1], $argv[2], $argv[3], $argv[4], (int) $argv[5]];
function call(string $socket, string $token, string $method, string $path, ?array $body): array {
    $curl = curl_init('http://connector' . $path);
    curl_setopt_array($curl, [
        CURLOPT_UNIX_SOCKET_PATH => $socket,
        CURLOPT_CUSTOMREQUEST => $method,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_HTTPHEADER => ['Authorization: Bearer ' . $token, 'Content-Type: application/json'],
        CURLOPT_POSTFIELDS => $body === null ? '' : json_encode($body),
    ]);
    $answer = curl_exec($curl);
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    $error = curl_error($curl);
    curl_close($curl);
    if (!is_string($answer) || $status >= 300) {
        fwrite(STDERR, "$method $path answered $status: " . (is_string($answer) ? $answer : $error) . "\n");
        exit(1);
    }
    return $answer === '' ? [] : (array) json_decode($answer, true);
}
$fd = call($socket, $token, 'POST', '/v1/objects/' . rawurlencode($object) . '/writes', ['path' => '/php-append.bin'])['fd'];
$times = [];
for ($i = 0; $i < $calls; $i++) {
    $start = hrtime(true);
    call($socket, $token, 'POST', '/v1/writes/' . rawurlencode($fd) . '/append', ['localFile' => $localFile]);
    $times[] = (hrtime(true) - $start) / 1e6;
}
call($socket, $token, 'POST', '/v1/writes/' . rawurlencode($fd) . '/close', null);
sort($times);
$at = static fn (float $q): float => $times[min(count($times) - 1, (int) floor($q * count($times)))];
echo json_encode(['calls' => $calls, 'p50Ms' => round($at(0.5), 2), 'p99Ms' => round($at(0.99), 2)]), "\n";
`;

/**
 * Null when PHP with curl is not installed. Asynchronous on purpose: the TLS proxy the service's
 * Drive calls go through lives in this process and must keep answering meanwhile.
 */
export async function measurePhpAppend(
  socketPath: string,
  token: string,
  object: string,
  exchangeDir: string,
  calls: number,
): Promise<PhpAppendFigures | null> {
  const probe = await run('php', ['-r', 'echo function_exists("curl_init") ? "yes" : "no";']).catch(
    () => null,
  );
  if (probe?.stdout !== 'yes') return null;
  const localFile = join(exchangeDir, 'php-append-1-byte');
  await writeFile(localFile, 'x');
  const loop = await run('php', [
    '-r',
    SCRIPT,
    '--',
    socketPath,
    token,
    object,
    localFile,
    String(calls),
  ]).catch((error: Error & { stderr?: string }) => {
    throw new Error(`the PHP append loop failed: ${(error.stderr ?? error.message).trim()}`);
  });
  return JSON.parse(loop.stdout.trim()) as PhpAppendFigures;
}
