<?php

declare(strict_types=1);

// Child process of LoadTest: loads one file of the extension on the fake runtime, as Plesk does,
// and prints `loaded <what>`. An incompatible declaration is a fatal error here, as in Plesk.
//   php load-one.php class <Class_Name>      the class through Plesk's autoloading
//   php load-one.php file <path>             a file Plesk includes (EventListener.php)
//   php load-one.php script <path> <varDir>  a script of plib/scripts/, run in its context

require __DIR__ . '/runtime.php';

[, $mode, $target] = $argv + [null, '', ''];
if ($mode === 'class') {
    if (!class_exists($target) && !interface_exists($target)) {
        fwrite(STDERR, "no class $target\n");
        exit(1);
    }
    $reflection = new ReflectionClass($target);
    echo 'loaded ', $reflection->getName(), ' from ', $reflection->getFileName(), "\n";
} elseif ($mode === 'file') {
    $result = require $target;
    echo 'loaded ', is_object($result) ? get_class($result) : gettype($result), "\n";
} elseif ($mode === 'script') {
    pm_Context::$varDir = (string) ($argv[3] ?? sys_get_temp_dir());
    require $target;
    echo "loaded script\n";
} else {
    fwrite(STDERR, "usage: load-one.php class|file|script TARGET\n");
    exit(2);
}
