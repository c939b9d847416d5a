<?php

declare(strict_types=1);

/**
 * The one fixed OAuth callback (htdocs/public/oauth-callback.php, served without a panel
 * session): sends Google's answer back to the settings page that started the flow. It trusts
 * nothing from the visitor but a `state` that matches a pending connect of this panel, and
 * answers each state once: a forged, foreign (another panel's or another flow's), expired,
 * replayed or missing state ends here with a message, as does an answer that is neither one
 * well-formed code nor one well-formed error. Where it sends the browser comes from the
 * pending record, never from the request. The settings page (OAuthFlow) and the connector
 * then check the state again (object, single use, 10 minutes) and exchange the code.
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
        $refused = ['status' => 400, 'message' => pm_Locale::lmsg('error.oauth_state_invalid')];
        $state = $query['state'] ?? null;
        // The connector's states are URL-safe tokens; anything else was never handed out.
        if (!is_string($state) || !preg_match('/^[A-Za-z0-9_-]{1,256}$/', $state)) {
            return $refused;
        }
        $code = $query['code'] ?? null;
        $error = $query['error'] ?? null;
        // Google answers with a code or an error, printable ASCII (RFC 6749 4.1.2, 4.1.2.1).
        $codeOk = is_string($code) && preg_match('/^[\x21-\x7e]{1,2048}$/', $code) === 1;
        $errorOk = is_string($error) && preg_match('/^[A-Za-z0-9_.-]{1,64}$/', $error) === 1;
        if ($codeOk === $errorOk || ($code !== null && !$codeOk) || ($error !== null && !$errorOk)) {
            return $refused;
        }
        $record = $this->states->claim($state);
        if ($record === null) {
            return $refused;
        }
        $answer = [Modules_GdriveBackup_OAuthFlow::STATE => $state]
            + ($codeOk ? [Modules_GdriveBackup_OAuthFlow::CODE => $code] : [Modules_GdriveBackup_OAuthFlow::ERROR => $error]);
        return ['status' => 302, 'location' => Modules_GdriveBackup_OAuthFlow::withQuery($record['returnUrl'], $answer)];
    }
}
