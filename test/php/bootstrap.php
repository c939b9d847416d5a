<?php

declare(strict_types=1);

// PHPUnit bootstrap: the fake Plesk runtime with the extension's class loading, and the tests' helpers.

require __DIR__ . '/support/runtime.php';
require __DIR__ . '/support/PleskTestCase.php';
require __DIR__ . '/support/Sandbox.php';
require __DIR__ . '/support/EndToEndCase.php';
