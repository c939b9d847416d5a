<?php

declare(strict_types=1);

// The fake Plesk runtime (test/php/fake-plesk/, declared as the SDK declares it), then the
// extension's classes loaded the way Plesk loads them (pm_Loader::registerAutoload()). Used by
// PHPUnit, by the load test's child processes and by the web server of CallbackPageTest.

define('PROJECT_ROOT', dirname(__DIR__, 3));
define('PLIB', PROJECT_ROOT . '/extension/plib');

require_once __DIR__ . '/../fake-plesk/Zend.php';
require_once __DIR__ . '/../fake-plesk/pm_Hook_Backup_Transport.php';
foreach (glob(__DIR__ . '/../fake-plesk/*.php') as $file) {
    require_once $file;
}

pm_Loader::registerAutoload();
