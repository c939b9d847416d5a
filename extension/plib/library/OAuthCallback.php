<?php

declare(strict_types=1);

/**
 * The one fixed OAuth callback (htdocs/oauth-callback.php): sends Google's answer, untouched
 * and unjudged, back to the settings page that started the flow. That page (OAuthFlow) and
 * the connector validate it; an unknown or expired state ends here with a message.
 */
final class Modules_GdriveBackup_OAuthCallback
{
    public function __construct(
        private readonly Modules_GdriveBackup_PendingStates $states = new Modules_GdriveBackup_PendingStates(),
    ) {
    }

    /**
     * @param array<string, mixed> $query the callback's query parameters
     * @return array{status: int, location?: string, message?: string}
     */
    public function bounce(array $query): array
    {
        $state = $query['state'] ?? null;
        $record = is_string($state) && $state !== '' ? $this->states->find($state) : null;
        if ($record === null) {
            return ['status' => 400, 'message' => pm_Locale::lmsg('error.oauth_state_invalid')];
        }
        $answer = [Modules_GdriveBackup_OAuthFlow::STATE => $state];
        if (is_string($query['code'] ?? null)) {
            $answer[Modules_GdriveBackup_OAuthFlow::CODE] = $query['code'];
        } else {
            $answer[Modules_GdriveBackup_OAuthFlow::ERROR] = is_string($query['error'] ?? null) ? $query['error'] : 'no_code';
        }
        return ['status' => 302, 'location' => Modules_GdriveBackup_OAuthFlow::withQuery($record['returnUrl'], $answer)];
    }
}
