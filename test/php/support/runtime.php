<?php

declare(strict_types=1);

// The fake Plesk runtime, then the extension's classes loaded the way Plesk loads them
// (Modules_GdriveBackup_X_Y from plib/library/X/Y.php, the hook from plib/hooks/,
// controllers from plib/controllers/). Used by PHPUnit and by the web server of CallbackPageTest.

define('PROJECT_ROOT', dirname(__DIR__, 3));
define('PLIB', PROJECT_ROOT . '/extension/plib');

require_once __DIR__ . '/../fake-plesk/Zend.php';
foreach (glob(__DIR__ . '/../fake-plesk/*.php') as $file) {
    require_once $file;
}

spl_autoload_register(static function (string $class): void {
    $prefix = 'Modules_GdriveBackup_';
    if ($class === $prefix . 'Backup_Transport') {
        require PLIB . '/hooks/Backup/Transport.php';
    } elseif (str_starts_with($class, $prefix)) {
        $file = PLIB . '/library/' . str_replace('_', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    } elseif (preg_match('/^\w+Controller$/', $class) && is_file(PLIB . "/controllers/$class.php")) {
        require PLIB . "/controllers/$class.php";
    }
});
