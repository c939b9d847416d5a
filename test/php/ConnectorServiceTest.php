<?php

declare(strict_types=1);

/** Finding node, starting the connector detached with the right arguments and environment, stopping it. */
final class ConnectorServiceTest extends PleskTestCase
{
    private string $work;

    protected function setUp(): void
    {
        parent::setUp();
        $this->work = self::tempDir('service');
    }

    protected function tearDown(): void
    {
        self::removeTree($this->work);
        parent::tearDown();
    }

    private function fakeNode(string $dir): string
    {
        mkdir("$this->work/$dir/bin", 0700, true);
        $node = "$this->work/$dir/bin/node";
        file_put_contents($node, "#!/bin/sh\n");
        chmod($node, 0700);
        return $node;
    }

    private function service(string $bundleSource, float $timeout = 5.0, string $node = ''): Modules_GdriveBackup_ConnectorService
    {
        file_put_contents("$this->work/bundle.mjs", $bundleSource);
        return new Modules_GdriveBackup_ConnectorService(
            "$this->work/data",
            "$this->work/bundle.mjs",
            $node !== '' ? $node : Sandbox::node(),
            ['GDRIVE_CLIENT_ID' => 'client-1', 'GDRIVE_CLIENT_SECRET' => 'shh'],
            'client',
            "$this->work/none",
            $timeout,
        );
    }

    public function testPicksTheNewestPleskNodeOfAtLeast20(): void
    {
        $this->fakeNode('plesk/18');
        $this->fakeNode('plesk/20');
        $newest = $this->fakeNode('plesk/22');
        $this->fakeNode('plesk/latest');
        $service = new Modules_GdriveBackup_ConnectorService('/d', '/b', '', [], 'client', "$this->work/plesk");
        self::assertSame($newest, $service->nodeBinary());
    }

    public function testTheSettingWinsAndPathIsTheLastResort(): void
    {
        $this->fakeNode('plesk/22');
        $chosen = $this->fakeNode('custom');
        self::assertSame($chosen, (new Modules_GdriveBackup_ConnectorService('/d', '/b', $chosen, [], 'client', "$this->work/plesk"))->nodeBinary());
        self::assertNull((new Modules_GdriveBackup_ConnectorService('/d', '/b', "$this->work/missing", [], 'client', "$this->work/plesk"))->nodeBinary());
        $this->fakeNode('old/18');
        $fromPath = (new Modules_GdriveBackup_ConnectorService('/d', '/b', '', [], 'client', "$this->work/old"))->nodeBinary();
        self::assertNotNull($fromPath);
        self::assertStringEndsWith('/node', $fromPath);
    }

    public function testFromContextUsesPleskPathsAndTheStoredClient(): void
    {
        pm_Settings::set('client-id', 'cid');
        pm_Settings::setEncrypted('client-secret', 'csecret');
        $service = Modules_GdriveBackup_ConnectorService::fromContext();
        self::assertSame($this->varDir . '/connector', $service->dataDir);
        self::assertSame(pm_Context::getPlibDir() . 'connector/gdrive-backup.mjs', $service->bundle);
        self::assertSame($this->varDir . '/connector/connector.sock', $service->socketPath());
    }

    public function testHandsPleskDumpAndTempDirsAndTheSpoolDirAsExchangeDirs(): void
    {
        $conf = "$this->work/psa.conf";
        file_put_contents($conf, "# Plesk's paths\nPRODUCT_ROOT_D /usr/local/psa\nDUMP_D\t/backup/plesk-dumps/\nDUMP_TMP_D /tmp\n");
        pm_Settings::set('psa-conf', $conf);
        pm_ProductInfo::$privateTempDir = '/usr/local/psa/tmp';
        $env = Modules_GdriveBackup_ConnectorService::fromContext()->environment();
        self::assertSame(
            implode(':', ['/backup/plesk-dumps', '/usr/local/psa/tmp', sys_get_temp_dir(), $this->varDir . '/connector/spool']),
            $env['GDRIVE_EXCHANGE_DIRS'],
        );
        // Without DUMP_D (or without psa.conf) Plesk's default.
        file_put_contents($conf, "PRODUCT_ROOT_D /usr/local/psa\n");
        self::assertSame('/var/lib/psa/dumps', (new Modules_GdriveBackup_PleskDirs($conf))->dumpDir());
        self::assertSame('/var/lib/psa/dumps', (new Modules_GdriveBackup_PleskDirs("$this->work/none"))->dumpDir());
    }

    public function testStartsTheServiceDetachedWithItsArgumentsAndTheClientInItsEnvironment(): void
    {
        // Stands for the web server's socket: a descriptor of the PHP process the service must not keep.
        $held = fopen("$this->work/held-by-php", 'w');
        $report = "$this->work/report.json";
        $service = $this->service(sprintf(
            "import { writeFileSync } from 'node:fs';\n"
            . "writeFileSync(%s, JSON.stringify({ argv: process.argv.slice(2), execArgv: process.execArgv, id: process.env.GDRIVE_CLIENT_ID,"
            . " secret: process.env.GDRIVE_CLIENT_SECRET, pid: process.pid, cwd: process.cwd() }));\n"
            . "setTimeout(() => {}, 60000);\n",
            json_encode($report),
        ));
        $started = false;
        try {
            $service->start(static function () use ($report, &$started): bool {
                return $started = is_file($report) && filesize($report) > 0;
            });
            $seen = json_decode((string) file_get_contents($report), true);
            self::assertSame(['serve', '--data-dir', "$this->work/data", '--socket', "$this->work/data/connector.sock",
                '--idle-timeout', '900', '--secrets-store', 'client', '--log-file', "$this->work/data/connector.log"], $seen['argv']);
            // A small young generation: the service's peak RSS stays under 100 MiB (NODE_FLAGS).
            self::assertSame(['--max-semi-space-size=1'], $seen['execArgv']);
            self::assertSame('client-1', $seen['id']);
            self::assertSame('shh', $seen['secret']);
            self::assertSame($seen['pid'], (int) file_get_contents("$this->work/data/connector.pid"));
            // Its own session: the panel's request ending does not take it down.
            $stat = explode(' ', (string) file_get_contents("/proc/{$seen['pid']}/stat"));
            self::assertSame((string) $seen['pid'], $stat[5]);
            self::assertSame(0700, fileperms("$this->work/data") & 0777);
            $open = array_map(static fn (string $fd): string => (string) @readlink($fd), glob("/proc/{$seen['pid']}/fd/*") ?: []);
            self::assertNotEmpty($open);
            self::assertNotContains("$this->work/held-by-php", $open);
            self::assertTrue($service->stop());
            self::assertFileDoesNotExist("$this->work/data/connector.pid");
            self::assertFalse($service->stop());
        } finally {
            $service->stop();
            fclose($held);
        }
        self::assertTrue($started);
    }

    public function testFilesMadeByRootGoToTheDataDirOwner(): void
    {
        if (posix_geteuid() !== 0) {
            self::markTestSkipped('needs root, like a backup started by Plesk');
        }
        mkdir("$this->work/data", 0700);
        chown("$this->work/data", 65534);
        $ready = "$this->work/ready";
        $service = $this->service(sprintf("import { writeFileSync } from 'node:fs'; writeFileSync(%s, 'x'); setTimeout(() => {}, 60000);\n", json_encode($ready)));
        try {
            $service->start(static fn (): bool => is_file($ready));
            foreach (['connector.log', 'connector.pid', 'connector.start.lock'] as $file) {
                self::assertSame(65534, fileowner("$this->work/data/$file"), $file);
            }
        } finally {
            self::assertTrue($service->stop());
        }
    }

    public function testAServiceThatDiesAtOnceIsReportedWithItsLog(): void
    {
        $service = $this->service("console.error('boom: bad setting'); process.exit(2);\n");
        try {
            $service->start(static fn (): bool => false);
            self::fail('no error');
        } catch (pm_Exception $error) {
            self::assertStringContainsString('stopped right after starting: see ' . "$this->work/data/connector.log", $error->getMessage());
        }
        self::assertStringContainsString('boom: bad setting', (string) file_get_contents("$this->work/data/connector.log"));
    }

    public function testAServiceThatNeverAnswersTimesOut(): void
    {
        $service = $this->service("setTimeout(() => {}, 60000);\n", 0.5);
        try {
            $service->start(static fn (): bool => false);
            self::fail('no error');
        } catch (pm_Exception $error) {
            self::assertStringContainsString('did not start within 0.5 seconds', $error->getMessage());
        } finally {
            self::assertTrue($service->stop());
        }
    }

    public function testMissingBundleOrNodeSayWhatToDo(): void
    {
        $service = new Modules_GdriveBackup_ConnectorService("$this->work/data", "$this->work/none.mjs", Sandbox::node());
        $this->expectExceptionMessage('reinstall the GDrive Backup Storage extension');
        $service->start(static fn (): bool => false);
    }

    public function testMissingNodeSaysWhatToInstall(): void
    {
        $service = $this->service('', 1, "$this->work/missing-node");
        $this->expectExceptionMessage('install the Node.js extension of Plesk');
        $service->start(static fn (): bool => false);
    }

    public function testStopLeavesForeignProcessesAlone(): void
    {
        mkdir("$this->work/data");
        file_put_contents("$this->work/data/connector.pid", getmypid() . "\n");
        $service = $this->service('');
        self::assertFalse($service->stop());
    }
}
