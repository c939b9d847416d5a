<?php

declare(strict_types=1);

/** Fake of Plesk's pm_Exception: the exception extensions throw for the admin to read. */
class pm_Exception extends Exception
{
}
