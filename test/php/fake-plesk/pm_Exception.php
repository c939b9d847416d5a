<?php

declare(strict_types=1);

// Fakes of Plesk's exceptions, declared as in plesk/pm-api-stubs (pm/Exception.php,
// pm/Exception/InvalidArgumentException.php).

class pm_Exception extends Exception
{
}

class pm_Exception_InvalidArgumentException extends pm_Exception
{
}
