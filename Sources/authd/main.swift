// authd: Accounts, tokens and the nginx auth_request validator.
import Auth
import ServiceBackends

await BackedDaemon.main("authd", defaultListen: "127.0.0.1:8081", backends: AuthDaemon.backends, setUp: AuthDaemon.setUp)
