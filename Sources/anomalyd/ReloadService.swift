import Config
import Logging
import Pipeline
import Service
import ServiceLifecycle
import UnixSignals

/// SIGHUP (`systemctl reload`): RELOADING=1, re-read and validate the configuration file, apply it (only the
/// pipelines that changed restart), then READY=1. A file that does not load leaves the running configuration as
/// it is; the log and STATUS= say why, with file, line and field.
struct ReloadService: Service {
    let path: String
    /// Made before READY=1: from then on a SIGHUP must reload, not end the process (its default action).
    let hangups: UnixSignalsSequence
    let supervisor: Supervisor
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in hangups { reload() }
        }
    }

    func reload() {
        notifier.reloading()
        logger.notice("SIGHUP: reloading the configuration", metadata: ["file": "\(path)"])
        do {
            let summary = try supervisor.reload(ConfigLoader.load(path: path))
            logger.notice("configuration reloaded", metadata: ["changes": "\(summary)"])
            if !summary.ignored.isEmpty {
                logger.warning("changed settings need a restart; running with the old ones until then",
                               metadata: ["sections": "\(summary.ignored.joined(separator: ","))"])
            }
            notifier.ready(status: "reloaded: \(summary)")
        } catch {
            logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            notifier.ready(status: "reload failed, running the previous configuration: \(error)")
        }
    }
}
