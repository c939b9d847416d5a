<?php

declare(strict_types=1);

/**
 * Fake of Plesk's pm_Context with the SDK's methods (plesk/pm-api-stubs pm/Context.php): the
 * extension's directories and URLs, set by the tests. Like Plesk, the directories end with '/'.
 */
class pm_Context
{
    public static string $varDir = '/tmp/fake-plesk-var/';
    public static string $plibDir = __DIR__ . '/../../../extension/plib/';
    public static string $moduleId = 'gdrive-backup';
    private static bool $initialized = false;

    public static function init($moduleId)
    {
        self::$moduleId = (string) $moduleId;
        self::$initialized = true;
    }

    public static function reset()
    {
        self::$initialized = false;
    }

    public static function isInitialized()
    {
        return self::$initialized;
    }

    public static function getModuleId()
    {
        return self::$moduleId;
    }

    public static function getVarDir()
    {
        return rtrim(self::$varDir, '/') . '/';
    }

    public static function getPlibDir()
    {
        return rtrim(self::$plibDir, '/') . '/';
    }

    public static function getHtdocsDir()
    {
        return dirname(self::getPlibDir()) . '/htdocs/';
    }

    public static function getBaseUrl()
    {
        return '/modules/' . self::$moduleId . '/';
    }

    public static function getActionUrl($controller, $action = 'index')
    {
        return self::getBaseUrl() . 'index.php/' . $controller . '/' . $action;
    }
}
