import Checkpoint
import Engine
import Foundation
import Reference
import Storage
import XCTest
@testable import Detector

final class ModelBundleTests: XCTestCase {
    private var directory = ""
    private let width = 16

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bundle-tests-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Fixtures

    /// A tiny ViT (32 px, patch 16, 2 blocks) with seeded random weights.
    private func makeStudent(width: Int = 16, depth: Int = 2, heads: Int = 2, seed: UInt64 = 1) -> ViTParameters {
        let parameters = ViTParameters(config: ViTConfig(imageSize: 32, patchSize: 16, width: width, depth: depth,
                                                         heads: heads, mlpWidth: 2 * width))
        var rng = RNG(seed)
        for i in 0..<parameters.layout.count { parameters.storage.data[i] = rng.float(0.5) }
        return parameters
    }

    private func writeCheckpoint(_ parameters: ViTParameters, to path: String) throws {
        let tensors = parameters.layout.entries.map { e in
            (name: e.name, shape: e.shape, values: Array(UnsafeBufferPointer(start: parameters.ptr(e.offset), count: e.shape.reduce(1, *))))
        }
        try SafetensorsWriter.write(tensors, metadata: [:], to: path)
    }

    private var teacherPath: String { directory + "/teacher.safetensors" }

    private func makeBundle(components: Set<ScoreComponent> = [.mkd, .gaussian], seed: UInt64 = 1,
                            gaussian custom: FeatureGaussian? = nil) throws -> ModelBundle {
        if !FileManager.default.fileExists(atPath: teacherPath) {
            try writeCheckpoint(makeStudent(depth: 3, heads: 1, seed: 99), to: teacherPath)
        }
        let features = FeatureGaussianTests.correlatedFeatures(n: 60, d: width, seed: seed)
        let gaussian = try custom ?? FeatureGaussian.fit(features: features, count: 60, dimension: width)
        var holdout: [ScoreComponent: [Double]] = [:]
        var rng = RNG(seed)
        for component in ScoreComponent.allCases where components.contains(component) {
            holdout[component] = (0..<8).map { _ in Double(rng.float()) + 2 }
        }
        let calibration = try Calibration.fit(normal: holdout, holdoutCount: 6)
        var settings = DetectorSettings.papers
        settings.epochs = 3
        let profiles = FeatureGaussianTests.correlatedFeatures(n: 40, d: width, seed: seed + 7)
        let profileGaussian = try FeatureGaussian.fit(features: profiles, count: 40, dimension: width,
                                                      feature: .studentErrorProfile, covariance: .ledoitWolf)
        return ModelBundle(student: components.isDisjoint(with: [.mkd, .mkdProfile]) ? nil : makeStudent(seed: seed),
                           gaussian: components.contains(.gaussian) ? gaussian : nil,
                           profileGaussian: components.contains(.mkdProfile) ? profileGaussian : nil, calibration: calibration,
                           teacher: try TeacherIdentity(path: teacherPath), settings: settings,
                           frames: FrameCounts(train: 54, holdout: 6), trainingLoss: [1.5, 0.75, 0.5],
                           brightness: BrightnessGain(target: 101.5), createdAt: Date(timeIntervalSince1970: 1_795_316_400.25))
    }

    private func assertEqual(_ a: ModelBundle, _ b: ModelBundle, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.metadata, b.metadata, file: file, line: line)
        XCTAssertEqual(a.calibration, b.calibration, file: file, line: line)
        XCTAssertEqual(a.gaussian, b.gaussian, file: file, line: line)
        XCTAssertEqual(a.profileGaussian, b.profileGaussian, file: file, line: line)
        XCTAssertEqual(a.student?.config, b.student?.config, file: file, line: line)
        if let s = a.student, let t = b.student {
            XCTAssertEqual(s.layout.entries.map(\.name), t.layout.entries.map(\.name), file: file, line: line)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: s.storage.data, count: s.layout.count)),
                           Array(UnsafeBufferPointer(start: t.storage.data, count: t.layout.count)), file: file, line: line)
        }
    }

    private func expectLoadError(_ bundle: String, teacher: String? = nil, _ expected: ModelBundleError,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelBundle.load(from: bundle, teacherPath: teacher), file: file, line: line) {
            XCTAssertEqual($0 as? ModelBundleError, expected, file: file, line: line)
            XCTAssertTrue("\($0)".contains(bundle), "the message names the bundle: \($0)", file: file, line: line)
        }
    }

    /// Rewrites a JSON file of a saved bundle through `edit`.
    private func editJSON(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    /// A fresh copy of a valid saved bundle to corrupt.
    private func savedBundle(_ name: String) throws -> String {
        let path = directory + "/" + name
        try makeBundle().save(to: path)
        return path
    }

    // MARK: - Tests

    func testSaveLoadRoundTripKeepsEveryField() throws {
        let bundle = try makeBundle()
        let path = directory + "/model"
        try bundle.save(to: path)
        let loaded = try ModelBundle.load(from: path, teacherPath: teacherPath)
        assertEqual(loaded, bundle)
        XCTAssertEqual(loaded.student?.config.heads, 2, "heads come from metadata.json, not the width/64 default")
        XCTAssertEqual(loaded.metadata.createdAt, "2026-11-22T03:00:00.250Z")
        XCTAssertNotNil(loaded.metadata.modelVersion.range(of: "^20261122T030000Z-[0-9a-f]{6}$", options: .regularExpression),
                        loaded.metadata.modelVersion)
        XCTAssertEqual(loaded.metadata.teacher.fileName, "teacher.safetensors")
        XCTAssertEqual(loaded.metadata.teacher.sha256, try SHA256.hex(ofFile: teacherPath))
        XCTAssertEqual(loaded.metadata.teacher.width, width)
        XCTAssertEqual(loaded.metadata.teacher.depth, 3)
        XCTAssertNil(loaded.metadata.teacher.precision, "not recorded: a bundle as those written before it")
        XCTAssertEqual(loaded.metadata.teacher.fittedPrecision, "fp32")
        XCTAssertEqual(loaded.metadata.trainingLoss, [1.5, 0.75, 0.5])
        XCTAssertEqual(loaded.metadata.settings.epochs, 3)
        // The loaded Gaussian and student are usable as they are.
        let probe = Array(FeatureGaussianTests.correlatedFeatures(n: 1, d: width, seed: 5))
        XCTAssertEqual(try loaded.gaussian!.score(probe), try bundle.gaussian!.score(probe))
        XCTAssertEqual(try ViTParameters(checkpoint: SafetensorsFile(path: path + "/student.safetensors")).layout.count,
                       bundle.student!.layout.count)
        let metadataText = try String(contentsOfFile: path + "/metadata.json", encoding: .utf8)
        XCTAssertTrue(metadataText.contains("\"format_version\" : 2"), metadataText)
        XCTAssertTrue(metadataText.contains("\"variance_kept\""), "settings are stored in snake_case")
        XCTAssertEqual(loaded.metadata.brightness, BrightnessGain(target: 101.5))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["model", "teacher.safetensors"])
    }

    func testTheGaussiansFeatureAndShrinkageSurviveARoundTrip() throws {
        let features = FeatureGaussianTests.correlatedFeatures(n: 30, d: 2 * width, seed: 3)
        let gaussian = try FeatureGaussian.fit(features: features, count: 30, dimension: 2 * width,
                                               feature: .clsPatchMean, covariance: .ledoitWolf)
        let bundle = try makeBundle(gaussian: gaussian)
        let path = directory + "/cls-patch-mean"
        try bundle.save(to: path)
        let loaded = try ModelBundle.load(from: path)
        assertEqual(loaded, bundle)
        XCTAssertEqual(loaded.gaussian?.feature, .clsPatchMean)
        let probe = Array(features[0..<(2 * width)])
        XCTAssertEqual(try loaded.gaussian!.score(probe), try gaussian.score(probe))

        // A feature name this version does not know is named, not guessed.
        try SafetensorsWriter.write(ModelBundle.tensors(of: gaussian),
                                    metadata: ["total_variance": "\(gaussian.totalVariance)", "feature": "cls+everything"],
                                    to: path + "/gaussian.safetensors")
        XCTAssertThrowsError(try ModelBundle.load(from: path)) {
            guard case let .inconsistent(_, "gaussian.safetensors", "__metadata__.feature", detail) = $0 as? ModelBundleError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(detail.contains("cls+everything") && detail.contains("cls+patch_mean"), detail)
        }
    }

    func testBundlesFromBeforeTheFeatureSettingLoadAsCLSWithPCA() throws {
        let path = try savedBundle("old")
        // What older versions wrote: no feature in gaussian.safetensors, no Gaussian keys in the settings.
        let g = try makeBundle().gaussian!
        try SafetensorsWriter.write(ModelBundle.tensors(of: g), metadata: ["total_variance": "\(g.totalVariance)"],
                                    to: path + "/gaussian.safetensors")
        try editJSON(path + "/metadata.json") { object in
            var settings = object["settings"] as! [String: Any]
            settings["gaussian_feature"] = nil
            settings["gaussian_covariance"] = nil
            object["settings"] = settings
        }
        let loaded = try ModelBundle.load(from: path)
        XCTAssertEqual(loaded.gaussian?.feature, .cls)
        XCTAssertEqual(loaded.metadata.settings.gaussianFeature, .cls)
        XCTAssertEqual(loaded.metadata.settings.gaussianCovariance, .pca)
    }

    /// Bundles from before the brightness gain load as models without one (and say so in their settings); a gain
    /// outside the byte range is refused by name.
    func testBundlesFromBeforeTheBrightnessGainLoadWithoutOne() throws {
        let path = try savedBundle("no-gain")
        try editJSON(path + "/metadata.json") { object in
            object["brightness"] = nil
            var settings = object["settings"] as! [String: Any]
            settings["normalize_brightness"] = nil
            object["settings"] = settings
        }
        let loaded = try ModelBundle.load(from: path)
        XCTAssertNil(loaded.metadata.brightness)
        XCTAssertFalse(loaded.metadata.settings.normalizeBrightness)
        try editJSON(path + "/metadata.json") { $0["brightness"] = ["target": 0.25] }
        XCTAssertThrowsError(try ModelBundle.load(from: path)) {
            guard case let .inconsistent(_, "metadata.json", "brightness.target", detail) = $0 as? ModelBundleError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(detail.contains("0.25"), detail)
        }
    }

    func testModelVersionFollowsTheContent() throws {
        let a = try makeBundle(seed: 1), b = try makeBundle(seed: 1), c = try makeBundle(seed: 2)
        XCTAssertEqual(a.metadata.modelVersion, b.metadata.modelVersion)
        XCTAssertNotEqual(a.metadata.modelVersion, c.metadata.modelVersion)
    }

    func testGaussianOnlyBundle() throws {
        let bundle = try makeBundle(components: [.gaussian])
        let path = directory + "/gaussian-only"
        try bundle.save(to: path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/student.safetensors"))
        let loaded = try ModelBundle.load(from: path)
        assertEqual(loaded, bundle)
        XCTAssertNil(loaded.student)
        XCTAssertNil(loaded.metadata.student)
    }

    func testSaveReplacesAnExistingBundleAtomically() throws {
        let path = directory + "/model"
        let first = try makeBundle(seed: 1), second = try makeBundle(seed: 2)
        try first.save(to: path)
        // Leftovers of a save that crashed before and after its rename.
        try FileManager.default.createDirectory(atPath: directory + "/.model.tmp-crash1", withIntermediateDirectories: false)
        try Data("half".utf8).write(to: URL(fileURLWithPath: directory + "/.model.tmp-crash1/metadata.json"))
        try FileManager.default.createDirectory(atPath: directory + "/.model.old-crash2", withIntermediateDirectories: false)
        try second.save(to: path)
        assertEqual(try ModelBundle.load(from: path), second)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["model", "teacher.safetensors"],
                       "the old bundle and the leftovers are gone")

        // A save that fails its checks leaves the existing bundle untouched.
        let wrongWidth = ModelBundle(student: nil, gaussian: try FeatureGaussian.fit(
                                         features: FeatureGaussianTests.correlatedFeatures(n: 40, d: 8, seed: 3), count: 40, dimension: 8),
                                     calibration: try Calibration.fit(normal: [.gaussian: [1, 2, 3, 4, 5, 6, 7, 8]], holdoutCount: 6),
                                     teacher: try TeacherIdentity(path: teacherPath), settings: DetectorSettings.papers,
                                     frames: FrameCounts(train: 54, holdout: 6), trainingLoss: [])
        XCTAssertThrowsError(try wrongWidth.save(to: path)) {
            XCTAssertEqual($0 as? ModelBundleError, .inconsistent(bundle: path, file: "gaussian.safetensors", field: "mean",
                                                                  detail: "the Gaussian is 8-wide but its cls feature is 16-wide for the teacher width 16"))
        }
        assertEqual(try ModelBundle.load(from: path), second)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["model", "teacher.safetensors"])

        let nowhere = directory + "/no/such/model"
        XCTAssertThrowsError(try second.save(to: nowhere)) {
            XCTAssertEqual($0 as? StorageError, StorageError(path: nowhere, step: .createStaging, code: ENOENT))
            XCTAssertTrue("\($0)".contains("No such file or directory"), "\($0)")
        }
    }

    func testTheStudentsProfileGaussianSurvivesARoundTripAndIsChecked() throws {
        let bundle = try makeBundle(components: [.gaussian, .mkdProfile])
        let path = directory + "/profile"
        try bundle.save(to: path)
        let loaded = try ModelBundle.load(from: path, teacherPath: teacherPath)
        assertEqual(loaded, bundle)
        XCTAssertEqual(loaded.calibration.components, [.gaussian, .mkdProfile])
        XCTAssertEqual(loaded.profileGaussian?.feature, .studentErrorProfile)
        XCTAssertNotNil(loaded.student, "the profile is the student's: the student comes with it")
        let probe = Array(FeatureGaussianTests.correlatedFeatures(n: 1, d: width, seed: 4))
        XCTAssertEqual(try loaded.profileGaussian!.score(probe), try bundle.profileGaussian!.score(probe))

        // A teacher feature in the profile's file, or the profile's feature in the teacher Gaussian's, is named.
        let teacherGaussian = try XCTUnwrap(bundle.gaussian)
        try SafetensorsWriter.write(ModelBundle.tensors(of: teacherGaussian),
                                    metadata: ["total_variance": "\(teacherGaussian.totalVariance)", "feature": "cls"],
                                    to: path + "/profile_gaussian.safetensors")
        XCTAssertThrowsError(try ModelBundle.load(from: path)) {
            guard case let .inconsistent(_, "profile_gaussian.safetensors", "__metadata__.feature", detail) = $0 as? ModelBundleError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(detail.contains("student_error_profile"), detail)
        }
        try FileManager.default.removeItem(atPath: path + "/profile_gaussian.safetensors")
        expectLoadError(path, .missingFile(bundle: path, file: "profile_gaussian.safetensors"))
    }

    func testMissingFilesAreNamed() throws {
        expectLoadError(directory + "/nowhere", .notADirectory(bundle: directory + "/nowhere"))
        for file in ["metadata.json", "calibration.json", "gaussian.safetensors", "student.safetensors"] {
            let path = try savedBundle("missing-" + file)
            try FileManager.default.removeItem(atPath: path + "/" + file)
            expectLoadError(path, .missingFile(bundle: path, file: file))
        }
    }

    func testInvalidJSONNamesTheFileAndField() throws {
        for file in ["metadata.json", "calibration.json"] {
            let path = try savedBundle("garbage-" + file)
            try Data("{\"format_version\": 1,".utf8).write(to: URL(fileURLWithPath: path + "/" + file))
            expectLoadError(path, .invalidJSON(bundle: path, file: file, detail: "it is not valid JSON"))
        }
        let missingField = try savedBundle("missing-field")
        try editJSON(missingField + "/metadata.json") { object in
            var teacher = object["teacher"] as! [String: Any]
            teacher["sha256"] = nil
            object["teacher"] = teacher
        }
        expectLoadError(missingField, .invalidJSON(bundle: missingField, file: "metadata.json", detail: "field 'teacher.sha256' is missing"))

        let wrongType = try savedBundle("wrong-type")
        try editJSON(wrongType + "/calibration.json") { $0["holdout_count"] = "six" }
        XCTAssertThrowsError(try ModelBundle.load(from: wrongType)) {
            guard case let .invalidJSON(_, file, detail) = $0 as? ModelBundleError else { return XCTFail("\($0)") }
            XCTAssertEqual(file, "calibration.json")
            XCTAssertTrue(detail.hasPrefix("field 'holdout_count' has the wrong type"), detail)
        }
    }

    func testUnknownFormatVersion() throws {
        let path = try savedBundle("version")
        try editJSON(path + "/metadata.json") { $0["format_version"] = 3 }
        expectLoadError(path, .unsupportedFormatVersion(bundle: path, found: 3, supported: 2))
    }

    /// Bundles written before calibrated tail fusion (format 1) are refused with what to do about it.
    func testABundleFromBeforeTailFusionSaysToLearnAgain() throws {
        let path = try savedBundle("version-1")
        try editJSON(path + "/metadata.json") { $0["format_version"] = 1 }
        XCTAssertThrowsError(try ModelBundle.load(from: path)) {
            XCTAssertEqual($0 as? ModelBundleError, .unsupportedFormatVersion(bundle: path, found: 1, supported: 2))
            XCTAssertTrue("\($0)".contains("version 1 fused z-scores") && "\($0)".contains("learn the model again"), "\($0)")
        }
    }

    func testGaussianShapesMustMatchTheTeacher() throws {
        let bundle = try makeBundle()
        let g = bundle.gaussian!
        func rewrite(_ name: String, _ change: (inout [(name: String, shape: [Int], values: [Float])]) -> Void) throws -> String {
            let path = try savedBundle(name)
            var tensors = ModelBundle.tensors(of: g)
            change(&tensors)
            try SafetensorsWriter.write(tensors, metadata: ["total_variance": "\(g.totalVariance)"], to: path + "/gaussian.safetensors")
            return path
        }
        let wide = try rewrite("wide-projection") { $0[1] = ("projection", [g.components, width + 1], $0[1].values + [Float](repeating: 0, count: g.components)) }
        XCTAssertThrowsError(try ModelBundle.load(from: wide)) {
            guard case .inconsistent(wide, "gaussian.safetensors", "projection", _) = $0 as? ModelBundleError else { return XCTFail("\($0)") }
        }
        let shortMean = try rewrite("short-whitened-mean") { $0[3] = ("whitened_mean", [g.components - 1], Array($0[3].values.dropLast())) }
        expectLoadError(shortMean, .inconsistent(bundle: shortMean, file: "gaussian.safetensors", field: "whitened_mean",
                                                 detail: "shape [\(g.components - 1)] does not match the expected [\(g.components)]"))
        let noCholesky = try rewrite("no-cholesky") { $0.removeLast() }
        expectLoadError(noCholesky, .inconsistent(bundle: noCholesky, file: "gaussian.safetensors", field: "cholesky", detail: "the tensor is missing"))
        let notTriangular = try rewrite("not-triangular") { $0[4].values[1] = 0.5 }
        expectLoadError(notTriangular, .inconsistent(bundle: notTriangular, file: "gaussian.safetensors", field: "cholesky",
                                                     detail: "row 0 is not lower triangular"))

        // The teacher recorded in metadata.json is wider than the Gaussian.
        let teacherWidth = try savedBundle("teacher-width")
        try editJSON(teacherWidth + "/metadata.json") { object in
            var teacher = object["teacher"] as! [String: Any]
            teacher["width"] = 32
            object["teacher"] = teacher
        }
        XCTAssertThrowsError(try ModelBundle.load(from: teacherWidth)) {
            guard case let .inconsistent(_, "gaussian.safetensors", "projection", detail) = $0 as? ModelBundleError else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("teacher width"), detail)
        }
    }

    func testStudentMustBeAViTOfTheTeachersWidth() throws {
        let narrow = try savedBundle("narrow-student")
        try writeCheckpoint(makeStudent(width: 8, heads: 2), to: narrow + "/student.safetensors")
        expectLoadError(narrow, .inconsistent(bundle: narrow, file: "student.safetensors", field: "patch_embed.proj.weight",
                                              detail: "the student is 8-wide but the teacher width is 16"))

        let truncated = try savedBundle("truncated-student")
        let studentPath = truncated + "/student.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: studentPath))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: studentPath))
        XCTAssertThrowsError(try ModelBundle.load(from: truncated)) {
            guard case let .invalidCheckpoint(bundle, "student.safetensors", detail) = $0 as? ModelBundleError else { return XCTFail("\($0)") }
            XCTAssertEqual(bundle, truncated)
            XCTAssertTrue(detail.contains("truncated"), detail)
        }

        let deeper = try savedBundle("deeper-student")
        try writeCheckpoint(makeStudent(depth: 3), to: deeper + "/student.safetensors")
        XCTAssertThrowsError(try ModelBundle.load(from: deeper)) {
            guard case .inconsistent(deeper, "metadata.json", "student", _) = $0 as? ModelBundleError else { return XCTFail("\($0)") }
        }
    }

    func testTeacherHashMismatch() throws {
        let path = try savedBundle("teacher-hash")
        let other = directory + "/other-teacher.safetensors"
        try writeCheckpoint(makeStudent(depth: 3, heads: 1, seed: 100), to: other)
        expectLoadError(path, teacher: other, .teacherMismatch(bundle: path, teacher: other,
                                                               expected: try SHA256.hex(ofFile: teacherPath),
                                                               found: try SHA256.hex(ofFile: other)))
        XCTAssertThrowsError(try ModelBundle.load(from: path, teacherPath: directory + "/absent.safetensors")) {
            guard case .unreadableTeacher(directory + "/absent.safetensors", _) = $0 as? ModelBundleError else { return XCTFail("\($0)") }
        }
        XCTAssertNoThrow(try ModelBundle.load(from: path, teacherPath: teacherPath))
    }

    func testCrossFileValuesAreChecked() throws {
        let threshold = try savedBundle("threshold")
        try editJSON(threshold + "/calibration.json") { calibration in
            var tails = calibration["tails"] as! [[String: Any]]
            var tail = tails[0]["tail"] as! [String: Any]
            tail["threshold"] = (tail["threshold"] as! Double) + 1
            tails[0]["tail"] = tail
            calibration["tails"] = tails
        }
        XCTAssertThrowsError(try ModelBundle.load(from: threshold)) {
            guard case .inconsistent(threshold, "calibration.json", let field, _) = $0 as? ModelBundleError, field.hasPrefix("tails.") else {
                return XCTFail("\($0)")
            }
        }
        let frames = try savedBundle("frames")
        try editJSON(frames + "/metadata.json") { $0["frames"] = ["train": 54, "holdout": 7] }
        XCTAssertThrowsError(try ModelBundle.load(from: frames)) {
            guard case .inconsistent(frames, "metadata.json", "frames", _) = $0 as? ModelBundleError else { return XCTFail("\($0)") }
        }
        let time = try savedBundle("time")
        try editJSON(time + "/metadata.json") { $0["created_at"] = "yesterday" }
        expectLoadError(time, .inconsistent(bundle: time, file: "metadata.json", field: "created_at", detail: "'yesterday' is not an RFC 3339 time"))
        let hash = try savedBundle("hash")
        try editJSON(hash + "/metadata.json") { object in
            var teacher = object["teacher"] as! [String: Any]
            teacher["sha256"] = "abc"
            object["teacher"] = teacher
        }
        expectLoadError(hash, .inconsistent(bundle: hash, file: "metadata.json", field: "teacher.sha256", detail: "'abc' is not 64 lower-case hex digits"))
    }
}
