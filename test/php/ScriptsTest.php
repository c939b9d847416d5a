<?php

declare(strict_types=1);

/** post-install makes the data dir 0700; pre-uninstall stops only our service and keeps the data. */
final class ScriptsTest extends PleskTestCase
{
    public function testPostInstallCreatesThePrivateDataDir(): void
    {
        require PLIB . '/scripts/post-install.php';
        self::assertDirectoryExists($this->varDir . '/connector');
        self::assertSame(0700, fileperms($this->varDir . '/connector') & 0777);
        self::assertSame(fileowner($this->varDir), fileowner($this->varDir . '/connector'));
    }

    public function testPostInstallAsRootGivesTheDataDirToThePanelUser(): void
    {
        if (posix_geteuid() !== 0) {
            self::markTestSkipped('Plesk runs post-install as root');
        }
        chown($this->varDir, 65534);
        require PLIB . '/scripts/post-install.php';
        self::assertSame(65534, fileowner($this->varDir . '/connector'));
    }

    public function testPostInstallOnAnUpgradeStopsTheServiceOfTheOldBundle(): void
    {
        $dataDir = $this->varDir . '/connector';
        mkdir($dataDir, 0700);
        [$process, $pid] = self::fakeService($dataDir);
        require PLIB . '/scripts/post-install.php';
        self::assertNotSame(0, proc_close($process), 'the old service got SIGTERM');
        self::assertFileDoesNotExist("$dataDir/connector.pid");
        self::assertSame(0700, fileperms($dataDir) & 0777);
    }

    /** @return array{0: resource, 1: int} a node process that looks like `serve` of $dataDir, its pid in the pid file */
    private static function fakeService(string $dataDir): array
    {
        $process = proc_open([Sandbox::node(), '-e', 'setTimeout(() => {}, 60000)', 'serve', '--data-dir', $dataDir], [], $pipes);
        $pid = proc_get_status($process)['pid'];
        for ($i = 0; $i < 100 && !str_contains((string) @file_get_contents("/proc/$pid/cmdline"), 'serve'); $i++) {
            usleep(20_000);
        }
        file_put_contents("$dataDir/connector.pid", "$pid\n");
        return [$process, $pid];
    }

    public function testPreUninstallStopsTheServiceAndKeepsItsData(): void
    {
        $dataDir = $this->varDir . '/connector';
        mkdir($dataDir, 0700);
        file_put_contents("$dataDir/state.json", '{}');
        $process = proc_open([Sandbox::node(), '-e', 'setTimeout(() => {}, 60000)', 'serve', '--data-dir', $dataDir], [], $pipes);
        $pid = proc_get_status($process)['pid'];
        // Until the child has exec'd node, its command line is still PHP's.
        for ($i = 0; $i < 100 && !str_contains((string) @file_get_contents("/proc/$pid/cmdline"), 'serve'); $i++) {
            usleep(20_000);
        }
        file_put_contents("$dataDir/connector.pid", "$pid\n");
        require PLIB . '/scripts/pre-uninstall.php';
        $status = proc_close($process);
        self::assertNotSame(0, $status);
        self::assertFileExists("$dataDir/state.json");
        self::assertFileDoesNotExist("$dataDir/connector.pid");
    }
}
