<?php

declare(strict_types=1);

/**
 * Every PHP file of the extension loads the way Plesk loads it, each in its own PHP process, on
 * fake SDK classes declared exactly as plesk/pm-api-stubs declares them: an override that is not
 * compatible with the SDK (e.g. getQuota() without `: array`) is a fatal error there, and fails
 * here. The class names follow Plesk's conventions for the extension id `gdrive-backup`.
 */
final class LoadTest extends PleskTestCase
{
    /** @return iterable<string, array{0: string}> */
    public static function classes(): iterable
    {
        yield 'hook Backup_Transport' => ['Modules_GdriveBackup_Backup_Transport'];
        yield 'hook ApiCli' => ['Modules_GdriveBackup_ApiCli'];
        foreach (glob(PLIB . '/library/*.php') as $file) {
            $name = basename($file, '.php');
            if ($name !== 'EventListener') {
                yield "library $name" => ['Modules_GdriveBackup_' . $name];
            }
        }
        foreach (glob(PLIB . '/controllers/*.php') as $file) {
            yield 'controller ' . basename($file, '.php') => [basename($file, '.php')];
        }
    }

    /** @dataProvider classes */
    public function testTheClassLoadsOnTheSdkDeclarations(string $class): void
    {
        [$code, $out] = self::child(['class', $class]);
        self::assertSame(0, $code, $out);
        self::assertStringStartsWith("loaded $class", $out);
    }

    public function testEveryHookAndLibraryFileIsCovered(): void
    {
        $covered = array_map(static fn (array $row): string => $row[0], iterator_to_array(self::classes()));
        foreach (array_merge(glob(PLIB . '/hooks/*.php'), glob(PLIB . '/hooks/*/*.php')) as $file) {
            $class = 'Modules_GdriveBackup_' . str_replace('/', '_', substr($file, strlen(PLIB . '/hooks/'), -4));
            self::assertContains($class, $covered);
        }
    }

    public function testTheEventListenerFileReturnsAListener(): void
    {
        [$code, $out] = self::child(['file', PLIB . '/library/EventListener.php']);
        self::assertSame(0, $code, $out);
        self::assertSame("loaded Modules_GdriveBackup_EventListener\n", $out);
    }

    /** @return iterable<string, array{0: string}> */
    public static function scripts(): iterable
    {
        foreach (glob(PLIB . '/scripts/*.php') as $file) {
            yield basename($file) => [$file];
        }
    }

    /** @dataProvider scripts */
    public function testTheScriptRunsInItsContext(string $script): void
    {
        [$code, $out] = self::child(['script', $script, $this->varDir]);
        self::assertSame(0, $code, $out);
        self::assertStringEndsWith("loaded script\n", $out);
    }

    /** @dataProvider pages */
    public function testThePageIsValidPhp(string $page): void
    {
        exec(escapeshellarg(PHP_BINARY) . ' -l ' . escapeshellarg($page) . ' 2>&1', $output, $code);
        self::assertSame(0, $code, implode("\n", $output));
    }

    /** @return iterable<string, array{0: string}> */
    public static function pages(): iterable
    {
        $files = new RecursiveIteratorIterator(new RecursiveDirectoryIterator(PROJECT_ROOT . '/extension/htdocs', FilesystemIterator::SKIP_DOTS));
        foreach ($files as $file) {
            if (str_ends_with($file->getFilename(), '.php')) {
                yield substr($file->getPathname(), strlen(PROJECT_ROOT) + 1) => [$file->getPathname()];
            }
        }
    }

    /** @return array{0: int, 1: string} exit code and output (stdout and stderr) of a load-one.php child */
    private static function child(array $args): array
    {
        $command = array_merge([PHP_BINARY, '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', __DIR__ . '/support/load-one.php'], $args);
        $process = proc_open($command, [1 => ['pipe', 'w'], 2 => ['redirect', 1]], $pipes);
        $out = (string) stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        return [proc_close($process), $out];
    }
}
