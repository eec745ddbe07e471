import ServiceLifecycle

/// The forwarder as a service: a graceful shutdown (SIGTERM, SIGINT) steers it to terminate.
public struct ProxyService: Service {
    public let forwarder: Forwarder

    public init(forwarder: Forwarder) { self.forwarder = forwarder }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await forwarder.run()
        } onGracefulShutdown: {
            forwarder.stop()
        }
    }
}
