<?php

declare(strict_types=1);

/** Fake of Plesk's pm_Client (methods as plesk/pm-api-stubs pm/Client.php declares them, untyped): login and role; customers and resellers registered by tests. */
class pm_Client
{
    /** @var array<int, pm_Client> */
    public static array $registry = [];

    public function __construct(
        private int $id,
        private string $login,
        private string $type,
    ) {
    }

    public static function admin(): self
    {
        return new self(1, 'admin', 'admin');
    }

    public static function register(int $id, string $login, string $type): self
    {
        return self::$registry[$id] = new self($id, $login, $type);
    }

    public static function getByClientId($clientId)
    {
        if (!isset(self::$registry[(int) $clientId])) {
            throw new pm_Exception("Client $clientId does not exist");
        }
        return self::$registry[(int) $clientId];
    }

    public function getId()
    {
        return $this->id;
    }

    public function getLogin()
    {
        return $this->login;
    }

    public function isAdmin()
    {
        return $this->type === 'admin';
    }

    public function isReseller()
    {
        return $this->type === 'reseller';
    }

    public function isClient()
    {
        return $this->type === 'customer';
    }
}
