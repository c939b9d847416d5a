<?php

declare(strict_types=1);

/** htdocs/public/oauth-callback.php served over HTTP (PHP's web server), as the browser reaches it from Google. */
final class CallbackPageTest extends PleskTestCase
{
    /** @var resource */
    private $server;

    private string $base;

    protected function setUp(): void
    {
        parent::setUp();
        putenv('FAKE_PLESK_SETTINGS_FILE=' . $this->varDir . '/settings.json');
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        $address = stream_socket_get_name($probe, false);
        fclose($probe);
        $this->base = "http://$address/modules/gdrive-backup/public/oauth-callback.php";
        $server = proc_open(
            [PHP_BINARY, '-S', $address, __DIR__ . '/support/callback-router.php'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']],
            $pipes,
        );
        self::assertIsResource($server);
        $this->server = $server;
        for ($i = 0; $i < 100 && @fsockopen('tcp://' . $address) === false; $i++) {
            usleep(20_000);
        }
    }

    protected function tearDown(): void
    {
        proc_terminate($this->server);
        proc_close($this->server);
        putenv('FAKE_PLESK_SETTINGS_FILE');
        parent::tearDown();
    }

    /** @return array{status: int, location: string, body: string} */
    private function get(array $query): array
    {
        $curl = curl_init($this->base . '?' . http_build_query($query));
        curl_setopt_array($curl, [CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 10]);
        $body = (string) curl_exec($curl);
        $result = [
            'status' => (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE),
            'location' => (string) curl_getinfo($curl, CURLINFO_REDIRECT_URL),
            'body' => $body,
        ];
        curl_close($curl);
        return $result;
    }

    public function testBouncesToTheSettingsPageOrExplains(): void
    {
        (new Modules_GdriveBackup_PendingStates())->remember('st-9', 'subscription:12', '/smb/backup/settings?domainId=12');
        $answer = $this->get(['state' => 'st-9', 'code' => '4/abc', 'scope' => 'https://www.googleapis.com/auth/drive.file']);
        self::assertSame(302, $answer['status']);
        self::assertStringEndsWith('/smb/backup/settings?domainId=12&gdrive-state=st-9&gdrive-code=4%2Fabc', $answer['location']);

        $refused = $this->get(['state' => '<script>', 'code' => 'x']);
        self::assertSame(400, $refused['status']);
        self::assertStringContainsString('unknown, expired or already used', $refused['body']);
        self::assertStringNotContainsString('<script>', $refused['body']);

        // The browser may come back twice (reload, back button, a copied link): once only.
        $replayed = $this->get(['state' => 'st-9', 'code' => '4/abc']);
        self::assertSame(400, $replayed['status']);
        self::assertSame('', $replayed['location']);
    }
}
