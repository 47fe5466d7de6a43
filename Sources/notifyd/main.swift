// notifyd: Pushes events to users' open SSE/WebSocket streams.
import ServiceBackends

await BackedDaemon.main("notifyd", defaultListen: "127.0.0.1:8085", backends: [.rabbitmq], protectedPaths: ["/api/events"])
