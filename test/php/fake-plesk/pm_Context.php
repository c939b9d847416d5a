<?php

declare(strict_types=1);

/** Fake of Plesk's pm_Context: the extension's directories and URLs, set by the tests. */
class pm_Context
{
    public static string $varDir = '/tmp/fake-plesk-var/';
    public static string $plibDir = __DIR__ . '/../../../extension/plib/';
    public static string $moduleId = 'gdrive-backup';

    public static function init($moduleId): void
    {
        self::$moduleId = (string) $moduleId;
    }

    public static function getModuleId(): string
    {
        return self::$moduleId;
    }

    /** With a trailing slash, like Plesk's. */
    public static function getVarDir(): string
    {
        return rtrim(self::$varDir, '/') . '/';
    }

    public static function getPlibDir(): string
    {
        return rtrim(self::$plibDir, '/') . '/';
    }

    public static function getBaseUrl(): string
    {
        return '/modules/' . self::$moduleId . '/';
    }
}
