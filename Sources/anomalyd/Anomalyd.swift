import ArgumentParser
import Glibc
import Kernels

@main
struct Anomalyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomalyd",
        abstract: "Watches camera streams and publishes anomaly events.",
        subcommands: [RunCommand.self, CheckCommand.self, SubscribeCommand.self,
                      TrainCommand.self, ScoreCommand.self, EvalCommand.self,
                      InspectCommand.self, EmbedCommand.self, ClassifyCommand.self, FramesCommand.self,
                      ModelCommand.self, ProxyCommand.self, KeygenCommand.self, FeedbackCommand.self]
    )

    /// ArgumentParser's own entry, after two things a fresh process should be able to take for granted: no blocked
    /// signals (a parent that spawns from a thread with signals blocked, as Foundation's Process can, passes its mask
    /// on, and SIGTERM/SIGINT would then never reach the handlers), and OpenBLAS kernels made for this CPU.
    static func main() async {
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        BLAS.useBestKernels()
        await main(nil)
    }
}
