import Cryptography
import Logging
import PasswordHashing

/// The account flows of ARCHITECTURE.md's public API, one type per concern: registration and
/// login, refresh rotation, sessions and password, API keys, teams, Telegram sign-in.
struct Accounts: Sendable {
    let signIn: SignIn
    let refresh: RefreshRotation
    let sessions: Sessions
    let apiKeys: APIKeyManagement
    let teams: Teams
    let telegram: TelegramSignIn
    let lookup: AccountLookup
    let settings: AuthSettings

    init(
        store: any AccountStore, registry: any TokenRegistry, throttle: any LoginThrottle, keys: SigningKeys, hasher: PasswordHasher, settings: AuthSettings,
        cache: ValidationCache, logger: Logger
    ) async throws {
        let backends = AccountBackends(store: store, registry: registry, cache: cache, logger: logger)
        let passwords = try await PasswordCheck(hasher: hasher, throttle: throttle, backends: backends)
        let issuer = TokenIssuer(keys: keys, settings: settings, backends: backends)
        self.signIn = SignIn(backends: backends, passwords: passwords, issuer: issuer)
        self.refresh = RefreshRotation(backends: backends, issuer: issuer, settings: settings)
        self.sessions = Sessions(backends: backends, passwords: passwords)
        self.apiKeys = APIKeyManagement(backends: backends, passwords: passwords, settings: settings)
        self.teams = Teams(backends: backends, apiKeys: apiKeys)
        self.telegram = TelegramSignIn(verifier: try settings.telegram.map(TelegramInitDataVerifier.init), backends: backends, issuer: issuer)
        self.lookup = AccountLookup(backends: backends)
        self.settings = settings
    }
}
