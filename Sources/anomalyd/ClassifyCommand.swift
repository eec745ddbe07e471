import ArgumentParser
import Engine
import Foundation
import Ingest

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify", abstract: "Print the teacher's top ImageNet classes for images.")

    @OptionGroup var teacher: TeacherOptions

    @Option(help: "squash (the engine's input contract) or crop (center square, as ImageNet evaluation does).")
    var resize: ResizeMode = .squash

    @Option(help: "Class names, one per line.")
    var labels: String = "../shared/data/imagenet-samples/labels.txt"

    @Option(help: "How many classes to print.")
    var top: Int = 5

    @Flag(help: "One JSON object per line instead of text.")
    var json = false

    @Argument(help: "Image files.")
    var images: [String]

    func run() throws {
        let runner = try teacher.load()
        let classes = runner.vit.config.numClasses
        guard classes > 0 else {
            throw ValidationError("\(teacher.teacher) has no classifier head (head.weight); cannot classify")
        }
        let names: [String]
        do {
            names = try String(contentsOfFile: labels, encoding: .utf8).split(separator: "\n").map(String.init)
        } catch {
            throw ValidationError("cannot read class names from \(labels): \(error.localizedDescription)")
        }
        try forEachBatch(runner, images: images, resize: resize, batch: teacher.batch) { paths, out in
            for (b, path) in paths.enumerated() {
                let logits = out.logits[(b * classes)..<((b + 1) * classes)]
                let m = logits.max()!
                let e = logits.map { exp(Double($0 - m)) }
                let z = e.reduce(0, +)
                let best = e.indices.sorted { e[$0] > e[$1] }.prefix(top)
                let name = { (i: Int) in i < names.count ? names[i] : "class \(i)" }
                if json {
                    let items = best.map { "{\"class\":\($0),\"name\":\(jsonString(name($0))),\"p\":\(e[$0] / z)}" }
                    print("{\"file\":\(jsonString(path)),\"top\":[\(items.joined(separator: ","))]}")
                } else {
                    print(path)
                    for i in best { print(String(format: "  %6.2f%%  %4d  %@", 100 * e[i] / z, i, name(i))) }
                }
            }
        }
    }
}

func jsonString(_ s: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}
