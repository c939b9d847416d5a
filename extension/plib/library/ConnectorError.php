<?php

declare(strict_types=1);

/** An error answered by the connector: its stable code, whether retrying can help, the admin's sentence. */
final class Modules_GdriveBackup_ConnectorError extends pm_Exception
{
    public function __construct(
        string $message,
        public readonly string $errorCode,
        public readonly bool $retryable = false,
        public readonly int $httpStatus = 0,
    ) {
        parent::__construct($message);
    }
}
