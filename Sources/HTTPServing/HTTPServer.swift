import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// The HTTP/1.1 server under the metrics endpoint and the review page: one router, within `Limits`, bound to a
/// host and port of the configuration (`ListenAddress`).
public enum HTTPServer {
    /// What clients can hold of a server: descriptors and time. Without them 20,000 idle connections exhausted the
    /// process's descriptors and `/metrics` and `/healthz` stopped answering (issue 14).
    public struct Limits: Sendable {
        /// A connection that sends nothing for this long (no request yet, or none since its last answer) is closed.
        /// Short, because connections past the cap wait behind idle ones: a client sends its request as soon as it
        /// has connected, and a scraper or a browser reconnects at no cost.
        public var idleTimeout: Duration = .seconds(2)
        /// From a request's head until it has been read whole and answered, however slowly it trickles in.
        public var requestTimeout: Duration = .seconds(10)
        /// Connections open at once; further ones wait in the listen backlog until one closes. Well under the
        /// 1024 descriptors systemd gives a service by default.
        public var maxConnections = 128

        public init() {}
    }

    /// The server of `router` within `limits`; `onListening` gets the bound port.
    public static func application<Context: RequestContext>(
        host: String, port: Int, router: Router<Context>, limits: Limits, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol where Context.Source == ApplicationRequestContextSource {
        let requestTimeout = TimeAmount(limits.requestTimeout)
        let http = HTTP1Channel.Configuration(additionalChannelHandlers: [RequestDeadline(timeout: requestTimeout)],
                                              idleTimeout: TimeAmount(limits.idleTimeout))
        return Application(router: router, server: .http1(configuration: http),
                           configuration: .init(address: .hostname(host, port: port), serverName: "anomalyd",
                                                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
                           onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    /// An application as a service whose failure to listen names the setting (`metrics.listen`, `ui.listen`).
    public struct Listener<App: ApplicationProtocol>: Service {
        let setting: String
        let address: String
        let application: App

        public init(setting: String, address: String, application: App) {
            self.setting = setting
            self.address = address
            self.application = application
        }

        public func run() async throws {
            do {
                try await application.run()
            } catch {
                throw ListenError(setting: setting, address: address, underlying: error)
            }
        }
    }

    /// The port could not be bound, e.g. another process has it.
    public struct ListenError: Error, CustomStringConvertible {
        public let setting: String
        public let address: String
        public let underlying: any Error
        public var description: String { "\(setting) \(address): cannot listen: \(underlying)" }
    }

    public static func text(_ status: HTTPResponse.Status, _ body: String, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
