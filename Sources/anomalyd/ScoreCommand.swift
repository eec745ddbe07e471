import ArgumentParser
import Decisions
import Detector
import Engine
import Foundation
import Ingest

/// Shared by `score` and `eval`: the teacher plus a loaded model bundle.
struct ModelOptions: ParsableArguments {
    @OptionGroup var teacher: TeacherOptions

    @Option(help: "Model bundle directory (from `anomalyd train` or a pipeline's state directory).")
    var model: String

    @Option(help: "Moves the cut on the normalised score: a frame is anomalous when score ≥ 1 − sensitivity.")
    var sensitivity: Double = 0.5

    @Option(help: "Frames per second sampled from videos.")
    var sampleFps: Double?

    @Option(help: "False episodes an hour the cut is set for, as `decision.false_alarms_per_hour` (at --sample-fps, 10 when not given, and 5 frames of evidence per episode).")
    var falseAlarmsPerHour: Double = DecisionSettings().falseAlarmsPerHour

    /// The cut a pipeline starts from with these settings, before its burn-in adapts it to the scene.
    func budget() throws -> BudgetCut {
        var settings = DecisionSettings()
        settings.sensitivity = sensitivity
        settings.falseAlarmsPerHour = falseAlarmsPerHour
        do { try settings.validate() } catch { throw ValidationError("\(error)") }
        return BudgetCut(settings: settings, framesPerSecond: sampleFps ?? SourceOptions.configuredSampleFPS)
    }

    func load() throws -> FrameScorer {
        let runner = try teacher.load()
        let bundle = try ModelBundle.load(from: model, teacherPath: teacher.teacher)
        // Its tails are of the largest of several tiles' scores: whole frames would be judged on the wrong scale.
        guard bundle.metadata.frames.tiles == 1 else {
            throw ValidationError("model \(model) was learnt from \(bundle.metadata.frames.tiles) tiles per frame (a pipeline's 'tiles'); score and eval take whole frames, so run it in its pipeline")
        }
        return FrameScorer(teacher: runner.vit, bundle: bundle, workers: runner.workers, maxBatch: runner.maxBatch)
    }

    /// Scores every frame of `sources` in batches; `body` gets each frame, where it came from, and its score.
    func score(_ sources: [String], scorer: FrameScorer, _ body: (Frame, String, FrameScore) throws -> Void) async throws {
        var pending: [(Frame, String)] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            for (i, s) in try scorer.score(pending.flatMap(\.0.pixels)).enumerated() { try body(pending[i].0, pending[i].1, s) }
            pending.removeAll(keepingCapacity: true)
        }
        try await forEachFrame(sources, sampleFPS: sampleFps, resize: .squash, size: scorer.imageSize) { f, src in
            pending.append((f, src))
            if pending.count == teacher.batch { try flush() }
        }
        try flush()
    }
}

struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Score frames with a model bundle: one JSON line per frame.")

    @OptionGroup var options: ModelOptions

    @Argument(help: "Image folders, images or video files.")
    var sources: [String]

    @Flag(help: "Also print each frame's anomaly map (\"map\", G×G row-major, tile after tile), as episodes locate novelty with it.")
    var maps = false

    func run() async throws {
        let budget = try options.budget()
        let scorer = try options.load()
        let cut = DecisionStage.cut(sensitivity: options.sensitivity)
        try await options.score(sources, scorer: scorer) { frame, source, s in
            let score = budget.normalized(surprise: s.verdict.surprise)
            var obj: [String: Any] = [
                "source": source, "frame": frame.index, "pts_seconds": frame.pts,
                "raw_score": s.verdict.surprise, "score": score, "anomalous": score >= cut,
            ]
            for (component, value) in s.raw { obj[component.rawValue] = value }
            if s.grid > 0 {
                obj["peak_cell"] = [s.peak / s.grid, s.peak % s.grid]
                obj["peak_error"] = Double(s.map[s.peak])   // how local the novelty is, beside the frame's scores
                if maps { obj["map"] = s.map.map(Double.init) }
            }
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Image AUROC of a model bundle on labelled normal and anomalous frames.")

    @OptionGroup var options: ModelOptions

    @Option(parsing: .upToNextOption, help: "Normal frames: image folders, images or videos.")
    var normal: [String]

    @Option(parsing: .upToNextOption, help: "Anomalous frames: image folders, images or videos.")
    var anomalous: [String]

    @Option(help: "Also write the ROC curve of the fused score as CSV (threshold,fpr,tpr).")
    var roc: String?

    func run() async throws {
        let scorer = try options.load()
        var fused: [Double] = [], labels: [Bool] = []
        var components: [ScoreComponent: [Double]] = [:]
        for (sources, label) in [(normal, false), (anomalous, true)] {
            try await options.score(sources, scorer: scorer) { _, _, s in
                fused.append(s.verdict.surprise)
                for (component, value) in s.raw { components[component, default: []].append(value) }
                labels.append(label)
            }
        }
        print(String(format: "frames: %d normal, %d anomalous", labels.filter { !$0 }.count, labels.filter { $0 }.count))
        print(String(format: "AUROC fused:       %.4f", try ROC.auroc(scores: fused, labels: labels)))
        for (component, scores) in components.sorted(by: { $0.key < $1.key }) where scores.count == labels.count {
            let name = (component.rawValue + ":").padding(toLength: 12, withPad: " ", startingAt: 0)
            print("AUROC " + name + String(format: "%.4f", try ROC.auroc(scores: scores, labels: labels)))
        }
        if let roc {
            try ROC.csv(try ROC.curve(scores: fused, labels: labels)).write(toFile: roc, atomically: true, encoding: .utf8)
        }
    }
}
