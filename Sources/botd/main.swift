// botd: the Telegram bot. Telegram's webhook (through nginx, no auth), handled per chat in order,
// with replies sent within Telegram's limits.
import Bots
import ServiceBackends

await BackedDaemon.main("botd", defaultListen: "127.0.0.1:8087", backends: BotsDaemon.backends, publicPaths: BotsDaemon.publicPaths, setUp: BotsDaemon.setUp)
