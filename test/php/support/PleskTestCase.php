<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

/**
 * A fresh fake Plesk for every test: empty settings, no log, the admin logged in, a private
 * var dir (removed afterwards), registered domains and clients.
 */
abstract class PleskTestCase extends TestCase
{
    protected string $varDir;

    protected function setUp(): void
    {
        $this->varDir = self::tempDir('plesk-var');
        pm_Context::$varDir = $this->varDir;
        putenv('FAKE_PLESK_SETTINGS_FILE');
        pm_Settings::fakeReset();
        pm_Log::$lines = [];
        pm_View_Status::$messages = [];
        pm_ProductInfo::$privateTempDir = null;
        pm_Session::$client = null;
        pm_Domain::$names = [12 => 'example.com'];
        pm_Client::$registry = [];
        pm_Client::register(3, 'jdoe', 'customer');
        pm_Client::register(2, 'resell', 'reseller');
    }

    protected function tearDown(): void
    {
        self::removeTree($this->varDir);
    }

    public static function tempDir(string $name): string
    {
        $dir = sys_get_temp_dir() . '/gdb-php-' . $name . '-' . bin2hex(random_bytes(4));
        mkdir($dir, 0700, true);
        return $dir;
    }

    public static function removeTree(string $dir): void
    {
        if (!is_dir($dir) || is_link($dir)) {
            @unlink($dir);
            return;
        }
        foreach (scandir($dir) ?: [] as $entry) {
            if ($entry !== '.' && $entry !== '..') {
                self::removeTree("$dir/$entry");
            }
        }
        @rmdir($dir);
    }
}
