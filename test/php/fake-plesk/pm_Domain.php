<?php

declare(strict_types=1);

/** Fake of Plesk's pm_Domain (methods as plesk/pm-api-stubs pm/Domain.php declares them, untyped): names of domains registered by tests. */
class pm_Domain
{
    /** @var array<int, string> */
    public static array $names = [];

    private string $name;

    public function __construct($id)
    {
        if (!isset(self::$names[(int) $id])) {
            throw new pm_Exception("Domain $id does not exist");
        }
        $this->name = self::$names[(int) $id];
    }

    public function getName()
    {
        return $this->name;
    }
}
