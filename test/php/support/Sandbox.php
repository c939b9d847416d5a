<?php

declare(strict_types=1);

/**
 * The real Drive + OAuth sandbox (`node dist/gdrive-backup.mjs sandbox --port 0`) as a child
 * process: its `GDRIVE_...=value` lines, printed before `ready`, are what a connector needs to
 * talk to it instead of Google.
 */
final class Sandbox
{
    /**
     * The Plesk panel's callback, registered as the only redirect URI of the sandbox's "Web
     * application" OAuth client (the type Plesk's settings page needs): any other URI is
     * refused with redirect_uri_mismatch, as Google does.
     */
    public const CALLBACK_URL = 'https://panel.example.com:8443/modules/gdrive-backup/public/oauth-callback.php';

    /** @var array<string, string> */
    public array $env = [];

    /** @var resource */
    private $process;

    /** @var array<int, resource> */
    private array $pipes = [];

    private string $dir;

    public function __construct()
    {
        $this->dir = PleskTestCase::tempDir('sandbox');
        $bundle = PROJECT_ROOT . '/dist/gdrive-backup.mjs';
        $process = proc_open(
            [self::node(), $bundle, 'sandbox', '--port', '0', '--dir', $this->dir, '--client-type', 'web', '--redirect-uri', self::CALLBACK_URL],
            [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['file', $this->dir . '.log', 'a']],
            $this->pipes,
        );
        if (!is_resource($process)) {
            throw new RuntimeException('The sandbox did not start');
        }
        $this->process = $process;
        $deadline = microtime(true) + 30;
        while (($line = fgets($this->pipes[1])) !== false) {
            $line = trim($line);
            if ($line === 'ready') {
                return;
            }
            if (preg_match('/^(?:export\s+)?(GDRIVE_\w+)=(.*)$/', $line, $match)) {
                $this->env[$match[1]] = trim($match[2], "'\"");
            }
            if (microtime(true) > $deadline) {
                break;
            }
        }
        $this->stop();
        throw new RuntimeException('The sandbox did not print ready; its log: ' . @file_get_contents($this->dir . '.log'));
    }

    /** The node on PATH, as an absolute path (the extension's `node-binary` setting wants one). */
    public static function node(): string
    {
        foreach (explode(PATH_SEPARATOR, (string) getenv('PATH')) as $dir) {
            if ($dir !== '' && is_file("$dir/node") && is_executable("$dir/node")) {
                return "$dir/node";
            }
        }
        throw new RuntimeException('node is not on PATH');
    }

    /**
     * Follows a consent URL the way a browser would, up to Google's redirect: the sandbox
     * approves at once and answers with a redirect to redirect_uri?code=...&state=...
     *
     * @return array<string, string> the query Google sends to the callback URL
     */
    public static function consent(string $url): array
    {
        $curl = curl_init($url);
        curl_setopt_array($curl, [CURLOPT_RETURNTRANSFER => true, CURLOPT_FOLLOWLOCATION => false, CURLOPT_TIMEOUT => 10]);
        curl_exec($curl);
        $location = (string) curl_getinfo($curl, CURLINFO_REDIRECT_URL);
        $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        curl_close($curl);
        if ($location === '') {
            throw new RuntimeException("The consent URL answered $status without a redirect");
        }
        parse_str((string) parse_url($location, PHP_URL_QUERY), $query);
        $query['__redirect'] = strtok($location, '?');
        return $query;
    }

    public function stop(): void
    {
        if (is_resource($this->process)) {
            proc_terminate($this->process, 15);
            foreach ($this->pipes as $pipe) {
                if (is_resource($pipe)) {
                    fclose($pipe);
                }
            }
            proc_close($this->process);
        }
        PleskTestCase::removeTree($this->dir);
        @unlink($this->dir . '.log');
    }
}
