<?php

declare(strict_types=1);

/**
 * Fake of Plesk's pm_Loader (plesk/pm-api-stubs pm/Loader.php): registerAutoload() makes the
 * extension's classes load the way Plesk names them: Modules_<Id>_X_Y from plib/library/X/Y.php,
 * Modules_<Id>_ApiCli from plib/hooks/ApiCli.php, Modules_<Id>_Backup_Transport from
 * plib/hooks/Backup/Transport.php, controllers from plib/controllers/.
 */
class pm_Loader
{
    private static bool $registered = false;

    public static function registerAutoload()
    {
        if (self::$registered) {
            return;
        }
        self::$registered = true;
        spl_autoload_register(static function (string $class): void {
            $plib = rtrim(pm_Context::getPlibDir(), '/');
            $prefix = 'Modules_' . str_replace(' ', '', ucwords(str_replace('-', ' ', pm_Context::getModuleId()))) . '_';
            if (str_starts_with($class, $prefix)) {
                $rest = substr($class, strlen($prefix));
                $file = in_array($rest, ['ApiCli', 'Backup_Transport'], true)
                    ? $plib . '/hooks/' . str_replace('_', '/', $rest) . '.php'
                    : $plib . '/library/' . str_replace('_', '/', $rest) . '.php';
                if (is_file($file)) {
                    require $file;
                }
            } elseif (preg_match('/^\w+Controller$/', $class) && is_file("$plib/controllers/$class.php")) {
                require "$plib/controllers/$class.php";
            }
        });
    }
}
